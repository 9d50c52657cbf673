//! Accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id};
use crate::domain::Actor;

/// A user's profile. `is_admin` and `disabled` are shown only to the user themself and to
/// administrators; to anyone else they are left out.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    /// Whether the user is an administrator. Only on your own profile, or to administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub is_admin: Option<bool>,
    /// Whether an administrator disabled the account. Only on your own profile, or to
    /// administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub disabled: Option<bool>,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The profile as `viewer` may see it: whether someone is an administrator or disabled is
    /// for them and the administrators to know, not for everyone.
    pub fn seen_by(mut self, viewer: &Actor) -> User {
        if !(viewer.is_admin || viewer.id == self.id) {
            self.is_admin = None;
            self.disabled = None;
        }
        self
    }

    /// Whether the user is an administrator (false when the profile was read without it).
    pub fn admin(&self) -> bool {
        self.is_admin == Some(true)
    }

    /// Whether the account is disabled (false when the profile was read without it).
    pub fn is_disabled(&self) -> bool {
        self.disabled == Some(true)
    }
}

const USER_COLUMNS: &str =
    "id, username, display_name, bio, is_admin, disabled_at is not null as disabled, created_at";

/// Creates an account; the first account ever made is an admin whatever `admin` says.
/// Run it in a transaction: it takes a lock so two first registrations cannot both become admin.
pub async fn insert(
    tx: &mut sqlx::PgConnection,
    username: &str,
    display_name: &str,
    password_hash: &str,
    admin: bool,
) -> StoreResult<User> {
    sqlx::query("select pg_advisory_xact_lock(7001)")
        .execute(&mut *tx)
        .await?;
    let first: bool = sqlx::query_scalar("select not exists (select 1 from users)")
        .fetch_one(&mut *tx)
        .await?;
    let sql = format!(
        "insert into users (id, username, display_name, password_hash, is_admin) values ($1, $2, $3, $4, $5)
         returning {USER_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(new_id())
        .bind(username)
        .bind(display_name)
        .bind(password_hash)
        .bind(admin || first)
        .fetch_one(&mut *tx)
        .await?)
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<User> {
    let sql = format!("select {USER_COLUMNS} from users where id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_one(db).await?)
}

pub async fn by_username(db: impl PgExecutor<'_>, username: &str) -> StoreResult<Option<User>> {
    let sql = format!("select {USER_COLUMNS} from users where username = $1");
    Ok(sqlx::query_as(&sql)
        .bind(username)
        .fetch_optional(db)
        .await?)
}

/// The login record of a username: id, password hash, disabled.
pub async fn credentials(
    db: impl PgExecutor<'_>,
    username: &str,
) -> StoreResult<Option<(Uuid, String, bool)>> {
    Ok(sqlx::query_as(
        "select id, password_hash, disabled_at is not null from users where username = $1",
    )
    .bind(username)
    .fetch_optional(db)
    .await?)
}

pub async fn password_hash(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<String> {
    Ok(
        sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(id)
            .fetch_one(db)
            .await?,
    )
}

pub async fn set_password(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> StoreResult<()> {
    sqlx::query("update users set password_hash = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: Uuid,
    display_name: Option<&str>,
    bio: Option<&str>,
) -> StoreResult<User> {
    let sql = format!(
        "update users set display_name = coalesce($2, display_name), bio = coalesce($3, bio), updated_at = now()
         where id = $1 returning {USER_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(display_name)
        .bind(bio)
        .fetch_one(db)
        .await?)
}

/// Active users whose username or display name starts with `prefix`, excluding those who block
/// `viewer` or whom `viewer` blocks.
pub async fn search(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    prefix: &str,
    limit: i64,
) -> StoreResult<Vec<User>> {
    // A prefix is a range in byte order, which the `text_pattern_ops` indexes serve: from the
    // prefix up to the prefix followed by the highest character (no longer string starting with
    // the prefix sorts past it, but for one continuing with that non-character). Each index is
    // read as a range, its first matches only; a `like` with the pattern as a parameter is
    // planned without its prefix, as a walk of every username in order (44–60 ms at 150,000
    // users: docs/capacity.md).
    let low = prefix.to_lowercase();
    let high = format!("{low}\u{10FFFF}");
    let eligible = "u.disabled_at is null and u.id <> $1
        and not exists (select 1 from blocks b where (b.blocker_id = u.id and b.blocked_id = $1)
                                                or (b.blocker_id = $1 and b.blocked_id = u.id))";
    let sql = format!(
        "select {USER_COLUMNS} from users where id in (
           (select u.id from users u
            where u.username ~>=~ $2 and u.username ~<~ $3 and {eligible}
            order by u.username using ~<~ limit $4)
           union
           (select u.id from users u
            where lower(u.display_name) ~>=~ $2 and lower(u.display_name) ~<~ $3 and {eligible}
            order by lower(u.display_name) using ~<~ limit $4))
         order by username limit $4"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(low)
        .bind(high)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// All users, for admins, in username order after `after`.
pub async fn list(
    db: impl PgExecutor<'_>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<User>> {
    let sql = format!(
        "select {USER_COLUMNS} from users where username > coalesce($1, '') order by username limit $2"
    );
    Ok(sqlx::query_as(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Marks a user disabled (or enabled again). Returns whether the user exists.
pub async fn set_disabled(db: impl PgExecutor<'_>, id: Uuid, disabled: bool) -> StoreResult<User> {
    let sql = format!(
        "update users set disabled_at = case when $2 then coalesce(disabled_at, now()) else null end, updated_at = now()
         where id = $1 returning {USER_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(disabled)
        .fetch_one(db)
        .await?)
}

pub async fn audit(
    db: impl PgExecutor<'_>,
    actor: Option<Uuid>,
    action: &str,
    target: Uuid,
    data: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "insert into audit_log (id, actor_id, action, target_id, data) values ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(data)
    .execute(db)
    .await?;
    Ok(())
}
