//! The real-time stream over real sockets: live events, gap-free resume across reconnects, node
//! restarts and nodes, sending over the socket, isolation, slow clients, typing and presence.

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use flowly_testkit::{
    Client, TestApp, TestUser, create_room, eventually, fresh_database, password_of, say,
    test_config,
    ws::{self, Ws, connect, seqs},
};

fn token(user: &TestUser) -> String {
    user.client.token.clone().expect("token")
}

/// Waits, at most `tries` tenths of a second, until the node holds `n` sockets (it drops a
/// socket asynchronously, after a timeout or a failed write).
async fn wait_for_sockets(app: &TestApp, n: usize, tries: u32) {
    for _ in 0..tries {
        if app.state.hub.socket_count() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn last_seq(user: &TestUser, room: Uuid) -> i64 {
    let (_, r) = user.get(&format!("/api/v1/rooms/{room}")).await;
    r["last_seq"].as_i64().expect("last_seq")
}

#[tokio::test]
async fn a_socket_without_a_valid_session_is_closed_with_a_reason() {
    let app = TestApp::spawn().await;
    let closed = ws::open(&app.base, None).await.err().expect("refused");
    assert_eq!(closed.as_ref().map(|c| c.0), Some(4401), "{closed:?}");
    let closed = ws::open(&app.base, Some("forged-token"))
        .await
        .err()
        .expect("refused");
    assert_eq!(closed.map(|c| c.0), Some(4401));
}

#[tokio::test]
async fn a_message_reaches_every_member_live_with_its_sequence_number() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (mut bobs, replayed) = connect(&app.base, &token(&bob), json!({})).await;
    assert!(replayed.is_empty());
    let rooms = bobs.hello["data"]["rooms"].as_array().unwrap();
    assert!(rooms.iter().any(|r| r["room"] == room.to_string()));

    let sent = say(&ann, room, "deploy at 5").await;
    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(frame["room"], room.to_string());
    assert_eq!(frame["seq"], sent["seq"]);
    assert_eq!(frame["data"]["message"]["body"], "deploy at 5");
    assert_eq!(frame["data"]["message"]["author_username"], "ann");

    // Edits, reactions and deletions follow, each with the next sequence number.
    let id = sent["id"].as_str().unwrap();
    ann.patch(
        &format!("/api/v1/messages/{id}"),
        json!({ "body": "deploy at 6" }),
    )
    .await;
    bob.put(&format!("/api/v1/messages/{id}/reactions/👍"))
        .await;
    ann.delete(&format!("/api/v1/messages/{id}")).await;
    let mut next = sent["seq"].as_i64().unwrap();
    let created = frame["data"]["message"].clone();
    for kind in ["message.edited", "reaction.added", "message.deleted"] {
        let frame = bobs.next_of(&[kind]).await;
        next += 1;
        assert_eq!(frame["seq"], next, "{frame}");
        if kind == "message.edited" {
            // A new message's snapshot is built from the row being inserted, an edit's is read
            // back: the same message as every member sees it, but for what the edit changed.
            let mut edited = frame["data"]["message"].clone();
            edited["body"] = created["body"].clone();
            edited["edited_at"] = created["edited_at"].clone();
            assert_eq!(edited, created);
        }
    }
}

#[tokio::test]
async fn messages_missed_while_disconnected_arrive_once_and_in_order_on_resume() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let seen = last_seq(&bob, room).await;
    bobs.close().await;

    for i in 0..40 {
        say(&ann, room, &format!("missed {i}")).await;
    }
    let (_, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "while away" }),
        )
        .await;
    let (mut bobs, replayed) =
        connect(&app.base, &token(&bob), json!({ room.to_string(): seen })).await;
    let got = seqs(&replayed);
    let expected: Vec<i64> = (seen + 1..=seen + 41).collect();
    assert_eq!(got, expected, "exactly once, in order, no gap");
    assert_eq!(replayed[0]["data"]["message"]["body"], "missed 0");
    assert_eq!(replayed[40]["type"], "task.created");
    assert_eq!(replayed[40]["data"]["message"]["ref_task_id"], task["id"]);

    // Then live, continuing from there.
    say(&ann, room, "live again").await;
    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(frame["seq"], seen + 42);
}

