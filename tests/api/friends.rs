//! Friends: search, requests, unfriending and blocking.

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{TestApp, code};

#[tokio::test]
async fn people_find_each_other_by_name_prefix() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    app.register("annika").await;
    app.register("bob").await;
    let (status, found) = ann.get("/api/v1/users?q=ann").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["annika"],
        "the searcher is not in their own results"
    );
    let (_, found) = ann.get("/api/v1/users?q=BO").await;
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "display names match case-insensitively"
    );
    let (_, found) = ann.get("/api/v1/users?q=%25").await;
    assert_eq!(
        found.as_array().unwrap().len(),
        0,
        "LIKE wildcards are literal"
    );
}

#[tokio::test]
async fn a_friend_request_is_sent_accepted_and_undone() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;

    let (status, sent) = ann
        .post("/api/v1/friends/requests", json!({ "username": "bob" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sent["friends"], false);
    let id = sent["request"]["id"].as_str().unwrap().to_owned();

    let (status, err) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": bob.id }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "request_pending")
    );

    let (_, pending) = bob.get("/api/v1/friends/requests").await;
    assert_eq!(pending[0]["direction"], "incoming");
    assert_eq!(pending[0]["user"]["username"], "ann");
    let (_, pending) = ann.get("/api/v1/friends/requests").await;
    assert_eq!(pending[0]["direction"], "outgoing");

    let (status, accepted) = bob
        .post(&format!("/api/v1/friends/requests/{id}/accept"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(accepted["status"], "accepted");
    let (status, err) = bob
        .post(&format!("/api/v1/friends/requests/{id}/accept"), json!({}))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "request_not_pending")
    );

    let (_, friends) = ann.get("/api/v1/friends").await;
    assert_eq!(friends[0]["username"], "bob");
    let (status, err) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": bob.id }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "already_friends")
    );

    assert_eq!(
        bob.delete(&format!("/api/v1/friends/{}", ann.id)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, friends) = ann.get("/api/v1/friends").await;
    assert_eq!(friends, json!([]));
    let (status, err) = bob.delete(&format!("/api/v1/friends/{}", ann.id)).await;
    assert_eq!((status, code(&err)), (StatusCode::NOT_FOUND, "not_friends"));
}

#[tokio::test]
async fn requests_can_be_declined_or_cancelled_and_crossing_requests_make_friends() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;

    let (_, sent) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": bob.id }))
        .await;
    let id = sent["request"]["id"].as_str().unwrap().to_owned();
    let (status, declined) = bob
        .post(&format!("/api/v1/friends/requests/{id}/decline"), json!({}))
        .await;
    assert_eq!(
        (status, declined["status"].as_str()),
        (StatusCode::OK, Some("declined"))
    );

    let (_, sent) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": cat.id }))
        .await;
    let id = sent["request"]["id"].as_str().unwrap().to_owned();
    let (status, err) = cat.delete(&format!("/api/v1/friends/requests/{id}")).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "not_your_request")
    );
    let (status, cancelled) = ann.delete(&format!("/api/v1/friends/requests/{id}")).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );

    // Bob asks Ann after she asked him: they are friends at once.
    let (_, _) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": bob.id }))
        .await;
    let (status, crossed) = bob
        .post("/api/v1/friends/requests", json!({ "user_id": ann.id }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(crossed["friends"], true);
    let (_, friends) = bob.get("/api/v1/friends").await;
    assert_eq!(friends[0]["username"], "ann");

    let (status, err) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": ann.id }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "cannot_befriend_self")
    );
    let (status, err) = ann
        .post("/api/v1/friends/requests", json!({ "username": "nobody" }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "user_not_found")
    );
}

#[tokio::test]
async fn a_blocked_user_can_neither_request_nor_message() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    app.befriend(&ann, &bob).await;
    let (_, dm) = bob.post("/api/v1/dms", json!({ "user_id": ann.id })).await;
    let room = dm["id"].as_str().unwrap().to_owned();

    assert_eq!(
        ann.put(&format!("/api/v1/blocks/{}", bob.id)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, blocked) = ann.get("/api/v1/blocks").await;
    assert_eq!(blocked[0]["username"], "bob");
    let (_, friends) = ann.get("/api/v1/friends").await;
    assert_eq!(friends, json!([]), "blocking ends the friendship");

    let (status, err) = bob
        .post("/api/v1/friends/requests", json!({ "user_id": ann.id }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "cannot_befriend")
    );
    let (status, err) = bob
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "hello?" }),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "blocked"));
    let (status, err) = ann
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "and not me either" }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "blocked"),
        "a block works both ways"
    );
    let (status, err) = bob.post("/api/v1/dms", json!({ "user_id": ann.id })).await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "blocked"));
    let (_, found) = bob.get("/api/v1/users?q=ann").await;
    assert_eq!(
        found,
        json!([]),
        "a blocker does not show up in the blocked user's search"
    );

    assert_eq!(
        ann.delete(&format!("/api/v1/blocks/{}", bob.id)).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, err) = ann.delete(&format!("/api/v1/blocks/{}", bob.id)).await;
    assert_eq!((status, code(&err)), (StatusCode::NOT_FOUND, "not_blocked"));
    let (status, _) = bob
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "hello again" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "unblocked, the DM works again");
    let (status, _) = bob
        .post("/api/v1/friends/requests", json!({ "user_id": ann.id }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}
