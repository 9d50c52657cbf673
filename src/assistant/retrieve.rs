//! Retrieval: the passages an answer is built from. Hybrid — pgvector cosine distance over the
//! HNSW index and PostgreSQL full-text search — fused by reciprocal rank, restricted in the SQL
//! to rooms the asker belongs to (see [`crate::store::knowledge::search`]).

use std::collections::{HashMap, HashSet};

use flowly_models::text::terms;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Embedder, ModelError, Passage, index::IndexError};
use crate::store::{self, assistant::Citation, knowledge::Hit};

/// Candidates each branch (vector, full text) contributes before fusion.
const CANDIDATES: i64 = 60;
/// Fused candidates reranked (with the replies and discussion messages around them). Chatter
/// sharing the question's common words can crowd a named fact out of a shorter list.
const RERANK_POOL: i64 = 50;
/// Weight of the question's words found in a chunk (or its context) against its similarity.
const LEXICAL_WEIGHT: f64 = 0.5;
/// A chunk that mentions none of the names the question asks about (capitalised words,
/// numbers) is rarely about the same thing; missing some of them costs a share of this.
const MISSING_NAME: f64 = 0.6;
/// A question in chat asks rather than tells.
const QUESTION: f64 = 0.85;
/// A chunk without the kind of thing the question asks for (a date for "when", a number for
/// "how much") rarely answers it.
const WRONG_TYPE: f64 = 0.7;
/// Chunks at least this similar to each other say the same thing (the later one wins).
pub const DUPLICATE: f64 = 0.85;

/// A retrieved chunk, reranked.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub hit: Hit,
    /// Reranking score (higher is better).
    pub score: f64,
    /// A later message of the same room restates or corrects this one.
    pub superseded: bool,
    /// The chunk (or its context) mentions every name the question asks about.
    pub names_all: bool,
}

impl Ranked {
    /// Whether the chunk asks a question rather than states something.
    pub fn is_question(&self) -> bool {
        self.hit.text.trim_end().ends_with('?')
    }
}

/// The `limit` best chunks for `question` among the rooms `viewer` belongs to (only `room` when
/// given), reranked (see [`rerank`]).
pub async fn retrieve(
    db: &PgPool,
    embedder: &dyn Embedder,
    viewer: Uuid,
    room: Option<Uuid>,
    question: &str,
    limit: usize,
) -> Result<Vec<Ranked>, IndexError> {
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
        RERANK_POOL.max(limit as i64),
    )
    .await?;
    // Only a "Who…" question needs the names of the people it may be answered with.
    let people = if expects(question) == Some(Expects::Person) {
        store::knowledge::people(&mut *tx, viewer, room).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let people: HashSet<String> = people
        .into_iter()
        .flat_map(|(username, display)| [username, display])
        .flat_map(|name| name_words(&name))
        .collect();
    let mut ranked = rerank(question, hits, &people);
    ranked.truncate(limit);
    Ok(ranked)
}

pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    // Unit vectors: the dot product.
    a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum()
}

/// The names a question asks about: capitalised words after the first, and words with digits.
fn names(question: &str) -> Vec<String> {
    question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
        .filter(|(i, w)| {
            (*i > 0 && w.starts_with(|c: char| c.is_uppercase()))
                || w.chars().any(|c| c.is_ascii_digit())
        })
        .map(|(_, w)| w.to_lowercase())
        .collect()
}

/// What kind of answer a question asks for, when that is plain from its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expects {
    Date,
    Number,
    /// "Who…": a person — someone named, an `@mention`, or the author speaking for themselves.
    Person,
}

/// Whether a question asks for two kinds of thing: "When is the demo and who presents it?".
pub fn two_part(question: &str) -> bool {
    let q = question.to_lowercase();
    [
        " and who",
        " and which",
        " and where",
        " and how",
        " and when",
        " and what",
    ]
    .iter()
    .any(|p| q.contains(p))
}

fn expects(question: &str) -> Option<Expects> {
    let q = question.trim().to_lowercase();
    let has = |p: &str| q.contains(p);
    if two_part(&q) {
        return None;
    }
    if q.starts_with("when")
        || ["what day", "which day", "what date", "what time", "by when"]
            .iter()
            .any(|p| has(p))
    {
        Some(Expects::Date)
    } else if q.starts_with("how much")
        || q.starts_with("how many")
        || ["which port", "what port", "what number"]
            .iter()
            .any(|p| has(p))
    {
        Some(Expects::Number)
    } else if q.starts_with("who ") || q.starts_with("who's ") || q.starts_with("whom ") {
        Some(Expects::Person)
    } else {
        None
    }
}