// Found by fuzz/fuzz_targets/ws_frame.rs: the socket parsed the first frame apart from the
// others, refusing a repeated key there, so such a resume replayed nothing and was answered
// `already_resumed`. The first frame is read like any other now (the last value wins).
#[tokio::test]
async fn a_resume_with_a_repeated_key_replays_like_any_other() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let seen = last_seq(&bob, room).await;
    say(&ann, room, "missed").await;
    let mut bobs = ws::open(&app.base, Some(&token(&bob)))
        .await
        .expect("socket accepted");
    let resume = format!(r#"{{"type": "resume", "rooms": {{}}, "rooms": {{"{room}": {seen}}}}}"#);
    bobs.send_raw(tokio_tungstenite::tungstenite::Message::Text(resume.into()))
        .await;
    let first = bobs.next_of(&["message.created", "resumed", "error"]).await;
    assert_eq!(first["type"], "message.created", "{first}");
    assert_eq!(first["data"]["message"]["body"], "missed");
    let next = bobs.next_of(&["resumed", "error"]).await;
    assert_eq!(next["type"], "resumed", "{next}");
}

#[tokio::test]
async fn a_client_resumes_without_loss_after_its_node_restarts() {
    let db = fresh_database().await;
    let first = TestApp::start(test_config(&db)).await;
    let ann = first.register("ann").await;
    let bob = first.register("bob").await;
    let room = first.group(&ann, "Ops", &[&bob]).await;
    let (mut bobs, _) = connect(&first.base, &token(&bob), json!({})).await;
    let m = say(&ann, room, "before").await;
    let frame = bobs.next_of(&["message.created"]).await;
    let mut seen = frame["seq"].as_i64().unwrap();
    assert_eq!(frame["seq"], m["seq"]);

    first.stop().await;
    let (closed, _) = bobs.until_closed().await;
    assert_eq!(
        closed.map(|c| c.0),
        Some(1001),
        "the node says goodbye before it goes"
    );

    let second = TestApp::start(test_config(&db)).await;
    let ann2 = flowly_testkit::Client {
        base: second.base.clone(),
        ..ann.client.clone()
    };
    for i in 0..10 {
        let (status, _) = ann2
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                json!({ "body": format!("during {i}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, replayed) = connect(
        &second.base,
        &token(&bob),
        json!({ room.to_string(): seen }),
    )
    .await;
    for frame in &replayed {
        seen += 1;
        assert_eq!(frame["seq"], seen);
    }
    assert_eq!(replayed.len(), 10);
}

#[tokio::test]
async fn a_message_sent_through_one_node_reaches_sockets_on_another() {
    let db = fresh_database().await;
    let a = TestApp::start(test_config(&db)).await;
    let b = TestApp::start(test_config(&db)).await;
    let ann = a.register("ann").await;
    let bob = a.register("bob").await;
    let room = a.group(&ann, "Ops", &[&bob]).await;
    let (mut on_b, _) = connect(&b.base, &token(&bob), json!({})).await;
    let (mut on_a, _) = connect(&a.base, &token(&ann), json!({})).await;

    let sent = say(&ann, room, "via node A").await;
    let frame = on_b.next_of(&["message.created"]).await;
    assert_eq!(frame["seq"], sent["seq"]);
    on_b.send(json!({ "type": "send", "room": room, "body": "via node B", "client_id": "b-1" }))
        .await;
    let ack = on_b.next_of(&["ack"]).await;
    let own = on_a.next_of(&["message.created"]).await;
    assert_eq!(own["data"]["message"]["body"], "via node A");
    let frame = on_a.next_of(&["message.created"]).await;
    assert_eq!(frame["data"]["message"]["body"], "via node B");
    assert_eq!(frame["seq"], ack["data"]["seq"]);
}

#[tokio::test]
async fn a_message_sent_over_the_socket_is_acknowledged_and_never_duplicated() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (mut anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;

    let send = json!({ "type": "send", "room": room, "body": "hello over the socket", "client_id": "k-42" });
    anns.send(send.clone()).await;
    let ack = anns.next_of(&["ack"]).await;
    assert_eq!(ack["data"]["client_id"], "k-42");
    anns.send(send).await;
    let again = anns.next_of(&["ack"]).await;
    assert_eq!(again["data"]["id"], ack["data"]["id"]);
    assert_eq!(again["data"]["seq"], ack["data"]["seq"]);

    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(frame["data"]["message"]["id"], ack["data"]["id"]);
    // The same event as a REST send: the next frame is the REST message, not a duplicate.
    say(&ann, room, "over REST").await;
    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(frame["data"]["message"]["body"], "over REST");

    anns.send(json!({ "type": "send", "room": room, "body": "" }))
        .await;
    let err = anns.next_of(&["error"]).await;
    assert_eq!(err["data"]["code"], "invalid_message");
}

#[tokio::test]
async fn no_event_of_a_room_reaches_someone_outside_it() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let secret = app.group(&ann, "Secret", &[&bob]).await;
    let open = app.group(&ann, "Open", &[&eve]).await;
    let (mut eves, _) = connect(&app.base, &token(&eve), json!({ secret.to_string(): 0 })).await;

    let m = say(&ann, secret, "the secret plan").await;
    ann.put(&format!(
        "/api/v1/messages/{}/reactions/🤫",
        m["id"].as_str().unwrap()
    ))
    .await;
    ann.post(
        "/api/v1/tasks",
        json!({ "room_id": secret, "title": "secret task" }),
    )
    .await;
    eves.send(json!({ "type": "typing", "room": secret })).await;
    let err = eves.next_of(&["error"]).await;
    assert_eq!(err["data"]["code"], "room_not_found");
    eves.send(json!({ "type": "send", "room": secret, "body": "let me in" }))
        .await;
    let err = eves.next_of(&["error"]).await;
    assert_eq!(err["data"]["code"], "room_not_found");
    say(&ann, open, "marker").await;

    // Everything Eve receives up to the marker belongs to rooms she is in.
    loop {
        let frame = eves.next_frame().await.expect("open socket");
        let text = frame.to_string();
        assert!(
            !text.contains("secret") && !text.contains(&secret.to_string()),
            "leaked: {text}"
        );
        if frame["data"]["message"]["body"] == "marker" {
            break;
        }
    }
}

#[tokio::test]
async fn a_removed_member_sees_their_removal_and_nothing_after() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    ann.delete(&format!("/api/v1/rooms/{room}/members/{}", bob.id))
        .await;
    say(&ann, room, "after bob left").await;
    let removed = bobs.next_of(&["member.removed"]).await;
    assert_eq!(
        removed["data"]["message"]["data"]["user_id"],
        bob.id.to_string()
    );

    // Bob is invited into another room while connected and starts receiving it at once.
    let third = app.group(&ann, "Third", &[]).await;
    ann.post(
        &format!("/api/v1/rooms/{third}/members"),
        json!({ "user_id": bob.id }),
    )
    .await;
    let joined = bobs.next_of(&["member.joined"]).await;
    assert_eq!(joined["room"], third.to_string());
    say(&ann, third, "welcome bob").await;
    let frame = bobs.next_of(&["message.created"]).await;
    assert_eq!(
        frame["data"]["message"]["body"], "welcome bob",
        "nothing from the room he left came first"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_while_others_keep_receiving() {
    let app = TestApp::spawn_with(|c| {
        c.realtime.queue_frames = 8;
        c.realtime.write_timeout_secs = 1;
        c.limits.writes_per_user_per_minute = 100_000;
    })
    .await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.group(&ann, "Ops", &[&bob, &cat]).await;
    let seen = last_seq(&bob, room).await;
    let (mut slow, _) = connect(&app.base, &token(&bob), json!({})).await;
    let (mut fast, _) = connect(&app.base, &token(&cat), json!({})).await;

    // Enough large messages to fill the socket buffers of a client that never reads.
    let body = "x".repeat(7900);
    let total = 1500;
    let mut received = 0;
    for i in 0..total {
        say(&ann, room, &format!("{i} {body}")).await;
        let frame = fast.next_of(&["message.created"]).await;
        assert_eq!(
            frame["seq"],
            seen + 1 + i,
            "the fast reader keeps up, in order"
        );
        received += 1;
    }
    assert_eq!(received, total);
    // The write that could not finish times out; wait (bounded) for the node to drop the socket.
    wait_for_sockets(&app, 1, 150).await;
    assert_eq!(
        app.state.hub.socket_count(),
        1,
        "only the fast reader's socket is left"
    );

    // The slow one got a gap-free prefix, then the end of its connection; it resumes the rest.
    let (closed, got) = slow.until_closed().await;
    assert!(closed.as_ref().is_none_or(|c| c.0 == 4408), "{closed:?}");
    let got = seqs(&got);
    assert!(got.len() < total as usize, "it was cut off before the end");
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, s)| *s == seen + 1 + i as i64)
    );
    let from = got.last().copied().unwrap_or(seen);
    let (_, rest) = connect(&app.base, &token(&bob), json!({ room.to_string(): from })).await;
    assert_eq!(seqs(&rest), (from + 1..=seen + total).collect::<Vec<_>>());
}

