//! Answers without a language model (`generator = "none"`): the sentence of each passage that
//! best matches the question, followed by the `[n]` of the passage it comes from, and nothing
//! else. The caller chooses which passages support the answer (the server hands over only
//! those); this quotes them.
//!
//! Sentences are scored with BM25 over all the passages' sentences (so a word that appears
//! everywhere counts little); each passage gives one sentence, in the passages' order: its best,
//! or its opening one when none of its sentences shares a word with the question (it was chosen
//! by meaning, or by the message it replies to). A summary ([`GenerateKind::Summary`]) is built differently: the messages
//! that say the most (rare words, shared with the rest of the conversation) are kept, one line
//! each, in the order they were written. Deterministic: the same request gives the same answer.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::stream_answer;
use crate::text::{sentences, terms};
use crate::{GenerateKind, GenerateRequest, Generator, ModelError, Passage};

/// Most sentences in one answer.
const MAX_SENTENCES: usize = 4;
/// Longest sentence quoted, in words (longer ones are cut with `…`).
const MAX_SENTENCE_WORDS: usize = 60;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The extractive "generator". Holds no model.
#[derive(Debug, Default)]
pub struct ExtractiveGenerator;

impl ExtractiveGenerator {
    pub fn new() -> ExtractiveGenerator {
        ExtractiveGenerator
    }
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
    text: String,
    terms: Vec<String>,
}

/// Most lines in an extractive summary.
const MAX_SUMMARY_LINES: usize = 6;

/// The summary's pieces: a heading, then one `author: sentence [n]` line per kept message, in
/// the order written. A message scores by the rarity of its words (a short "ok, thanks" says
/// little) and by how many of them the rest of the conversation shares (what it was about).
fn compose_summary(request: &GenerateRequest) -> Vec<String> {
    let passages = &request.passages;
    if passages.is_empty() {
        return vec!["There is nothing to summarise.".into()];
    }
    let bags: Vec<HashSet<String>> = passages
        .iter()
        .map(|p| terms(&p.text).into_iter().collect())
        .collect();
    let n = passages.len() as f64;
    let mut df: HashMap<&str, usize> = HashMap::new();
    for bag in &bags {
        for t in bag {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let mut scored: Vec<(f64, usize)> = bags
        .iter()
        .enumerate()
        .map(|(i, bag)| {
            let (mut rare, mut shared) = (0.0, 0.0);
            for t in bag {
                let d = df[t.as_str()] as f64;
                rare += ((n + 1.0) / d).ln();
                if d > 1.0 {
                    shared += 1.0;
                }
            }
            // Very short messages (acknowledgements) rarely carry a point of their own.
            let weight = if bag.len() < 3 { 0.3 } else { 1.0 };
            (weight * (rare + shared), i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let keep = passages.len().div_ceil(3).clamp(1, MAX_SUMMARY_LINES);
    let mut kept: Vec<usize> = Vec::with_capacity(keep);
    for &(_, i) in &scored {
        let first = sentences(&passages[i].text).into_iter().next();
        let duplicate = kept.iter().any(|&k| bags[k] == bags[i]);
        if first.is_some() && !duplicate {
            kept.push(i);
        }
        if kept.len() == keep {
            break;
        }
    }
    kept.sort_unstable();
    let mut pieces = vec![if passages.len() == 1 {
        "One message:".to_string()
    } else {
        format!("The main points of {} messages:", passages.len())
    }];
    for i in kept {
        let p = &passages[i];
        // Labels read `#room · author · time`: the author says who made the point.
        let author = p.label.split(" · ").nth(1).filter(|a| !a.is_empty());
        let text = sentences(&p.text)
            .into_iter()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let text = shortened(&text);
        let (body, end) = match text.chars().last() {
            Some(e @ ('.' | '!' | '?')) => (&text[..text.len() - 1], e),
            _ => (text.as_str(), '.'),
        };
        pieces.push(match author {
            Some(a) => format!("\n- {a}: {body} [{}]{end}", p.n),
            None => format!("\n- {body} [{}]{end}", p.n),
        });
    }
    pieces
}

/// The answer's pieces: `sentence [n]`, best first.
pub(crate) fn compose(request: &GenerateRequest) -> Vec<String> {
    if request.kind == GenerateKind::Summary {
        return compose_summary(request);
    }
    if request.passages.is_empty() {
        return vec![
            "I found nothing about this in the conversations and tasks you can see.".into(),
        ];
    }
    let candidates: Vec<Candidate> = request
        .passages
        .iter()
        .flat_map(|passage| {
            sentences(&passage.text)
                .into_iter()
                .map(move |s| Candidate {
                    passage,
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
            (bm25, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let budget_words = (request.max_tokens * 3 / 4).max(MAX_SENTENCE_WORDS / 2);
    // One sentence per passage, in the passages' order (the caller ranked them): its best, or,
    // when none of its sentences shares a word with the question (it was chosen by meaning or
    // by what it replies to), its opening one. A passage's other sentences only pad the answer.
    let mut picked: Vec<&Candidate> = Vec::new();
    let mut words = 0;
    for passage in &request.passages {
        let best = scored
            .iter()
            .filter(|&&(s, i)| s > 0.0 && candidates[i].passage.n == passage.n)
            .map(|&(_, i)| &candidates[i])
            .next()
            .or_else(|| candidates.iter().find(|c| c.passage.n == passage.n));
        let Some(c) = best else { continue };
        if picked.iter().any(|p| p.text == c.text) {
            continue;
        }
        let len = c.text.split_whitespace().count();
        if !picked.is_empty() && words + len > budget_words {
            break;
        }
        words += len;
        picked.push(c);
        if picked.len() == MAX_SENTENCES {
            break;
        }
    }
    let mut pieces: Vec<String> = Vec::with_capacity(picked.len());
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

    fn summary_of(texts: &[(&str, &str)]) -> String {
        let passages = texts
            .iter()
            .enumerate()
            .map(|(i, (author, text))| Passage {
                n: i + 1,
                label: format!("#launch · {author} · 2026-11-25 10:00"),
                text: (*text).into(),
            })
            .collect();
        compose(&GenerateRequest {
            kind: GenerateKind::Summary,
            instruction: String::new(),
            question: "Summarise #launch".into(),
            passages,
            max_tokens: 256,
        })
        .concat()
    }

    #[test]
    fn a_summary_keeps_the_informative_messages_in_order_not_the_question_match() {
        let summary = summary_of(&[
            ("alice", "The launch is planned for Friday at 10am."),
            ("bob", "ok"),
            (
                "bob",
                "I will prepare the release notes for the launch before Thursday.",
            ),
            ("carol", "thanks!"),
            (
                "carol",
                "The landing page uses the blue colour scheme from the brand kit.",
            ),
            (
                "dave",
                "Someone needs to book the meeting room for the launch retro.",
            ),
        ]);
        assert!(
            summary.starts_with("The main points of 6 messages:"),
            "{summary}"
        );
        let lines: Vec<&str> = summary.lines().skip(1).collect();
        assert_eq!(lines.len(), 2, "{summary}");
        assert!(
            lines
                .iter()
                .all(|l| !l.contains("ok [") && !l.contains("thanks")),
            "{summary}"
        );
        // In the order written, each with its author and citation.
        let cites: Vec<usize> = lines
            .iter()
            .map(|l| l.rsplit('[').next().unwrap()[..1].parse().unwrap())
            .collect();
        assert!(cites.windows(2).all(|w| w[0] < w[1]), "{summary}");
        assert!(lines[0].starts_with("- "), "{summary}");
    }
}
