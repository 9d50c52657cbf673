//! Messages: too long, blank, bad reactions and client ids, and retried sends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Checks, setup, setup_with};

#[tokio::test]
async fn a_message_over_the_character_limit_is_refused_with_422_invalid_message() {
    let s = setup_with(|c| c.limits.max_message_chars = 100).await;
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let before = s.state().await;
    let refused: Vec<(Method, String, String)> = vec![
        (Method::POST, send.clone(), "x".repeat(101)),
        (Method::POST, send.clone(), "é".repeat(101)),
        (
            Method::PATCH,
            format!("/api/v1/messages/{}", s.msg),
            "x".repeat(101),
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{}/messages", s.task),
            "x".repeat(101),
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, text) in refused {
        let answer = s
            .ann
            .send(method.clone(), &path, Some(json!({ "body": text })))
            .await;
        checks.error(
            &format!("{method} {path} with 101 characters"),
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();

    // The limit counts characters, not bytes, after trimming.
    for text in [
        "x".repeat(100),
        "é".repeat(100),
        format!("   {}   ", "z".repeat(100)),
    ] {
        let (status, body) = s.ann.post(&send, json!({ "body": text })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(s.user_messages().await.len(), 4);
}

#[tokio::test]
async fn an_empty_or_blank_message_is_refused_with_422_and_nothing_is_sent() {
    let s = setup().await;
    let before = s.state().await;
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let mut checks = Checks::default();
    for text in [
        "",
        " ",
        "   \n\t \r\n ",
        "\u{0}",
        "nul \u{0} inside",
        "bell\u{7}",
    ] {
        for (method, path) in [
            (Method::POST, send.clone()),
            (Method::PATCH, format!("/api/v1/messages/{}", s.msg)),
            (Method::POST, format!("/api/v1/tasks/{}/messages", s.task)),
        ] {
            let answer = s
                .ann
                .send(method.clone(), &path, Some(json!({ "body": text })))
                .await;
            checks.error(
                &format!("{method} {path} with {text:?}"),
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_message",
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    assert_eq!(s.user_messages().await[0]["body"], "Deploy at noon");
}

#[tokio::test]
async fn an_invalid_emoji_reaction_is_refused_with_422_and_adds_nothing() {
    let s = setup().await;
    let reactions = format!("/api/v1/messages/{}/reactions", s.msg);
    let (status, body) = s.ann.put(&format!("{reactions}/:tada:")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = s.state().await;
    let long = "x".repeat(33);
    let mut checks = Checks::default();
    for emoji in ["a%20b", "%09", "%00", "%2F", "%E2%80%8B%0A", long.as_str()] {
        for method in [Method::PUT, Method::DELETE] {
            let answer = s
                .ann
                .send(method.clone(), &format!("{reactions}/{emoji}"), None)
                .await;
            checks.error(
                &format!("{method} reaction {emoji:?}"),
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_emoji",
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (_, message) = s.ann.get(&format!("/api/v1/messages/{}", s.msg)).await;
    assert_eq!(
        message["reactions"],
        json!([{ "emoji": ":tada:", "count": 1, "me": true }])
    );
}

#[tokio::test]
async fn an_invalid_client_id_is_refused_with_422_and_sends_nothing() {
    let s = setup().await;
    let before = s.state().await;
    let long = "c".repeat(65);
    let mut checks = Checks::default();
    for client_id in [
        "",
        "has space",
        "slash/inside",
        "emoji👍",
        "tab\t",
        long.as_str(),
    ] {
        for path in [
            format!("/api/v1/rooms/{}/messages", s.room),
            format!("/api/v1/tasks/{}/messages", s.task),
        ] {
            let answer = s
                .ann
                .post(&path, json!({ "body": "hello", "client_id": client_id }))
                .await;
            let what = format!("POST {path} with client_id {client_id:?}");
            checks.error(
                &what,
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_client_id",
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let (status, body) = s
        .ann
        .post(
            &send,
            json!({ "body": "hello", "client_id": "c".repeat(64) }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "64 characters are fine: {body}"
    );
}

#[tokio::test]
async fn retrying_a_send_with_the_same_client_id_returns_the_first_message_without_a_duplicate() {
    let s = setup().await;
    let send = format!("/api/v1/rooms/{}/messages", s.room);
    let (status, first) = s
        .bob
        .post(
            &send,
            json!({ "body": "Shipping now", "client_id": "bob-0001" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for body in ["Shipping now", "Shipping now (edited before the retry)"] {
        let (status, again) = s
            .bob
            .post(&send, json!({ "body": body, "client_id": "bob-0001" }))
            .await;
        assert_eq!(status, StatusCode::OK, "a retry answers 200: {again}");
        assert_eq!(again["id"], first["id"]);
        assert_eq!(
            again["body"], "Shipping now",
            "the first message, as it was sent"
        );
    }
    let bobs: Vec<Value> = s
        .user_messages()
        .await
        .into_iter()
        .filter(|m| m["author_username"] == "bob")
        .collect();
    assert_eq!(bobs.len(), 1, "one message, no duplicate: {bobs:?}");

    // The id is Bob's own: Ann using the same client id sends her own message.
    let (status, anns) = s
        .ann
        .post(&send, json!({ "body": "Me too", "client_id": "bob-0001" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{anns}");
    assert_ne!(anns["id"], first["id"]);

    // Task discussions are idempotent the same way.
    let discuss = format!("/api/v1/tasks/{}/messages", s.task);
    let (status, comment) = s
        .bob
        .post(
            &discuss,
            json!({ "body": "On it", "client_id": "bob-0002" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let (status, again) = s
        .bob
        .post(
            &discuss,
            json!({ "body": "On it", "client_id": "bob-0002" }),
        )
        .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &comment["id"]),
        "{again}"
    );
    let (_, page) = s.ann.get(&discuss).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
}
