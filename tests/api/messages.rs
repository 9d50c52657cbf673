//! Messages: sending, idempotent retries, history paging, edits, tombstones, replies, reactions,
//! mentions and search.

use reqwest::StatusCode;
use serde_json::{Value, json};

use flowly_testkit::{TestApp, code, say};

fn bodies(page: &Value) -> Vec<&str> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_retried_send_with_the_same_client_id_never_duplicates() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let msg = json!({ "body": "deploying now", "client_id": "c-123" });
    let (status, first) = ann.post(&path, msg.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, retry) = ann.post(&path, msg.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // The same message, field for field: the first answer is made from the new message's
    // snapshot, the retry's is read back from the database.
    assert_eq!(first, retry);
    // And a reply that mentions someone (its row, reply and mention made in one statement).
    let reply =
        json!({ "body": "@bob after the deploy", "reply_to": first["id"], "client_id": "c-124" });
    let (status, first_reply) = ann.post(&path, reply.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, retried_reply) = ann.post(&path, reply).await;
    assert_eq!((status, &first_reply), (StatusCode::OK, &retried_reply));
    assert_eq!(first_reply["reply_to"], first["id"]);
    let (_, mentions) = bob.get("/api/v1/mentions").await;
    assert_eq!(mentions[0]["id"], first_reply["id"]);
    // Another author may use the same client id.
    let (status, _) = bob.post(&path, msg).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = ann.get(&path).await;
    let user_messages = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .count();
    assert_eq!(user_messages, 3);
}

#[tokio::test]
async fn concurrent_retries_of_one_send_make_one_message() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "Ops", &[]).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let sends = (0..8).map(|_| ann.post(&path, json!({ "body": "once", "client_id": "same" })));
    let results = futures::future::join_all(sends).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|(_, m)| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count(),
        1
    );
    let (_, page) = ann.get(&path).await;
    assert_eq!(bodies(&page).iter().filter(|b| **b == "once").count(), 1);
}

#[tokio::test]
async fn history_pages_by_sequence_number_in_both_directions() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "Ops", &[]).await;
    for i in 1..=25 {
        say(&ann, room, &format!("m{i}")).await;
    }
    let base = format!("/api/v1/rooms/{room}/messages");
    let (_, newest) = ann.get(&format!("{base}?limit=10")).await;
    assert_eq!(
        bodies(&newest),
        (16..=25).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(newest["has_more"], true);

    let first_seq = newest["messages"][0]["seq"].as_i64().unwrap();
    let (_, older) = ann
        .get(&format!("{base}?limit=10&before={first_seq}"))
        .await;
    assert_eq!(
        bodies(&older),
        (6..=15).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let oldest_seq = older["messages"][0]["seq"].as_i64().unwrap();
    let (_, oldest) = ann
        .get(&format!("{base}?limit=10&before={oldest_seq}"))
        .await;
    assert_eq!(oldest["has_more"], false);
    assert_eq!(bodies(&oldest)[0], "created the room");

    let (_, newer) = ann.get(&format!("{base}?limit=5&after={oldest_seq}")).await;
    assert_eq!(bodies(&newer), ["m7", "m8", "m9", "m10", "m11"]);
    assert_eq!(newer["has_more"], true);
    let seqs: Vec<i64> = newer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence numbers have no gaps: {seqs:?}"
    );
    let last = newest["messages"][9]["seq"].as_i64().unwrap();
    let (_, none) = ann.get(&format!("{base}?after={last}")).await;
    assert_eq!(
        (
            none["messages"].as_array().unwrap().len(),
            &none["has_more"]
        ),
        (0, &json!(false))
    );
}

