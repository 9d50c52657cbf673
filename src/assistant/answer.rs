//! Answering a question: retrieval, the passages that support an answer, the generator, and a
//! check of what it wrote. One path for the worker and the evaluation, so the eval measures
//! what people get.
//!
//! 1. Retrieval reranks the candidates in context ([`retrieve::rerank`]).
//! 2. [`select`] keeps the passages that support an answer: the best one, if it scores at least
//!    `answer_min_score` (else the answer is [`NOT_FOUND`]), and others close to it
//!    (`answer_keep_ratio`) — a second fact a question asks for, or another room's version of an
//!    ambiguous one. Questions asked in chat and superseded statements never support an answer.
//! 3. The generator writes from those passages only. The extractive one quotes each passage's
//!    best sentence; a language model's answer is checked ([`supported`]): a sentence stays only
//!    if a passage supports it (its words, and every number in it) and it cites that passage;
//!    when nothing stays, the extractive quote is the answer.

use flowly_models::text::{sentences, terms};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    Embedder, GenerateKind, GenerateRequest, Generator, Passage,
    generate::ExtractiveGenerator,
    index::IndexError,
    retrieve::{self, Ranked},
};
use crate::store::assistant::Citation;

/// What the asker gets when nothing in their rooms answers the question.
pub const NOT_FOUND: &str = "I couldn't find that in your rooms.";

const ASK_INSTRUCTION: &str = "Answer the question using only the numbered passages from the \
team's chats and tasks. Cite every claim with the passage number in brackets, like [1]. If the \
passages do not contain the answer, say so.";

/// Most passages one answer is built from.
const MAX_SUPPORT: usize = 3;
/// For a two-part question, the share of `answer_keep_ratio` a passage about the same
/// subject (naming all of the question's names) needs to be kept as the other half.
const TWO_PART_KEEP: f64 = 0.7;
/// Share of a generated sentence's words a cited passage must hold for it to count as supported.
const SUPPORT_SHARE: f64 = 0.5;

/// A question as asked.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub viewer: Uuid,
    /// Only this room (an answer posted into a room), else every room of the viewer.
    pub room: Option<Uuid>,
    pub question: &'a str,
    pub top_k: usize,
    pub max_tokens: usize,
    pub min_score: f64,
    pub keep_ratio: f64,
}

/// An answer with the citations it keeps.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub citations: Vec<Citation>,
    /// What retrieval returned, best first (the evaluation scores it).
    pub hits: Vec<Ranked>,
    /// The score of the best passage that could support an answer (the evaluation calibrates
    /// `answer_min_score` with it).
    pub best_score: Option<f64>,
}

/// The passages that support an answer, best first (empty: not found). See the module docs.
/// `two_part`: the question asks for two things ([`retrieve::two_part`]).
pub fn select(ranked: &[Ranked], min_score: f64, keep_ratio: f64, two_part: bool) -> Vec<&Ranked> {
    let mut eligible = ranked.iter().filter(|r| !r.superseded && !r.is_question());
    let Some(best) = eligible.next() else {
        return vec![];
    };
    if best.score < min_score {
        return vec![];
    }
    let mut kept = vec![best];
    for r in eligible {
        if kept.len() == MAX_SUPPORT {
            break;
        }
        // The other half of a two-part question is said apart ("The flights are booked for
        // May 3." — "We stay at the Old Mill."), often in fewer of the question's words: of
        // the same subject, it counts from a lower share.
        let ratio = if two_part && r.names_all && best.names_all {
            keep_ratio * TWO_PART_KEEP
        } else {
            keep_ratio
        };
        if r.score < best.score * ratio {
            continue;
        }
        // Near-duplicates of one room say the same thing; another room's may well be the other
        // reading of an ambiguous question.
        let repeats = kept.iter().any(|k| {
            k.hit.text == r.hit.text
                || (k.hit.room_id == r.hit.room_id
                    && retrieve::cosine(k.hit.embedding.as_slice(), r.hit.embedding.as_slice())
                        >= retrieve::DUPLICATE)
        });
        if !repeats {
            kept.push(r);
        }
    }
    kept
}