const DATE_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "tomorrow",
    "tonight",
    "week",
    "month",
    "quarter",
    "weekend",
];

/// First-person words: a message saying "I'll do it" names its author.
const FIRST_PERSON: &[&str] = &["i", "i'll", "i'm", "i've", "me", "my", "mine"];

/// Whether `text` holds what `expected` asks for: a date-like word or a day, an ISO date or a
/// time for a date; any digit for a number; for a person, an `@mention`, a first-person word, one
/// of `people` (lowercase), or a capitalised word inside a sentence that is neither a date word
/// nor one of the question's `names`.
fn holds(text: &str, expected: Expects, people: &HashSet<String>, names: &[String]) -> bool {
    match expected {
        Expects::Number => text.chars().any(|c| c.is_ascii_digit()),
        Expects::Person => names_person(text, people, names),
        Expects::Date => text
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')'))
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .any(|w| {
                let digits = w.chars().filter(char::is_ascii_digit).count();
                DATE_WORDS.contains(&w.as_str())
                    || (digits > 0
                        && ["st", "nd", "rd", "th"].iter().any(|s| w.ends_with(s))
                        && w.len() - digits == 2)
                    || (digits >= 6 && w.contains('-'))
                    || (digits >= 3 && w.contains(':'))
            }),
    }
}

/// A username or display name as the lowercase words a message may call the person by:
/// "ann.smith" and "Ann Smith" give "ann.smith", "ann", "smith" and "ann smith".
pub fn name_words(name: &str) -> Vec<String> {
    let name = name.trim().to_lowercase();
    let mut words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_owned)
        .collect();
    if !name.is_empty() && !words.contains(&name) {
        words.push(name);
    }
    words
}

/// See [`holds`] for [`Expects::Person`].
fn names_person(text: &str, people: &HashSet<String>, names: &[String]) -> bool {
    if text.contains('@') {
        return true;
    }
    text.lines()
        .any(|line| line_names_person(line, people, names))
}

fn line_names_person(line: &str, people: &HashSet<String>, names: &[String]) -> bool {
    // A field label ("Task:", "Status:") heads a line of a task: the word after it is first.
    let line = match line.split_once(": ") {
        Some((label, rest)) if !label.contains(' ') => rest,
        _ => line,
    };
    let mut first = true;
    for raw in line.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        let lower = word.to_lowercase().replace('’', "'");
        if FIRST_PERSON.contains(&lower.as_str())
            || people.contains(&lower)
            || (!first
                && word.starts_with(|c: char| c.is_uppercase())
                && !DATE_WORDS.contains(&lower.as_str())
                && !names.contains(&lower))
        {
            return true;
        }
        first = raw.ends_with(['.', '!', '?']);
    }
    false
}

