//! Retrieval: the passages an answer is built from. Hybrid — pgvector cosine distance over the
//! HNSW index and PostgreSQL full-text search — fused by reciprocal rank, restricted in the SQL
//! to rooms the asker belongs to (see [`crate::store::knowledge::search`]).

use sqlx::PgPool;
use uuid::Uuid;

use super::{Embedder, ModelError, Passage, index::IndexError};
use crate::store::{self, assistant::Citation, knowledge::Hit};

/// Candidates each branch (vector, full text) contributes before fusion.
const CANDIDATES: i64 = 60;

/// The `limit` best chunks for `question` among the rooms `viewer` belongs to (only `room` when
/// given).
pub async fn retrieve(
    db: &PgPool,
    embedder: &dyn Embedder,
    viewer: Uuid,
    room: Option<Uuid>,
    question: &str,
    limit: usize,
) -> Result<Vec<Hit>, IndexError> {
    let mut vectors = embedder.embed(&[question.to_owned()]).await?;
    let vector = vectors
        .pop()
        .ok_or_else(|| ModelError::Inference("the embedder returned no vector".into()))?;
    super::index::check_dims(vector.len())?;
    let mut tx = crate::store::begin(db).await?;
    let hits = store::knowledge::search(
        &mut tx,
        viewer,
        room,
        vector,
        question,
        embedder.model(),
        CANDIDATES.max(limit as i64 * 4),
        limit as i64,
    )
    .await?;
    tx.commit().await?;
    Ok(hits)
}

/// Longest excerpt a citation carries, in characters.
const EXCERPT_CHARS: usize = 240;

/// A short excerpt of a text, cut at a character boundary.
pub fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A retrieved chunk as the numbered passage a generator sees.
pub fn passage(n: usize, hit: &Hit) -> Passage {
    let room = if hit.room_name.is_empty() {
        "direct messages"
    } else {
        hit.room_name.as_str()
    };
    let label = match hit.source_kind.as_str() {
        "task" => format!("task in #{room}"),
        _ => format!(
            "#{room} · {} · {}",
            hit.author.as_deref().unwrap_or("someone"),
            hit.created_at.format("%Y-%m-%d")
        ),
    };
    Passage {
        n,
        label,
        text: hit.text.clone(),
    }
}

/// A retrieved chunk as citation number `n`.
pub fn citation(n: usize, hit: &Hit) -> Citation {
    Citation {
        n,
        kind: hit.source_kind.clone(),
        id: hit.source_id,
        room: hit.room_id,
        room_name: hit.room_name.clone(),
        seq: hit.seq,
        excerpt: excerpt(&hit.text),
        author: hit.author.clone(),
        created_at: hit.created_at,
    }
}

/// The passage numbers an answer cites, as `[n]` or `[n, m]`, in order of first appearance,
/// each once, only those in `1..=max`.
pub fn cited_numbers(answer: &str, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        let numbers: Option<Vec<usize>> = inside
            .split(',')
            .map(|p| p.trim().parse::<usize>().ok())
            .collect();
        if let Some(numbers) = numbers {
            for n in numbers {
                if (1..=max).contains(&n) && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read_from_brackets() {
        assert_eq!(
            cited_numbers("A [2] and B [1, 3]. Again [2].", 3),
            vec![2, 1, 3]
        );
        assert_eq!(
            cited_numbers("No [x] cites [9] or [0] here [", 3),
            Vec::<usize>::new()
        );
        assert_eq!(cited_numbers("[1][2]", 5), vec![1, 2]);
    }

    #[test]
    fn excerpts_are_cut_at_character_boundaries() {
        let long = "é".repeat(500);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("  short "), "short");
    }
}
