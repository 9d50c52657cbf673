//! `flowly assistant eval`: how far the assistant's answers can be trusted, per kind of
//! question. The corpus comes from [`flowly_dataset::assistant`] (which knows nothing of
//! retrieval or answering); this module loads it into a scratch database, asks every question
//! as its asker through the same path the worker answers with ([`super::answer`]), and scores:
//!
//! - **recall@5**: the share of a question's sources among the first five retrieved chunks;
//! - **citation recall**: the share of its sources the answer cites;
//! - **citation precision**: of everything answers cite, the share that are sources;
//! - **exact fact**: the answer contains every expected fact string;
//! - **not found**: the answer is [`super::answer::NOT_FOUND`] (right for the unanswerable
//!   categories, wrong for the others);
//! - **leaks**: an answer citing or retrieving a room the asker is not in, or containing a hidden
//!   room's fact. Must be 0.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use flowly_dataset::assistant::{self as team, Category, SourceRef};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    Embedder, Generator,
    answer::{self, Ask, NOT_FOUND},
    index::IndexError,
};
use crate::store;

/// The corpus's ids as loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub users: Vec<Uuid>,
    pub rooms: Vec<Uuid>,
    pub messages: Vec<Uuid>,
    pub tasks: Vec<Uuid>,
}

impl Loaded {
    fn source(&self, s: SourceRef) -> Uuid {
        match s {
            SourceRef::Message(m) => self.messages[m],
            SourceRef::Task(t) => self.tasks[t],
        }
    }
}

/// Loads `corpus` into `db` (which should be empty). Ids come from `seed`.
pub async fn load(db: &PgPool, corpus: &team::Corpus, seed: u64) -> Result<Loaded, IndexError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = |n: usize| -> Vec<Uuid> {
        (0..n)
            .map(|_| uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid())
            .collect()
    };
    let loaded = Loaded {
        users: ids(corpus.users.len()),
        rooms: ids(corpus.rooms.len()),
        messages: ids(corpus.messages.len()),
        tasks: ids(corpus.tasks.len()),
    };
    let start = Utc
        .with_ymd_and_hms(2026, 9, 1, 8, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    // The corpus orders within a span of 1,000,000: six seconds each is about ten weeks.
    let at = |order: u32| start + Duration::seconds(i64::from(order) * 6);
    let mut tx = store::begin(db).await?;
    store::corpus::insert_users(&mut tx, &loaded.users, &corpus.users).await?;
    for (r, room) in corpus.rooms.iter().enumerate() {
        let members: Vec<Uuid> = room.members.iter().map(|&u| loaded.users[u]).collect();
        store::corpus::insert_room(&mut tx, loaded.rooms[r], &room.name, &members).await?;
    }
    for (t, task) in corpus.tasks.iter().enumerate() {
        let due_on = task
            .due_on
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let new = store::corpus::NewTask {
            id: loaded.tasks[t],
            room: loaded.rooms[task.room],
            creator: loaded.users[task.creator],
            assignee: task.assignee.map(|a| loaded.users[a]),
            title: &task.title,
            description: &task.description,
            due_on,
            created_at: at(task.order),
        };
        store::corpus::insert_task(&mut tx, &new).await?;
    }
    let mut by_room: Vec<Vec<usize>> = vec![Vec::new(); corpus.rooms.len()];
    for (i, m) in corpus.messages.iter().enumerate() {
        by_room[m.room].push(i);
    }
    for (r, mut order) in by_room.into_iter().enumerate() {
        order.sort_by_key(|&i| (corpus.messages[i].order, i));
        let mut batch = store::corpus::Messages::default();
        for i in order {
            let m = &corpus.messages[i];
            batch.ids.push(loaded.messages[i]);
            batch.authors.push(loaded.users[m.author]);
            batch.bodies.push(m.body.clone());
            batch.times.push(at(m.order));
            batch.reply_to.push(m.reply_to.map(|p| loaded.messages[p]));
            batch.tasks.push(m.task.map(|t| loaded.tasks[t]));
        }
        store::corpus::insert_messages(&mut tx, loaded.rooms[r], &batch).await?;
    }
    tx.commit().await?;
    Ok(loaded)
}

