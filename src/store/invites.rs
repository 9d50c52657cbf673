//! Invite links to group rooms. Only a token's SHA-256 is stored; a use is counted in the same
//! statement that checks the link is still good, so two people racing for a single-use link
//! cannot both get in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use super::StoreResult;

/// An invite link as its room's owner sees it (the token itself is shown once, at creation).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct InviteLink {
    pub id: Uuid,
    pub room_id: Uuid,
    pub created_by: Option<Uuid>,
    /// How many people may join with it (none: any number until it expires).
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An invite found by its token, with what someone opening the link is shown.
#[derive(Debug, Clone, FromRow)]
pub struct FoundInvite {
    #[sqlx(flatten)]
    pub invite: InviteLink,
    pub room_name: String,
    pub inviter_display_name: Option<String>,
}

const COLUMNS: &str =
    "i.id, i.room_id, i.created_by, i.max_uses, i.uses, i.expires_at, i.revoked_at, i.created_at";

/// A new invite link to record.
pub struct NewInvite<'a> {
    pub id: Uuid,
    pub room_id: Uuid,
    pub created_by: Uuid,
    pub token_hash: &'a [u8],
    pub max_uses: Option<i32>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewInvite<'_>) -> StoreResult<InviteLink> {
    let sql = format!(
        "insert into room_invites as i (id, room_id, created_by, token_hash, max_uses, expires_at)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(new.id)
        .bind(new.room_id)
        .bind(new.created_by)
        .bind(new.token_hash)
        .bind(new.max_uses)
        .bind(new.expires_at)
        .fetch_one(db)
        .await?)
}

/// A room's invite links, newest first.
pub async fn for_room(db: impl PgExecutor<'_>, room: Uuid) -> StoreResult<Vec<InviteLink>> {
    let sql = format!(
        "select {COLUMNS} from room_invites i where i.room_id = $1 order by i.created_at desc, i.id desc"
    );
    Ok(sqlx::query_as(&sql).bind(room).fetch_all(db).await?)
}

/// Revokes a room's invite link; `None` when the room has no such link.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    room: Uuid,
    id: Uuid,
) -> StoreResult<Option<InviteLink>> {
    let sql = format!(
        "update room_invites i set revoked_at = coalesce(i.revoked_at, now())
         where i.id = $1 and i.room_id = $2 returning {COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(room)
        .fetch_optional(db)
        .await?)
}

/// The invite whose token hashes to `hash`.
pub async fn by_token_hash(
    db: impl PgExecutor<'_>,
    hash: &[u8],
) -> StoreResult<Option<FoundInvite>> {
    let sql = format!(
        "select {COLUMNS}, r.name as room_name, u.display_name as inviter_display_name
         from room_invites i join rooms r on r.id = i.room_id left join users u on u.id = i.created_by
         where i.token_hash = $1"
    );
    Ok(sqlx::query_as(&sql).bind(hash).fetch_optional(db).await?)
}

/// Counts one use of a link that is still good; false when it is not (revoked, expired or used up
/// in the meantime).
pub async fn use_once(tx: &mut PgConnection, id: Uuid) -> StoreResult<bool> {
    let done = sqlx::query(
        "update room_invites set uses = uses + 1
         where id = $1 and revoked_at is null and expires_at > now() and (max_uses is null or uses < max_uses)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
