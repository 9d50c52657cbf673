//! What a user's client does: JSON over HTTP with a bearer token (or cookies), registering,
//! logging in, befriending, making group rooms and sending messages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The public face of a Flowly deployment (a node, or nginx in front of several): what a user's
/// client needs.
pub struct Api {
    /// `http://host:port` of the deployment.
    pub base: String,
}

impl Api {
    /// A client without a session.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::new(),
            token: None,
            csrf: None,
        }
    }

    /// Registers `username` (display name capitalised, password [`password_of`]`(username)`).
    pub async fn register(&self, username: &str) -> TestUser {
        let client = self.anonymous();
        let (status, body) = client
            .post(
                "/api/v1/auth/register",
                json!({
                    "username": username,
                    "display_name": capitalise(username),
                    "password": password_of(username),
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        TestUser {
            id: body["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user id"),
            username: username.to_owned(),
            client: Client {
                token: body["token"].as_str().map(str::to_owned),
                ..client
            },
        }
    }

    /// Logs in again (another device); the client carries the new session's token.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let anon = self.anonymous();
        let (status, session) = anon
            .post(
                "/api/v1/auth/login",
                json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {session}");
        Client {
            token: session["token"].as_str().map(str::to_owned),
            ..anon
        }
    }

    /// Makes two users friends.
    pub async fn befriend(&self, a: &TestUser, b: &TestUser) {
        let (status, body) = a
            .post("/api/v1/friends/requests", json!({ "user_id": b.id }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["request"]["id"]
            .as_str()
            .expect("request id")
            .to_owned();
        let (status, body) = b
            .post(&format!("/api/v1/friends/requests/{id}/accept"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A group room owned by `owner` with `members` (who become the owner's friends first).
    pub async fn group(&self, owner: &TestUser, name: &str, members: &[&TestUser]) -> Uuid {
        for m in members {
            self.befriend(owner, m).await;
        }
        create_room(owner, name, members).await
    }
}

/// `owner` makes the group room `name` with `members`, who must be their friends already.
pub async fn create_room(owner: &TestUser, name: &str, members: &[&TestUser]) -> Uuid {
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let (status, body) = owner
        .post("/api/v1/rooms", json!({ "name": name, "members": ids }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id_of(&body)
}

/// The password [`Api::register`] gives `username`: long and unguessable enough for the server's
/// strength check, and still easy to tell apart in a test.
pub fn password_of(username: &str) -> String {
    format!("{username} rides 7 purple trams at dawn")
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `id` of a JSON object (a message, task, room...).
pub fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// An HTTP client speaking JSON, authenticated by bearer token (or cookies, see `with_cookies`).
#[derive(Clone)]
pub struct Client {
    /// `http://host:port` the paths are relative to.
    pub base: String,
    /// The HTTP client (with a cookie store for [`Client::with_cookies`]).
    pub http: reqwest::Client,
    /// The session token sent as `Authorization: Bearer`, if any.
    pub token: Option<String>,
    /// The CSRF token sent as `x-csrf-token`, if any (cookie sessions).
    pub csrf: Option<String>,
}

impl Client {
    /// A client that keeps cookies (like a browser) instead of sending a bearer token.
    pub fn with_cookies(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        Client {
            base: base.to_owned(),
            http,
            token: None,
            csrf: None,
        }
    }

    /// Sends a request with an optional JSON body; returns the status and the body as JSON (a
    /// JSON string when it is not JSON, `null` when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// `GET path`, see [`Client::send`].
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    /// `POST path`, see [`Client::send`].
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `PATCH path`, see [`Client::send`].
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// `PUT path`, see [`Client::send`].
    pub async fn put(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::PUT, path, None).await
    }

    /// `DELETE path`, see [`Client::send`].
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// Uploads `bytes` as `content_type` to `path` (a room's or a task's attachments) under
    /// `filename`; the status and the body as JSON (`null` when it is not JSON).
    pub async fn upload(
        &self,
        path: &str,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .query(&[("filename", filename)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A registered user with a logged-in client.
pub struct TestUser {
    /// The user's id.
    pub id: Uuid,
    /// The user's username.
    pub username: String,
    /// A client logged in as the user.
    pub client: Client,
}

impl std::ops::Deref for TestUser {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Sends a message and returns its JSON.
pub async fn say(user: &TestUser, room: Uuid, body: &str) -> Value {
    let (status, message) = user
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            json!({ "body": body }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    message
}

/// Creates a task in a room and returns its id.
pub async fn new_task(user: &TestUser, room: Uuid, title: &str) -> Uuid {
    let (status, task) = user
        .post("/api/v1/tasks", json!({ "room_id": room, "title": title }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    id_of(&task)
}

/// The stable error code of an error response.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}
