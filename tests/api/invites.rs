//! Invite links: a room owner makes one; a new person registers straight into the room with it,
//! a logged-in one joins; an expired, used-up or revoked link says so.

use reqwest::StatusCode;
use serde_json::{Value, json};

use flowly_testkit::{Team, TestApp, TestUser, code, password_of};

/// `owner` makes an invite link to `room` with `settings`; returns the token and the invite.
async fn invite(owner: &TestUser, room: uuid::Uuid, settings: Value) -> (String, Value) {
    let (status, created) = owner
        .post(&format!("/api/v1/rooms/{room}/invites"), settings)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["token"].as_str().unwrap().to_owned(),
        created["invite"].clone(),
    )
}

fn registration(username: &str) -> Value {
    json!({ "username": username, "display_name": username, "password": password_of(username) })
}

fn room_ids(rooms: &Value) -> Vec<String> {
    rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_person_registers_straight_into_the_room_and_a_single_use_link_is_then_spent() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Launch", ["ann", "bob"]).await;
    let (token, _) = invite(&ann, room, json!({ "max_uses": 1 })).await;

    let visitor = app.anonymous();
    let (status, preview) = visitor.get(&format!("/api/v1/invites/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["room_name"], "Launch");
    assert_eq!(preview["inviter_display_name"], "Ann");

    let (status, joined) = visitor
        .post(
            &format!("/api/v1/invites/{token}/register"),
            registration("dora"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    assert_eq!(joined["room_id"], room.to_string());
    let dora = app.login("dora", &password_of("dora")).await;
    let (_, rooms) = dora.get("/api/v1/rooms").await;
    assert!(room_ids(&rooms).contains(&room.to_string()));
    let (_, members) = bob.get(&format!("/api/v1/rooms/{room}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 3);

    let (status, body) = visitor
        .post(
            &format!("/api/v1/invites/{token}/register"),
            registration("emil"),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::GONE, "invite_used_up"));
    let (status, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({ "username": "emil", "password": password_of("emil") }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a spent link makes no account"
    );
}

#[tokio::test]
async fn a_logged_in_person_joins_once_however_often_they_open_the_link() {
    let app = TestApp::spawn().await;
    let Team { users: [ann], room } = app.team("Open house", ["ann"]).await;
    let carl = app.register("carl").await;
    let (token, created) = invite(&ann, room, json!({ "expires_in_hours": 2 })).await;
    assert_eq!(created["max_uses"], Value::Null);

    let accept = format!("/api/v1/invites/{token}/accept");
    let (status, joined) = carl.post(&accept, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined, json!({ "room_id": room, "joined": true }));
    let (status, again) = carl.post(&accept, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["joined"], false);
    let (_, listed) = ann.get(&format!("/api/v1/rooms/{room}/invites")).await;
    assert_eq!(listed[0]["uses"], 1);
}

#[tokio::test]
async fn expired_and_revoked_links_say_so_and_let_no_one_in() {
    let app = TestApp::spawn().await;
    let Team { users: [ann], room } = app.team("Board", ["ann"]).await;
    let carl = app.register("carl").await;
    let (expired, created) = invite(&ann, room, json!({})).await;
    sqlx::query("update room_invites set expires_at = now() - interval '1 minute' where id = $1")
        .bind(
            created["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        )
        .execute(&app.state.db)
        .await
        .unwrap();
    let (revoked, created) = invite(&ann, room, json!({ "max_uses": 5 })).await;
    let (status, body) = ann
        .delete(&format!(
            "/api/v1/rooms/{room}/invites/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revoked_at"].is_string());

    for (token, expected) in [(&expired, "invite_expired"), (&revoked, "invite_revoked")] {
        let (status, body) = app
            .anonymous()
            .get(&format!("/api/v1/invites/{token}"))
            .await;
        assert_eq!((status, code(&body)), (StatusCode::GONE, expected));
        let (status, body) = carl
            .post(&format!("/api/v1/invites/{token}/accept"), json!({}))
            .await;
        assert_eq!((status, code(&body)), (StatusCode::GONE, expected));
    }
    let (status, body) = carl
        .post("/api/v1/invites/no-such-token/accept", json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invite_not_found")
    );
    let (_, rooms) = carl.get("/api/v1/rooms").await;
    assert!(!room_ids(&rooms).contains(&room.to_string()));
}

#[tokio::test]
async fn only_the_owner_makes_links_and_within_limits() {
    let app = TestApp::spawn().await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let carl = app.register("carl").await;
    let path = format!("/api/v1/rooms/{room}/invites");
    let (status, body) = bob.post(&path, json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_owner"));
    let (status, body) = carl.post(&path, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    for bad in [
        json!({ "max_uses": 0 }),
        json!({ "expires_in_hours": 10_000 }),
    ] {
        let (status, body) = ann.post(&path, bad).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_invite")
        );
    }
    let (status, body) = bob.get(&path).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_owner"));
}