/// Sums over the questions of one category (or several).
#[derive(Debug, Clone, Default)]
pub struct Scores {
    pub questions: usize,
    recall_at_5: f64,
    citation_recall: f64,
    pub cited: usize,
    cited_right: usize,
    exact: usize,
    pub not_found: usize,
    pub leaks: usize,
}

impl Scores {
    fn add(&mut self, other: &Scores) {
        self.questions += other.questions;
        self.recall_at_5 += other.recall_at_5;
        self.citation_recall += other.citation_recall;
        self.cited += other.cited;
        self.cited_right += other.cited_right;
        self.exact += other.exact;
        self.not_found += other.not_found;
        self.leaks += other.leaks;
    }

    fn share(&self, sum: f64) -> f64 {
        sum / self.questions.max(1) as f64
    }

    pub fn recall_at_5(&self) -> f64 {
        self.share(self.recall_at_5)
    }

    pub fn citation_recall(&self) -> f64 {
        self.share(self.citation_recall)
    }

    /// `None` when nothing was cited.
    pub fn citation_precision(&self) -> Option<f64> {
        (self.cited > 0).then(|| self.cited_right as f64 / self.cited as f64)
    }

    pub fn exact_fact(&self) -> f64 {
        self.share(self.exact as f64)
    }

    pub fn not_found_rate(&self) -> f64 {
        self.share(self.not_found as f64)
    }
}

/// Scores per category.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub categories: BTreeMap<Category, Scores>,
    /// For each question: whether it is answerable, and the best supporting passage's score.
    pub best_scores: Vec<(bool, Option<f64>)>,
    /// Questions answered wrongly (no exact fact, or "not found" where an answer exists or the
    /// other way round): category, question, expected facts, answer.
    pub misses: Vec<String>,
}

impl Report {
    /// All answerable (or all unanswerable) categories together.
    pub fn total(&self, answerable: bool) -> Scores {
        let mut total = Scores::default();
        for (c, s) in &self.categories {
            if c.answerable() == answerable {
                total.add(s);
            }
        }
        total
    }

    pub fn leaks(&self) -> usize {
        self.categories.values().map(|s| s.leaks).sum()
    }

    /// How `answer_min_score` trades answers for "not found": for thresholds around the
    /// configured one, the share of unanswerable questions that would get "not found" and the
    /// share of answerable ones that would lose their answer.
    pub fn calibration(&self) -> String {
        let mut out = String::from(
            "| answer_min_score | unanswerable: not found | answerable: not found |\n| --- | --- | --- |\n",
        );
        let share = |answerable: bool, t: f64| {
            let of: Vec<_> = self
                .best_scores
                .iter()
                .filter(|(a, _)| *a == answerable)
                .collect();
            let below = of.iter().filter(|(_, s)| s.is_none_or(|s| s < t)).count();
            below as f64 / of.len().max(1) as f64
        };
        for step in 10..=24 {
            let t = f64::from(step) * 0.05;
            out.push_str(&format!(
                "| {t:.2} | {:.3} | {:.3} |\n",
                share(false, t),
                share(true, t)
            ));
        }
        out
    }

    /// The report as a Markdown table (the form `docs/assistant.md` shows).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| category | questions | recall@5 | citation recall | citation precision | exact fact | not found | leaks |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        let row = |name: &str, s: &Scores, answerable: bool| {
            let dash = |v: f64| {
                if answerable {
                    format!("{v:.3}")
                } else {
                    "–".to_owned()
                }
            };
            format!(
                "| {name} | {} | {} | {} | {} | {} | {:.3} | {} |\n",
                s.questions,
                dash(s.recall_at_5()),
                dash(s.citation_recall()),
                match (answerable, s.citation_precision()) {
                    (true, Some(p)) => format!("{p:.3} ({})", s.cited),
                    (true, None) => "n/a".to_owned(),
                    (false, _) => format!("({} cited)", s.cited),
                },
                dash(s.exact_fact()),
                s.not_found_rate(),
                s.leaks
            )
        };
        for (c, s) in &self.categories {
            out.push_str(&row(c.name(), s, c.answerable()));
        }
        out.push_str(&row("**all answerable**", &self.total(true), true));
        out.push_str(&row("**all unanswerable**", &self.total(false), false));
        out
    }
}

