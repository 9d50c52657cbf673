//! Writing faster than the per-user limit.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::{Checks, assert_error, setup_with};

#[tokio::test]
async fn writing_too_fast_is_refused_with_429_and_retry_after_and_writes_nothing() {
    // Setting up made three writes of Ann's (the room, a message, a task); one more is allowed.
    let s = setup_with(|c| c.limits.writes_per_user_per_minute = 4).await;
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let (status, body) = s
        .ann
        .post(
            &send,
            json!({ "body": "Fourth write", "client_id": "ann-4" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = s.state().await;

    let token = s.ann.token.clone().unwrap_or_default();
    let request = s
        .ann
        .http
        .post(format!("{}{send}", s.ann.base))
        .bearer_auth(&token);
    let response = request
        .json(&json!({ "body": "Fifth write" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    let body: Value = response.json().await.unwrap();
    assert_error(
        "the fifth write",
        &(StatusCode::TOO_MANY_REQUESTS, body),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );

    let mut checks = Checks::default();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/tasks".to_owned(),
            Some(json!({ "room_id": s.room, "title": "Too fast" })),
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{}", s.task),
            Some(json!({ "title": "Too fast" })),
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{}/complete", s.task),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/messages/{}", s.msg),
            Some(json!({ "body": "Too fast" })),
        ),
        (
            Method::PUT,
            format!("/api/v1/messages/{}/reactions/:tada:", s.msg),
            None,
        ),
        (
            Method::POST,
            "/api/v1/rooms".to_owned(),
            Some(json!({ "name": "Too fast" })),
        ),
    ] {
        let answer = s.ann.send(method.clone(), &path, body).await;
        checks.error(
            &format!("{method} {path}"),
            &answer,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();

    // Reads, a retry of a message already sent, and other people's writes still go through.
    assert_eq!(s.ann.get(&send).await.0, StatusCode::OK);
    let (status, body) = s
        .ann
        .post(
            &send,
            json!({ "body": "Fourth write", "client_id": "ann-4" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s
        .bob
        .post(&send, json!({ "body": "Bob is not limited by Ann" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
