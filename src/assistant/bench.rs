//! `flowly assistant bench`: a generated team corpus (deterministic for a seed) and the speed of
//! embedding and retrieving it (throughput, retrieval latency). Answer quality is measured by
//! [`super::eval`] on a corpus made for it.
//!
//! The corpus: rooms of eight people chatting (stand-ups, reviews, lunch, builds: filler drawn
//! from templates with varying details) and, hidden among them, one fact per question — a
//! launch date, a port, a budget owner, a vendor renewal — about a unique made-up name, some
//! confirmed again later in the room. Each question paraphrases its fact (different words than
//! the message, so the vector branch matters) and is asked across every room the asker is in,
//! so the other rooms' messages compete. The known sources are the fact and its confirmation.

use std::{collections::HashMap, sync::Arc, time::Instant};

use chrono::{Duration, TimeZone, Utc};
use flowly_dataset::assistant::{PEOPLE, WEEKDAYS, chatter};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Embedder,
    index::{IndexError, Indexer},
};
use crate::store;

/// The size of a generated corpus.
#[derive(Debug, Clone, Copy)]
pub struct CorpusSize {
    pub rooms: usize,
    pub messages: usize,
    pub questions: usize,
    pub seed: u64,
}

/// A question with the messages that answer it.
#[derive(Debug, Clone)]
pub struct Question {
    pub asker: Uuid,
    pub text: String,
    pub sources: Vec<Uuid>,
}

/// What was generated and loaded.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub users: Vec<Uuid>,
    pub rooms: Vec<Uuid>,
    pub messages: usize,
    pub questions: Vec<Question>,
}

const TEAMS: &[&str] = &[
    "general",
    "backend",
    "frontend",
    "design",
    "ops",
    "sales",
    "support",
    "marketing",
    "data",
    "mobile",
    "security",
    "finance",
    "hiring",
    "platform",
    "growth",
    "docs",
    "qa",
    "infra",
    "partners",
    "research",
    "legal",
    "events",
    "billing",
    "search",
    "payments",
];

const SYLLABLES: &[&str] = &[
    "zor", "vik", "tam", "blo", "quen", "dra", "mip", "sul", "fen", "rax", "lum", "pov", "kesh",
    "tir", "gal", "nob", "wex", "yul", "cor", "zan", "bri", "hol", "jax", "mor",
];

/// Everyday chatter with details filled in: the dataset's, its first 24 kinds (what this
/// benchmark always drew).
fn filler(rng: &mut StdRng) -> String {
    chatter(rng, 24)
}

/// A unique made-up name: the fact's subject.
fn codename(rng: &mut StdRng, used: &mut std::collections::HashSet<String>) -> String {
    loop {
        let parts = rng.gen_range(2..4);
        let mut name: String = (0..parts)
            .map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())])
            .collect();
        if let Some(first) = name.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        if used.insert(name.to_lowercase()) {
            return name;
        }
    }
}

/// A fact message, an optional later confirmation, and the question that asks for it.
fn fact(rng: &mut StdRng, name: &str) -> (String, Option<String>, String) {
    let p = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let d = WEEKDAYS[rng.gen_range(0..WEEKDAYS.len())];
    let day = rng.gen_range(1..28);
    let port = rng.gen_range(3000..9999);
    let amount = rng.gen_range(2..90) * 1000;
    match rng.gen_range(0..8) {
        0 => (
            format!(
                "Heads up: the {name} launch slipped to {d} the {day}th because the vendor is late."
            ),
            Some(format!(
                "Confirming the new {name} launch date is {d} the {day}th."
            )),
            format!("When is {name} going live now?"),
        ),
        1 => (
            format!("After the migration the {name} service listens on port {port}."),
            None,
            format!("Which port should I use to reach {name}?"),
        ),
        2 => (
            format!("{p} owns the {name} budget this quarter, ask {p} before ordering anything."),
            Some(format!("Yes, {name} spending goes through {p}.")),
            format!("Who approves purchases for {name}?"),
        ),
        3 => (
            format!("We settled on Postgres for {name} instead of Mongo, less to operate."),
            None,
            format!("What database did we choose for {name}?"),
        ),
        4 => (
            format!("The {name} contract renews on the {day}th and costs {amount} euros a year."),
            None,
            format!("How much do we pay for {name} and when is the renewal?"),
        ),
        5 => (
            format!(
                "Customer {name} says exports time out when the report has more than {port} rows."
            ),
            Some(format!(
                "{name} again: the export timeout hit them twice today."
            )),
            format!("What issue did {name} complain about?"),
        ),
        6 => (
            format!("The {name} offsite is booked at the lake hotel on {d} the {day}th."),
            None,
            format!("Where is the {name} offsite happening?"),
        ),
        _ => (
            format!("The {name} dashboards moved to the grafana folder called ops-{port}."),
            None,
            format!("Where can I find the {name} graphs?"),
        ),
    }
}

