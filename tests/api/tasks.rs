//! Tasks: where conversation becomes work.

use reqwest::StatusCode;
use serde_json::{Value, json};

use flowly_testkit::{TestApp, code, id_of, say};

fn titles(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_message_becomes_a_task_that_keeps_its_conversation() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    for i in 1..=7 {
        say(&bob, room, &format!("context {i}")).await;
    }
    let source = say(
        &ann,
        room,
        "The login page times out on Safari\nsteps: open it in Safari",
    )
    .await;
    for i in 8..=9 {
        say(&bob, room, &format!("context {i}")).await;
    }

    let (status, task) = bob
        .post(
            &format!("/api/v1/messages/{}/task", source["id"].as_str().unwrap()),
            json!({ "assignee_id": bob.id, "due_on": "2026-12-01", "priority": "high" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    assert_eq!(task["title"], "The login page times out on Safari");
    assert_eq!(task["source_message_id"], source["id"]);
    assert_eq!(task["assignee_username"], "bob");
    assert_eq!(task["due_on"], "2026-12-01");
    assert_eq!(task["status"], "todo");
    let snapshot: Vec<&str> = task["source_snapshot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        snapshot.len(),
        8,
        "five before, the message, and the two after: {snapshot:?}"
    );
    assert_eq!(snapshot[0], "context 3");
    assert_eq!(snapshot[5], source["body"].as_str().unwrap());
    assert_eq!(snapshot[7], "context 9");

    // The timeline gets a system message linking to the task.
    let (_, page) = ann
        .get(&format!("/api/v1/rooms/{room}/messages?limit=1"))
        .await;
    let notice = &page["messages"][0];
    assert_eq!(notice["kind"], "system");
    assert_eq!(notice["ref_task_id"], task["id"]);
    assert_eq!(notice["data"]["event"], "task_created");
    assert_eq!(notice["author_username"], "bob");
}

#[tokio::test]
async fn a_task_is_updated_moved_completed_reopened_and_every_change_recorded() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (status, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Rotate keys", "labels": ["security", "ops"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(task["labels"], json!(["ops", "security"]));
    let id = id_of(&task);
    let path = format!("/api/v1/tasks/{id}");

    let (status, t) = bob
        .patch(
            &path,
            json!({ "assignee_id": bob.id, "description": "all of them", "due_on": "2026-12-24" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["assignee_id"], bob.id.to_string());
    let (_, t) = bob
        .patch(&path, json!({ "due_on": null, "status": "doing" }))
        .await;
    assert_eq!(t["due_on"], Value::Null);
    assert_eq!(t["status"], "doing");
    let (status, t) = bob.post(&format!("{path}/complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["status"], "done");
    assert!(t["completed_at"].is_string());
    let (status, err) = bob.post(&format!("{path}/complete"), json!({})).await;
    assert_eq!((status, code(&err)), (StatusCode::CONFLICT, "already_done"));
    let (_, t) = ann.post(&format!("{path}/reopen"), json!({})).await;
    assert_eq!(
        (t["status"].as_str(), &t["completed_at"]),
        (Some("todo"), &Value::Null)
    );
    let (status, err) = ann.post(&format!("{path}/reopen"), json!({})).await;
    assert_eq!((status, code(&err)), (StatusCode::CONFLICT, "not_done"));
    // An update that changes nothing records nothing.
    ann.patch(&path, json!({ "title": "Rotate keys" })).await;

    let (_, events) = ann.get(&format!("{path}/events")).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["created", "updated", "moved", "completed", "reopened"]
    );
    assert_eq!(
        events[1]["changes"]["assignee_id"],
        json!({ "from": null, "to": bob.id })
    );
    assert_eq!(events[3]["actor_display_name"], "Bob");

    // Each event is also in the room's timeline, linked to the task.
    let (_, page) = ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    let task_notices = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["ref_task_id"] == id.to_string())
        .count();
    assert_eq!(task_notices, 5);
}

#[tokio::test]
async fn the_board_keeps_one_order_for_everyone() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let mut ids = Vec::new();
    for title in ["a", "b", "c", "d"] {
        let (_, t) = ann
            .post("/api/v1/tasks", json!({ "room_id": room, "title": title }))
            .await;
        ids.push(id_of(&t));
    }
    let board = |who: &flowly_testkit::TestUser| {
        let path = format!("/api/v1/tasks?room={room}&status=todo");
        let client = who.client.clone();
        async move { client.get(&path).await.1 }
    };
    assert_eq!(titles(&board(&bob).await), ["a", "b", "c", "d"]);

    // d to the top, a below c.
    let (status, _) = bob
        .post(
            &format!("/api/v1/tasks/{}/move", ids[3]),
            json!({ "after": null }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    bob.post(
        &format!("/api/v1/tasks/{}/move", ids[0]),
        json!({ "after": ids[2] }),
    )
    .await;
    assert_eq!(titles(&board(&ann).await), ["d", "b", "c", "a"]);

    // Into another column, below nothing there yet; then back between two.
    let (_, t) = ann
        .post(
            &format!("/api/v1/tasks/{}/move", ids[1]),
            json!({ "status": "doing" }),
        )
        .await;
    assert_eq!(t["status"], "doing");
    ann.post(
        &format!("/api/v1/tasks/{}/move", ids[1]),
        json!({ "status": "todo", "after": ids[3] }),
    )
    .await;
    assert_eq!(titles(&board(&bob).await), ["d", "b", "c", "a"]);

    // Many moves into the same gap still keep a strict order (the column is renumbered).
    for _ in 0..60 {
        ann.post(
            &format!("/api/v1/tasks/{}/move", ids[0]),
            json!({ "after": ids[3] }),
        )
        .await;
        ann.post(
            &format!("/api/v1/tasks/{}/move", ids[1]),
            json!({ "after": ids[3] }),
        )
        .await;
    }
    assert_eq!(titles(&board(&bob).await), ["d", "b", "a", "c"]);

    let (status, err) = ann
        .post(
            &format!("/api/v1/tasks/{}/move", ids[0]),
            json!({ "status": "done", "after": ids[3] }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_position")
    );
    let (status, err) = ann
        .post(
            &format!("/api/v1/tasks/{}/move", ids[0]),
            json!({ "after": ids[0] }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_position")
    );
}

#[tokio::test]
async fn tasks_are_filtered_by_room_assignee_status_and_due_date() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let ops = app.group(&ann, "Ops", &[&bob]).await;
    let dev = app.group(&ann, "Dev", &[]).await;
    let new = |room, title: &str, extra: Value| {
        let mut body = json!({ "room_id": room, "title": title });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    ann.post(
        "/api/v1/tasks",
        new(
            ops,
            "mine soon",
            json!({ "assignee_id": ann.id, "due_on": "2026-12-01" }),
        ),
    )
    .await;
    ann.post(
        "/api/v1/tasks",
        new(
            ops,
            "bobs",
            json!({ "assignee_id": bob.id, "due_on": "2026-11-30" }),
        ),
    )
    .await;
    ann.post(
        "/api/v1/tasks",
        new(
            dev,
            "mine later",
            json!({ "assignee_id": ann.id, "due_on": "2027-03-01", "status": "blocked" }),
        ),
    )
    .await;
    ann.post(
        "/api/v1/tasks",
        json!({ "title": "personal errand", "assignee_id": ann.id }),
    )
    .await;
    let (status, err) = ann
        .post(
            "/api/v1/tasks",
            new(dev, "x", json!({ "assignee_id": bob.id })),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_assignee")
    );

    let (_, mine) = ann.get("/api/v1/tasks?assignee=me").await;
    assert_eq!(
        titles(&mine),
        ["mine soon", "mine later", "personal errand"],
        "soonest due first, undated last"
    );
    let (_, due) = ann.get("/api/v1/tasks?due_before=2026-12-31").await;
    assert_eq!(titles(&due), ["bobs", "mine soon"]);
    let (_, blocked) = ann.get("/api/v1/tasks?status=blocked,done").await;
    assert_eq!(titles(&blocked), ["mine later"]);
    let (_, in_ops) = ann.get(&format!("/api/v1/tasks?room={ops}")).await;
    assert_eq!(in_ops.as_array().unwrap().len(), 2);
    let (_, bobs) = bob.get("/api/v1/tasks").await;
    assert_eq!(
        titles(&bobs),
        ["bobs", "mine soon"],
        "Bob sees only tasks of rooms he is in"
    );

    let (_, personal) = ann
        .get("/api/v1/tasks?assignee=me&due_before=2099-01-01")
        .await;
    assert_eq!(personal.as_array().unwrap().len(), 2);
    let (_, all) = ann.get("/api/v1/tasks").await;
    let errand = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "personal errand")
        .unwrap();
    assert_eq!(errand["room_kind"], "self");
}

#[tokio::test]
async fn a_task_has_its_own_discussion_apart_from_the_timeline() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = app.group(&ann, "Ops", &[&bob]).await;
    let (_, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Write the runbook" }),
        )
        .await;
    let id = id_of(&task);
    let path = format!("/api/v1/tasks/{id}/messages");
    let (status, m) = bob
        .post(&path, json!({ "body": "I'll draft it", "client_id": "k1" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(m["task_id"], id.to_string());
    let (status, again) = bob
        .post(&path, json!({ "body": "I'll draft it", "client_id": "k1" }))
        .await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &m["id"]));
    ann.post(&path, json!({ "body": "thanks", "reply_to": m["id"] }))
        .await;

    let (_, discussion) = ann.get(&path).await;
    let texts: Vec<&str> = discussion["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["I'll draft it", "thanks"]);
    let (_, t) = ann.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(t["comment_count"], 2);
    let (_, timeline) = ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    assert!(
        timeline["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["task_id"].is_null())
    );
}

/// An edit of a task holds the task's row, then appends to its room's stream; a message to the
/// task's discussion holds the room's row, then checks the task as its foreign key. The edit's lock
/// must leave that check free, or the two wait on each other (schemathesis met it as a deadlock).
#[tokio::test]
async fn a_message_to_a_task_does_not_wait_on_an_edit_of_the_task() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "Ops", &[]).await;
    let (_, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Write the runbook" }),
        )
        .await;
    let id = id_of(&task);

    let mut edit = flowly::store::begin(&app.state.db).await.unwrap();
    let locked = flowly::store::tasks::lock(&mut edit, ann.id, id)
        .await
        .unwrap();
    assert!(locked.is_some());
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        ann.post(
            &format!("/api/v1/tasks/{id}/messages"),
            json!({ "body": "while it is being edited" }),
        ),
    )
    .await
    .expect("the message waited on the task's edit");
    assert_eq!(sent.0, StatusCode::CREATED, "{}", sent.1);
    edit.rollback().await.unwrap();
}

#[tokio::test]
async fn only_the_creator_or_the_room_owner_deletes_a_task() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.group(&ann, "Ops", &[&bob, &cat]).await;
    let (_, task) = bob
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Bob's" }),
        )
        .await;
    let path = format!("/api/v1/tasks/{}", id_of(&task));
    let (status, err) = cat.delete(&path).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "not_task_owner")
    );
    assert_eq!(ann.delete(&path).await.0, StatusCode::NO_CONTENT);
    let (status, err) = bob.get(&path).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "task_not_found")
    );
    let (_, page) = bob
        .get(&format!("/api/v1/rooms/{room}/messages?limit=1"))
        .await;
    assert_eq!(page["messages"][0]["data"]["event"], "task_deleted");
}
