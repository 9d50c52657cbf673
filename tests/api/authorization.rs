//! The authorization matrix. Room-scoped resources are invisible to anyone outside the room: a
//! non-member gets the resource's 404 (never a 403 that would confirm it exists), and nothing
//! changes. Members without the right to do something get 403 with a stable code. Without a
//! token, everything answers 401.
//!
//! The tables below list every room-scoped endpoint once; adding an endpoint is adding a line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use flowly_testkit::{Client, TestApp, TestUser, code, id_of, say};

const ROOM: &str = "room_not_found";
const MESSAGE: &str = "message_not_found";
const TASK: &str = "task_not_found";

/// 👍 and 👎, percent-encoded for the path.
const THUMBS_UP: &str = "%F0%9F%91%8D";
const THUMBS_DOWN: &str = "%F0%9F%91%8E";

/// One request of a table: method, path under `/api/v1`, JSON body.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    /// The not-found code a caller outside the room gets.
    hidden: &'static str,
}

impl Call {
    async fn send(&self, client: &Client) -> (StatusCode, Value) {
        client
            .send(
                self.method.clone(),
                &format!("/api/v1{}", self.path),
                self.body.clone(),
            )
            .await
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A group room "Launch" owned by Ann with Bob and Cat, full of messages, reactions, replies and
/// tasks; Eve is Ann's friend but not in the room. Ann and Bob share a DM, so do Ann and Eve.
struct World {
    app: TestApp,
    /// Owner of the room (and, as the first account, an administrator).
    ann: TestUser,
    /// A plain member; Ann's message mentions him and a task is assigned to him.
    bob: TestUser,
    /// Another plain member.
    cat: TestUser,
    /// Ann's friend, outside the room.
    eve: TestUser,
    room: Uuid,
    dm: Uuid,
    /// Ann's message in her DM with Bob.
    dm_msg: Uuid,
    /// Eve's DM with Ann, her personal room and the personal task in it.
    eve_dm: Uuid,
    eve_self: Uuid,
    eve_task: Uuid,
    /// Ann's message in the room ("secret", mentions @bob and @eve); Bob reacted and replied.
    ann_msg: Uuid,
    /// Bob's message in the room.
    bob_msg: Uuid,
    /// The room's first message, "created the room".
    system_msg: Uuid,
    /// Ann's open task in the room, assigned to Bob, with a discussion.
    task: Uuid,
    /// Ann's task in the room that is already done.
    done_task: Uuid,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let eve = app.register("eve").await;
    let room = app.group(&ann, "Launch", &[&bob, &cat]).await;
    app.befriend(&ann, &eve).await;

    let ann_msg = id_of(&say(&ann, room, "The secret launch plan is ready, @bob and @eve").await);
    let bob_msg = id_of(&say(&bob, room, "Noted, I will review the secret plan").await);
    let (status, body) = bob
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": "Looks good", "reply_to": ann_msg }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = bob
        .put(&format!("/api/v1/messages/{ann_msg}/reactions/{THUMBS_UP}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = ann
        .post(
            "/api/v1/tasks",
            json!({
                "room_id": room, "title": "Prepare the secret launch", "assignee_id": bob.id,
                "labels": ["launch"], "due_on": "2030-01-15", "priority": "high",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = id_of(&body);
    let (status, body) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Book the venue", "status": "done" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let done_task = id_of(&body);
    let (status, body) = bob
        .post(
            &format!("/api/v1/tasks/{task}/messages"),
            json!({ "body": "Started on the secret checklist" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = ann.post("/api/v1/dms", json!({ "user_id": bob.id })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dm = id_of(&body);
    let dm_msg = id_of(&say(&ann, dm, "A private note for Bob").await);

    // Eve's own world, so that her empty results below are not empty by accident.
    let (status, body) = eve.post("/api/v1/dms", json!({ "user_id": ann.id })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let eve_dm = id_of(&body);
    say(&eve, eve_dm, "My secret recipe is ready").await;
    say(&ann, eve_dm, "@eve welcome aboard").await;
    let (status, body) = eve
        .post(
            "/api/v1/tasks",
            json!({ "title": "Buy secret ingredients" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let eve_task = id_of(&body);
    let eve_self: Uuid = body["room_id"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("personal room");

    let (_, first) = ann
        .get(&format!("/api/v1/rooms/{room}/messages?after=0&limit=1"))
        .await;
    let system_msg = id_of(&first["messages"][0]);
    assert_eq!(first["messages"][0]["kind"], "system");

    World {
        app,
        ann,
        bob,
        cat,
        eve,
        room,
        dm,
        dm_msg,
        eve_dm,
        eve_self,
        eve_task,
        ann_msg,
        bob_msg,
        system_msg,
        task,
        done_task,
    }
}

/// What the room-scoped calls aim at: a room, a message and two tasks (one done) in it.
#[derive(Clone, Copy)]
struct Target {
    room: Uuid,
    msg: Uuid,
    task: Uuid,
    done: Uuid,
}

impl World {
    /// The room "Launch", Ann's message and tasks in it.
    fn launch(&self) -> Target {
        Target {
            room: self.room,
            msg: self.ann_msg,
            task: self.task,
            done: self.done_task,
        }
    }
}

/// Ids that exist nowhere, to compare what a hidden room looks like with what nothing looks like.
fn nowhere() -> Target {
    Target {
        room: Uuid::now_v7(),
        msg: Uuid::now_v7(),
        task: Uuid::now_v7(),
        done: Uuid::now_v7(),
    }
}

/// Every room-scoped endpoint, aimed at `t`.
fn room_scoped_calls(w: &World, t: Target) -> Vec<Call> {
    let Target {
        room,
        msg,
        task,
        done,
    } = t;
    let c = |method: Method, path: String, body: Option<Value>, hidden: &'static str| Call {
        method,
        path,
        body,
        hidden,
    };
    use Method as M;
    vec![
        c(M::GET, format!("/rooms/{room}"), None, ROOM),
        c(
            M::PATCH,
            format!("/rooms/{room}"),
            Some(json!({ "name": "Hijacked", "topic": "pwned" })),
            ROOM,
        ),
        c(M::GET, format!("/rooms/{room}/members"), None, ROOM),
        c(
            M::POST,
            format!("/rooms/{room}/members"),
            Some(json!({ "user_id": w.eve.id })),
            ROOM,
        ),
        c(
            M::DELETE,
            format!("/rooms/{room}/members/{}", w.cat.id),
            None,
            ROOM,
        ),
        c(
            M::POST,
            format!("/rooms/{room}/leave"),
            Some(json!({})),
            ROOM,
        ),
        c(
            M::POST,
            format!("/rooms/{room}/owner"),
            Some(json!({ "user_id": w.eve.id })),
            ROOM,
        ),
        c(
            M::POST,
            format!("/rooms/{room}/read"),
            Some(json!({ "seq": 1_000 })),
            ROOM,
        ),
        c(M::GET, format!("/rooms/{room}/messages"), None, ROOM),
        c(
            M::POST,
            format!("/rooms/{room}/messages"),
            Some(json!({ "body": "Eve was here", "client_id": "eve-1" })),
            ROOM,
        ),
        c(M::GET, format!("/messages/{msg}"), None, MESSAGE),
        c(
            M::PATCH,
            format!("/messages/{msg}"),
            Some(json!({ "body": "defaced" })),
            MESSAGE,
        ),
        c(M::DELETE, format!("/messages/{msg}"), None, MESSAGE),
        c(M::GET, format!("/messages/{msg}/replies"), None, MESSAGE),
        c(
            M::PUT,
            format!("/messages/{msg}/reactions/{THUMBS_DOWN}"),
            None,
            MESSAGE,
        ),
        c(
            M::DELETE,
            format!("/messages/{msg}/reactions/{THUMBS_UP}"),
            None,
            MESSAGE,
        ),
        c(
            M::POST,
            format!("/messages/{msg}/task"),
            Some(json!({ "title": "Stolen" })),
            MESSAGE,
        ),
        c(
            M::POST,
            "/tasks".into(),
            Some(json!({ "room_id": room, "title": "Planted" })),
            ROOM,
        ),
        c(M::GET, format!("/tasks/{task}"), None, TASK),
        c(
            M::PATCH,
            format!("/tasks/{task}"),
            Some(json!({ "title": "Renamed", "status": "blocked" })),
            TASK,
        ),
        c(M::DELETE, format!("/tasks/{task}"), None, TASK),
        c(
            M::POST,
            format!("/tasks/{task}/move"),
            Some(json!({ "status": "doing" })),
            TASK,
        ),
        c(
            M::POST,
            format!("/tasks/{task}/complete"),
            Some(json!({})),
            TASK,
        ),
        c(
            M::POST,
            format!("/tasks/{done}/reopen"),
            Some(json!({})),
            TASK,
        ),
        c(M::GET, format!("/tasks/{task}/events"), None, TASK),
        c(M::GET, format!("/tasks/{task}/messages"), None, TASK),
        c(
            M::POST,
            format!("/tasks/{task}/messages"),
            Some(json!({ "body": "Eve's comment" })),
            TASK,
        ),
    ]
}

/// The list endpoints that span rooms; they answer 200 and must show nothing of a hidden room.
fn list_paths(w: &World) -> Vec<String> {
    let room = w.room;
    vec![
        "/search?q=secret".into(),
        format!("/search?q=secret&room={room}"),
        "/mentions".into(),
        "/tasks".into(),
        format!("/tasks?room={room}"),
        "/rooms".into(),
    ]
}

async fn get_ok(user: &TestUser, path: &str) -> Value {
    let (status, body) = user.get(&format!("/api/v1{path}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{} GET {path}: {body}",
        user.username
    );
    body
}

/// Everything a member can see of the room and the DM, to compare before and after.
async fn snapshot(w: &World, viewer: &TestUser) -> Vec<(String, Value)> {
    let (room, task, done) = (w.room, w.task, w.done_task);
    let mut paths = vec![
        format!("/rooms/{room}"),
        format!("/rooms/{room}/members"),
        format!("/rooms/{room}/messages?limit=200"),
        format!("/tasks?room={room}"),
        format!("/tasks/{task}"),
        format!("/tasks/{task}/events"),
        format!("/tasks/{task}/messages"),
        format!("/tasks/{done}"),
        format!("/search?q=secret&room={room}"),
    ];
    for m in [w.ann_msg, w.bob_msg, w.system_msg] {
        paths.push(format!("/messages/{m}"));
        paths.push(format!("/messages/{m}/replies"));
    }
    if [w.ann.id, w.bob.id].contains(&viewer.id) {
        paths.push(format!("/rooms/{}", w.dm));
        paths.push(format!("/rooms/{}/members", w.dm));
        paths.push(format!("/rooms/{}/messages", w.dm));
    }
    let mut snap = Vec::new();
    for path in paths {
        let body = get_ok(viewer, &path).await;
        snap.push((path, body));
    }
    snap
}

fn assert_unchanged(before: &[(String, Value)], after: &[(String, Value)], viewer: &str) {
    for ((path, was), (_, now)) in before.iter().zip(after) {
        assert_eq!(was, now, "{viewer}'s view of GET {path} changed");
    }
}

/// The items of a list answer that belong to `room` (or are it).
fn from_room(list: &Value, room: Uuid) -> Vec<Value> {
    let room = json!(room.to_string());
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list}"))
        .iter()
        .filter(|item| item["room_id"] == room || item["id"] == room)
        .cloned()
        .collect()
}

/// Asserts that every room-scoped endpoint answers `user` with the resource's 404, word for word
/// what it answers for ids that do not exist: the room's existence is not given away either.
async fn assert_hidden_from(w: &World, user: &TestUser) {
    let mut wrong = Vec::new();
    for (call, ghost) in room_scoped_calls(w, w.launch())
        .iter()
        .zip(room_scoped_calls(w, nowhere()))
    {
        let (status, body) = call.send(user).await;
        if (status, code(&body)) != (StatusCode::NOT_FOUND, call.hidden) {
            wrong.push(format!(
                "{}: expected 404 {}, got {status} {body}",
                call.label(),
                call.hidden
            ));
        } else {
            let (ghost_status, ghost_body) = ghost.send(user).await;
            if (ghost_status, &ghost_body) != (status, &body) {
                wrong.push(format!(
                    "{}: {status} {body}, but for no such id {ghost_status} {ghost_body}",
                    call.label()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} could reach the room:\n{}",
        user.username,
        wrong.join("\n")
    );
}

/// Asserts that the cross-room lists show `user` nothing of the room.
async fn assert_lists_show_nothing_of_the_room(w: &World, user: &TestUser) {
    for path in list_paths(w) {
        let list = get_ok(user, &path).await;
        let leaked = from_room(&list, w.room);
        assert!(
            leaked.is_empty(),
            "{} GET {path} shows the room: {leaked:?}",
            user.username
        );
    }
}

#[tokio::test]
async fn a_friend_outside_the_room_gets_not_found_from_every_room_endpoint_and_changes_nothing() {
    let w = world().await;
    // The same requests work for a member, so the 404s below are about membership alone.
    for call in room_scoped_calls(&w, w.launch())
        .iter()
        .filter(|c| c.method == Method::GET)
    {
        let (status, body) = call.send(&w.bob).await;
        assert_eq!(status, StatusCode::OK, "member {}: {body}", call.label());
    }
    let ann_before = snapshot(&w, &w.ann).await;
    let bob_before = snapshot(&w, &w.bob).await;

    assert_hidden_from(&w, &w.eve).await;

    assert_unchanged(&ann_before, &snapshot(&w, &w.ann).await, "Ann");
    assert_unchanged(&bob_before, &snapshot(&w, &w.bob).await, "Bob");
    let (_, members) = w
        .ann
        .get(&format!("/api/v1/rooms/{}/members", w.room))
        .await;
    assert_eq!(
        members.as_array().map(Vec::len),
        Some(3),
        "Eve did not get in: {members}"
    );
}

#[tokio::test]
async fn a_friend_outside_the_room_finds_nothing_of_it_in_search_mentions_or_task_lists() {
    let w = world().await;
    // A member finds the room's messages, mentions and tasks...
    let hits = get_ok(&w.bob, "/search?q=secret").await;
    assert!(!from_room(&hits, w.room).is_empty(), "{hits}");
    let mentions = get_ok(&w.bob, "/mentions").await;
    assert!(!from_room(&mentions, w.room).is_empty(), "{mentions}");
    let tasks = get_ok(&w.bob, &format!("/tasks?room={}", w.room)).await;
    assert_eq!(tasks.as_array().map(Vec::len), Some(2), "{tasks}");

    // ...while Eve, mentioned in the room by name, sees only her own world.
    assert_lists_show_nothing_of_the_room(&w, &w.eve).await;
    let hits = get_ok(&w.eve, "/search?q=secret").await;
    assert_eq!(
        hits.as_array().map(Vec::len),
        Some(1),
        "only her DM message: {hits}"
    );
    let mentions = get_ok(&w.eve, "/mentions").await;
    assert_eq!(
        mentions.as_array().map(Vec::len),
        Some(1),
        "only the DM mention: {mentions}"
    );
    assert_eq!(mentions[0]["body"], "@eve welcome aboard");
    let tasks = get_ok(&w.eve, "/tasks").await;
    assert_eq!(
        tasks.as_array().map(Vec::len),
        Some(1),
        "only her personal task: {tasks}"
    );
    assert_eq!(
        get_ok(&w.eve, &format!("/search?q=secret&room={}", w.room)).await,
        json!([])
    );
    assert_eq!(
        get_ok(&w.eve, &format!("/tasks?room={}", w.room)).await,
        json!([])
    );
}

#[tokio::test]
async fn pointing_at_a_hidden_message_or_task_from_elsewhere_answers_as_if_it_did_not_exist() {
    let w = world().await;
    let ghost = nowhere();
    let (dm, personal) = (w.eve_dm, w.eve_task);
    // (path Eve may use, body aimed at the hidden item, the same body aimed at nothing, expected code)
    let table: Vec<(String, Value, Value, &str)> = vec![
        (
            format!("/rooms/{dm}/messages"),
            json!({ "body": "Re", "reply_to": w.ann_msg }),
            json!({ "body": "Re", "reply_to": ghost.msg }),
            "invalid_reply_to",
        ),
        (
            format!("/tasks/{personal}/messages"),
            json!({ "body": "Re", "reply_to": w.ann_msg }),
            json!({ "body": "Re", "reply_to": ghost.msg }),
            "invalid_reply_to",
        ),
        (
            format!("/tasks/{personal}/move"),
            json!({ "after": w.task }),
            json!({ "after": ghost.task }),
            "invalid_position",
        ),
    ];
    let before = get_ok(&w.eve, &format!("/rooms/{dm}/messages")).await;
    let task_before = get_ok(&w.eve, &format!("/tasks/{personal}")).await;
    for (path, hidden, nothing, expected) in table {
        let path = format!("/api/v1{path}");
        let (status, body) = w.eve.post(&path, hidden.clone()).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "POST {path} with {hidden}: {body}"
        );
        assert_eq!(
            w.eve.post(&path, nothing).await,
            (status, body),
            "POST {path}: a hidden id must look like no id"
        );
    }
    assert_eq!(
        get_ok(&w.eve, &format!("/rooms/{dm}/messages")).await,
        before
    );
    assert_eq!(
        get_ok(&w.eve, &format!("/tasks/{personal}")).await,
        task_before
    );
}

#[tokio::test]
async fn members_without_the_right_get_403_with_a_stable_code_and_nothing_changes() {
    let w = world().await;
    let (status, body) = w
        .bob
        .post("/api/v1/friends/requests", json!({ "user_id": w.eve.id }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request = body["request"]["id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let (room, dm) = (w.room, w.dm);
    use Method as M;
    // (who, method, path under /api/v1, body, expected code)
    let table: Vec<(&TestUser, Method, String, Option<Value>, &str)> = vec![
        (
            &w.bob,
            M::DELETE,
            format!("/rooms/{room}/members/{}", w.cat.id),
            None,
            "not_owner",
        ),
        (
            &w.bob,
            M::POST,
            format!("/rooms/{room}/owner"),
            Some(json!({ "user_id": w.cat.id })),
            "not_owner",
        ),
        (
            &w.bob,
            M::PATCH,
            format!("/messages/{}", w.ann_msg),
            Some(json!({ "body": "Bob was here" })),
            "not_author",
        ),
        (
            &w.ann,
            M::PATCH,
            format!("/messages/{}", w.bob_msg),
            Some(json!({ "body": "Even owners cannot" })),
            "not_author",
        ),
        (
            &w.cat,
            M::DELETE,
            format!("/messages/{}", w.bob_msg),
            None,
            "not_author",
        ),
        (
            &w.ann,
            M::DELETE,
            format!("/messages/{}", w.system_msg),
            None,
            "not_author",
        ),
        (
            &w.bob,
            M::DELETE,
            format!("/tasks/{}", w.task),
            None,
            "not_task_owner",
        ),
        (
            &w.ann,
            M::PATCH,
            format!("/rooms/{dm}"),
            Some(json!({ "name": "Renamed DM" })),
            "not_a_group",
        ),
        (
            &w.ann,
            M::POST,
            format!("/rooms/{dm}/members"),
            Some(json!({ "user_id": w.cat.id })),
            "not_a_group",
        ),
        (
            &w.ann,
            M::POST,
            format!("/rooms/{dm}/leave"),
            Some(json!({})),
            "not_a_group",
        ),
        (
            &w.eve,
            M::PATCH,
            format!("/rooms/{}", w.eve_self),
            Some(json!({ "name": "Mine" })),
            "not_a_group",
        ),
        (
            &w.eve,
            M::POST,
            format!("/rooms/{}/members", w.eve_self),
            Some(json!({ "user_id": w.ann.id })),
            "not_a_group",
        ),
        (
            &w.eve,
            M::POST,
            format!("/rooms/{}/leave", w.eve_self),
            Some(json!({})),
            "not_a_group",
        ),
        (&w.bob, M::GET, "/admin/users".into(), None, "admin_only"),
        (
            &w.bob,
            M::POST,
            format!("/admin/users/{}/disable", w.ann.id),
            Some(json!({})),
            "admin_only",
        ),
        (
            &w.bob,
            M::POST,
            format!("/friends/requests/{request}/accept"),
            Some(json!({})),
            "not_your_request",
        ),
        (
            &w.eve,
            M::DELETE,
            format!("/friends/requests/{request}"),
            None,
            "not_your_request",
        ),
    ];
    let ann_before = snapshot(&w, &w.ann).await;
    let bob_before = snapshot(&w, &w.bob).await;

    let mut wrong = Vec::new();
    for (who, method, path, body, expected) in table {
        let (status, answer) = who
            .send(method.clone(), &format!("/api/v1{path}"), body)
            .await;
        if (status, code(&answer)) != (StatusCode::FORBIDDEN, expected) {
            wrong.push(format!(
                "{} {method} {path}: expected 403 {expected}, got {status} {answer}",
                who.username
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    assert_unchanged(&ann_before, &snapshot(&w, &w.ann).await, "Ann");
    assert_unchanged(&bob_before, &snapshot(&w, &w.bob).await, "Bob");
    let pending = get_ok(&w.eve, "/friends/requests").await;
    assert_eq!(
        pending.as_array().map(Vec::len),
        Some(1),
        "the request is still pending: {pending}"
    );
    assert_eq!(pending[0]["direction"], "incoming");
    let friends = get_ok(&w.bob, "/friends").await;
    assert!(
        friends
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["username"] != "eve"),
        "{friends}"
    );
    assert_eq!(
        w.ann.get("/api/v1/me").await.0,
        StatusCode::OK,
        "Ann was not disabled"
    );
    let (_, mine) = w.eve.get(&format!("/api/v1/rooms/{}", w.eve_self)).await;
    assert_eq!(
        (&mine["name"], &mine["member_count"]),
        (&json!("Personal"), &json!(1)),
        "{mine}"
    );
}

#[tokio::test]
async fn outsiders_get_not_found_from_a_dm_and_from_someone_elses_personal_tasks() {
    let w = world().await;
    let (dm, dm_msg, eve_self, eve_task) = (w.dm, w.dm_msg, w.eve_self, w.eve_task);
    use Method as M;
    // (who, method, path under /api/v1, body, expected not-found code)
    let table: Vec<(&TestUser, Method, String, Option<Value>, &str)> = vec![
        (&w.cat, M::GET, format!("/rooms/{dm}"), None, ROOM),
        (&w.cat, M::GET, format!("/rooms/{dm}/members"), None, ROOM),
        (&w.cat, M::GET, format!("/rooms/{dm}/messages"), None, ROOM),
        (
            &w.cat,
            M::POST,
            format!("/rooms/{dm}/messages"),
            Some(json!({ "body": "Hi both" })),
            ROOM,
        ),
        (
            &w.cat,
            M::POST,
            format!("/rooms/{dm}/read"),
            Some(json!({ "seq": 10 })),
            ROOM,
        ),
        (&w.cat, M::GET, format!("/messages/{dm_msg}"), None, MESSAGE),
        (
            &w.cat,
            M::PUT,
            format!("/messages/{dm_msg}/reactions/{THUMBS_UP}"),
            None,
            MESSAGE,
        ),
        (
            &w.cat,
            M::POST,
            format!("/messages/{dm_msg}/task"),
            Some(json!({})),
            MESSAGE,
        ),
        (
            &w.cat,
            M::POST,
            "/tasks".into(),
            Some(json!({ "room_id": dm, "title": "Planted" })),
            ROOM,
        ),
        (&w.ann, M::GET, format!("/rooms/{eve_self}"), None, ROOM),
        (
            &w.ann,
            M::GET,
            format!("/rooms/{eve_self}/messages"),
            None,
            ROOM,
        ),
        (
            &w.ann,
            M::POST,
            "/tasks".into(),
            Some(json!({ "room_id": eve_self, "title": "Planted" })),
            ROOM,
        ),
        (&w.ann, M::GET, format!("/tasks/{eve_task}"), None, TASK),
        (
            &w.ann,
            M::PATCH,
            format!("/tasks/{eve_task}"),
            Some(json!({ "title": "Bought" })),
            TASK,
        ),
        (
            &w.ann,
            M::POST,
            format!("/tasks/{eve_task}/complete"),
            Some(json!({})),
            TASK,
        ),
        (&w.ann, M::DELETE, format!("/tasks/{eve_task}"), None, TASK),
        (
            &w.ann,
            M::GET,
            format!("/tasks/{eve_task}/events"),
            None,
            TASK,
        ),
        (
            &w.ann,
            M::POST,
            format!("/tasks/{eve_task}/messages"),
            Some(json!({ "body": "Peek" })),
            TASK,
        ),
    ];
    let bob_before = snapshot(&w, &w.bob).await;
    let eve_task_before = get_ok(&w.eve, &format!("/tasks/{eve_task}")).await;

    let mut wrong = Vec::new();
    for (who, method, path, body, expected) in table {
        let (status, answer) = who
            .send(method.clone(), &format!("/api/v1{path}"), body)
            .await;
        if (status, code(&answer)) != (StatusCode::NOT_FOUND, expected) {
            wrong.push(format!(
                "{} {method} {path}: expected 404 {expected}, got {status} {answer}",
                who.username
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    assert_unchanged(&bob_before, &snapshot(&w, &w.bob).await, "Bob");
    assert_eq!(
        get_ok(&w.eve, &format!("/tasks/{eve_task}")).await,
        eve_task_before
    );
    assert_eq!(
        get_ok(&w.ann, &format!("/tasks?room={eve_self}")).await,
        json!([])
    );
    let hits = get_ok(&w.cat, "/search?q=private").await;
    assert_eq!(hits, json!([]), "Cat finds nothing of the DM");
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once() {
    let w = world().await;
    let send = format!("/api/v1/rooms/{}/messages", w.room);
    let (status, first) = w
        .bob
        .post(
            &send,
            json!({ "body": "Sent before removal", "client_id": "bob-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Bob sees the room in every list while he is a member.
    for path in list_paths(&w) {
        let list = get_ok(&w.bob, &path).await;
        assert!(
            !from_room(&list, w.room).is_empty(),
            "member Bob GET {path}: {list}"
        );
    }

    let (status, body) = w
        .ann
        .delete(&format!("/api/v1/rooms/{}/members/{}", w.room, w.bob.id))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let before = snapshot(&w, &w.ann).await;

    assert_hidden_from(&w, &w.bob).await;
    assert_lists_show_nothing_of_the_room(&w, &w.bob).await;
    // Not even a retry of a message he sent while a member gets through.
    let (status, body) = w
        .bob
        .post(
            &send,
            json!({ "body": "Sent before removal", "client_id": "bob-1" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, ROOM),
        "{body}"
    );

    assert_unchanged(&before, &snapshot(&w, &w.ann).await, "Ann");
}

#[tokio::test]
async fn a_member_who_left_can_no_longer_read_the_history() {
    let w = world().await;
    let (status, _) = w
        .cat
        .get(&format!("/api/v1/rooms/{}/messages", w.room))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = w
        .cat
        .post(&format!("/api/v1/rooms/{}/leave", w.room), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let before = snapshot(&w, &w.ann).await;

    assert_hidden_from(&w, &w.cat).await;
    assert_lists_show_nothing_of_the_room(&w, &w.cat).await;

    assert_unchanged(&before, &snapshot(&w, &w.ann).await, "Ann");
}

#[tokio::test]
async fn without_a_valid_token_every_endpoint_answers_401_unauthenticated() {
    let w = world().await;
    let mut calls = room_scoped_calls(&w, w.launch());
    for path in list_paths(&w) {
        calls.push(Call {
            method: Method::GET,
            path,
            body: None,
            hidden: "",
        });
    }
    calls.push(Call {
        method: Method::GET,
        path: "/admin/users".into(),
        body: None,
        hidden: "",
    });
    calls.push(Call {
        method: Method::GET,
        path: "/me".into(),
        body: None,
        hidden: "",
    });
    let ann_before = snapshot(&w, &w.ann).await;

    let anonymous = w.app.anonymous();
    let forged = Client {
        token: Some("not-a-real-session-token".into()),
        ..w.app.anonymous()
    };
    let mut wrong = Vec::new();
    for (who, client) in [("no token", &anonymous), ("a forged token", &forged)] {
        for call in &calls {
            let (status, body) = call.send(client).await;
            let shaped = body["error"]["message"].is_string();
            if (status, code(&body)) != (StatusCode::UNAUTHORIZED, "unauthenticated") || !shaped {
                wrong.push(format!("{who}: {}: got {status} {body}", call.label()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_unchanged(&ann_before, &snapshot(&w, &w.ann).await, "Ann");
}
