//! Rooms and DMs: invalid names and topics, too many or unfriended members, bad member and owner
//! changes, bad read positions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Checks, setup};

#[tokio::test]
async fn invalid_room_input_is_refused_and_makes_or_changes_no_room() {
    let s = setup().await;
    let stranger = s.app.register("zed").await;
    let room = s.room;
    let before = s.state().await;
    let many: Vec<Uuid> = (0..101).map(|_| Uuid::now_v7()).collect();
    use Method as M;
    let (rooms, this) = ("/api/v1/rooms".to_owned(), format!("/api/v1/rooms/{room}"));
    let (invalid, forbidden) = (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::FORBIDDEN);
    let table: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "r".repeat(81) }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "  \t " }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "two\nlines" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "topic": "t".repeat(501) }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "members": many }),
            invalid,
            "too_many_members",
        ),
        // A non-friend among the members: refused whole, not a room with half its members.
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "members": [s.bob.id, stranger.id] }),
            forbidden,
            "not_friends",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "r".repeat(81) }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "Fine", "topic": "t".repeat(501) }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            format!("{this}/members"),
            json!({ "user_id": stranger.id }),
            forbidden,
            "not_friends",
        ),
        (
            M::POST,
            format!("{this}/members"),
            json!({ "user_id": s.bob.id }),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (
            M::POST,
            format!("{this}/owner"),
            json!({ "user_id": stranger.id }),
            invalid,
            "not_member",
        ),
        (
            M::POST,
            format!("{this}/owner"),
            json!({ "user_id": s.ann.id }),
            invalid,
            "already_owner",
        ),
        (
            M::POST,
            format!("{this}/read"),
            json!({ "seq": -1 }),
            invalid,
            "invalid_seq",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": s.ann.id }),
            invalid,
            "invalid_user",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": stranger.id }),
            forbidden,
            "not_friends",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": Uuid::now_v7() }),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, status, expected) in table {
        let what = format!(
            "{method} {path} with {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, status, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (status, body) = s
        .ann
        .post("/api/v1/rooms", json!({ "name": "r".repeat(80) }))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "80 characters are fine: {body}"
    );
}
