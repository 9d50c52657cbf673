//! A Flowly node in the test's process: `flowly::server` on port 0 (and a metrics port), over a
//! test database, with the config tests want.

use flowly::{
    config::{Config, Secret},
    server,
    state::AppState,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{
    client::Api,
    database::{TestDatabase, fresh_database, redis_url},
};

/// A config for tests on `database`: cheap password hashing, generous login limits, the
/// database's own Redis prefix.
pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config::default();
    config.database.url = Secret::new(database.url());
    config.database.max_connections = 8;
    config.redis.url = Secret::new(redis_url());
    config.redis.key_prefix = database.redis_prefix();
    config.auth.argon2_memory_kib = 64;
    config.auth.argon2_iterations = 1;
    config.auth.login_attempts_per_ip = 10_000;
    config.auth.registrations_per_ip_per_hour = 10_000;
    config.server.shutdown_grace_secs = 2;
    // No web client unless a test serves one: the tree's web/dist must not change what tests see.
    config.server.web_dir = "/nonexistent/flowly-web".into();
    // Each database gets its own attachments directory, so tests never see each other's files.
    config.attachments.dir = std::env::temp_dir()
        .join(format!("flowly-attachments-{}", database.name()))
        .to_string_lossy()
        .into_owned();
    config
}

/// A running Flowly node. Dropping it tells the server to stop; [`TestApp::stop`] also waits for
/// it to drain. A node made by [`TestApp::spawn`] owns its database and drops it last.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the API.
    pub base: String,
    /// The node's public API, for its users.
    pub api: Api,
    /// `http://127.0.0.1:<port>` of the metrics listener.
    pub metrics_base: String,
    /// The node's state (database pool, Redis, hub, config), for what a test checks inside.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    // Declared last so that it is dropped after the fields above have let go of the database.
    database: Option<TestDatabase>,
}

impl TestApp {
    /// Spawns a node on a fresh database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns a node on a fresh database, with a config `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let database = fresh_database().await;
        let mut config = test_config(&database);
        adjust(&mut config);
        let mut app = Self::start(config).await;
        app.database = Some(database);
        app
    }

    /// Starts a node with `config`, on a database the caller owns (several nodes may share one,
    /// or a node may restart on it).
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
            database: None,
        }
    }

    /// The node's Prometheus exposition, as a scrape of its metrics listener reads it.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_base))
            .await
            .expect("metrics listener answers")
            .text()
            .await
            .expect("metrics text")
    }

    /// The URL of the node's database, for tests that read or write it directly.
    pub fn database_url(&self) -> String {
        self.state.config.database.url.expose().to_owned()
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
