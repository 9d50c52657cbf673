//! Seeding: a realistic dataset written straight into PostgreSQL with `COPY` (the one place the
//! generator bypasses the API, because a day of history through the API would take a day).
//!
//! Users are spread over organisations; inside one, each user is in a team room, a few channels
//! and a few DMs with friends, so room sizes are realistic (2, `team_size`, `channel_size`).
//! User `i` belongs to organisation `i % orgs`, so the first N users (the ones online at a given
//! scale) are spread evenly over every organisation, team and channel. Every seeded user shares
//! one password (one argon2 hash, computed once) and gets a session whose token goes into the
//! manifest that generator processes read.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Write as _,
};

use anyhow::{Context, bail};
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, SaltString, rand_core::OsRng},
};
use base64::Engine;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::profile::Dataset;

/// The password of every seeded user.
pub const PASSWORD: &str = "traffic-password-0";

/// A room's class, which decides its size and its share of the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomClass {
    Dm,
    Team,
    Channel,
}

/// One planned room with its members (user indices).
#[derive(Debug, Clone)]
pub struct PlannedRoom {
    pub class: RoomClass,
    pub name: String,
    pub members: Vec<u32>,
}

/// Where every user sits, before any id is drawn. Pure and deterministic: tested on its own.
#[derive(Debug, Clone)]
pub struct Plan {
    pub users: u32,
    pub orgs: u32,
    pub rooms: Vec<PlannedRoom>,
    /// Friend pairs (lower index first), one per DM.
    pub friendships: Vec<(u32, u32)>,
}

impl Plan {
    pub fn new(d: &Dataset) -> anyhow::Result<Plan> {
        let users = u32::try_from(d.users).context("too many users")?;
        let org_size = d.org_size as u32;
        let orgs = users.div_ceil(org_size);
        let mut rooms = Vec::new();
        let mut friendships = Vec::new();
        for org in 0..orgs {
            let size = users / orgs + u32::from(org < users % orgs);
            let global = |pos: u32| pos * orgs + org;
            let teams = size.div_ceil(d.team_size as u32).max(1);
            for t in 0..teams {
                let members: Vec<u32> = (t..size).step_by(teams as usize).map(global).collect();
                rooms.push(PlannedRoom {
                    class: RoomClass::Team,
                    name: format!("team {org}-{t}"),
                    members,
                });
            }
            let per_user = d.channels_per_user as u32;
            let channels = (size * per_user)
                .div_ceil(d.channel_size as u32)
                .max(per_user)
                .min(size.max(1));
            let joined = per_user.min(channels);
            let mut channel_members = vec![Vec::new(); channels as usize];
            for pos in 0..size {
                for j in 0..joined {
                    channel_members[((pos + j) % channels) as usize].push(global(pos));
                }
            }
            for (c, members) in channel_members.into_iter().enumerate() {
                rooms.push(PlannedRoom {
                    class: RoomClass::Channel,
                    name: format!("channel {org}-{c}"),
                    members,
                });
            }
            let half = (d.dms_per_user / 2) as u32;
            let step = (size / (2 * half + 1)).max(1);
            let mut seen = HashSet::new();
            for pos in 0..size {
                for k in 1..=half {
                    let other = (pos + k * step) % size;
                    let (a, b) = (global(pos.min(other)), global(pos.max(other)));
                    if a != b && seen.insert((a, b)) {
                        friendships.push((a, b));
                        rooms.push(PlannedRoom {
                            class: RoomClass::Dm,
                            name: String::new(),
                            members: vec![a, b],
                        });
                    }
                }
            }
        }
        Ok(Plan {
            users,
            orgs,
            rooms,
            friendships,
        })
    }

    /// Indices of the rooms of one class.
    pub fn rooms_of(&self, class: RoomClass) -> Vec<usize> {
        (0..self.rooms.len())
            .filter(|i| self.rooms[*i].class == class)
            .collect()
    }
}