/// How one question went.
fn score(
    question: &team::Question,
    sources: &[Uuid],
    mine: &HashSet<Uuid>,
    got: &answer::Answer,
) -> Scores {
    let top5: Vec<Uuid> = got.hits.iter().take(5).map(|h| h.hit.source_id).collect();
    let cited: Vec<Uuid> = got.citations.iter().map(|c| c.id).collect();
    let share_of_sources = |found: &[Uuid]| {
        sources.iter().filter(|s| found.contains(s)).count() as f64 / sources.len().max(1) as f64
    };
    let text = got.text.to_lowercase();
    let leaked = got.hits.iter().any(|h| !mine.contains(&h.hit.room_id))
        || got.citations.iter().any(|c| !mine.contains(&c.room))
        || question
            .secrets
            .iter()
            .any(|s| text.contains(&s.to_lowercase()));
    Scores {
        questions: 1,
        recall_at_5: share_of_sources(&top5),
        citation_recall: share_of_sources(&cited),
        cited: cited.len(),
        cited_right: cited.iter().filter(|c| sources.contains(c)).count(),
        exact: usize::from(
            !question.facts.is_empty()
                && question
                    .facts
                    .iter()
                    .all(|f| text.contains(&f.to_lowercase())),
        ),
        not_found: usize::from(got.text.starts_with(NOT_FOUND)),
        leaks: usize::from(leaked),
    }
}

/// What the evaluation answers with.
pub struct Setup<'a> {
    pub embedder: &'a dyn Embedder,
    pub generator: &'a dyn Generator,
    pub top_k: usize,
    pub max_tokens: usize,
    pub min_score: f64,
    pub keep_ratio: f64,
}

/// Asks every question of `corpus` (loaded as `loaded`) as its asker across all their rooms.
pub async fn evaluate(
    db: &PgPool,
    setup: &Setup<'_>,
    corpus: &team::Corpus,
    loaded: &Loaded,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Report, IndexError> {
    let mut report = Report::default();
    for question in &corpus.questions {
        let mine: HashSet<Uuid> = corpus
            .rooms
            .iter()
            .enumerate()
            .filter(|(_, r)| r.members.contains(&question.asker))
            .map(|(i, _)| loaded.rooms[i])
            .collect();
        let sources: Vec<Uuid> = question.sources.iter().map(|&s| loaded.source(s)).collect();
        let ask = Ask {
            viewer: loaded.users[question.asker],
            room: None,
            question: &question.text,
            top_k: setup.top_k.max(5),
            max_tokens: setup.max_tokens,
            min_score: setup.min_score,
            keep_ratio: setup.keep_ratio,
        };
        // Nobody reads the pieces here: a closed receiver lets the generator run on.
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let got = answer::answer(db, setup.embedder, setup.generator, &ask, tx).await?;
        let scores = score(question, &sources, &mine, &got);
        report
            .best_scores
            .push((question.category.answerable(), got.best_score));
        let wrong = if question.category.answerable() {
            scores.exact == 0
        } else {
            scores.not_found == 0
        };
        if wrong {
            report.misses.push(format!(
                "[{}] {} | expected {:?} | got: {} (best score {:.3})",
                question.category.name(),
                question.text,
                question.facts,
                got.text,
                got.best_score.unwrap_or(0.0)
            ));
        }
        report
            .categories
            .entry(question.category)
            .or_default()
            .add(&scores);
        progress(1);
    }
    Ok(report)
}
