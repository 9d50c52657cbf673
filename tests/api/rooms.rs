//! Rooms: DMs, groups, members, ownership, unread counts.

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{TestApp, code, id_of, say};

#[tokio::test]
async fn the_same_pair_of_friends_always_gets_the_same_dm() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;

    let (status, err) = ann.post("/api/v1/dms", json!({ "user_id": bob.id })).await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_friends"));
    app.befriend(&ann, &bob).await;
    let (status, first) = ann.post("/api/v1/dms", json!({ "user_id": bob.id })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = bob.post("/api/v1/dms", json!({ "user_id": ann.id })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["kind"], "dm");
    assert_eq!(first["name"], "Bob", "a DM is named after the other person");
    assert_eq!(again["name"], "Ann");
    let (status, _) = cat
        .get(&format!("/api/v1/rooms/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_group_is_created_renamed_and_its_members_managed() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let dan = app.register("dan").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;

    let (_, members) = ann.get(&format!("/api/v1/rooms/{room}/members")).await;
    let roles: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("ann", "owner"), ("bob", "member")]);

    let (status, renamed) = bob
        .patch(
            &format!("/api/v1/rooms/{room}"),
            json!({ "name": "Operations", "topic": "on call" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (renamed["name"].as_str(), renamed["topic"].as_str()),
        (Some("Operations"), Some("on call"))
    );

    // Bob invites his friend Cat; Dan is nobody's friend and cannot be invited.
    app.befriend(&bob, &cat).await;
    let (status, _) = bob
        .post(
            &format!("/api/v1/rooms/{room}/members"),
            json!({ "user_id": cat.id }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = bob
        .post(
            &format!("/api/v1/rooms/{room}/members"),
            json!({ "user_id": cat.id }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "already_member")
    );
    let (status, err) = bob
        .post(
            &format!("/api/v1/rooms/{room}/members"),
            json!({ "user_id": dan.id }),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_friends"));

    let (status, err) = bob
        .delete(&format!("/api/v1/rooms/{room}/members/{}", cat.id))
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_owner"));
    assert_eq!(
        ann.delete(&format!("/api/v1/rooms/{room}/members/{}", cat.id))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        cat.get(&format!("/api/v1/rooms/{room}")).await.0,
        StatusCode::NOT_FOUND
    );

    // The timeline tells the story as system messages.
    let (_, page) = ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    let events: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["data"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "room_created",
            "member_added",
            "room_renamed",
            "topic_changed",
            "member_added",
            "member_removed"
        ]
    );
}

#[tokio::test]
async fn ownership_is_handed_over_and_passes_on_when_the_owner_leaves() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.group(&ann, "Ops", &[&bob, &cat]).await;

    let (status, err) = bob
        .post(
            &format!("/api/v1/rooms/{room}/owner"),
            json!({ "user_id": bob.id }),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "not_owner"));
    let outsider = app.register("dan").await;
    let (status, err) = ann
        .post(
            &format!("/api/v1/rooms/{room}/owner"),
            json!({ "user_id": outsider.id }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_member")
    );
    let (status, _) = ann
        .post(
            &format!("/api/v1/rooms/{room}/owner"),
            json!({ "user_id": bob.id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, r) = bob.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(r["role"], "owner");
    let (_, r) = ann.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(r["role"], "member");

    assert_eq!(
        bob.post(&format!("/api/v1/rooms/{room}/leave"), json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, r) = ann.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(
        r["role"], "owner",
        "the longest-standing member inherits the room"
    );
    assert_eq!(r["member_count"], 2);
    assert_eq!(
        bob.get(&format!("/api/v1/rooms/{room}/messages")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_room_list_shows_unread_counts_mentions_and_last_messages() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (_, dm) = ann.post("/api/v1/dms", json!({ "user_id": bob.id })).await;
    let dm = id_of(&dm);

    say(&ann, room, "first").await;
    say(&ann, room, "second, @bob please look").await;
    let last = say(&ann, room, "third").await;
    say(&bob, room, "my own message does not count").await;

    let (_, rooms) = bob.get("/api/v1/rooms").await;
    let ops = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.to_string())
        .unwrap();
    assert_eq!(ops["last_message"]["body"], "my own message does not count");
    assert_eq!(
        ops["unread_count"], 0,
        "sending moves the sender's read marker to the end"
    );

    // Ann has not read Bob's message.
    let (_, rooms) = ann.get("/api/v1/rooms").await;
    let ops = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.to_string())
        .unwrap();
    assert_eq!(ops["unread_count"], 1);
    assert_eq!(
        rooms[0]["id"],
        room.to_string(),
        "most recently active first"
    );
    assert!(
        rooms
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == dm.to_string())
    );

    // A fresh reader: Cat joins after the messages and sees nothing unread.
    let cat = app.register("cat").await;
    app.befriend(&ann, &cat).await;
    ann.post(
        &format!("/api/v1/rooms/{room}/members"),
        json!({ "user_id": cat.id }),
    )
    .await;
    let (_, r) = cat.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(r["unread_count"], 0);

    let (_, r) = ann.get(&format!("/api/v1/rooms/{room}")).await;
    let seq = last["seq"].as_i64().unwrap();
    let (status, read) = ann
        .post(
            &format!("/api/v1/rooms/{room}/read"),
            json!({ "seq": r["last_seq"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["last_read_seq"], r["last_seq"]);
    let (_, read) = ann
        .post(&format!("/api/v1/rooms/{room}/read"), json!({ "seq": seq }))
        .await;
    assert_eq!(
        read["last_read_seq"], r["last_seq"],
        "the read marker never moves back"
    );
    let (_, read) = ann
        .post(
            &format!("/api/v1/rooms/{room}/read"),
            json!({ "seq": 1_000_000 }),
        )
        .await;
    assert_eq!(read["last_read_seq"], r["last_seq"], "nor past the end");
    let (_, r) = ann.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(r["unread_count"], 0);
}

#[tokio::test]
async fn unread_mentions_are_counted_per_room() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    say(&ann, room, "@bob can you check?").await;
    say(&ann, room, "also @bob.").await;
    say(&ann, room, "no mention").await;
    let (_, r) = bob.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(r["unread_mentions"], 2);
}
