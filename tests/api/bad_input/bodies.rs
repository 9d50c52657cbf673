//! Request bodies, on every endpoint that takes one: malformed or misshapen JSON, deep nesting,
//! a missing JSON content type, a body over the size limit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Checks, json_endpoints, raw, setup, setup_with, shape_problem};

#[tokio::test]
async fn malformed_json_is_refused_with_400_malformed_json_and_writes_nothing() {
    let s = setup().await;
    let before = s.state().await;
    let bodies: [&[u8]; 8] = [
        br#"{"body": "hi""#,
        br#"{body: "hi"}"#,
        br#"{"body": "hi",}"#,
        br#"{"body": 'hi'}"#,
        b"",
        b"not json at all",
        br#"{"\ud800": "a lone surrogate"}"#,
        b"{\"\xff\xfe\": \"not UTF-8\"}",
    ];
    let mut checks = Checks::default();
    for (method, path) in json_endpoints(&s) {
        for body in bodies {
            let answer = raw(
                &s.ann,
                method.clone(),
                &path,
                Some("application/json"),
                body,
            )
            .await;
            let what = format!("{method} {path} with {:?}", String::from_utf8_lossy(body));
            checks.error(&what, &answer, StatusCode::BAD_REQUEST, "malformed_json");
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_refused_with_422_invalid_body_and_writes_nothing() {
    let s = setup().await;
    let (room, msg, task) = (s.room, s.msg, s.task);
    let before = s.state().await;
    let send = format!("/api/v1/rooms/{room}/messages");
    use Method as M;
    let table: Vec<(Method, String, Value)> = vec![
        (M::POST, send.clone(), json!({ "body": 42 })),
        (M::POST, send.clone(), json!({ "body": ["hi"] })),
        (M::POST, send.clone(), json!({ "text": "hi" })),
        (M::POST, send.clone(), json!([])),
        (M::POST, send.clone(), json!("hi")),
        (M::POST, send.clone(), json!(null)),
        (
            M::POST,
            send.clone(),
            json!({ "body": "hi", "reply_to": "the one above" }),
        ),
        (
            M::POST,
            send.clone(),
            json!({ "body": "hi", "client_id": 7 }),
        ),
        (
            M::PATCH,
            format!("/api/v1/messages/{msg}"),
            json!({ "body": null }),
        ),
        (M::PATCH, format!("/api/v1/messages/{msg}"), json!({})),
        (M::POST, "/api/v1/rooms".into(), json!({ "name": 7 })),
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev", "members": "bob" }),
        ),
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev", "members": ["bob"] }),
        ),
        (
            M::PATCH,
            format!("/api/v1/rooms/{room}"),
            json!({ "name": ["Ops"] }),
        ),
        (
            M::POST,
            format!("/api/v1/rooms/{room}/members"),
            json!({ "user_id": 5 }),
        ),
        (M::POST, format!("/api/v1/rooms/{room}/owner"), json!({})),
        (
            M::POST,
            format!("/api/v1/rooms/{room}/read"),
            json!({ "seq": "latest" }),
        ),
        (
            M::POST,
            format!("/api/v1/rooms/{room}/read"),
            json!({ "seq": 1.5 }),
        ),
        (M::POST, format!("/api/v1/rooms/{room}/read"), json!({})),
        (M::POST, "/api/v1/tasks".into(), json!({})),
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": "ops", "title": "T" }),
        ),
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "T", "labels": "bug" }),
        ),
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "T", "due_on": 20_300_101 }),
        ),
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "T", "status": 1 }),
        ),
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "T", "priority": ["high"] }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "status": 3 }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "priority": true }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "assignee_id": "bob" }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "labels": [1, 2] }),
        ),
        (
            M::POST,
            format!("/api/v1/tasks/{task}/move"),
            json!({ "after": "top" }),
        ),
        (
            M::POST,
            format!("/api/v1/tasks/{task}/move"),
            json!({ "status": 2 }),
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/task"),
            json!({ "priority": 2 }),
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/task"),
            json!({ "title": false }),
        ),
        (M::POST, "/api/v1/dms".into(), json!({ "user_id": null })),
        (
            M::POST,
            "/api/v1/friends/requests".into(),
            json!({ "user_id": "bob" }),
        ),
        (M::PATCH, "/api/v1/me".into(), json!({ "bio": 5 })),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let what = format!("{method} {path} with {body}");
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(
            &what,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}