#[tokio::test]
async fn authors_edit_and_delete_their_own_messages_and_owners_moderate() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let msg = say(&bob, room, "helo").await;
    let id = msg["id"].as_str().unwrap();

    let (status, edited) = bob
        .patch(
            &format!("/api/v1/messages/{id}"),
            json!({ "body": "hello" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["body"], "hello");
    assert!(edited["edited_at"].is_string());
    let (status, err) = ann
        .patch(
            &format!("/api/v1/messages/{id}"),
            json!({ "body": "hijack" }),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_author"));

    // The owner may delete anyone's message; a tombstone keeps its place.
    let (status, gone) = ann.delete(&format!("/api/v1/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gone["body"], "");
    assert!(gone["deleted_at"].is_string());
    assert_eq!(gone["seq"], msg["seq"]);
    let (status, err) = bob
        .patch(&format!("/api/v1/messages/{id}"), json!({ "body": "back" }))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "message_deleted")
    );
    let (status, err) = bob.delete(&format!("/api/v1/messages/{id}")).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "message_deleted")
    );

    let mine = say(&ann, room, "owner's note").await;
    let (status, err) = bob
        .delete(&format!(
            "/api/v1/messages/{}",
            mine["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_author"));

    // System messages are nobody's to edit.
    let (_, page) = ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    let system = page["messages"][0]["id"].as_str().unwrap();
    assert_eq!(
        ann.patch(
            &format!("/api/v1/messages/{system}"),
            json!({ "body": "x" })
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn replies_form_a_thread() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let root = say(&ann, room, "who takes the release?").await;
    let root_id = root["id"].as_str().unwrap();
    let path = format!("/api/v1/rooms/{room}/messages");
    let (status, reply) = bob
        .post(&path, json!({ "body": "me", "reply_to": root_id }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reply["reply_to"], root_id);
    bob.post(&path, json!({ "body": "after lunch", "reply_to": root_id }))
        .await;

    let (_, thread) = ann
        .get(&format!("/api/v1/messages/{root_id}/replies"))
        .await;
    assert_eq!(bodies(&thread), ["me", "after lunch"]);
    let (_, root) = ann.get(&format!("/api/v1/messages/{root_id}")).await;
    assert_eq!(root["reply_count"], 2);

    let other = app.group(&ann, "Elsewhere", &[]).await;
    let elsewhere = say(&ann, other, "x").await;
    let (status, err) = ann
        .post(
            &path,
            json!({ "body": "cross", "reply_to": elsewhere["id"] }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reply_to")
    );
}

#[tokio::test]
async fn reactions_are_counted_per_emoji() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let msg = say(&ann, room, "shipped").await;
    let id = msg["id"].as_str().unwrap();
    let (status, m) = ann
        .put(&format!("/api/v1/messages/{id}/reactions/🎉"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        m["reactions"],
        json!([{ "emoji": "🎉", "count": 1, "me": true }])
    );
    bob.put(&format!("/api/v1/messages/{id}/reactions/🎉"))
        .await;
    bob.put(&format!("/api/v1/messages/{id}/reactions/🎉"))
        .await;
    let (_, m) = bob
        .put(&format!("/api/v1/messages/{id}/reactions/:rocket:"))
        .await;
    assert_eq!(
        m["reactions"],
        json!([{ "emoji": "🎉", "count": 2, "me": true }, { "emoji": ":rocket:", "count": 1, "me": true }])
    );

    let (status, m) = bob
        .delete(&format!("/api/v1/messages/{id}/reactions/🎉"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        m["reactions"][0],
        json!({ "emoji": "🎉", "count": 1, "me": false })
    );
    let (status, err) = bob
        .delete(&format!("/api/v1/messages/{id}/reactions/🎉"))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "reaction_not_found")
    );
}

#[tokio::test]
async fn mentions_of_members_are_listed_for_them() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    say(&ann, room, "@bob and @cat: review please").await;
    let edited = say(&ann, room, "nobody here").await;
    ann.patch(
        &format!("/api/v1/messages/{}", edited["id"].as_str().unwrap()),
        json!({ "body": "actually @bob too" }),
    )
    .await;

    let (_, mentions) = bob.get("/api/v1/mentions").await;
    let found: Vec<&str> = mentions
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["actually @bob too", "@bob and @cat: review please"]);
    let (_, mentions) = cat.get("/api/v1/mentions").await;
    assert_eq!(
        mentions,
        json!([]),
        "only members of the room can be mentioned"
    );
}

#[tokio::test]
async fn search_finds_words_in_every_room_the_user_can_read_and_nowhere_else() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let ops = app.group(&ann, "Ops", &[&bob]).await;
    let secret = app.group(&ann, "Secret", &[]).await;
    say(&ann, ops, "The deployment of the billing service failed").await;
    say(&bob, ops, "I am deploying a fix").await;
    say(&ann, secret, "deploy the surprise party").await;
    let doomed = say(&bob, ops, "deploy notes to delete").await;
    bob.delete(&format!(
        "/api/v1/messages/{}",
        doomed["id"].as_str().unwrap()
    ))
    .await;

    let (status, hits) = bob.get("/api/v1/search?q=deploy").await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snippet"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "stemmed matches in Ops only: {texts:?}");
    assert!(
        texts.iter().all(|t| t.contains('«')),
        "matches are marked: {texts:?}"
    );
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["room_name"] == "Ops")
    );

    let (_, hits) = ann.get("/api/v1/search?q=deploy").await;
    assert_eq!(hits.as_array().unwrap().len(), 3);
    let (_, hits) = ann
        .get(&format!("/api/v1/search?q=deploy&room={secret}"))
        .await;
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let (_, hits) = ann.get("/api/v1/search?q=%22billing%20service%22").await;
    assert_eq!(hits.as_array().unwrap().len(), 1, "phrases work");
    let (_, hits) = bob
        .get(&format!("/api/v1/search?q=surprise&room={secret}"))
        .await;
    assert_eq!(hits, json!([]));
}
