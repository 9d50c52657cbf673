//! Indexing: keeps `knowledge_chunks` in step with a room's user messages and tasks.
//!
//! Jobs are hints ("room R changed"). The indexer locks the room's cursor, reads the room's
//! event log (`room_events`) past it, and re-checks exactly the messages and tasks those events
//! name: missing or changed ones are embedded, deleted ones leave the index. A lost hint is
//! therefore caught up by the room's next change or the periodic sweep, and two workers never
//! index one room at once (the cursor row is locked). Only user messages, tasks and the text of
//! files (text files and PDFs sent in a message or attached to a task) are indexed: system
//! messages repeat what tasks already say, and assistant answers are derived text that would let
//! the assistant cite itself instead of the people who said it.
//!
//! A file is indexed in parts ([`file_parts`]). Files are checked on every pass over a room, not
//! only through its log: a file attached to a task appends nothing to it.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::{Embedder, ModelError};
use crate::store::{self, StoreError, knowledge::Stale};

/// The vector length `knowledge_chunks.embedding` holds.
pub const INDEX_DIMS: usize = 384;

/// Sources embedded per model call.
const BATCH: i64 = 32;
/// Files read per query (each may be many parts).
const FILE_BATCH: i64 = 4;
/// Longest part of a file's text embedded as one chunk, in characters: all-MiniLM-L6-v2 reads
/// about 256 word pieces, and a shorter part is a more precise citation.
const FILE_PART_CHARS: usize = 800;

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
        store::knowledge::plan_each_statement(&mut tx).await?;
        let Some((cursor, last_seq)) = store::knowledge::lock_cursor(&mut tx, room).await? else {
            return Ok(Indexed::default()); // the room is gone, and its chunks with it
        };
        let mut done = self.index_files(&mut tx, room, progress).await?;
        if !full && cursor >= last_seq {
            tx.commit().await?;
            return Ok(done);
        }
        let (messages, tasks) = if full {
            (None, None)
        } else {
            let (m, t) = store::knowledge::touched(&mut tx, room, cursor, last_seq).await?;
            (Some(m), Some(t))
        };
        let model = self.embedder.model().to_owned();
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
        done.removed +=
            store::knowledge::remove_gone(&mut tx, room, messages.as_deref(), tasks.as_deref())
                .await?;
        store::knowledge::set_cursor(&mut tx, room, last_seq).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Indexes a room's files that are missing from the index and drops those that left it.
    async fn index_files(
        &self,
        tx: &mut sqlx::PgConnection,
        room: Uuid,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Indexed, IndexError> {
        let mut done = Indexed {
            embedded: 0,
            removed: store::knowledge::remove_gone_files(tx, room).await?,
        };
        let model = self.embedder.model().to_owned();
        loop {
            let stale = store::knowledge::stale_files(&mut *tx, room, &model, FILE_BATCH).await?;
            if stale.is_empty() {
                return Ok(done);
            }
            for file in &stale {
                let parts = file_parts(&file.filename, &file.text);
                let mut embedded = Vec::with_capacity(parts.len());
                for batch in parts.chunks(BATCH as usize) {
                    let vectors = self.embedder.embed(batch).await?;
                    check_count(vectors.len(), batch.len())?;
                    for (text, vector) in batch.iter().zip(vectors) {
                        check_dims(vector.len())?;
                        embedded.push((text.clone(), vector));
                    }
                }
                store::knowledge::replace_file(tx, file.id, room, &model, embedded).await?;
                done.embedded += parts.len() as u64;
                progress(parts.len() as u64);
            }
        }
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
        check_count(vectors.len(), stale.len())?;
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

fn check_count(vectors: usize, texts: usize) -> Result<(), ModelError> {
    if vectors == texts {
        Ok(())
    } else {
        Err(ModelError::Inference(format!(
            "the embedder returned {vectors} vectors for {texts} texts"
        )))
    }
}

/// A file's text as the parts it is indexed in, each headed by the file's name: its lines
/// (paragraphs) gathered up to [`FILE_PART_CHARS`], a longer line cut at sentence ends, a longer
/// sentence between words.
pub fn file_parts(filename: &str, text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.chars().count() <= FILE_PART_CHARS {
            pieces.push(line.to_owned());
            continue;
        }
        for sentence in flowly_models::text::sentences(line) {
            pieces.extend(between_words(&sentence, FILE_PART_CHARS));
        }
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let fits = current.chars().count() + 1 + piece.chars().count() <= FILE_PART_CHARS;
        if !current.is_empty() && !fits {
            parts.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&piece);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
        .into_iter()
        .map(|p| format!("File: {filename}\n{p}"))
        .collect()
}

/// `text` in pieces of at most `max` characters, cut at spaces (inside a word only when one
/// word is longer than `max`).
fn between_words(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        for piece in word.chars().collect::<Vec<_>>().chunks(max) {
            let piece: String = piece.iter().collect();
            let n = piece.chars().count();
            if len > 0 && len + 1 + n > max {
                out.push(std::mem::take(&mut current));
                len = 0;
            }
            if len > 0 {
                current.push(' ');
                len += 1;
            }
            current.push_str(&piece);
            len += n;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_lines_are_gathered_into_named_parts_of_bounded_size() {
        let text = "Runbook\nThe billing service listens on port 8443.";
        assert_eq!(
            file_parts("ops.pdf", text),
            vec!["File: ops.pdf\nRunbook\nThe billing service listens on port 8443."]
        );
        let line = "word ".repeat(400); // 2,000 characters, no sentence end
        let long = format!("Intro.\n{line}\nEnd.");
        let parts = file_parts("a.txt", &long);
        assert!(parts.len() >= 3, "{parts:?}");
        for p in &parts {
            let body = p.strip_prefix("File: a.txt\n").unwrap();
            assert!(body.chars().count() <= FILE_PART_CHARS, "{}", body.len());
        }
        let words: usize = parts.iter().map(|p| p.matches("word").count()).sum();
        assert_eq!(words, 400, "no word lost or doubled");
        assert!(parts[0].contains("Intro.") && parts.last().unwrap().ends_with("End."));
        assert!(file_parts("empty.txt", "\n \n").is_empty());
    }

    #[test]
    fn a_word_longer_than_a_part_is_cut_inside_it() {
        let word = "x".repeat(FILE_PART_CHARS * 2 + 5);
        let pieces = between_words(&format!("a {word} b"), FILE_PART_CHARS);
        assert_eq!(pieces.concat().replace(' ', ""), format!("a{word}b"));
        assert!(pieces.iter().all(|p| p.chars().count() <= FILE_PART_CHARS));
    }
}
