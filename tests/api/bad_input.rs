//! Bad input never yields a 500 or a partial write: every refusal is a 4xx with the error body
//! `{"error": {"code", "message"}}` and a stable code, and whatever was refused left no trace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
async fn a_malformed_id_in_the_path_is_refused_with_400_invalid_path() {
    let s = setup().await;
    let (room, msg) = (s.room, s.msg);
    let before = s.state().await;
    use Method as M;
    let table: Vec<(Method, String, Option<Value>)> = vec![
        (M::GET, "/rooms/not-a-uuid".into(), None),
        (
            M::PATCH,
            "/rooms/not-a-uuid".into(),
            Some(json!({ "name": "Renamed" })),
        ),
        (M::GET, "/rooms/123/members".into(), None),
        (M::GET, format!("/rooms/{room}x"), None),
        (M::DELETE, format!("/rooms/{room}/members/not-a-uuid"), None),
        (M::POST, "/rooms/not-a-uuid/leave".into(), Some(json!({}))),
        (
            M::POST,
            "/rooms/not-a-uuid/read".into(),
            Some(json!({ "seq": 1 })),
        ),
        (
            M::POST,
            "/rooms/not-a-uuid/messages".into(),
            Some(json!({ "body": "hi" })),
        ),
        (M::GET, "/messages/not-a-uuid".into(), None),
        (
            M::PATCH,
            "/messages/not-a-uuid".into(),
            Some(json!({ "body": "hi" })),
        ),
        (
            M::PUT,
            "/messages/not-a-uuid/reactions/%F0%9F%91%8D".into(),
            None,
        ),
        (M::PUT, format!("/messages/{msg}/reactions/%FF"), None),
        (M::POST, "/messages/not-a-uuid/task".into(), Some(json!({}))),
        (M::GET, "/tasks/42".into(), None),
        (
            M::PATCH,
            "/tasks/not-a-uuid".into(),
            Some(json!({ "title": "T" })),
        ),
        (
            M::POST,
            "/tasks/not-a-uuid/complete".into(),
            Some(json!({})),
        ),
        (M::GET, "/tasks/not-a-uuid/messages".into(), None),
        (
            M::POST,
            "/friends/requests/not-a-uuid/accept".into(),
            Some(json!({})),
        ),
        (M::DELETE, "/friends/not-a-uuid".into(), None),
        (M::PUT, "/blocks/not-a-uuid".into(), None),
        (M::GET, "/users/not-a-uuid".into(), None),
        (M::DELETE, "/me/sessions/not-a-uuid".into(), None),
        (
            M::POST,
            "/admin/users/not-a-uuid/disable".into(),
            Some(json!({})),
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let answer = s
            .ann
            .send(method.clone(), &format!("/api/v1{path}"), body)
            .await;
        checks.error(
            &format!("{method} {path}"),
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_path",
        );
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
}

#[tokio::test]
async fn bad_query_parameters_are_refused_with_stable_codes() {
    let s = setup().await;
    let (room, msg, task) = (s.room, s.msg, s.task);
    let history = format!("/rooms/{room}/messages");
    let (bad, invalid) = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);
    let table: Vec<(String, StatusCode, &str)> = vec![
        (format!("{history}?limit=abc"), bad, "invalid_query"),
        (format!("{history}?limit=1.5"), bad, "invalid_query"),
        (
            format!("{history}?limit=99999999999999999999"),
            bad,
            "invalid_query",
        ),
        (format!("{history}?before=abc"), bad, "invalid_query"),
        (format!("{history}?limit=0"), invalid, "invalid_limit"),
        (format!("{history}?limit=-1"), invalid, "invalid_limit"),
        (format!("{history}?limit=10000"), invalid, "invalid_limit"),
        (format!("{history}?before=-1"), invalid, "invalid_cursor"),
        (format!("{history}?after=-5"), invalid, "invalid_cursor"),
        (
            format!("/messages/{msg}/replies?limit=0"),
            invalid,
            "invalid_limit",
        ),
        (
            format!("/messages/{msg}/replies?before=-1"),
            invalid,
            "invalid_cursor",
        ),
        (
            format!("/tasks/{task}/messages?limit=abc"),
            bad,
            "invalid_query",
        ),
        (
            format!("/tasks/{task}/messages?after=-1"),
            invalid,
            "invalid_cursor",
        ),
        ("/search".into(), bad, "invalid_query"),
        ("/search?q=".into(), invalid, "invalid_query"),
        ("/search?q=%20%20".into(), invalid, "invalid_query"),
        (
            format!("/search?q={}", "w".repeat(201)),
            invalid,
            "invalid_query",
        ),
        ("/search?q=deploy&limit=0".into(), invalid, "invalid_limit"),
        ("/search?q=deploy&limit=abc".into(), bad, "invalid_query"),
        ("/search?q=deploy&room=ops".into(), bad, "invalid_query"),
        ("/mentions?limit=500".into(), invalid, "invalid_limit"),
        ("/mentions?before=yesterday".into(), bad, "invalid_query"),
        ("/tasks?limit=abc".into(), bad, "invalid_query"),
        ("/tasks?limit=0".into(), invalid, "invalid_limit"),
        ("/tasks?offset=-1".into(), invalid, "invalid_offset"),
        ("/tasks?offset=100001".into(), invalid, "invalid_offset"),
        ("/tasks?room=ops".into(), bad, "invalid_query"),
        ("/tasks?status=finished".into(), invalid, "invalid_status"),
        ("/tasks?status=todo,nope".into(), invalid, "invalid_status"),
        ("/tasks?due_before=tomorrow".into(), invalid, "invalid_due"),
        ("/tasks?assignee=bob".into(), invalid, "invalid_assignee"),
        ("/users?q=".into(), invalid, "invalid_query"),
        ("/users?q=bo&limit=0".into(), invalid, "invalid_limit"),
        ("/admin/users?limit=1000".into(), invalid, "invalid_limit"),
    ];
    let mut checks = Checks::default();
    for (path, status, expected) in table {
        let answer = s.ann.get(&format!("/api/v1{path}")).await;
        checks.error(&format!("GET {path}"), &answer, status, expected);
    }
    checks.assert_all_passed();
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_json_404_and_405() {
    let s = setup().await;
    let (room, msg) = (s.room, s.msg);
    let before = s.state().await;
    use Method as M;
    let table: Vec<(Method, String, StatusCode, &str)> = vec![
        (
            M::GET,
            "/api/v1/nothing-here".into(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::GET,
            "/api/v2/rooms".into(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::GET,
            format!("/api/v1/rooms/{room}/nothing"),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/reactions"),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            M::PUT,
            "/api/v1/rooms".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::DELETE,
            "/api/v1/rooms".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::DELETE,
            format!("/api/v1/rooms/{room}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::PATCH,
            format!("/api/v1/rooms/{room}/messages"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::GET,
            format!("/api/v1/rooms/{room}/leave"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            M::GET,
            "/api/v1/auth/login".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    let anonymous = s.app.anonymous();
    let mut checks = Checks::default();
    for (method, path, status, expected) in table {
        for (who, client) in [("Ann", &s.ann.client), ("no one", &anonymous)] {
            let answer = client
                .send(method.clone(), &path, Some(json!({ "body": "hi" })))
                .await;
            checks.error(
                &format!("{who}: {method} {path}"),
                &answer,
                status,
                expected,
            );
        }
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
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
async fn invalid_task_fields_are_refused_with_422_and_create_or_change_nothing() {
    let s = setup().await;
    let (room, task, msg) = (s.room, s.task, s.msg);
    let stranger = s.app.register("zed").await;
    let before = s.state().await;
    let many_labels: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let new = |extra: Value| {
        let mut body = json!({ "room_id": room, "title": "A fine title" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    use Method as M;
    let tasks = "/api/v1/tasks".to_owned();
    let one = format!("/api/v1/tasks/{task}");
    let from_msg = format!("/api/v1/messages/{msg}/task");
    let table: Vec<(Method, String, Value, &str)> = vec![
        (
            M::POST,
            tasks.clone(),
            new(json!({ "status": "finished" })),
            "invalid_body",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "priority": "asap" })),
            "invalid_body",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "31/12/2030" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "2030-02-30" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "due_on": "" })),
            "invalid_due",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": many_labels })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": [""] })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "labels": ["l".repeat(41)] })),
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "" })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "   " })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "title": "t".repeat(201) })),
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "description": "d".repeat(20_001) })),
            "invalid_description",
        ),
        (
            M::POST,
            tasks.clone(),
            new(json!({ "assignee_id": stranger.id })),
            "invalid_assignee",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "status": "finished" }),
            "invalid_body",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "priority": "asap" }),
            "invalid_body",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "due_on": "someday" }),
            "invalid_due",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "labels": many_labels }),
            "invalid_labels",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "t".repeat(201) }),
            "invalid_title",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "" }),
            "invalid_title",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "assignee_id": stranger.id }),
            "invalid_assignee",
        ),
        (
            M::PATCH,
            one.clone(),
            json!({ "title": "Valid", "due_on": "2030-13-01" }),
            "invalid_due",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "status": "someday" }),
            "invalid_body",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "after": task }),
            "invalid_position",
        ),
        (
            M::POST,
            format!("{one}/move"),
            json!({ "after": Uuid::now_v7() }),
            "invalid_position",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "title": "t".repeat(201) }),
            "invalid_title",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "due_on": "next week" }),
            "invalid_due",
        ),
        (
            M::POST,
            from_msg.clone(),
            json!({ "labels": [""] }),
            "invalid_labels",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, expected) in table {
        let what = format!(
            "{method} {path} with {}",
            body.to_string().chars().take(120).collect::<String>()
        );
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, StatusCode::UNPROCESSABLE_ENTITY, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (_, list) = s.ann.get(&format!("/api/v1/tasks?room={room}")).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "no task was created: {list}"
    );
    let (_, events) = s.ann.get(&format!("/api/v1/tasks/{task}/events")).await;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "only the creation was recorded: {events}"
    );
}