/// What generator processes need from the seed: who the users are and how to get in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub password: String,
    pub users: Vec<SeededUser>,
    /// The class of every seeded room.
    pub rooms: BTreeMap<Uuid, RoomClass>,
    pub counts: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub id: Uuid,
    pub username: String,
    /// A session inserted by the seed (`None`: this user must log in over the API).
    pub token: Option<String>,
}

/// Words for message bodies, task titles and searches.
pub const WORDS: &[&str] = &[
    "deploy",
    "backup",
    "release",
    "invoice",
    "meeting",
    "design",
    "review",
    "budget",
    "server",
    "database",
    "customer",
    "roadmap",
    "sprint",
    "bug",
    "fix",
    "launch",
    "report",
    "metrics",
    "onboarding",
    "contract",
    "schedule",
    "incident",
    "rollback",
    "feature",
    "campaign",
    "hiring",
    "security",
    "migration",
    "latency",
    "dashboard",
    "quarter",
    "planning",
    "support",
    "ticket",
    "vendor",
    "payroll",
    "travel",
    "workshop",
    "prototype",
    "feedback",
    "testing",
    "staging",
    "pipeline",
    "cache",
    "network",
    "storage",
    "mobile",
    "browser",
    "api",
    "docs",
    "lunch",
    "friday",
    "monday",
    "tomorrow",
    "today",
    "urgent",
    "later",
    "thanks",
    "great",
    "agreed",
];

/// A sentence of `n` words from the vocabulary.
pub fn sentence(rng: &mut impl Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    s
}

/// Escapes a value for PostgreSQL's COPY text format.
pub fn copy_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Streams rows into one `COPY ... FROM STDIN`, a megabyte at a time.
struct CopyWriter<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut PgConnection>,
    buf: String,
    rows: u64,
}

impl<'c> CopyWriter<'c> {
    async fn start(conn: &'c mut PgConnection, statement: &str) -> anyhow::Result<Self> {
        let copy = conn
            .copy_in_raw(statement)
            .await
            .with_context(|| statement.to_owned())?;
        Ok(CopyWriter {
            copy,
            buf: String::with_capacity(1 << 20),
            rows: 0,
        })
    }

    /// Adds one row; fields are already COPY text (`\N` for null).
    async fn row(&mut self, fields: &[&str]) -> anyhow::Result<()> {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push('\t');
            }
            self.buf.push_str(f);
        }
        self.buf.push('\n');
        self.rows += 1;
        if self.buf.len() >= 1 << 20 {
            self.copy
                .send(std::mem::take(&mut self.buf).into_bytes())
                .await?;
            self.buf.reserve(1 << 20);
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<u64> {
        if !self.buf.is_empty() {
            self.copy
                .send(std::mem::take(&mut self.buf).into_bytes())
                .await?;
        }
        self.copy.finish().await?;
        Ok(self.rows)
    }
}

/// Options of one seeding run.
pub struct SeedOptions {
    /// Share of users who get no seeded session and must log in over the API.
    pub login_share: f64,
    pub seed: u64,
    /// Progress messages go here.
    pub log: fn(&str),
}

/// The argon2id hash (server defaults: 19 MiB, 2 passes) of [`PASSWORD`].
pub fn password_hash() -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hash password: {e}"))
}