/// The numbers in a text (digits, with the letters attached, such as `14th` or `db-42`).
fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '[' | ']'))
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

/// Whether `passage` supports `claim`: it holds at least [`SUPPORT_SHARE`] of the claim's words
/// and every number in it.
fn supports(passage: &str, claim: &str) -> bool {
    let words = terms(claim);
    if words.is_empty() {
        return false;
    }
    let have: std::collections::HashSet<String> = terms(passage).into_iter().collect();
    let share = words.iter().filter(|w| have.contains(*w)).count() as f64 / words.len() as f64;
    let digits = numbers(passage);
    share >= SUPPORT_SHARE && numbers(claim).iter().all(|n| digits.contains(n))
}

/// A sentence without its `[n]` citations.
fn claim_of(sentence: &str) -> String {
    let mut out = String::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        match rest[open..].find(']') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// The sentences of a generated `answer` that its passages support, each ending with the
/// citations of the passages that support it. A sentence citing nothing is kept when exactly one
/// passage supports it (and then cites that one); one citing a passage that does not support it
/// is dropped, as is one no passage supports.
pub fn supported(answer: &str, passages: &[Passage]) -> Vec<String> {
    // A citation written after the full stop ("… March 14. [1]") belongs to the sentence before.
    let mut parts: Vec<String> = Vec::new();
    for s in sentences(answer) {
        match parts.last_mut() {
            Some(last) if claim_of(&s).is_empty() => {
                last.push(' ');
                last.push_str(&s);
            }
            _ => parts.push(s),
        }
    }
    let mut kept = Vec::new();
    for sentence in parts {
        let claim = claim_of(&sentence);
        let cited = retrieve::cited_numbers(&sentence, usize::MAX);
        let backing: Vec<usize> = if cited.is_empty() {
            let all: Vec<usize> = passages
                .iter()
                .filter(|p| supports(&p.text, &claim))
                .map(|p| p.n)
                .collect();
            if all.len() == 1 { all } else { vec![] }
        } else {
            let ok = cited.iter().all(|n| {
                passages
                    .iter()
                    .any(|p| p.n == *n && supports(&p.text, &claim))
            });
            if ok { cited } else { vec![] }
        };
        if backing.is_empty() {
            continue;
        }
        let body = claim.trim_end_matches(['.', '!', '?', ' ']);
        let refs: Vec<String> = backing.iter().map(|n| format!("[{n}]")).collect();
        kept.push(format!("{body} {}.", refs.join("")));
    }
    kept
}

/// Answers `ask`, sending the answer to `deltas` sentence by sentence once it is checked.
pub async fn answer(
    db: &sqlx::PgPool,
    embedder: &dyn Embedder,
    generator: &dyn Generator,
    ask: &Ask<'_>,
    deltas: mpsc::Sender<String>,
) -> Result<Answer, IndexError> {
    let hits =
        retrieve::retrieve(db, embedder, ask.viewer, ask.room, ask.question, ask.top_k).await?;
    let best_score = hits
        .iter()
        .find(|r| !r.superseded && !r.is_question())
        .map(|r| r.score);
    let support = select(
        &hits,
        ask.min_score,
        ask.keep_ratio,
        retrieve::two_part(ask.question),
    );
    if support.is_empty() {
        let _ = deltas.send(NOT_FOUND.to_owned()).await;
        return Ok(Answer {
            text: NOT_FOUND.to_owned(),
            citations: vec![],
            hits,
            best_score,
        });
    }
    let passages: Vec<Passage> = support
        .iter()
        .enumerate()
        .map(|(i, r)| retrieve::passage(i + 1, &r.hit))
        .collect();
    let request = GenerateRequest {
        kind: GenerateKind::Answer,
        instruction: ASK_INSTRUCTION.into(),
        question: ask.question.to_owned(),
        passages,
        max_tokens: ask.max_tokens,
    };
    // The generator's own pieces are not shown: only the checked sentences are.
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let written = generator.generate(&request, tx).await?;
    let mut sentences = supported(&written, &request.passages);
    if sentences.is_empty() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let quoted = ExtractiveGenerator::new().generate(&request, tx).await?;
        sentences = supported(&quoted, &request.passages);
    }
    let text = sentences.join(" ");
    for (i, s) in sentences.iter().enumerate() {
        let piece = if i == 0 { s.clone() } else { format!(" {s}") };
        let _ = deltas.send(piece).await;
    }
    let citations = retrieve::cited_numbers(&text, support.len())
        .into_iter()
        .map(|n| retrieve::citation(n, &support[n - 1].hit))
        .collect();
    Ok(Answer {
        text,
        citations,
        hits,
        best_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assistant::retrieve::{rerank, tests::hit};
    use std::collections::HashSet;

    #[test]
    fn only_the_best_supporting_passages_are_selected_above_the_threshold() {
        let ranked = rerank(
            "When is the launch date?",
            vec![
                hit(
                    "The launch date is March 14, confirmed with marketing.",
                    1,
                    1,
                    0.8,
                    0,
                ),
                hit("Can you also review the launch checklist?", 1, 2, 0.6, 1),
                hit("Budget for the launch party is 500 euros.", 1, 3, 0.5, 2),
                hit("Lunch anyone?", 1, 4, 0.1, 3),
            ],
            &HashSet::new(),
        );
        let texts = |kept: Vec<&Ranked>| -> Vec<String> {
            kept.iter().map(|r| r.hit.text.clone()).collect()
        };
        assert_eq!(
            texts(select(&ranked, 0.75, 0.85, false)),
            vec!["The launch date is March 14, confirmed with marketing."]
        );
        // Nothing scores high enough: not found.
        assert!(select(&ranked, 5.0, 0.85, false).is_empty());
        // A lower bar for the others lets a close second in (never the question).
        let loose = texts(select(&ranked, 0.75, 0.1, false));
        assert_eq!(loose.len(), 2, "{loose:?}");
        assert!(loose.iter().all(|t| !t.ends_with('?')));
    }

    fn passage(n: usize, text: &str) -> Passage {
        Passage {
            n,
            label: String::new(),
            text: text.into(),
        }
    }

    #[test]
    fn supported_sentences_stay_and_get_their_citation() {
        let passages = [
            passage(1, "The launch date is March 14, confirmed with marketing."),
            passage(2, "Budget for the launch party is 500 euros."),
        ];
        let kept = supported(
            "The launch date is March 14 [1]. The party costs 900 euros [2]. \
             Marketing confirmed the March 14 launch date. Everyone loves launches [1].",
            &passages,
        );
        assert_eq!(
            kept,
            vec![
                "The launch date is March 14 [1].",
                "Marketing confirmed the March 14 launch date [1]."
            ]
        );
    }

    #[test]
    fn a_citation_after_the_full_stop_belongs_to_its_sentence() {
        let passages = [passage(1, "The VPN certificate expires on December 3rd.")];
        assert_eq!(
            supported(
                "The VPN certificate expires on December 3rd. [1]",
                &passages
            ),
            vec!["The VPN certificate expires on December 3rd [1]."]
        );
        // Citing the wrong passage is not support.
        let two = [
            passage(1, "Lunch at noon."),
            passage(2, "The VPN expires Friday."),
        ];
        assert!(supported("The VPN expires Friday [1].", &two).is_empty());
    }

    #[test]
    fn numbers_a_passage_does_not_hold_are_not_supported() {
        assert!(supports(
            "The API listens on port 8080.",
            "The API listens on port 8080"
        ));
        assert!(!supports(
            "The API listens on port 8080.",
            "The API listens on port 8081"
        ));
        assert!(!supports("The API listens on port 8080.", ""));
    }
}