/// Orders candidates by how well they answer `question`, in context:
///
/// - similarity to the question, of the chunk or (when higher) averaged with that of its context
///   (the message it replies to, its task), so a reply or a discussion message is judged with
///   what it is about;
/// - the question's words found in the chunk or its context, weighted by rarity among the
///   candidates ([`LEXICAL_WEIGHT`]);
/// - less for a chunk missing names the question asks about ([`MISSING_NAME`]), for one
///   without the kind of thing asked for (a date for "when…", a number for "how much…":
///   [`WRONG_TYPE`]) and for a question ([`QUESTION`]);
/// - the latest statement of a fact: a later message of the same room that replies to a chunk,
///   or says nearly the same ([`DUPLICATE`]) as it or as the message it replies to, supersedes
///   it and takes its score if higher. Superseded chunks go last.
///
/// `people` are the lowercase names of the people in the rooms searched ([`name_words`]).
pub fn rerank(question: &str, hits: Vec<Hit>, people: &HashSet<String>) -> Vec<Ranked> {
    let asked: HashSet<String> = terms(question).into_iter().collect();
    let names = names(question);
    let expected = expects(question);
    let bags: Vec<HashSet<String>> = hits
        .iter()
        .map(|h| {
            let context = h.context.as_deref().unwrap_or("");
            terms(&format!("{} {context}", h.text))
                .into_iter()
                .chain(h.author.iter().map(|a| a.to_lowercase()))
                .collect()
        })
        .collect();
    let n = hits.len() as f64;
    let idf: HashMap<&String, f64> = asked
        .iter()
        .map(|t| {
            let df = bags.iter().filter(|b| b.contains(t)).count() as f64;
            (t, (1.0 + n / (1.0 + df)).ln())
        })
        .collect();
    let total: f64 = idf.values().sum();
    let mut about: Vec<About> = Vec::with_capacity(hits.len());
    let mut ranked: Vec<Ranked> = hits
        .into_iter()
        .zip(&bags)
        .map(|(hit, bag)| {
            let own = hit.similarity;
            let similarity = hit
                .context_similarity
                .map_or(own, |c| own.max((own + c) / 2.0));
            let found: f64 = idf
                .iter()
                .filter(|(t, _)| bag.contains(**t))
                .map(|(_, w)| w)
                .sum();
            let lexical = if total > 0.0 { found / total } else { 0.0 };
            let mut score = similarity + LEXICAL_WEIGHT * lexical;
            let words = words_of(&hit.text, hit.context.as_deref());
            let named: Vec<bool> = names.iter().map(|n| words.contains(n)).collect();
            let missing = named.iter().filter(|n| !**n).count();
            if missing > 0 {
                score *= 1.0 - (1.0 - MISSING_NAME) * missing as f64 / names.len() as f64;
            }
            let typed = expected.map(|e| holds(&hit.text, e, people, &names));
            if typed == Some(false) {
                score *= WRONG_TYPE;
            }
            about.push(About {
                covered: asked.iter().filter(|t| bag.contains(*t)).cloned().collect(),
                named,
                typed,
            });
            let mut ranked = Ranked {
                hit,
                score,
                superseded: false,
                names_all: missing == 0,
            };
            if ranked.is_question() {
                ranked.score *= QUESTION;
            }
            ranked
        })
        .collect();
    supersede(&mut ranked, &about);
    ranked.sort_by(|a, b| {
        a.superseded
            .cmp(&b.superseded)
            .then(b.score.total_cmp(&a.score))
            .then(a.hit.source_id.cmp(&b.hit.source_id))
    });
    ranked
}

/// Whether `later` states something (not a question, not a bare "thanks").
fn states(later: &Ranked) -> bool {
    !later.is_question() && terms(&later.hit.text).len() >= 3
}

/// What a candidate says about the question: the question's words it (or its context)
/// holds, which of the question's names it mentions, and whether it holds the kind of thing
/// asked for (`None`: the question asks for no one kind).
struct About {
    covered: HashSet<String>,
    named: Vec<bool>,
    typed: Option<bool>,
}

