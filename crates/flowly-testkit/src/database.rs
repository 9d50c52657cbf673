//! The services a test runs against (PostgreSQL and Redis from `scripts/dev-services.sh`) and the
//! throw-away database each test gets, dropped together with its Redis keys when the test ends.

use flowly::store;
use redis::AsyncCommands;
use uuid::Uuid;

/// The PostgreSQL server's maintenance database (`FLOWLY_TEST_DATABASE_URL`), where test
/// databases are created and dropped.
pub fn database_url() -> String {
    std::env::var("FLOWLY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".into())
}

/// The Redis server (`FLOWLY_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("FLOWLY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:56379".into())
}

/// A database named `flowly_test_<uuid>`, and the Redis key prefix of the nodes on it.
/// Dropping the guard drops the database (closing whatever is still connected) and deletes the
/// prefix's keys, so a test leaves nothing behind, even when it fails. A run that is killed
/// does; `scripts/test.sh` drops those leftovers before it tests.
pub struct TestDatabase {
    name: String,
}

/// Creates a migrated database with a unique name.
pub async fn fresh_database() -> TestDatabase {
    let name = format!("flowly_test_{}", Uuid::new_v4().simple());
    // One migrated template per set of migrations, shared by every test of the run (and dropped
    // with the other leftovers by scripts/test.sh): a copy takes a fraction of a migration.
    let template = format!("flowly_test_template_{}", store::migrations_fingerprint());
    store::create_from_template(&database_url(), &template, &name)
        .await
        .expect("create test database (is PostgreSQL running? scripts/dev-services.sh start)");
    // Shown with a failing test's output (and by `--success-output`), to find its data.
    eprintln!("test database {name}");
    TestDatabase { name }
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of this database: [`database_url`] with its database name replaced.
    pub fn url(&self) -> String {
        let base = database_url();
        match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{}", self.name),
            None => base,
        }
    }

    /// The Redis key prefix of the nodes on this database.
    pub fn redis_prefix(&self) -> String {
        format!("flowly-test:{}:", self.name)
    }
}

impl Drop for TestDatabase {
    /// Removes the database and the Redis keys on a thread of its own: `Drop` cannot await, and
    /// the test's runtime may be a single thread that must not be blocked on itself.
    fn drop(&mut self) {
        let (name, prefix) = (self.name.clone(), self.redis_prefix());
        let removed = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(remove(&name, &prefix))
        })
        .join();
        // Never panic here: a panic while the test is already unwinding would abort the process.
        match removed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database {} was not removed: {e:#}", self.name),
            Err(_) => eprintln!("removing test database {} panicked", self.name),
        }
    }
}

async fn remove(name: &str, prefix: &str) -> anyhow::Result<()> {
    // Forced: a node of the test may still hold pooled connections while it winds down.
    store::drop_scratch(&database_url(), name).await?;

    let mut redis = redis::Client::open(redis_url())?
        .get_multiplexed_async_connection()
        .await?;
    let keys: Vec<String> = {
        let mut scan = redis.scan_match::<_, String>(format!("{prefix}*")).await?;
        let mut keys = Vec::new();
        while let Some(key) = scan.next_item().await {
            keys.push(key);
        }
        keys
    };
    if !keys.is_empty() {
        redis::cmd("UNLINK")
            .arg(&keys)
            .query_async::<()>(&mut redis)
            .await?;
    }
    Ok(())
}