#[tokio::test]
async fn a_due_date_before_4713_bc_is_refused_with_422_not_a_server_error() {
    // chrono reads signed years down to -262144; PostgreSQL dates stop at 4713 BC.
    let s = setup().await;
    let (room, task, msg) = (s.room, s.task, s.msg);
    let before = s.state().await;
    let ancient = "-10000-01-01";
    use Method as M;
    let table: Vec<(Method, String, Value)> = vec![
        (
            M::POST,
            "/api/v1/tasks".into(),
            json!({ "room_id": room, "title": "Ancient", "due_on": ancient }),
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "due_on": ancient }),
        ),
        (
            M::POST,
            format!("/api/v1/messages/{msg}/task"),
            json!({ "due_on": ancient }),
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body) in table {
        let what = format!("{method} {path} with {body}");
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(
            &what,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_due",
        );
    }
    // As a filter, finding nothing or refusing the date are both fine.
    let path = format!("/api/v1/tasks?due_before={ancient}");
    let answer = s.ann.get(&path).await;
    if !answer.0.is_success() {
        checks.refused(&format!("GET {path}"), &answer);
    }
    checks.unchanged(&s, &before).await;
    // The far future (which PostgreSQL can hold) is stored as given or refused, never a 500.
    let far = s
        .ann
        .patch(
            &format!("/api/v1/tasks/{task}"),
            json!({ "due_on": "+99999-12-31" }),
        )
        .await;
    if far.0 == StatusCode::OK {
        assert_eq!(far.1["due_on"], "+99999-12-31", "{}", far.1);
    } else {
        checks.error(
            "PATCH due_on +99999-12-31",
            &far,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_due",
        );
    }
    checks.assert_all_passed();
}

