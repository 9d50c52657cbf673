//! The test harness: a fresh database per test, a server on port 0, and clients that speak JSON.

use flowly::{
    config::{Config, Secret},
    server,
    state::AppState,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use uuid::Uuid;

pub fn database_url() -> String {
    std::env::var("FLOWLY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("FLOWLY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:56379".into())
}

/// A running Flowly node on its own database.
pub struct TestApp {
    pub base: String,
    pub api: Api,
    pub metrics_base: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A config for tests: cheap password hashing, generous login limits, its own Redis prefix.
pub fn test_config(database: &str) -> Config {
    let mut config = Config::default();
    let mut url = url_with_db(&database_url(), database);
    if url.is_empty() {
        url = database_url();
    }
    config.database.url = Secret::new(url);
    config.database.max_connections = 8;
    config.redis.url = Secret::new(redis_url());
    config.redis.key_prefix = format!("flowly-test:{database}:");
    config.auth.argon2_memory_kib = 64;
    config.auth.argon2_iterations = 1;
    config.auth.login_attempts_per_ip = 10_000;
    config.auth.registrations_per_ip_per_hour = 10_000;
    config.server.shutdown_grace_secs = 2;
    // No web client unless a test serves one: the tree's web/dist must not change what tests see.
    config.server.web_dir = "/nonexistent/flowly-web".into();
    config
}

fn url_with_db(base: &str, db: &str) -> String {
    match base.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{db}"),
        None => String::new(),
    }
}

/// Creates an empty database with a unique name.
pub async fn fresh_database() -> String {
    let name = format!("flowly_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&database_url())
        .await
        .expect("PostgreSQL is not running: scripts/dev-services.sh start");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    name
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns a server whose config `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = fresh_database().await;
        let mut config = test_config(&db);
        adjust(&mut config);
        Self::start(config).await
    }

    pub async fn start(config: Config) -> TestApp {
        let state = server::connect(config).await.expect("connect to services");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind metrics");
        let addr = listener.local_addr().expect("addr");
        let metrics_base = format!("http://{}", metrics.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(server::serve(
            state.clone(),
            listener,
            metrics,
            async move {
                let _ = stopped.await;
            },
        ));
        let base = format!("http://{addr}");
        TestApp {
            api: Api { base: base.clone() },
            base,
            metrics_base,
            state,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

/// The public face of a Flowly deployment (a node, or nginx in front of several): what a user's
/// client needs.
pub struct Api {
    pub base: String,
}

impl Api {
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::new(),
            token: None,
            csrf: None,
        }
    }

    /// Registers `username` (display name capitalised, password "password-<username>").
    pub async fn register(&self, username: &str) -> TestUser {
        let client = self.anonymous();
        let (status, body) = client
            .post(
                "/api/v1/auth/register",
                json!({
                    "username": username,
                    "display_name": capitalise(username),
                    "password": format!("password-{username}"),
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
        let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
        let (status, body) = owner
            .post("/api/v1/rooms", json!({ "name": name, "members": ids }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        id_of(&body)
    }
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// An HTTP client speaking JSON, authenticated by bearer token (or cookies, see `with_cookies`).
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
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

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::PUT, path, None).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

/// A registered user with a logged-in client.
pub struct TestUser {
    pub id: Uuid,
    pub username: String,
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

/// The stable error code of an error response.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// The models `scripts/fetch-models.sh` fetched, for the assistant's tests.
pub fn models_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/models").to_owned()
}

/// Assistant settings for tests: the real local embedder, the extractive generator, fast
/// reclaiming and sweeping.
pub fn assistant_test_config(config: &mut Config) {
    config.assistant.models_dir = models_dir();
    config.assistant.embedder = "local".into();
    config.assistant.generator = "none".into();
    config.assistant.index_sweep_secs = 1;
    config.assistant.reclaim_idle_ms = 500;
}

impl TestApp {
    /// Starts an assistant worker in this process against the app's database and Redis prefix.
    pub async fn start_worker(&self) -> flowly::assistant::worker::WorkerHandle {
        self.start_worker_with(|_| {}).await
    }

    /// Starts a worker whose assistant settings `adjust` may change (the app keeps its own).
    pub async fn start_worker_with(
        &self,
        adjust: impl FnOnce(&mut flowly::config::AssistantConfig),
    ) -> flowly::assistant::worker::WorkerHandle {
        let mut config = (*self.state.config).clone();
        adjust(&mut config.assistant);
        let mut state = self.state.clone();
        state.config = std::sync::Arc::new(config);
        let backends = flowly::assistant::worker::Backends::load(&state.config.assistant);
        flowly::assistant::worker::spawn(state, backends, &format!("test-{}", Uuid::now_v7()))
            .await
            .expect("worker starts")
    }
}

/// Polls `check` (every 50 ms, for at most 60 s) until it returns `Some`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