/// The lowercase words of a text and its context.
fn words_of(text: &str, context: Option<&str>) -> HashSet<String> {
    format!("{text} {}", context.unwrap_or(""))
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `b`, written after `a` in the same conversation (room, and task discussion or
/// timeline), restates or corrects it: it replies to it, or says nearly the same as it or as
/// the message it replies to, or holds exactly the same of the question's words and the kind
/// of thing asked for (only when the question asks for one kind: the two halves of "When do we
/// fly and which hotel is it?" share their words but answer different things) — and names the
/// same of the question's names as `a`, so a statement about another subject never supersedes.
fn restates(ranked: &[Ranked], about: &[About], a: usize, b: usize, parent: Option<usize>) -> bool {
    let (x, y) = (&ranked[a].hit, &ranked[b].hit);
    if x.room_id != y.room_id || x.discussion_of != y.discussion_of || x.created_at >= y.created_at
    {
        return false;
    }
    let (ax, bx) = (&about[a], &about[b]);
    if ax.named != bx.named {
        return false;
    }
    let near = |u: &Hit| cosine(u.embedding.as_slice(), x.embedding.as_slice()) >= DUPLICATE;
    parent == Some(a)
        || near(y)
        || parent.is_some_and(|p| near(&ranked[p].hit))
        || (!ax.covered.is_empty()
            && ax.covered == bx.covered
            && ax.typed == Some(true)
            && bx.typed == Some(true))
}

/// Marks chunks a later message of the same conversation restates or corrects (see
/// [`rerank`], [`restates`]); the later one takes the score when higher.
fn supersede(ranked: &mut [Ranked], about: &[About]) {
    let mut order: Vec<usize> = (0..ranked.len()).collect();
    order.sort_by_key(|&i| (ranked[i].hit.created_at, ranked[i].hit.seq));
    let by_id: HashMap<Uuid, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| (r.hit.source_id, i))
        .collect();
    for (at, &b) in order.iter().enumerate() {
        if ranked[b].hit.source_kind != "message" || !states(&ranked[b]) {
            continue;
        }
        let parent = ranked[b].hit.reply_to.and_then(|p| by_id.get(&p).copied());
        for &a in &order[..at] {
            if restates(ranked, about, a, b, parent) {
                let score = ranked[a].score;
                ranked[a].superseded = true;
                ranked[b].score = ranked[b].score.max(score);
            }
        }
    }
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

/// A retrieved chunk as the numbered passage a generator sees. A task reads as one line (its
/// title, description, status, assignee and due date), so that quoting it quotes all of it.
pub fn passage(n: usize, hit: &Hit) -> Passage {
    let room = if hit.room_name.is_empty() {
        "direct messages"
    } else {
        hit.room_name.as_str()
    };
    let label = match hit.source_kind.as_str() {
        "task" => format!("task in #{room}"),
        "attachment" => format!(
            "file {} in #{room} · {} · {}",
            hit.filename.as_deref().unwrap_or("?"),
            hit.author.as_deref().unwrap_or("someone"),
            hit.created_at.format("%Y-%m-%d")
        ),
        _ => format!(
            "#{room} · {} · {}",
            hit.author.as_deref().unwrap_or("someone"),
            hit.created_at.format("%Y-%m-%d")
        ),
    };
    let text = match hit.source_kind.as_str() {
        "task" => hit
            .text
            .lines()
            .map(|l| l.trim().trim_end_matches('.'))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        _ => body(hit).to_owned(),
    };
    Passage { n, label, text }
}

/// What a chunk says, without the file name that heads a file's part (the label names it).
fn body(hit: &Hit) -> &str {
    match (hit.source_kind.as_str(), hit.text.split_once('\n')) {
        ("attachment", Some((head, rest))) if head.starts_with("File: ") => rest,
        _ => &hit.text,
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
        excerpt: excerpt(body(hit)),
        author: hit.author.clone(),
        created_at: hit.created_at,
        filename: hit.filename.clone(),
        task: hit.file_task,
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
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    /// A message chunk of room `room` written at `minute`, `similarity` to the question, with a
    /// unit vector along `axis` (equal axes: duplicates).
    pub(crate) fn hit(text: &str, room: u128, minute: i64, similarity: f64, axis: usize) -> Hit {
        let mut v = vec![0.0f32; 4];
        v[axis] = 1.0;
        Hit {
            source_kind: "message".into(),
            source_id: Uuid::from_u128(minute as u128 + 1000 * room),
            room_id: Uuid::from_u128(room),
            room_name: "ops".into(),
            text: text.into(),
            seq: Some(minute),
            author: Some("ann".into()),
            created_at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
                + Duration::minutes(minute),
            score: 0.0,
            similarity,
            reply_to: None,
            discussion_of: None,
            context: None,
            context_similarity: None,
            filename: None,
            file_task: None,
            embedding: v.into(),
        }
    }

    #[test]
    fn the_statement_with_the_question_words_and_name_ranks_first() {
        let ranked = rerank(
            "When is the Zorvik launch date?",
            vec![
                hit(
                    "Budget for the Zorvik launch party is 500 euros.",
                    1,
                    1,
                    0.6,
                    0,
                ),
                hit("The launch date is March 14 for Blomip.", 1, 2, 0.7, 1),
                hit("The Zorvik launch date is March 21.", 1, 3, 0.7, 2),
                hit("Can you review the Zorvik launch date plan?", 1, 4, 0.7, 3),
            ],
            &HashSet::new(),
        );
        let order: Vec<&str> = ranked.iter().map(|r| r.hit.text.as_str()).collect();
        assert_eq!(order[0], "The Zorvik launch date is March 21.", "{order:?}");
        // Missing the name costs more than missing a word.
        let blomip = ranked.iter().position(|r| r.hit.text.contains("Blomip"));
        assert_eq!(blomip, Some(3), "{order:?}");
    }

    #[test]
    fn a_later_statement_about_another_subject_or_task_supersedes_nothing() {
        let fact = hit("The Yulzan quote came in at 4400 euros.", 1, 1, 0.8, 0);
        let other = hit("The Raxyulzan quote came in at 900 euros.", 1, 2, 0.7, 0);
        let mut discussed = hit("The Yulzan quote came in at 4300 euros.", 1, 3, 0.7, 0);
        discussed.discussion_of = Some(Uuid::from_u128(77));
        let revised = hit(
            "Revised Yulzan quote: 43200 euros after the discount.",
            1,
            4,
            0.6,
            1,
        );
        let ranked = rerank(
            "How much is the Yulzan quote?",
            vec![fact, other, discussed, revised],
            &HashSet::new(),
        );
        assert_eq!(
            ranked[0].hit.text,
            "Revised Yulzan quote: 43200 euros after the discount."
        );
        let superseded: Vec<&str> = ranked
            .iter()
            .filter(|r| r.superseded)
            .map(|r| r.hit.text.as_str())
            .collect();
        assert_eq!(
            superseded,
            vec!["The Yulzan quote came in at 4400 euros."],
            "{ranked:?}"
        );
        // "Raxyulzan" is another name, not "Yulzan".
        let other = ranked
            .iter()
            .find(|r| r.hit.text.contains("Raxyulzan"))
            .unwrap();
        assert!(other.score < ranked[0].score * 0.8, "{ranked:?}");
    }

    #[test]
    fn who_questions_expect_a_person() {
        assert_eq!(expects("Who owns the budget?"), Some(Expects::Person));
        assert_eq!(expects("Whoever said that?"), None);
        let people: HashSet<String> = name_words("mona.lisa").into_iter().collect();
        assert_eq!(name_words("Ann Smith"), ["ann", "smith", "ann smith"]);
        let names = vec!["jaxzor".to_owned()];
        for named in [
            "The speaker will be Rosa, confirmed this morning.",
            "Mona is handling the cafeteria vendor from now on.",
            "Change of plan: mona runs it now.",
            "Change of plan: Omar runs it now.",
            "Task: Fix it\nAssignee: @ann",
            "I’ll take the rollout.",
        ] {
            assert!(holds(named, Expects::Person, &people, &names), "{named}");
        }
        for unnamed in [
            "Task: Plan the Jaxzor customer webinar\nStatus: todo",
            "The review moved to Friday.",
            "Thanks, that helps.",
        ] {
            assert!(
                !holds(unnamed, Expects::Person, &people, &names),
                "{unnamed}"
            );
        }
    }

    #[test]
    fn questions_expect_dates_or_numbers_and_chunks_are_checked_for_them() {
        assert_eq!(expects("When is the launch?"), Some(Expects::Date));
        assert_eq!(expects("By what day must it be done?"), Some(Expects::Date));
        assert_eq!(expects("How much is the quote?"), Some(Expects::Number));
        assert_eq!(expects("Which port does it use?"), Some(Expects::Number));
        assert_eq!(expects("When is the demo and who presents it?"), None);
        let none = HashSet::new();
        for dated in [
            "on March 14",
            "before the 5th",
            "due 2026-12-03",
            "at 10:00",
            "next Friday",
        ] {
            assert!(holds(dated, Expects::Date, &none, &[]), "{dated}");
        }
        for undated in [
            "costs 500 euros",
            "port 8080",
            "the draft is ready",
            "version 2.4",
        ] {
            assert!(!holds(undated, Expects::Date, &none, &[]), "{undated}");
        }
        assert!(holds("port 8080", Expects::Number, &none, &[]));
        assert!(!holds("ask Ann", Expects::Number, &none, &[]));
    }

    #[test]
    fn a_later_restatement_or_reply_supersedes_and_takes_the_score() {
        let original = hit("The Zorvik review is on March 14.", 1, 1, 0.8, 0);
        let mut reply = hit(
            "Correction: make that March 21, the room was taken.",
            1,
            5,
            0.2,
            1,
        );
        reply.reply_to = Some(original.source_id);
        reply.context = Some(original.text.clone());
        reply.context_similarity = Some(0.8);
        let restated = hit("Noted, Zorvik review on March 14.", 1, 3, 0.75, 0);
        let thanks = hit("thanks!", 1, 9, 0.1, 0);
        let elsewhere = hit("The Zorvik review is on May 2.", 2, 7, 0.8, 0);
        let ranked = rerank(
            "When is the Zorvik review?",
            vec![original, restated, reply, thanks, elsewhere],
            &HashSet::new(),
        );
        let superseded: Vec<&str> = ranked
            .iter()
            .filter(|r| r.superseded)
            .map(|r| r.hit.text.as_str())
            .collect();
        assert_eq!(
            superseded,
            vec![
                "The Zorvik review is on March 14.",
                "Noted, Zorvik review on March 14."
            ],
            "the original, and the restatement through the reply's parent; another room's \
             statement and a bare thanks supersede nothing"
        );
        assert!(
            ranked[0].hit.text.starts_with("Correction") || ranked[0].hit.text.contains("May 2")
        );
        let reply = ranked
            .iter()
            .find(|r| r.hit.text.starts_with("Correction"))
            .unwrap();
        let elsewhere = ranked
            .iter()
            .find(|r| r.hit.text.contains("May 2"))
            .unwrap();
        assert!(reply.score >= elsewhere.score * 0.99, "{ranked:?}");
    }

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