#[tokio::test]
async fn bad_friend_requests_are_refused_and_leave_nothing_pending() {
    let s = setup().await;
    let cara = s.app.register("cara").await;
    let before = s.state().await;
    let requests = "/api/v1/friends/requests";
    let (unprocessable, not_found) = (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::NOT_FOUND);
    let table: Vec<(Value, StatusCode, &str)> = vec![
        (json!({}), unprocessable, "invalid_body"),
        (
            json!({ "user_id": null, "username": null }),
            unprocessable,
            "invalid_body",
        ),
        (
            json!({ "user_id": cara.id, "username": "cara" }),
            unprocessable,
            "invalid_body",
        ),
        (json!({ "user_id": "cara" }), unprocessable, "invalid_body"),
        (json!({ "username": 12 }), unprocessable, "invalid_body"),
        (
            json!({ "user_id": s.ann.id }),
            unprocessable,
            "cannot_befriend_self",
        ),
        (
            json!({ "username": " ANN " }),
            unprocessable,
            "cannot_befriend_self",
        ),
        (
            json!({ "user_id": Uuid::now_v7() }),
            not_found,
            "user_not_found",
        ),
        (json!({ "username": "nobody" }), not_found, "user_not_found"),
        (json!({ "username": "" }), not_found, "user_not_found"),
        (
            json!({ "username": "c".repeat(10_000) }),
            not_found,
            "user_not_found",
        ),
        (
            json!({ "user_id": s.bob.id }),
            StatusCode::CONFLICT,
            "already_friends",
        ),
    ];
    let mut checks = Checks::default();
    for (body, status, expected) in table {
        let what = format!(
            "POST {requests} with {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        let answer = s.ann.post(requests, body).await;
        checks.error(&what, &answer, status, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (_, pending) = cara.get(requests).await;
    assert_eq!(pending, json!([]), "Cara got no request");
}

#[tokio::test]
async fn invalid_room_input_is_refused_and_makes_or_changes_no_room() {
    let s = setup().await;
    let stranger = s.app.register("zed").await;
    let room = s.room;
    let before = s.state().await;
    let many: Vec<Uuid> = (0..101).map(|_| Uuid::now_v7()).collect();
    use Method as M;
    let (rooms, this) = ("/api/v1/rooms".to_owned(), format!("/api/v1/rooms/{room}"));
    let (invalid, forbidden) = (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::FORBIDDEN);
    let table: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "r".repeat(81) }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "  \t " }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "two\nlines" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "topic": "t".repeat(501) }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "members": many }),
            invalid,
            "too_many_members",
        ),
        // A non-friend among the members: refused whole, not a room with half its members.
        (
            M::POST,
            rooms.clone(),
            json!({ "name": "Dev", "members": [s.bob.id, stranger.id] }),
            forbidden,
            "not_friends",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "r".repeat(81) }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::PATCH,
            this.clone(),
            json!({ "name": "Fine", "topic": "t".repeat(501) }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            format!("{this}/members"),
            json!({ "user_id": stranger.id }),
            forbidden,
            "not_friends",
        ),
        (
            M::POST,
            format!("{this}/members"),
            json!({ "user_id": s.bob.id }),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (
            M::POST,
            format!("{this}/owner"),
            json!({ "user_id": stranger.id }),
            invalid,
            "not_member",
        ),
        (
            M::POST,
            format!("{this}/owner"),
            json!({ "user_id": s.ann.id }),
            invalid,
            "already_owner",
        ),
        (
            M::POST,
            format!("{this}/read"),
            json!({ "seq": -1 }),
            invalid,
            "invalid_seq",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": s.ann.id }),
            invalid,
            "invalid_user",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": stranger.id }),
            forbidden,
            "not_friends",
        ),
        (
            M::POST,
            "/api/v1/dms".into(),
            json!({ "user_id": Uuid::now_v7() }),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, status, expected) in table {
        let what = format!(
            "{method} {path} with {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, status, expected);
    }
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
    let (status, body) = s
        .ann
        .post("/api/v1/rooms", json!({ "name": "r".repeat(80) }))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "80 characters are fine: {body}"
    );
}