/// Generates the corpus for `size` and loads it into `db` (which should be empty).
pub async fn load(db: &PgPool, size: CorpusSize) -> Result<Corpus, IndexError> {
    let mut rng = StdRng::seed_from_u64(size.seed);
    let user_count = (size.rooms * 8 / 4).max(8);
    let users: Vec<Uuid> = (0..user_count).map(|_| uuid_from(&mut rng)).collect();
    let names: Vec<String> = (0..user_count).map(|i| format!("member{i:04}")).collect();
    let mut tx = crate::store::begin(db).await?;
    store::corpus::insert_users(&mut tx, &users, &names).await?;
    let mut rooms = Vec::new();
    let mut members: Vec<Vec<Uuid>> = Vec::new();
    for r in 0..size.rooms {
        let id = uuid_from(&mut rng);
        let mut picked = users.clone();
        picked.shuffle(&mut rng);
        picked.truncate(8);
        let name = match TEAMS.get(r) {
            Some(t) => (*t).to_owned(),
            None => format!("{}-{}", TEAMS[r % TEAMS.len()], r / TEAMS.len()),
        };
        store::corpus::insert_room(&mut tx, id, &name, &picked).await?;
        rooms.push(id);
        members.push(picked);
    }
    // Facts go to rooms in turn, at random places in each room's stream.
    let per_room = size.messages / size.rooms.max(1);
    let mut used = std::collections::HashSet::new();
    let mut planted: HashMap<(usize, usize), String> = HashMap::new();
    let mut questions_at: Vec<(usize, usize, Option<usize>, String)> = Vec::new();
    for q in 0..size.questions {
        let room = q % size.rooms.max(1);
        let name = codename(&mut rng, &mut used);
        let (message, confirm, question) = fact(&mut rng, &name);
        let at = loop {
            let at = rng.gen_range(0..per_room.saturating_sub(1).max(1));
            if !planted.contains_key(&(room, at)) && !planted.contains_key(&(room, at + 1)) {
                break at;
            }
        };
        planted.insert((room, at), message);
        let confirm_at = confirm.and_then(|c| {
            (at + 2..per_room)
                .find(|i| !planted.contains_key(&(room, *i)))
                .inspect(|&i| {
                    planted.insert((room, i), c);
                })
        });
        questions_at.push((room, at, confirm_at, question));
    }
    let start = Utc
        .with_ymd_and_hms(2026, 9, 1, 8, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut ids_at: HashMap<(usize, usize), Uuid> = HashMap::new();
    let mut total = 0;
    for (r, room) in rooms.iter().enumerate() {
        let count = if r + 1 == size.rooms {
            size.messages - per_room * (size.rooms - 1)
        } else {
            per_room
        };
        let mut batch = store::corpus::Messages::default();
        for i in 0..count {
            let id = uuid_from(&mut rng);
            let body = planted
                .get(&(r, i))
                .cloned()
                .unwrap_or_else(|| filler(&mut rng));
            ids_at.insert((r, i), id);
            batch.ids.push(id);
            batch
                .authors
                .push(members[r][rng.gen_range(0..members[r].len())]);
            batch.bodies.push(body);
            batch.times.push(start + Duration::minutes((i * 7) as i64));
            batch.reply_to.push(None);
            batch.tasks.push(None);
        }
        store::corpus::insert_messages(&mut tx, *room, &batch).await?;
        total += count;
    }
    tx.commit().await?;
    let questions = questions_at
        .into_iter()
        .map(|(room, at, confirm, text)| Question {
            asker: members[room][rng.gen_range(0..members[room].len())],
            text,
            sources: [Some(at), confirm]
                .into_iter()
                .flatten()
                .filter_map(|i| ids_at.get(&(room, i)).copied())
                .collect(),
        })
        .collect();
    Ok(Corpus {
        users,
        rooms,
        messages: total,
        questions,
    })
}

fn uuid_from(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid()
}

/// Embedding and retrieval speed.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub chunks: i64,
    pub embed_secs: f64,
    pub chunks_per_sec: f64,
    pub queries: usize,
    /// Retrieval alone (the SQL: HNSW + full text + fusion), microseconds.
    pub search_p50_us: u64,
    pub search_p99_us: u64,
    /// Including embedding the question, microseconds.
    pub total_p50_us: u64,
    pub total_p99_us: u64,
}

/// Indexes everything in `db` (timing it) and runs `queries` retrievals as random members.
pub async fn bench(
    db: &PgPool,
    embedder: Arc<dyn Embedder>,
    corpus: &Corpus,
    queries: usize,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<BenchReport, IndexError> {
    let indexer = Indexer::new(db.clone(), Arc::clone(&embedder));
    let started = Instant::now();
    indexer.reindex_all(progress).await?;
    let embed_secs = started.elapsed().as_secs_f64();
    let chunks = store::knowledge::count(db).await?;
    let mut search = hdrhistogram::Histogram::<u64>::new(3)
        .map_err(|e| super::ModelError::Inference(e.to_string()))?;
    let mut total = search.clone();
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..queries {
        let q = &corpus.questions[i % corpus.questions.len().max(1)];
        let asker = if i % 2 == 0 {
            q.asker
        } else {
            corpus.users[rng.gen_range(0..corpus.users.len())]
        };
        let t0 = Instant::now();
        let mut v = embedder.embed(std::slice::from_ref(&q.text)).await?;
        let vector = v.pop().unwrap_or_default();
        let t1 = Instant::now();
        let mut tx = crate::store::begin(db).await?;
        store::knowledge::search(
            &mut tx,
            asker,
            None,
            vector,
            &q.text,
            embedder.model(),
            60,
            5,
        )
        .await?;
        tx.commit().await?;
        let done = Instant::now();
        let _ = search.record((done - t1).as_micros() as u64);
        let _ = total.record((done - t0).as_micros() as u64);
    }
    Ok(BenchReport {
        chunks,
        embed_secs,
        chunks_per_sec: chunks as f64 / embed_secs.max(1e-9),
        queries,
        search_p50_us: search.value_at_quantile(0.5),
        search_p99_us: search.value_at_quantile(0.99),
        total_p50_us: total.value_at_quantile(0.5),
        total_p99_us: total.value_at_quantile(0.99),
    })
}
