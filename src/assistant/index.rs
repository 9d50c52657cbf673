//! Indexing: keeps `knowledge_chunks` in step with a room's user messages and tasks.
//!
//! Jobs are hints ("room R changed"). The indexer locks the room's cursor, reads the room's
//! event log (`room_events`) past it, and re-checks exactly the messages and tasks those events
//! name: missing or changed ones are embedded, deleted ones leave the index. A lost hint is
//! therefore caught up by the room's next change or the periodic sweep, and two workers never
//! index one room at once (the cursor row is locked). Only user messages and tasks are indexed:
//! system messages repeat what tasks already say, and assistant answers are derived text that
//! would let the assistant cite itself instead of the people who said it.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::{Embedder, ModelError};
use crate::store::{self, StoreError, knowledge::Stale};

/// The vector length `knowledge_chunks.embedding` holds.
pub const INDEX_DIMS: usize = 384;

/// Sources embedded per model call.
const BATCH: i64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IndexError {
    fn from(e: sqlx::Error) -> Self {
        IndexError::Store(e.into())
    }
}

/// What one indexing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    pub embedded: u64,
    pub removed: u64,
}

#[derive(Clone)]
pub struct Indexer {
    db: PgPool,
    embedder: Arc<dyn Embedder>,
}

impl Indexer {
    pub fn new(db: PgPool, embedder: Arc<dyn Embedder>) -> Indexer {
        Indexer { db, embedder }
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Brings a room's chunks up to date: the sources its new events name, or (`full`) every
    /// source of the room. `progress` is told how many sources were embedded, batch by batch.
    pub async fn index_room(
        &self,
        room: Uuid,
        full: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Indexed, IndexError> {
        let mut tx = crate::store::begin(&self.db).await?;
        let Some((cursor, last_seq)) = store::knowledge::lock_cursor(&mut tx, room).await? else {
            return Ok(Indexed::default()); // the room is gone, and its chunks with it
        };
        if !full && cursor >= last_seq {
            return Ok(Indexed::default());
        }
        let (messages, tasks) = if full {
            (None, None)
        } else {
            let (m, t) = store::knowledge::touched(&mut tx, room, cursor, last_seq).await?;
            (Some(m), Some(t))
        };
        let model = self.embedder.model().to_owned();
        let mut done = Indexed::default();
        loop {
            let stale = store::knowledge::stale_messages(
                &mut *tx,
                room,
                messages.as_deref(),
                &model,
                BATCH,
            )
            .await?;
            if stale.is_empty() {
                break;
            }
            done.embedded += self.embed_into(&mut tx, "message", room, &stale).await?;
            progress(stale.len() as u64);
        }
        loop {
            let stale =
                store::knowledge::stale_tasks(&mut *tx, room, tasks.as_deref(), &model, BATCH)
                    .await?;
            if stale.is_empty() {
                break;
            }
            done.embedded += self.embed_into(&mut tx, "task", room, &stale).await?;
            progress(stale.len() as u64);
        }
        done.removed =
            store::knowledge::remove_gone(&mut tx, room, messages.as_deref(), tasks.as_deref())
                .await?;
        store::knowledge::set_cursor(&mut tx, room, last_seq).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn embed_into(
        &self,
        tx: &mut sqlx::PgConnection,
        kind: &str,
        room: Uuid,
        stale: &[Stale],
    ) -> Result<u64, IndexError> {
        let texts: Vec<String> = stale.iter().map(|s| s.text.clone()).collect();
        let vectors = self.embedder.embed(&texts).await?;
        if vectors.len() != stale.len() {
            return Err(ModelError::Inference(format!(
                "the embedder returned {} vectors for {} texts",
                vectors.len(),
                stale.len()
            ))
            .into());
        }
        for (source, vector) in stale.iter().zip(vectors) {
            check_dims(vector.len())?;
            store::knowledge::upsert(
                tx,
                kind,
                source.source_id,
                room,
                &source.text,
                self.embedder.model(),
                vector,
            )
            .await?;
        }
        Ok(stale.len() as u64)
    }

    /// Re-checks every room (the `flowly assistant reindex` backfill, and a changed embedding
    /// model). `progress` gets the number of sources embedded as it goes.
    pub async fn reindex_all(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Indexed, IndexError> {
        let mut total = Indexed::default();
        for room in store::knowledge::all_rooms(&self.db).await? {
            let done = self.index_room(room, true, progress).await?;
            total.embedded += done.embedded;
            total.removed += done.removed;
        }
        Ok(total)
    }

    /// Sources waiting to be embedded across every room.
    pub async fn pending(&self) -> Result<i64, IndexError> {
        Ok(store::knowledge::count_stale(&self.db, self.embedder.model()).await?)
    }
}

/// Refuses vectors the index cannot hold (an embedding model of another size).
pub fn check_dims(dims: usize) -> Result<(), ModelError> {
    if dims == INDEX_DIMS {
        Ok(())
    } else {
        Err(ModelError::NotAvailable(format!(
            "the embedding model makes {dims}-dimensional vectors; the index holds {INDEX_DIMS} \
             (use all-MiniLM-L6-v2 locally, or an Ollama model of 384 dimensions such as all-minilm)"
        )))
    }
}
