//! Friend requests: shapeless, ambiguous, to oneself, to nobody, to someone already a friend.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Checks, setup};

#[tokio::test]
async fn bad_friend_requests_are_refused_and_leave_nothing_pending() {
    let s = setup().await;
    let cara = s.app.register("cara").await;
    let before = s.state().await;
    let requests = "/api/v1/friends/requests";
    let (unprocessable, not_found) = (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::NOT_FOUND);
    let table: Vec<(Value, StatusCode, &str)> = vec![
        (json!({}), unprocessable, "invalid_body"),
        (
            json!({ "user_id": null, "username": null }),
            unprocessable,
            "invalid_body",
        ),
        (
            json!({ "user_id": cara.id, "username": "cara" }),
            unprocessable,
            "invalid_body",
        ),
        (json!({ "user_id": "cara" }), unprocessable, "invalid_body"),
        (json!({ "username": 12 }), unprocessable, "invalid_body"),
        (
            json!({ "user_id": s.ann.id }),
            unprocessable,
            "cannot_befriend_self",
        ),
        (
            json!({ "username": " ANN " }),
            unprocessable,
            "cannot_befriend_self",
        ),
        (
            json!({ "user_id": Uuid::now_v7() }),
            not_found,
            "user_not_found",
        ),
        (json!({ "username": "nobody" }), not_found, "user_not_found"),
        (json!({ "username": "" }), not_found, "user_not_found"),
        (
            json!({ "username": "c".repeat(10_000) }),
            not_found,
            "user_not_found",
        ),
        (
            json!({ "user_id": s.bob.id }),
            StatusCode::CONFLICT,
            "already_friends",
        ),
    ];
    let mut checks = Checks::default();
    for (body, status, expected) in table {
        let what = format!(
            "POST {requests} with {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        let answer = s.ann.post(requests, body).await;
        checks.error(&what, &answer, status, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (_, pending) = cara.get(requests).await;
    assert_eq!(pending, json!([]), "Cara got no request");
}