#[tokio::test]
async fn text_with_a_nul_byte_in_any_field_or_filter_never_causes_a_server_error() {
    let s = setup().await;
    let before = s.state().await;
    let (room, task) = (s.room, s.task);
    use Method as M;
    let (invalid, not_found, unauthorized) = (
        StatusCode::UNPROCESSABLE_ENTITY,
        StatusCode::NOT_FOUND,
        StatusCode::UNAUTHORIZED,
    );
    let tasks = "/api/v1/tasks".to_owned();
    let writes: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev\u{0}", "topic": "x" }),
            invalid,
            "invalid_room_name",
        ),
        (
            M::POST,
            "/api/v1/rooms".into(),
            json!({ "name": "Dev", "topic": "x\u{0}" }),
            invalid,
            "invalid_topic",
        ),
        (
            M::PATCH,
            format!("/api/v1/rooms/{room}"),
            json!({ "topic": "\u{0}" }),
            invalid,
            "invalid_topic",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T\u{0}" }),
            invalid,
            "invalid_title",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "description": "d\u{0}" }),
            invalid,
            "invalid_description",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "labels": ["a\u{0}"] }),
            invalid,
            "invalid_labels",
        ),
        (
            M::POST,
            tasks.clone(),
            json!({ "room_id": room, "title": "T", "due_on": "2030-01-01\u{0}" }),
            invalid,
            "invalid_due",
        ),
        (
            M::PATCH,
            format!("/api/v1/tasks/{task}"),
            json!({ "description": "d\u{0}" }),
            invalid,
            "invalid_description",
        ),
        (
            M::PATCH,
            "/api/v1/me".into(),
            json!({ "bio": "b\u{0}" }),
            invalid,
            "invalid_bio",
        ),
        (
            M::PATCH,
            "/api/v1/me".into(),
            json!({ "display_name": "A\u{0}n" }),
            invalid,
            "invalid_display_name",
        ),
        (
            M::POST,
            "/api/v1/auth/register".into(),
            json!({ "username": "n\u{0}l", "display_name": "N", "password": "p".repeat(10) }),
            invalid,
            "invalid_username",
        ),
        // No account can have such a name: the same answers as for any unknown name.
        (
            M::POST,
            "/api/v1/friends/requests".into(),
            json!({ "username": "b\u{0}b" }),
            not_found,
            "user_not_found",
        ),
        (
            M::POST,
            "/api/v1/auth/login".into(),
            json!({ "username": "a\u{0}n", "password": "pw" }),
            unauthorized,
            "invalid_credentials",
        ),
    ];
    let mut checks = Checks::default();
    for (method, path, body, status, expected) in writes {
        let what = format!("{method} {path} with {body}");
        let answer = s.ann.send(method, &path, Some(body)).await;
        checks.error(&what, &answer, status, expected);
    }
    // Filters may find nothing or refuse the text, but never fail on it.
    for path in [
        "/api/v1/tasks?label=a%00b",
        "/api/v1/users?q=b%00",
        "/api/v1/admin/users?after=a%00",
    ] {
        let answer = s.ann.get(path).await;
        if !answer.0.is_success() {
            checks.refused(&format!("GET {path}"), &answer);
        }
    }
    let answer = s.ann.get("/api/v1/search?q=dep%00loy").await;
    checks.error(
        "GET /api/v1/search?q=dep%00loy",
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    );
    checks.unchanged(&s, &before).await;
    checks.assert_all_passed();
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
