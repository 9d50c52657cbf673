//! Answers without a language model (`generator = "none"`): the sentences of the passages that
//! best match the question, each followed by the `[n]` of the passage it comes from.
//!
//! Sentences are scored with BM25 over all the passages' sentences (so a word that appears
//! everywhere counts little), with a small bonus for sentences from better-ranked passages; the
//! best few are given in order of score, near-duplicates skipped. When no sentence shares a
//! word with the question (a summary request, say), the opening sentences of the first passages
//! are given instead. Deterministic: the same request gives the same answer.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::stream_answer;
use crate::assistant::{GenerateRequest, Generator, ModelError, Passage};

/// Most sentences in one answer.
const MAX_SENTENCES: usize = 4;
/// Longest sentence quoted, in words (longer ones are cut with `…`).
const MAX_SENTENCE_WORDS: usize = 60;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Words too common to say anything about a match.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had",
    "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "just", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "some", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "us", "was",
    "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would",
    "you", "your", "tell", "know", "please", "anyone", "someone",
];

/// The extractive "generator". Holds no model.
#[derive(Debug, Default)]
pub struct ExtractiveGenerator;

impl ExtractiveGenerator {
    pub fn new() -> ExtractiveGenerator {
        ExtractiveGenerator
    }
}

/// A word reduced to a comparable form: lowercase, a plural or verb ending taken off.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 2 && w.ends_with(suffix) {
            return w[..w.len() - suffix.len()].to_string();
        }
    }
    w
}

/// The meaningful terms of `text`.
fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !STOP_WORDS.contains(&w.to_lowercase().as_str()))
        .map(stem)
        .collect()
}

/// Splits `text` into sentences at `.`, `!`, `?` followed by a space, and at line breaks.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (i, &(at, c)) in chars.iter().enumerate() {
            let end_of_sentence = matches!(c, '.' | '!' | '?')
                && chars
                    .get(i + 1)
                    .is_none_or(|&(_, next)| next.is_whitespace());
            if end_of_sentence {
                let end = at + c.len_utf8();
                out.push(line[start..end].to_string());
                start = end;
            }
        }
        out.push(line[start..].to_string());
    }
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

/// `sentence` cut to [`MAX_SENTENCE_WORDS`] words.
fn shortened(sentence: &str) -> String {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    if words.len() <= MAX_SENTENCE_WORDS {
        words.join(" ")
    } else {
        format!("{}…", words[..MAX_SENTENCE_WORDS].join(" "))
    }
}

struct Candidate<'a> {
    passage: &'a Passage,
    rank: usize,
    text: String,
    terms: Vec<String>,
}

/// The answer's pieces: `sentence [n]`, best first.
pub(crate) fn compose(request: &GenerateRequest) -> Vec<String> {
    if request.passages.is_empty() {
        return vec![
            "I found nothing about this in the conversations and tasks you can see.".into(),
        ];
    }
    let candidates: Vec<Candidate> = request
        .passages
        .iter()
        .enumerate()
        .flat_map(|(rank, passage)| {
            sentences(&passage.text)
                .into_iter()
                .map(move |s| Candidate {
                    passage,
                    rank,
                    terms: terms(&s),
                    text: shortened(&s),
                })
        })
        .collect();
    // Question words (once each) and their document frequency over all sentences.
    let query: Vec<String> = {
        let mut seen = HashSet::new();
        terms(&request.question)
            .into_iter()
            .filter(|t| seen.insert(t.clone()))
            .collect()
    };
    let n = candidates.len().max(1) as f64;
    let avg_len = (candidates.iter().map(|c| c.terms.len()).sum::<usize>() as f64 / n).max(1.0);
    let mut df: HashMap<&str, usize> = HashMap::new();
    for c in &candidates {
        let unique: HashSet<&str> = c.terms.iter().map(String::as_str).collect();
        for t in unique {
            *df.entry(t).or_default() += 1;
        }
    }
    let mut scored: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let len = c.terms.len() as f64;
            let bm25: f64 = query
                .iter()
                .map(|q| {
                    let tf = c.terms.iter().filter(|t| *t == q).count() as f64;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let d = *df.get(q.as_str()).unwrap_or(&0) as f64;
                    let idf = ((n - d + 0.5) / (d + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len))
                })
                .sum();
            // Retrieval already ranked the passages: a slight edge to the better ones.
            let score = if bm25 > 0.0 {
                bm25 * (1.0 + 0.1 / (1.0 + c.rank as f64))
            } else {
                0.0
            };
            (score, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let budget_words = (request.max_tokens * 3 / 4).max(MAX_SENTENCE_WORDS / 2);
    let mut picked: Vec<&Candidate> = Vec::new();
    let mut words = 0;
    let matched = scored.first().is_some_and(|(s, _)| *s > 0.0);
    let order: Vec<usize> = if matched {
        scored
            .iter()
            .take_while(|(s, _)| *s > 0.0)
            .map(|&(_, i)| i)
            .collect()
    } else {
        // Nothing matches word for word: the opening sentence of each passage, in rank order.
        let mut firsts = Vec::new();
        let mut seen = HashSet::new();
        for (i, c) in candidates.iter().enumerate() {
            if seen.insert(c.rank) {
                firsts.push(i);
            }
        }
        firsts
    };
    for i in order {
        let c = &candidates[i];
        let len = c.text.split_whitespace().count();
        if picked.iter().any(|p| p.text == c.text) {
            continue;
        }
        if !picked.is_empty() && words + len > budget_words {
            break;
        }
        words += len;
        picked.push(c);
        if picked.len() == MAX_SENTENCES {
            break;
        }
    }
    let mut pieces = Vec::with_capacity(picked.len() + 1);
    if !matched {
        pieces.push(
            "Nothing matches the question word for word; the most relevant passages say:"
                .to_string(),
        );
    }
    for c in picked {
        let (body, end) = match c.text.chars().last() {
            Some(e @ ('.' | '!' | '?')) => (&c.text[..c.text.len() - 1], e),
            _ => (c.text.as_str(), '.'),
        };
        let piece = format!("{body} [{}]{end}", c.passage.n);
        pieces.push(if pieces.is_empty() {
            piece
        } else {
            format!(" {piece}")
        });
    }
    pieces
}

#[async_trait]
impl Generator for ExtractiveGenerator {
    fn name(&self) -> &str {
        "extractive"
    }

    async fn generate(
        &self,
        request: &GenerateRequest,
        deltas: mpsc::Sender<String>,
    ) -> Result<String, ModelError> {
        let pieces = compose(request);
        stream_answer(
            deltas,
            std::time::Duration::from_secs(60),
            move |mut stream| async move {
                // Word by word, as a language model would stream it.
                for piece in &pieces {
                    for word in piece.split_inclusive(' ') {
                        stream.push(word);
                    }
                }
                Ok(stream.finish())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_and_lines_but_not_inside_numbers() {
        assert_eq!(
            sentences("Version 2.1 ships Friday. Who tests it?\nBob does"),
            vec!["Version 2.1 ships Friday.", "Who tests it?", "Bob does"]
        );
    }

    #[test]
    fn terms_drop_stop_words_and_endings() {
        assert_eq!(
            terms("Who is testing the releases?"),
            vec!["test", "releas"]
        );
    }
}
