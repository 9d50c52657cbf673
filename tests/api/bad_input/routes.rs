//! Paths and query strings: malformed ids, bad parameters, unknown routes and wrong methods.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Checks, setup};

#[tokio::test]
async fn a_malformed_id_in_the_path_is_refused_with_400_invalid_path() {
    let s = setup().await;
    let (room, msg) = (s.room, s.msg);
    let before = s.state().await;
    use Method as M;
    let table: Vec<(Method, String, Option<Value>)> = vec![
        (M::GET, "/rooms/not-a-uuid".into(), None),
        (
            M::PATCH,
            "/rooms/not-a-uuid".into(),
            Some(json!({ "name": "Renamed" })),
        ),
        (M::GET, "/rooms/123/members".into(), None),
        (M::GET, format!("/rooms/{room}x"), None),
        (M::DELETE, format!("/rooms/{room}/members/not-a-uuid"), None),
        (M::POST, "/rooms/not-a-uuid/leave".into(), Some(json!({}))),
        (
            M::POST,
            "/rooms/not-a-uuid/read".into(),
            Some(json!({ "seq": 1 })),
        ),
        (
            M::POST,
            "/rooms/not-a-uuid/messages".into(),
            Some(json!({ "body": "hi" })),
        ),
        (M::GET, "/messages/not-a-uuid".into(), None),
        (
            M::PATCH,
            "/messages/not-a-uuid".into(),
            Some(json!({ "body": "hi" })),
        ),
        (
            M::PUT,
            "/messages/not-a-uuid/reactions/%F0%9F%91%8D".into(),
            None,
        ),
        (M::PUT, format!("/messages/{msg}/reactions/%FF"), None),
        (M::POST, "/messages/not-a-uuid/task".into(), Some(json!({}))),
        (M::GET, "/tasks/42".into(), None),
        (
            M::PATCH,
            "/tasks/not-a-uuid".into(),
            Some(json!({ "title": "T" })),
        ),
        (
            M::POST,
            "/tasks/not-a-uuid/complete".into(),
            Some(json!({})),
        ),
        (M::GET, "/tasks/not-a-uuid/messages".into(), None),
        (
            M::POST,
            "/friends/requests/not-a-uuid/accept".into(),
            Some(json!({})),
        ),
        (M::DELETE, "/friends/not-a-uuid".into(), None),
        (M::PUT, "/blocks/not-a-uuid".into(), None),
        (M::GET, "/users/not-a-uuid".into(), None),
        (M::DELETE, "/me/sessions/not-a-uuid".into(), None),
        (
            M::POST,
            "/admin/users/not-a-uuid/disable".into(),
            Some(json!({})),
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let answer = s
            .ann
            .send(method.clone(), &format!("/api/v1{path}"), body)
            .await;
        checks.error(
            &format!("{method} {path}"),
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_path",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}

#[tokio::test]
async fn bad_query_parameters_are_refused_with_stable_codes() {
    let s = setup().await;
    let (room, msg, task) = (s.room, s.msg, s.task);
    let history = format!("/rooms/{room}/messages");
    let (bad, invalid) = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);
    let table: Vec<(String, StatusCode, &str)> = vec![
        (format!("{history}?limit=abc"), bad, "invalid_query"),
        (format!("{history}?limit=1.5"), bad, "invalid_query"),
        (
            format!("{history}?limit=99999999999999999999"),
            bad,
            "invalid_query",
        ),
        (format!("{history}?before=abc"), bad, "invalid_query"),
        (format!("{history}?limit=0"), invalid, "invalid_limit"),
        (format!("{history}?limit=-1"), invalid, "invalid_limit"),
        (format!("{history}?limit=10000"), invalid, "invalid_limit"),
        (format!("{history}?before=-1"), invalid, "invalid_cursor"),
        (format!("{history}?after=-5"), invalid, "invalid_cursor"),
        (
            format!("/messages/{msg}/replies?limit=0"),
            invalid,
            "invalid_limit",
        ),
        (
            format!("/messages/{msg}/replies?before=-1"),
            invalid,
            "invalid_cursor",
        ),
        (
            format!("/tasks/{task}/messages?limit=abc"),
            bad,
            "invalid_query",
        ),
        (
            format!("/tasks/{task}/messages?after=-1"),
            invalid,
            "invalid_cursor",
        ),
        ("/search".into(), bad, "invalid_query"),
        ("/search?q=".into(), invalid, "invalid_query"),
        ("/search?q=%20%20".into(), invalid, "invalid_query"),
        (
            format!("/search?q={}", "w".repeat(201)),
            invalid,
            "invalid_query",
        ),
        ("/search?q=deploy&limit=0".into(), invalid, "invalid_limit"),
        ("/search?q=deploy&limit=abc".into(), bad, "invalid_query"),
        ("/search?q=deploy&room=ops".into(), bad, "invalid_query"),
        ("/mentions?limit=500".into(), invalid, "invalid_limit"),
        ("/mentions?before=yesterday".into(), bad, "invalid_query"),
        ("/tasks?limit=abc".into(), bad, "invalid_query"),
        ("/tasks?limit=0".into(), invalid, "invalid_limit"),
        ("/tasks?offset=-1".into(), invalid, "invalid_offset"),
        ("/tasks?offset=100001".into(), invalid, "invalid_offset"),
        ("/tasks?room=ops".into(), bad, "invalid_query"),
        ("/tasks?status=finished".into(), invalid, "invalid_status"),
        ("/tasks?status=todo,nope".into(), invalid, "invalid_status"),
        ("/tasks?due_before=tomorrow".into(), invalid, "invalid_due"),
        ("/tasks?assignee=bob".into(), invalid, "invalid_assignee"),
        ("/users?q=".into(), invalid, "invalid_query"),
        ("/users?q=bo&limit=0".into(), invalid, "invalid_limit"),
        ("/admin/users?limit=1000".into(), invalid, "invalid_limit"),
    ];
    let mut checks = Checks::default();
    for (path, status, expected) in table {
        let answer = s.ann.get(&format!("/api/v1{path}")).await;
        checks.error(&format!("GET {path}"), &answer, status, expected);
    }
    checks.assert_all_passed();
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_json_404_and_405() {
    let s = setup().await;
    let (room, msg) = (s.room, s.msg);
    let before = s.state().await;
    use Method as M;
    let table: Vec<(Method, String, StatusCode, &str)> = vec![
        (
            M::GET,
            "/api/v1/nothing-here".into(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::GET,
            "/api/v2/rooms".into(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::GET,
            format!("/api/v1/rooms/{room}/nothing"),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/reactions"),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::PUT,
            "/api/v1/rooms".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::DELETE,
            "/api/v1/rooms".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::DELETE,
            format!("/api/v1/rooms/{room}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::PATCH,
            format!("/api/v1/rooms/{room}/messages"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::GET,
            format!("/api/v1/rooms/{room}/leave"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::GET,
            "/api/v1/auth/login".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    let anonymous = s.app.anonymous();
    let mut checks = Checks::default();
    for (method, path, status, expected) in table {
        for (who, client) in [("Ann", &s.ann.client), ("no one", &anonymous)] {
            let answer = client
                .send(method.clone(), &path, Some(json!({ "body": "hi" })))
                .await;
            checks.error(
                &format!("{who}: {method} {path}"),
                &answer,
                status,
                expected,
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}
