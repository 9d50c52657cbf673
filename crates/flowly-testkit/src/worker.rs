//! The assistant in tests: its settings (the real local models, fast sweeps) and a worker in the
//! test's process that stops when dropped.

use flowly::{
    assistant::worker::{self, Backends, WorkerHandle},
    config::{AssistantConfig, Config},
};
use uuid::Uuid;

use crate::node::TestApp;

/// The models `scripts/fetch-models.sh` fetched into the checkout's `.cache/models`.
pub fn models_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../.cache/models").to_owned()
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

/// An assistant worker running in the test's process. [`WorkerGuard::stop`] stops it and waits
/// for its loops to end; dropping the guard tells it to stop without waiting.
pub struct WorkerGuard {
    handle: Option<WorkerHandle>,
}

impl WorkerGuard {
    /// Stops reading jobs and waits (bounded) for the worker's loops to end.
    pub async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop().await;
        }
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // The stop signal goes out on the test's runtime as soon as the test next yields
            // (or the runtime ends, which ends the worker's tasks as well).
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(handle.stop());
            }
        }
    }
}

impl TestApp {
    /// Starts an assistant worker in this process against the app's database and Redis prefix.
    pub async fn start_worker(&self) -> WorkerGuard {
        self.start_worker_with(|_| {}).await
    }

    /// Starts a worker whose assistant settings `adjust` may change (the app keeps its own).
    pub async fn start_worker_with(
        &self,
        adjust: impl FnOnce(&mut AssistantConfig),
    ) -> WorkerGuard {
        let mut config = (*self.state.config).clone();
        adjust(&mut config.assistant);
        let mut state = self.state.clone();
        state.config = std::sync::Arc::new(config);
        let backends = Backends::load(&state.config.assistant);
        let handle = worker::spawn(state, backends, &format!("test-{}", Uuid::now_v7()))
            .await
            .expect("worker starts");
        WorkerGuard {
            handle: Some(handle),
        }
    }
}
