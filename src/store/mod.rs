//! The only place with SQL. One module per aggregate; every function takes an executor so it works
//! on the pool or inside a transaction. Room-scoped reads and writes join `room_members` in the
//! query itself, so a non-member gets nothing back rather than relying on handlers to check.

pub mod assistant;
pub mod attachments;
pub mod corpus;
pub mod friends;
pub mod invites;
pub mod knowledge;
pub mod messages;
pub mod push;
pub mod rooms;
pub mod seed;
pub mod sessions;
pub mod tasks;
pub mod users;

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

use crate::config::DatabaseConfig;

/// Errors of the store. Unique violations are mapped to `Conflict` with the constraint's name.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with an existing record ({0})")]
    Conflict(String),
    /// PostgreSQL refused a value (SQLSTATE class 22: a NUL byte in text, a date out of range...).
    #[error("a value was refused: {0}")]
    InvalidValue(String),
    #[error(transparent)]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
                StoreError::InvalidValue(db.message().to_owned())
            }
            _ => StoreError::Db(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A condition that makes its statement's own transaction commit without waiting for the WAL flush
/// (`synchronous_commit = off`, local to the transaction), kept in the statement so that it stays
/// one round trip; it holds no column, so PostgreSQL evaluates it once, as a one-time filter. For
/// writes a crash may lose the last fraction of a second of (read markers, "last seen"), never
/// content; and only in statements run on the pool: inside a caller's transaction it would make
/// that whole commit asynchronous (docs/capacity.md, "Where the time goes").
/// A macro, not a `const`, so that `concat!` puts it into the statement at compile time.
macro_rules! commit_without_flush {
    () => {
        "set_config('synchronous_commit', 'off', true) is not null"
    };
}
pub(crate) use commit_without_flush;

/// Starts a transaction that a cancelled caller cannot leave half-open.
///
/// In sqlx 0.8 a `Pool::begin` dropped while its `BEGIN` is in flight (a client that gave up, a
/// timeout) leaves the server inside a transaction sqlx does not know about, and the pooled
/// connection then fails every later query with `25P02 current transaction is aborted` until it
/// is recycled (launchbadge/sqlx#4393; found by the traffic generator, docs/capacity.md). On a
/// task of its own the `BEGIN` always completes; if the caller has gone, the finished
/// transaction is dropped there and rolls back like any other.
pub async fn begin(db: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let db = db.clone();
    tokio::spawn(async move { db.begin().await })
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
}

/// Opens the connection pool.
pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        // No ping before every use: sqlx already pings each connection when it is released, so
        // this was a second extra round trip per query, paid by the node and PostgreSQL on the
        // same two cores (found with the traffic generator, docs/capacity.md).
        .test_before_acquire(false)
        .connect(config.url.expose())
        .await
}

/// Applies the migrations in `migrations/` that have not run yet.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Names the set of migrations (their versions and checksums), so a database migrated by
/// another set is told apart: 12 hex digits.
pub fn migrations_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for m in MIGRATOR.iter() {
        hash.update(m.version.to_le_bytes());
        hash.update(&m.checksum);
    }
    hex::encode(&hash.finalize()[..6])
}

/// A new time-ordered id.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// Whether PostgreSQL answers a trivial query.
pub async fn ping(db: &PgPool) -> StoreResult<()> {
    sqlx::query("select 1").execute(db).await?;
    Ok(())
}

/// A fresh, migrated database `name` on the server `url` points at (an existing one of that name
/// is dropped first), for a measurement that must not touch real data; returns its pool.
/// `name` must be a plain identifier.
pub async fn create_scratch(url: &str, name: &str) -> StoreResult<PgPool> {
    use sqlx::Connection;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::InvalidValue(format!(
            "database name {name:?} is not a plain identifier"
        )));
    }
    let mut admin = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await?;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&format!("{base}/{name}"))
        .await?;
    migrate(&pool)
        .await
        .map_err(|e| StoreError::Db(sqlx::Error::Migrate(Box::new(e))))?;
    Ok(pool)
}

/// Drops a database made by [`create_scratch`].
pub async fn drop_scratch(url: &str, name: &str) -> StoreResult<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

/// A fresh database `name` copied from the migrated database `template`, which is made (under
/// an advisory lock, so one of many concurrent callers makes it) when it does not exist yet.
/// Copying a template is several times faster than migrating an empty database, which is what a
/// test suite that takes a database per test wants. Both names must be plain identifiers.
pub async fn create_from_template(url: &str, template: &str, name: &str) -> StoreResult<()> {
    use sqlx::Connection;
    let plain = |n: &str| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain(template) || !plain(name) {
        return Err(StoreError::InvalidValue(format!(
            "database names {template:?} and {name:?} must be plain identifiers"
        )));
    }
    let mut admin = sqlx::PgConnection::connect(url).await?;
    sqlx::query("select pg_advisory_lock(hashtext($1))")
        .bind(template)
        .execute(&mut admin)
        .await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(template)
            .fetch_one(&mut admin)
            .await?;
    let made = match exists {
        true => Ok(()),
        false => match create_scratch(url, template).await {
            Ok(pool) => {
                pool.close().await;
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    sqlx::query("select pg_advisory_unlock(hashtext($1))")
        .bind(template)
        .execute(&mut admin)
        .await?;
    made?;
    // The template's last connection may still be closing on the server: retry briefly.
    let create = format!("create database {name} template {template}");
    for attempt in 0.. {
        match sqlx::query(&create).execute(&mut admin).await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55006") && attempt < 50 =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => {
                other?;
                break;
            }
        }
    }
    Ok(())
}
