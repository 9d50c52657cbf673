//! Bad input never yields a 500 or a partial write: every refusal is a 4xx with the error body
//! `{"error": {"code", "message"}}` and a stable code, and whatever was refused left no trace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bodies;
mod friends;
mod limits;
mod messages;
mod nul_bytes;
mod rooms;
mod routes;
mod tasks;

use flowly::config::Config;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use flowly_testkit::{Team, TestApp, TestUser, id_of, say};

/// What is wrong with an error answer, if anything: it must be a 4xx (never a 5xx) whose body is
/// exactly `{"error": {"code": string, "message": string}}`.
fn shape_problem(status: StatusCode, body: &Value) -> Option<String> {
    if status.is_server_error() {
        return Some(format!("server error {status} {body}"));
    }
    if !status.is_client_error() {
        return Some(format!("expected an error, got {status} {body}"));
    }
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let mut fields: Vec<&String> = body["error"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    fields.sort();
    let filled = |f: &str| body["error"][f].as_str().is_some_and(|t| !t.is_empty());
    if keys != ["error"] || fields != ["code", "message"] || !filled("code") || !filled("message") {
        return Some(format!("not the error shape: {status} {body}"));
    }
    None
}

/// What is wrong with an answer that should be the error `expected` with `code`, if anything.
fn error_problem(
    (status, body): &(StatusCode, Value),
    expected: StatusCode,
    code: &str,
) -> Option<String> {
    shape_problem(*status, body).or_else(|| {
        let got = body["error"]["code"].as_str().unwrap_or_default();
        ((*status, got) != (expected, code))
            .then(|| format!("expected {} {code}, got {status} {body}", expected.as_u16()))
    })
}

/// Asserts an error answer with the expected status and stable code.
#[track_caller]
fn assert_error(what: &str, answer: &(StatusCode, Value), expected: StatusCode, code: &str) {
    if let Some(problem) = error_problem(answer, expected, code) {
        panic!("{what}: {problem}");
    }
}

/// Collects the mismatches of a table, so that one run reports every row that is wrong.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn error(
        &mut self,
        what: &str,
        answer: &(StatusCode, Value),
        expected: StatusCode,
        code: &str,
    ) {
        if let Some(problem) = error_problem(answer, expected, code) {
            self.0.push(format!("{what}: {problem}"));
        }
    }

    /// Any refusal will do, as long as it is a 4xx in the error shape.
    fn refused(&mut self, what: &str, (status, body): &(StatusCode, Value)) {
        if let Some(problem) = shape_problem(*status, body) {
            self.0.push(format!("{what}: {problem}"));
        }
    }

    /// Every view of [`Setup::state`] that differs from `before`: what the refused writes wrote.
    async fn unchanged(&mut self, s: &Setup, before: &Value) {
        let after = s.state().await;
        for (path, was) in before.as_object().expect("state") {
            if was != &after[path] {
                self.0.push(format!(
                    "GET {path} changed after refused writes: was {was}, now {}",
                    after[path]
                ));
            }
        }
    }

    #[track_caller]
    fn assert_all_passed(self) {
        assert!(
            self.0.is_empty(),
            "{} row(s) failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Sends `body` as is, with the given content type (none when `None`).
async fn raw(
    user: &TestUser,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut req = user
        .http
        .request(method, format!("{}{path}", user.base))
        .bearer_auth(user.token.as_deref().unwrap_or_default());
    if let Some(content_type) = content_type {
        req = req.header(header::CONTENT_TYPE, content_type);
    }
    let response = req.body(body).send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Ann owns the room "Ops" with her friend Bob; it holds one message of Ann's and one task.
struct Setup {
    app: TestApp,
    ann: TestUser,
    bob: TestUser,
    room: Uuid,
    msg: Uuid,
    task: Uuid,
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(adjust: impl FnOnce(&mut Config)) -> Setup {
    let app = TestApp::spawn_with(adjust).await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let msg = id_of(&say(&ann, room, "Deploy at noon").await);
    let (status, body) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Write the runbook" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = id_of(&body);
    Setup {
        app,
        ann,
        bob,
        room,
        msg,
        task,
    }
}

impl Setup {
    /// Everything Ann can see of the room, her rooms and profile, to compare before and after.
    async fn state(&self) -> Value {
        let (room, msg, task) = (self.room, self.msg, self.task);
        let mut state = serde_json::Map::new();
        for path in [
            "/rooms".to_owned(),
            "/me".to_owned(),
            "/friends".to_owned(),
            "/friends/requests".to_owned(),
            format!("/rooms/{room}"),
            format!("/rooms/{room}/members"),
            format!("/rooms/{room}/messages?limit=200"),
            format!("/messages/{msg}"),
            format!("/messages/{msg}/replies"),
            format!("/tasks?room={room}"),
            format!("/tasks/{task}"),
            format!("/tasks/{task}/events"),
            format!("/tasks/{task}/messages"),
        ] {
            let (status, body) = self.ann.get(&format!("/api/v1{path}")).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            state.insert(path, body);
        }
        Value::Object(state)
    }

    /// The bodies of the room's timeline messages written by people (not system events).
    async fn user_messages(&self) -> Vec<Value> {
        let (_, page) = self
            .ann
            .get(&format!("/api/v1/rooms/{}/messages?limit=200", self.room))
            .await;
        page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["kind"] == "user")
            .cloned()
            .collect()
    }
}

/// The endpoints that take a JSON body, for the tables below.
fn json_endpoints(s: &Setup) -> Vec<(Method, String)> {
    let (room, msg, task) = (s.room, s.msg, s.task);
    use Method as M;
    vec![
        (M::POST, "/api/v1/rooms".into()),
        (M::PATCH, format!("/api/v1/rooms/{room}")),
        (M::POST, format!("/api/v1/rooms/{room}/members")),
        (M::POST, format!("/api/v1/rooms/{room}/owner")),
        (M::POST, format!("/api/v1/rooms/{room}/read")),
        (M::POST, format!("/api/v1/rooms/{room}/messages")),
        (M::PATCH, format!("/api/v1/messages/{msg}")),
        (M::POST, format!("/api/v1/messages/{msg}/task")),
        (M::POST, "/api/v1/tasks".into()),
        (M::PATCH, format!("/api/v1/tasks/{task}")),
        (M::POST, format!("/api/v1/tasks/{task}/move")),
        (M::POST, format!("/api/v1/tasks/{task}/messages")),
        (M::POST, "/api/v1/dms".into()),
        (M::POST, "/api/v1/friends/requests".into()),
        (M::PATCH, "/api/v1/me".into()),
        (M::POST, "/api/v1/me/password".into()),
    ]
}
