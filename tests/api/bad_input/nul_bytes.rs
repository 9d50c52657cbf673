//! A NUL byte in any text field or filter (PostgreSQL cannot store one).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Checks, setup};

#[tokio::test]
async fn text_with_a_nul_byte_in_any_field_or_filter_never_causes_a_server_error() {
    let s = setup().await;
    let before = s.state().await;
    let (room, task) = (s.room, s.task);
    use Method as M;
    let (invalid, not_found, unauthorized) = (
        StatusCode::UNPROCESSABLE_ENTITY,
        StatusCode::NOT_FOUND,
        StatusCode::UNAUTHORIZED,
    );
    let tasks = "/api/v1/tasks".to_owned();
    let writes: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev\u{0}", "topic": "x" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev", "topic": "x\u{0}" }),
            invalid,
            "invalid_topic",
        ),
        (
            M::PATCH,
            format!("/api/v1/rooms/{room}"),
            json!({ "topic": "\u{0}" }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T\u{0}" }),
            invalid,
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "description": "d\u{0}" }),
            invalid,
            "invalid_description",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "labels": ["a\u{0}"] }),
            invalid,
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "due_on": "2030-01-01\u{0}" }),
            invalid,
            "invalid_due",
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "description": "d\u{0}" }),
            invalid,
            "invalid_description",
        ),
        (
            M::PATCH,
            "/api/v1/me".into(),
            json!({ "bio": "b\u{0}" }),
            invalid,
            "invalid_bio",
        ),
        (
            M::PATCH,
            "/api/v1/me".into(),
            json!({ "display_name": "A\u{0}n" }),
            invalid,
            "invalid_display_name",
        ),
        (
            M::POST,
            "/api/v1/auth/register".into(),
            json!({ "username": "n\u{0}l", "display_name": "N", "password": "p".repeat(10) }),
            invalid,
            "invalid_username",
        ),
        // No account can have such a name: the same answers as for any unknown name.
        (
            M::POST,
            "/api/v1/friends/requests".into(),
            json!({ "username": "b\u{0}b" }),
            not_found,
            "user_not_found",
        ),
        (
            M::POST,
            "/api/v1/auth/login".into(),
            json!({ "username": "a\u{0}n", "password": "pw" }),
            unauthorized,
            "invalid_credentials",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, status, expected) in writes {
        let what = format!("{method} {path} with {body}");
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, status, expected);
    }
    // Filters may find nothing or refuse the text, but never fail on it.
    for path in [
        "/api/v1/tasks?label=a%00b",
        "/api/v1/users?q=b%00",
        "/api/v1/admin/users?after=a%00",
    ] {
        let answer = s.ann.get(path).await;
        if !answer.0.is_success() {
            checks.refused(&format!("GET {path}"), &answer);
        }
    }
    let answer = s.ann.get("/api/v1/search?q=dep%00loy").await;
    checks.error(
        "GET /api/v1/search?q=dep%00loy",
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    );
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}