#[tokio::test]
async fn typing_and_presence_reach_room_mates_and_expire() {
    let app = TestApp::spawn_with(|c| c.realtime.typing_ttl_ms = 200).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (mut anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let online = anns.next_of(&["presence"]).await;
    assert_eq!(
        online["data"],
        json!({ "user_id": bob.id, "status": "online" })
    );
    // Someone connecting later learns at once who is around.
    let (mut later, _) = connect(&app.base, &token(&ann), json!({})).await;
    let snapshot = later.next_of(&["presence.snapshot"]).await;
    assert_eq!(
        snapshot["data"]["users"],
        json!([{ "user_id": bob.id, "status": "online" }])
    );
    later.close().await;

    bobs.send(json!({ "type": "typing", "room": room })).await;
    let started = anns.next_of(&["typing.started"]).await;
    assert_eq!(
        (
            started["room"].as_str(),
            started["data"]["username"].as_str()
        ),
        (Some(room.to_string().as_str()), Some("bob"))
    );
    // No refresh: the indicator expires by itself.
    let stopped = anns.next_of(&["typing.stopped"]).await;
    assert_eq!(stopped["data"]["user_id"], bob.id.to_string());

    bobs.send(json!({ "type": "presence", "status": "away" }))
        .await;
    let away = anns.next_of(&["presence"]).await;
    assert_eq!(away["data"]["status"], "away");
    bobs.close().await;
    let offline = anns.next_of(&["presence"]).await;
    assert_eq!(
        offline["data"],
        json!({ "user_id": bob.id, "status": "offline" })
    );
}

#[tokio::test]
async fn read_markers_reach_room_mates_only_in_rooms_up_to_the_receipt_limit() {
    let app = TestApp::spawn_with(|c| c.realtime.read_receipts_max_members = 2).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cid = app.register("cid").await;
    let crowd = app.group(&ann, "Crowd", &[&bob, &cid]).await;
    let pair = create_room(&ann, "Pair", &[&bob]).await;
    let in_pair = say(&bob, pair, "in the pair").await["seq"].clone();
    let in_crowd = say(&bob, crowd, "in the crowd").await["seq"].clone();
    let (mut anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let read = |room: Uuid, seq: serde_json::Value| {
        let ann = &ann;
        async move {
            let (status, _) = ann
                .post(&format!("/api/v1/rooms/{room}/read"), json!({ "seq": seq }))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    };
    // Three members, over the limit: only Ann's own sockets hear it.
    read(crowd, in_crowd.clone()).await;
    let own = anns.next_of(&["read.updated"]).await;
    assert_eq!(own["room"], crowd.to_string());
    assert_eq!(
        own["data"],
        json!({ "user_id": ann.id, "last_read_seq": in_crowd })
    );
    // Two members: Bob hears it too, and it is the first read marker he hears.
    read(pair, in_pair.clone()).await;
    let heard = bobs.next_of(&["read.updated"]).await;
    assert_eq!(heard["room"], pair.to_string());
    assert_eq!(
        heard["data"],
        json!({ "user_id": ann.id, "last_read_seq": in_pair })
    );
    assert_eq!(
        anns.next_of(&["read.updated"]).await["room"],
        pair.to_string()
    );
}

#[tokio::test]
async fn bad_frames_get_errors_and_floods_and_huge_frames_close_the_socket() {
    let app = TestApp::spawn_with(|c| {
        c.realtime.max_frame_bytes = 4096;
        c.realtime.frame_burst = 5;
        c.realtime.frames_per_second = 1;
    })
    .await;
    let ann = app.register("ann").await;
    let (mut s, _) = connect(&app.base, &token(&ann), json!({})).await;
    s.send_raw(tokio_tungstenite::tungstenite::Message::Text(
        "{not json".into(),
    ))
    .await;
    assert_eq!(
        s.next_of(&["error"]).await["data"]["code"],
        "malformed_frame"
    );
    s.send(json!({ "type": "teleport" })).await;
    assert_eq!(s.next_of(&["error"]).await["data"]["code"], "unknown_type");
    s.send(json!({ "type": "send", "room": "not-a-uuid", "body": "x" }))
        .await;
    assert_eq!(s.next_of(&["error"]).await["data"]["code"], "invalid_frame");
    for _ in 0..3 {
        s.send(json!({ "type": "ping" })).await;
    }
    let mut limited = false;
    for _ in 0..3 {
        let f = s.next_of(&["pong", "error"]).await;
        limited |= f["data"]["code"] == "frame_rate_limited";
    }
    assert!(limited, "the sixth frame within the burst is refused");

    let (mut big, _) = connect(&app.base, &token(&ann), json!({})).await;
    big.send(json!({ "type": "send", "room": Uuid::nil(), "body": "y".repeat(10_000) }))
        .await;
    let (closed, _) = big.until_closed().await;
    // The frame's unread remainder can make the kernel reset the connection, and a reset may
    // overtake the close frame; either way the socket is closed, never served on.
    assert!(closed.as_ref().is_none_or(|c| c.0 == 1009), "{closed:?}");
    wait_for_sockets(&app, 1, 50).await;
    assert_eq!(
        app.state.hub.socket_count(),
        1,
        "only the well-behaved socket is left"
    );
}

#[tokio::test]
async fn a_revoked_session_is_closed_and_a_user_has_a_socket_limit() {
    let app = TestApp::spawn_with(|c| {
        c.realtime.max_sockets_per_user = 2;
    })
    .await;
    let ann = app.register("ann").await;
    let (mut first, _) = connect(&app.base, &token(&ann), json!({})).await;
    let (_second, _) = connect(&app.base, &token(&ann), json!({})).await;
    let refused = ws::open(&app.base, Some(&token(&ann)))
        .await
        .err()
        .expect("third refused");
    assert_eq!(refused.map(|c| c.0), Some(4429));

    ann.post("/api/v1/auth/logout-all", json!({})).await;
    let (closed, _) = first.until_closed().await;
    assert_eq!(closed.map(|c| c.0), Some(4401));
}

#[tokio::test]
async fn friend_requests_and_answers_arrive_live() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let (mut anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let (_, sent) = ann
        .post("/api/v1/friends/requests", json!({ "user_id": bob.id }))
        .await;
    let received = bobs.next_of(&["friend.request"]).await;
    assert_eq!(received["data"]["request"]["id"], sent["request"]["id"]);
    assert_eq!(received["data"]["request"]["from_user"], ann.id.to_string());
    let id = sent["request"]["id"].as_str().unwrap();
    bob.post(&format!("/api/v1/friends/requests/{id}/accept"), json!({}))
        .await;
    let answered = anns.next_of(&["friend.answered"]).await;
    assert_eq!(answered["data"]["request"]["status"], "accepted");
}

#[tokio::test]
async fn a_peer_that_stops_answering_heartbeats_is_dropped() {
    let app = TestApp::spawn_with(|c| {
        c.realtime.heartbeat_secs = 1;
        c.realtime.idle_timeout_secs = 2;
    })
    .await;
    let ann = app.register("ann").await;
    let (silent, _) = connect(&app.base, &token(&ann), json!({})).await;
    // The client never reads again, so it never answers a ping; the node notices within bounds.
    wait_for_sockets(&app, 0, 100).await;
    assert_eq!(app.state.hub.socket_count(), 0);
    drop(silent);
}

#[tokio::test]
async fn presence_is_live_for_friends_and_small_rooms_and_read_with_a_large_rooms_members() {
    let app = TestApp::spawn_with(|c| c.realtime.presence_room_max_members = 2).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cid = app.register("cid").await;
    // Ann befriends both; Bob and Cid share only this room of three.
    let crowd = app.group(&ann, "Crowd", &[&bob, &cid]).await;
    let (_cids, _) = connect(&app.base, &token(&cid), json!({})).await;
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let snapshot = bobs.next_of(&["presence.snapshot"]).await;
    assert_eq!(
        snapshot["data"]["users"],
        json!([]),
        "Cid is online, but not Bob's contact"
    );
    let (_anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    let online = bobs.next_of(&["presence"]).await;
    assert_eq!(
        online["data"],
        json!({ "user_id": ann.id, "status": "online" })
    );
    cid.post("/api/v1/auth/logout", json!({})).await;
    let (status, list) = bob.get(&format!("/api/v1/rooms/{crowd}/members")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let presence: std::collections::HashMap<String, String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["presence"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(presence["ann"], "online");
    assert_eq!(presence["bob"], "online");
    // Cid's socket closed with the session; the list says so without a frame to Bob.
    eventually("cid offline in the member list", || async {
        let (_, list) = bob.get(&format!("/api/v1/rooms/{crowd}/members")).await;
        list.as_array()?
            .iter()
            .any(|m| m["username"] == "cid" && m["presence"] == "offline")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_live_socket_keeps_its_presence_past_the_entry_lifetime() {
    // Entries live 3 s and heartbeats come every second: a socket skips a refresh only while its
    // entry would still outlive the next heartbeat by one more, so it never lapses.
    let app = TestApp::spawn_with(|c| {
        c.realtime.heartbeat_secs = 1;
        c.realtime.presence_ttl_secs = 3;
    })
    .await;
    let ann = app.register("ann").await;
    let (anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let live = flowly::realtime::presence::live_sockets(&app.state, ann.id)
            .await
            .unwrap();
        assert_eq!(live, 1, "ann's presence lapsed while her socket was open");
    }
    drop(anns);
}

#[tokio::test]
async fn users_whose_node_died_fall_offline_when_their_presence_expires() {
    let app = TestApp::spawn_with(|c| c.realtime.heartbeat_secs = 1).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    app.group(&ann, "Ops", &[&bob]).await;
    let (mut anns, _) = connect(&app.base, &token(&ann), json!({})).await;
    // Bob's socket lived on a node that died: its presence entry is there but about to lapse.
    let prefix = &app.state.config.redis.key_prefix;
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 300;
    let mut redis = app.state.redis.clone();
    let _: () = redis::pipe()
        .zadd(
            format!("{prefix}presence:{}", bob.id),
            "dead-node:1",
            expiry,
        )
        .zadd(
            format!("{prefix}presence-index"),
            bob.id.to_string(),
            expiry,
        )
        .query_async(&mut redis)
        .await
        .unwrap();
    let offline = anns.next_of(&["presence"]).await;
    assert_eq!(
        offline["data"],
        json!({ "user_id": bob.id, "status": "offline" })
    );
}

#[tokio::test]
async fn a_deleted_message_is_not_replayed_with_its_text() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let seen = last_seq(&bob, room).await;
    let m = say(&ann, room, "oops, a password: hunter2").await;
    ann.delete(&format!("/api/v1/messages/{}", m["id"].as_str().unwrap()))
        .await;
    let (_, replayed) = connect(&app.base, &token(&bob), json!({ room.to_string(): seen })).await;
    let kinds: Vec<&str> = replayed
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message.created", "message.deleted"]);
    assert!(
        !serde_json::to_string(&replayed)
            .unwrap()
            .contains("hunter2")
    );
}

#[tokio::test]
async fn a_plain_http_request_to_the_socket_gets_a_json_error() {
    let app = TestApp::spawn().await;
    let (status, body) = app.anonymous().get("/api/v1/ws").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(flowly_testkit::code(&body), "websocket_required");
}

/// A counter of the node's WebSocket frames, by direction and type.
fn frames(app: &TestApp, direction: &str, kind: &str) -> u64 {
    app.state
        .metrics
        .ws_frames
        .with_label_values(&[direction, kind])
        .get()
}

fn closes(app: &TestApp, code: &str) -> u64 {
    app.state.metrics.ws_closes.with_label_values(&[code]).get()
}

#[tokio::test]
async fn the_socket_metrics_count_sockets_frames_live_delivery_replays_and_closes() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let metrics = app.state.metrics.clone();

    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    assert_eq!(metrics.ws_open.get(), 1);
    assert_eq!(metrics.ws_opened.get(), 1);
    assert_eq!(frames(&app, "in", "resume"), 1);
    assert_eq!(frames(&app, "out", "hello"), 1);
    assert_eq!(frames(&app, "out", "resumed"), 1);

    // A live event: written once, its lag from commit to write measured once.
    say(&ann, room, "deploy at 5").await;
    bobs.next_of(&["message.created"]).await;
    assert_eq!(frames(&app, "out", "event"), 1);
    assert_eq!(metrics.ws_delivery_lag.get_sample_count(), 1);
    bobs.send(json!({ "type": "ping" })).await;
    bobs.next_of(&["pong"]).await;
    assert_eq!(frames(&app, "in", "ping"), 1);
    assert_eq!(frames(&app, "out", "pong"), 1);
    bobs.send(json!({ "type": "no such frame" })).await;
    bobs.next_of(&["error"]).await;
    assert_eq!(frames(&app, "in", "invalid"), 1);
    assert_eq!(frames(&app, "out", "error"), 1);

    // The client leaves; what it missed meanwhile is replayed when it resumes.
    let seen = last_seq(&bob, room).await;
    bobs.close().await;
    eventually("the socket to be counted closed", || async {
        (metrics.ws_open.get() == 0).then_some(())
    })
    .await;
    assert_eq!(closes(&app, "client"), 1);
    for i in 0..3 {
        say(&ann, room, &format!("missed {i}")).await;
    }
    let (_bobs, replayed) =
        connect(&app.base, &token(&bob), json!({ room.to_string(): seen })).await;
    assert_eq!(seqs(&replayed).len(), 3);
    assert_eq!(metrics.ws_resume_replays.get(), 1);
    assert_eq!(
        metrics
            .ws_replayed_events
            .with_label_values(&["resume"])
            .get(),
        3
    );
    assert_eq!(frames(&app, "out", "replay"), 3);
    assert_eq!(
        metrics.ws_delivery_lag.get_sample_count(),
        1,
        "replays are not live deliveries"
    );

    // A refused socket is counted by its close code; so is a socket still open at none.
    ws::open(&app.base, Some("forged-token"))
        .await
        .err()
        .expect("refused");
    assert_eq!(closes(&app, "4401"), 1);
    assert_eq!(metrics.ws_open.get(), 1);

    // The exposition carries them, labelled by type and code, never by user or room.
    let text = app.metrics().await;
    assert!(
        text.contains(r#"flowly_ws_frames_total{direction="out",type="replay"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flowly_ws_closes_total{code="4408"} 0"#),
        "{text}"
    );
    assert!(text.contains("flowly_ws_connections 1\n"), "{text}");
    assert!(
        text.contains("flowly_ws_delivery_lag_seconds_count 1\n"),
        "{text}"
    );
    assert!(!text.contains(&room.to_string()) && !text.contains(&bob.id.to_string()));
}

/// Waits for a revoked session's socket to close, at most 5 s (a bound, not a measurement: the
/// node would otherwise find out at its next periodic check, minutes later).
async fn closed_at_once(mut socket: Ws, what: &str) {
    let (closed, _) =
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.until_closed())
            .await
            .unwrap_or_else(|_| panic!("{what}: the socket is still open after 5 s"));
    let (code, reason) = closed.unwrap_or_else(|| panic!("{what}: dropped without a close frame"));
    assert_eq!(code, 4401, "{what}: {reason}");
    assert_eq!(reason, "session ended: log in again", "{what}");
}

async fn session_id(client: &Client) -> String {
    let (_, list) = client.get("/api/v1/me/sessions").await;
    list["current"]
        .as_str()
        .expect("current session")
        .to_owned()
}

#[tokio::test]
async fn a_revoked_session_closes_its_socket_on_every_node_at_once() {
    let db = fresh_database().await;
    let a = TestApp::start(test_config(&db)).await;
    let b = TestApp::start(test_config(&db)).await;
    let admin = a.register("admin").await;
    let bob = a.register("bob").await;
    let password = password_of("bob");
    let login = || a.login("bob", &password);
    let socket_on_b = |client: &Client| {
        let token = client.token.clone().expect("token");
        let base = b.base.clone();
        async move { connect(&base, &token, json!({})).await.0 }
    };

    // Logging out everywhere, through node A, closes bob's socket on node B.
    let on_b = socket_on_b(&bob.client).await;
    bob.post("/api/v1/auth/logout-all", json!({})).await;
    closed_at_once(on_b, "logout everywhere").await;

    // Ending one session from another device closes that session's socket only.
    let laptop = login().await;
    let phone = login().await;
    let laptops = socket_on_b(&laptop).await;
    let phones = socket_on_b(&phone).await;
    let (status, _) = laptop
        .delete(&format!("/api/v1/me/sessions/{}", session_id(&phone).await))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    closed_at_once(phones, "session deleted").await;

    // A password change ends every other session, and their sockets.
    let tablet = login().await;
    let tablets = socket_on_b(&tablet).await;
    let (status, body) = laptop
        .post(
            "/api/v1/me/password",
            json!({ "current_password": password_of("bob"),
                    "new_password": "copper kettles hum beside 9 quiet wolves" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    closed_at_once(tablets, "password changed").await;
    assert_eq!(
        b.state.hub.socket_count(),
        1,
        "the laptop's own socket stays"
    );

    // An administrator disabling the account closes the rest.
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/users/{}/disable", bob.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    closed_at_once(laptops, "disabled by an administrator").await;

    // So does the operator's `flowly users disable`, which runs the same use case on its own.
    let (status, _) = admin
        .post(&format!("/api/v1/admin/users/{}/enable", bob.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let again = a
        .login("bob", "copper kettles hum beside 9 quiet wolves")
        .await;
    let agains = socket_on_b(&again).await;
    flowly::app::accounts::disable_by_operator(&a.state, "bob")
        .await
        .expect("disabled");
    closed_at_once(agains, "disabled by the operator").await;
}

#[tokio::test]
async fn a_burst_across_many_rooms_reaches_a_member_once_each_and_in_order_per_room() {
    // The fan-out reads every room hinted since its last read in one statement; a burst of
    // concurrent sends to several rooms makes such batches.
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let mut rooms = vec![app.group(&ann, "Ops", &[&bob]).await];
    for name in ["Dev", "Design", "Sales"] {
        rooms.push(create_room(&ann, name, &[&bob]).await);
    }
    let (mut bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let sends = rooms.iter().flat_map(|room| {
        let ann = &ann;
        (0..25).map(move |i| async move { say(ann, *room, &format!("{room} {i}")).await })
    });
    let sent = futures::future::join_all(sends).await;
    let mut expected: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for m in &sent {
        let room = m["room_id"].as_str().unwrap().to_owned();
        expected
            .entry(room)
            .or_default()
            .push(m["seq"].as_i64().unwrap());
    }
    let mut seen: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for _ in 0..sent.len() {
        let frame = bobs.next_of(&["message.created"]).await;
        let room = frame["room"].as_str().unwrap().to_owned();
        seen.entry(room)
            .or_default()
            .push(frame["seq"].as_i64().unwrap());
    }
    for (room, seqs) in &mut expected {
        seqs.sort_unstable();
        assert_eq!(
            seen.get(room),
            Some(&*seqs),
            "room {room}: once each, in order"
        );
    }
}

#[tokio::test]
async fn a_resume_behind_in_several_rooms_replays_each_once_and_in_order() {
    // The rooms a client is behind in are read together, a bounded batch per room at a time.
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let busy = app.group(&ann, "Busy", &[&bob]).await;
    let quiet = create_room(&ann, "Quiet", &[&bob]).await;
    let left = create_room(&ann, "Left", &[&bob]).await;
    let (bobs, _) = connect(&app.base, &token(&bob), json!({})).await;
    let mut seen = std::collections::HashMap::new();
    for room in [busy, quiet, left] {
        seen.insert(room.to_string(), last_seq(&bob, room).await);
    }
    bobs.close().await;

    // More than one batch (200 events) in one room.
    futures::stream::iter(0..205)
        .for_each_concurrent(8, |i| {
            let ann = &ann;
            async move {
                say(ann, busy, &format!("busy {i}")).await;
            }
        })
        .await;
    for i in 0..3 {
        say(&ann, quiet, &format!("quiet {i}")).await;
    }
    say(&ann, left, "before").await;
    ann.delete(&format!("/api/v1/rooms/{left}/members/{}", bob.id))
        .await;
    say(&ann, left, "after bob was removed").await;

    let (_, replayed) = connect(&app.base, &token(&bob), json!(seen)).await;
    let mut got: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for frame in &replayed {
        let room = frame["room"].as_str().unwrap().to_owned();
        got.entry(room)
            .or_default()
            .push(frame["seq"].as_i64().unwrap());
    }
    let from = |room: Uuid, n: i64| -> Vec<i64> {
        let s = seen[&room.to_string()];
        (s + 1..=s + n).collect()
    };
    assert_eq!(
        got[&busy.to_string()],
        from(busy, 205),
        "once each, in order"
    );
    assert_eq!(got[&quiet.to_string()], from(quiet, 3));
    assert!(
        !got.contains_key(&left.to_string()),
        "a room he was removed from while away is not replayed (hello no longer lists it)"
    );
}