#[tokio::test]
async fn a_deeply_nested_body_is_refused_or_ignored_but_never_brings_the_server_down() {
    let s = setup().await;
    let path = format!("/api/v1/rooms/{}/messages", s.room);
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let before = s.state().await;
    // Where a string belongs: the wrong type (422), or, for a parser with a depth limit, too
    // deep to read (400). Either way a client error, and nothing is sent.
    let answer = raw(
        &s.ann,
        Method::POST,
        &path,
        Some("application/json"),
        format!(r#"{{"body": {}}}"#, nested(10_000)),
    )
    .await;
    let what = "a message body nested 10000 deep";
    let mut checks = Checks::default();
    if answer.0 == StatusCode::BAD_REQUEST {
        checks.error(what, &answer, StatusCode::BAD_REQUEST, "malformed_json");
    } else {
        checks.error(
            what,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();

    // 100,000 levels (200 KB, under the size limit) in a field the server does not read: skipped
    // (the message is sent, once) or refused (nothing is sent), and the server keeps answering.
    let body = format!(r#"{{"body": "deep", "extra": {}}}"#, nested(100_000));
    let (status, answer) = raw(&s.ann, Method::POST, &path, Some("application/json"), body).await;
    let bodies: Vec<Value> = s
        .user_messages()
        .await
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    if status == StatusCode::CREATED {
        assert_eq!(bodies, [json!("Deploy at noon"), json!("deep")]);
    } else {
        assert!(
            shape_problem(status, &answer).is_none(),
            "{status} {answer}"
        );
        assert_eq!(bodies, [json!("Deploy at noon")]);
    }
    assert_eq!(
        s.ann.get("/api/v1/me").await.0,
        StatusCode::OK,
        "the server still answers"
    );
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_refused_with_415() {
    let s = setup().await;
    let before = s.state().await;
    let body = r#"{"body": "hello", "title": "hello", "bio": "hello", "name": "hello"}"#;
    let mut checks = Checks::default();
    for (method, path) in json_endpoints(&s) {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/xml"),
        ] {
            let answer = raw(&s.ann, method.clone(), &path, content_type, body).await;
            let what = format!("{method} {path} with content type {content_type:?}");
            checks.error(
                &what,
                &answer,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    // The same body with the right content type goes through.
    let path = format!("/api/v1/rooms/{}/messages", s.room);
    let (status, answer) = raw(
        &s.ann,
        Method::POST,
        &path,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused_with_413_and_writes_nothing() {
    let s = setup_with(|c| c.limits.max_body_bytes = 1024).await;
    let before = s.state().await;
    let big = "x".repeat(2_000);
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let table: Vec<(Method, String, Value)> = vec![
        (Method::POST, send.clone(), json!({ "body": big })),
        (
            Method::PATCH,
            format!("/api/v1/messages/{}", s.msg),
            json!({ "body": big }),
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": s.room, "title": "Big", "description": big }),
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{}", s.task),
            json!({ "description": big }),
        ),
        (Method::PATCH, "/api/v1/me".into(), json!({ "bio": big })),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let answer = s.ann.send(method.clone(), &path, Some(body)).await;
        checks.error(
            &format!("{method} {path} with 2000 bytes"),
            &answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
    }
    // Too large is refused before it is parsed: malformed or not, it is 413.
    let answer = raw(
        &s.ann,
        Method::POST,
        &send,
        Some("application/json"),
        format!("{{{big}"),
    )
    .await;
    checks.error(
        "2000 bytes of broken JSON",
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();

    let (status, body) = s.ann.post(&send, json!({ "body": "y".repeat(900) })).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a body under the limit goes through: {body}"
    );
}