fn new_token(rng: &mut impl Rng) -> String {
    let bytes: [u8; 32] = rng.r#gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Writes the dataset into the (migrated, empty) database at `database_url` and returns the
/// manifest. Refuses a database that already has users.
pub async fn seed(
    database_url: &str,
    dataset: &Dataset,
    options: &SeedOptions,
) -> anyhow::Result<Manifest> {
    let log = options.log;
    let plan = Plan::new(dataset)?;
    let mut conn = PgConnection::connect(database_url)
        .await
        .context("connect to PostgreSQL")?;
    let existing: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut conn)
        .await
        .context("read users (is the database migrated? run `flowly migrate`)")?;
    if existing > 0 {
        bail!("the database already has {existing} users; seed an empty, migrated database");
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    let hash = copy_text(&password_hash()?);
    let mut counts = BTreeMap::new();
    let user_ids: Vec<Uuid> = (0..plan.users).map(|_| Uuid::now_v7()).collect();

    log(&format!("users: {}", plan.users));
    let mut users = Vec::with_capacity(plan.users as usize);
    let mut w = CopyWriter::start(
        &mut conn,
        "copy users (id, username, display_name, password_hash) from stdin",
    )
    .await?;
    for (i, id) in user_ids.iter().enumerate() {
        let username = format!("load{i:06}");
        let display = format!("Load User {i}");
        w.row(&[&id.to_string(), &username, &display, &hash])
            .await?;
        users.push(SeededUser {
            id: *id,
            username,
            token: None,
        });
    }
    counts.insert("users".into(), w.finish().await?);

    log(&format!("friendships: {}", plan.friendships.len() * 2));
    let mut w = CopyWriter::start(
        &mut conn,
        "copy friendships (user_id, friend_id) from stdin",
    )
    .await?;
    for (a, b) in &plan.friendships {
        let (a, b) = (
            user_ids[*a as usize].to_string(),
            user_ids[*b as usize].to_string(),
        );
        w.row(&[&a, &b]).await?;
        w.row(&[&b, &a]).await?;
    }
    counts.insert("friendships".into(), w.finish().await?);

    log(&format!("rooms: {}", plan.rooms.len()));
    let room_ids: Vec<Uuid> = (0..plan.rooms.len()).map(|_| Uuid::now_v7()).collect();
    let mut w = CopyWriter::start(
        &mut conn,
        "copy rooms (id, kind, name, dm_key, created_by) from stdin",
    )
    .await?;
    for (room, id) in plan.rooms.iter().zip(&room_ids) {
        let first = user_ids[room.members[0] as usize];
        let (kind, key) = match room.class {
            RoomClass::Dm => {
                let (a, b) = (first, user_ids[room.members[1] as usize]);
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                ("dm", format!("dm:{lo}:{hi}"))
            }
            _ => ("group", "\\N".to_owned()),
        };
        w.row(&[
            &id.to_string(),
            kind,
            &copy_text(&room.name),
            &key,
            &first.to_string(),
        ])
        .await?;
    }
    counts.insert("rooms".into(), w.finish().await?);

    let mut w = CopyWriter::start(
        &mut conn,
        "copy room_members (room_id, user_id, role) from stdin",
    )
    .await?;
    for (room, id) in plan.rooms.iter().zip(&room_ids) {
        let id = id.to_string();
        for (k, m) in room.members.iter().enumerate() {
            let role = if k == 0 && room.class != RoomClass::Dm {
                "owner"
            } else {
                "member"
            };
            w.row(&[&id, &user_ids[*m as usize].to_string(), role])
                .await?;
        }
    }
    counts.insert("room_members".into(), w.finish().await?);

    // History: each class gets the share of messages it gets live (35/25/40), spread over its
    // rooms, oldest first, so seq and created_at rise together.
    log(&format!("messages: {}", dataset.history_messages));
    let classes = [
        (RoomClass::Dm, 0.35),
        (RoomClass::Team, 0.25),
        (RoomClass::Channel, 0.40),
    ];
    let mut last_seq = vec![0i64; plan.rooms.len()];
    let mut planned = Vec::new();
    for (class, share) in classes {
        let rooms = plan.rooms_of(class);
        if rooms.is_empty() {
            continue;
        }
        let n = (dataset.history_messages as f64 * share).round() as u64;
        for m in 0..n {
            planned.push(rooms[(m % rooms.len() as u64) as usize]);
        }
    }
    let total = planned.len() as i64;
    let mut w = CopyWriter::start(
        &mut conn,
        "copy messages (id, room_id, seq, author_id, body, created_at) from stdin",
    )
    .await?;
    let now = chrono::Utc::now();
    let mut room_messages: Vec<Vec<Uuid>> = vec![Vec::new(); plan.rooms.len()];
    for (k, r) in planned.iter().enumerate() {
        let room = &plan.rooms[*r];
        last_seq[*r] += 1;
        let author = room.members[rng.gen_range(0..room.members.len())];
        let id = Uuid::now_v7();
        // 30 days of history, evenly spread.
        let at = now - chrono::Duration::seconds((total - k as i64) * 2_592_000 / total.max(1));
        let words = rng.gen_range(3..20);
        w.row(&[
            &id.to_string(),
            &room_ids[*r].to_string(),
            &last_seq[*r].to_string(),
            &user_ids[author as usize].to_string(),
            &sentence(&mut rng, words),
            &at.to_rfc3339(),
        ])
        .await?;
        if room.class == RoomClass::Team {
            room_messages[*r].push(id);
        }
    }
    counts.insert("messages".into(), w.finish().await?);

    log("room events and sequence numbers");
    let events = sqlx::query(
        "insert into room_events (room_id, seq, type, data, created_at)
         select m.room_id, m.seq, 'message.created', jsonb_build_object('message', to_jsonb(m) - 'tsv'), m.created_at
         from messages m",
    )
    .execute(&mut conn)
    .await?
    .rows_affected();
    counts.insert("room_events".into(), events);
    sqlx::query(
        "update rooms r set last_seq = m.last from
         (select room_id, max(seq) as last from messages group by room_id) m where r.id = m.room_id",
    )
    .execute(&mut conn)
    .await?;
    // The seeded history stays out of the assistant's index: embedding 300,000 messages takes
    // about half an hour on a 2-core box, and a run measures the steady state (new messages
    // indexed as they arrive), not a backfill. `flowly assistant reindex` indexes it when wanted.
    sqlx::query(
        "insert into assistant_index_cursors (room_id, seq) select id, last_seq from rooms
         on conflict (room_id) do update set seq = excluded.seq, updated_at = now()",
    )
    .execute(&mut conn)
    .await?;

    log(&format!("tasks: {}", dataset.tasks));
    let teams = plan.rooms_of(RoomClass::Team);
    let mut w = CopyWriter::start(
        &mut conn,
        "copy tasks (id, room_id, creator_id, title, status, priority, assignee_id, position, completed_at) from stdin",
    )
    .await?;
    if !teams.is_empty() {
        for k in 0..dataset.tasks {
            let r = teams[(k % teams.len() as u64) as usize];
            let room = &plan.rooms[r];
            let creator = room.members[rng.gen_range(0..room.members.len())];
            let assignee = room.members[rng.gen_range(0..room.members.len())];
            let status = match rng.gen_range(0..20) {
                0..=9 => "todo",
                10..=14 => "doing",
                15 => "blocked",
                _ => "done",
            };
            let priority = ["low", "normal", "normal", "high", "urgent"][rng.gen_range(0..5)];
            let words = rng.gen_range(2..7);
            let title = format!("{} {k}", sentence(&mut rng, words));
            let completed = if status == "done" {
                now.to_rfc3339()
            } else {
                "\\N".into()
            };
            w.row(&[
                &Uuid::now_v7().to_string(),
                &room_ids[r].to_string(),
                &user_ids[creator as usize].to_string(),
                &title,
                status,
                priority,
                &user_ids[assignee as usize].to_string(),
                &(k / teams.len() as u64).to_string(),
                &completed,
            ])
            .await?;
        }
    }
    counts.insert("tasks".into(), w.finish().await?);

    // Sessions: all but `login_share` of the users (evenly spaced) get one, as a browser that
    // stayed logged in; the rest log in over the API when the run starts.
    let login_every = if options.login_share > 0.0 {
        (1.0 / options.login_share).round().max(1.0) as usize
    } else {
        0
    };
    let mut w = CopyWriter::start(
        &mut conn,
        "copy sessions (id, user_id, token_hash, user_agent, ip, expires_at) from stdin",
    )
    .await?;
    let expires = (now + chrono::Duration::days(30)).to_rfc3339();
    for (i, user) in users.iter_mut().enumerate() {
        if login_every > 0 && i % login_every == login_every - 1 {
            continue;
        }
        let token = new_token(&mut rng);
        let mut hash = String::from("\\\\x");
        for b in Sha256::digest(token.as_bytes()) {
            let _ = write!(hash, "{b:02x}");
        }
        w.row(&[
            &Uuid::now_v7().to_string(),
            &user.id.to_string(),
            &hash,
            "flowly-traffic (seeded)",
            "127.0.0.1",
            &expires,
        ])
        .await?;
        user.token = Some(token);
    }
    counts.insert("sessions".into(), w.finish().await?);
    sqlx::query("analyze").execute(&mut conn).await?;

    let rooms = plan
        .rooms
        .iter()
        .zip(&room_ids)
        .map(|(r, id)| (*id, r.class))
        .collect();
    Ok(Manifest {
        password: PASSWORD.into(),
        users,
        rooms,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn dataset(users: u64) -> Dataset {
        Dataset {
            users,
            org_size: 500,
            team_size: 10,
            channel_size: 250,
            channels_per_user: 2,
            dms_per_user: 4,
            history_messages: 0,
            tasks: 0,
        }
    }

    #[test]
    fn every_user_has_a_team_channels_and_dms_of_realistic_sizes() {
        let plan = Plan::new(&dataset(5_000)).unwrap();
        assert_eq!(plan.orgs, 10);
        let mut per_user: HashMap<u32, HashMap<RoomClass, usize>> = HashMap::new();
        for room in &plan.rooms {
            let size = room.members.len();
            match room.class {
                RoomClass::Dm => assert_eq!(size, 2),
                RoomClass::Team => assert_eq!(size, 10),
                RoomClass::Channel => assert_eq!(size, 250),
            }
            // A room never mixes organisations, and nobody is in a room twice.
            let org = room.members[0] % plan.orgs;
            assert!(room.members.iter().all(|m| m % plan.orgs == org));
            let unique: HashSet<_> = room.members.iter().collect();
            assert_eq!(unique.len(), size);
            for m in &room.members {
                *per_user
                    .entry(*m)
                    .or_default()
                    .entry(room.class)
                    .or_default() += 1;
            }
        }
        assert_eq!(per_user.len(), 5_000);
        for rooms in per_user.values() {
            assert_eq!(rooms[&RoomClass::Team], 1);
            assert_eq!(rooms[&RoomClass::Channel], 2);
            assert_eq!(rooms[&RoomClass::Dm], 4);
        }
        assert_eq!(plan.friendships.len(), plan.rooms_of(RoomClass::Dm).len());
    }

    #[test]
    fn the_first_users_are_spread_over_every_team() {
        // At 30% online, every team has about 3 of its 10 members among the first users.
        let plan = Plan::new(&dataset(10_000)).unwrap();
        for i in plan.rooms_of(RoomClass::Team) {
            let online = plan.rooms[i].members.iter().filter(|m| **m < 3_000).count();
            assert!((2..=4).contains(&online), "{online}");
        }
    }

    #[test]
    fn uneven_organisations_still_place_everyone() {
        let mut d = dataset(1_234);
        d.org_size = 100;
        d.team_size = 7;
        d.channel_size = 40;
        let plan = Plan::new(&d).unwrap();
        let mut seen = HashSet::new();
        for room in plan.rooms.iter().filter(|r| r.class == RoomClass::Team) {
            seen.extend(room.members.iter().copied());
        }
        assert_eq!(seen.len(), 1_234);
        let pairs: HashSet<_> = plan.friendships.iter().collect();
        assert_eq!(pairs.len(), plan.friendships.len());
        assert!(plan.friendships.iter().all(|(a, b)| a < b));
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        assert_eq!(copy_text("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
        assert_eq!(copy_text("plain words"), "plain words");
    }

    #[test]
    fn the_shared_hash_verifies_the_shared_password() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let hash = password_hash().unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }
}
