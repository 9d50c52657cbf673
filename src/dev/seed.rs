//! `flowly dev seed`: a realistic dataset for benchmarks and the traffic generator, written into
//! an empty database with `COPY` (a day of history through the API would take a day), and the
//! [`Manifest`] that tells generator processes who the users are and how to get in.
//!
//! Users are spread over organisations; inside one, each user is in a team room, a few channels
//! and a few DMs with friends, so room sizes are realistic (2, `team_size`, `channel_size`).
//! User `i` belongs to organisation `i % orgs`, so the first N users (the ones online at a given
//! scale) are spread evenly over every organisation, team and channel. Every seeded user shares
//! [`PASSWORD`] (one hash with the configured argon2 parameters, computed once); all but a
//! `login_share` of them get a session whose token goes into the manifest, as a browser that
//! stayed logged in. Tokens and hashes come from [`crate::domain::auth`] and [`crate::app::auth`], as for any other session; the
//! SQL is in [`crate::store::seed`].

use std::collections::{BTreeMap, HashSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    app::auth::hash_password,
    config::AuthConfig,
    domain::auth::{new_token, token_hash},
    store::{
        self, StoreError,
        seed::{MemberRow, MessageRow, RoomRow, SessionRow, TaskRow, UserRow},
    },
};

/// The password of every seeded user.
pub const PASSWORD: &str = "traffic-password-0";

/// What to seed. The default is the `dau-150k` traffic profile's dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub users: u64,
    /// Users per organisation; DMs, teams and channels stay inside one.
    pub org_size: u64,
    pub team_size: u64,
    pub channel_size: u64,
    pub channels_per_user: u64,
    /// Even: each user has this many DM partners.
    pub dms_per_user: u64,
    pub history_messages: u64,
    pub tasks: u64,
}

impl Default for Dataset {
    fn default() -> Self {
        Dataset {
            users: 150_000,
            org_size: 500,
            team_size: 10,
            channel_size: 250,
            channels_per_user: 2,
            dms_per_user: 4,
            history_messages: 300_000,
            tasks: 60_000,
        }
    }
}

impl Dataset {
    /// The default dataset's shape for `users` users: organisations, teams and channels no larger
    /// than there are users.
    pub fn for_users(users: u64) -> Dataset {
        let d = Dataset::default();
        let org_size = d.org_size.min(users);
        Dataset {
            users,
            org_size,
            team_size: d.team_size.min(org_size),
            channel_size: d.channel_size.min(org_size),
            ..d
        }
    }

    /// Refuses shapes the plan cannot place (the same rules as a traffic profile's `[dataset]`).
    pub fn check(&self) -> Result<(), SeedError> {
        let bad = |why: &str| Err(SeedError::Dataset(why.to_owned()));
        if self.users < 2 || self.org_size < 2 || self.org_size > self.users {
            return bad("it needs at least 2 users and 2 <= org_size <= users");
        }
        if u32::try_from(self.users).is_err() {
            return bad("too many users");
        }
        if self.team_size < 2 || self.team_size > self.org_size {
            return bad("team_size must be between 2 and org_size");
        }
        if self.channel_size < 2 || self.channel_size > self.org_size {
            return bad("channel_size must be between 2 and org_size");
        }
        if self.channels_per_user == 0
            || self.channels_per_user * self.channel_size > self.org_size * 4
        {
            return bad("channels_per_user must be >= 1 and leave channels no larger than the org");
        }
        if !self.dms_per_user.is_multiple_of(2) || self.dms_per_user >= self.org_size {
            return bad("dms_per_user must be even and below org_size");
        }
        Ok(())
    }
}

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
    pub fn new(d: &Dataset) -> Result<Plan, SeedError> {
        d.check()?;
        let users =
            u32::try_from(d.users).map_err(|_| SeedError::Dataset("too many users".into()))?;
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

/// What generator processes need from the seed: who the users are and how to get in. Written as
/// JSON by `flowly dev seed --manifest FILE`; `flowly-traffic run --manifest FILE` reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The password every seeded user shares.
    pub password: String,
    pub users: Vec<SeededUser>,
    /// The class of every seeded room.
    pub rooms: BTreeMap<Uuid, RoomClass>,
    /// Rows written, by table.
    pub counts: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub id: Uuid,
    pub username: String,
    /// A session inserted by the seed (`None`: this user must log in over the API).
    pub token: Option<String>,
}

/// Words for message bodies and task titles (the generator searches for them).
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

/// Options of one seeding run.
pub struct SeedOptions {
    /// Share of users who get no seeded session and must log in over the API.
    pub login_share: f64,
    /// Seed of the random choices (authors, words, task fields); the plan itself is fixed.
    pub seed: u64,
    /// Progress messages go here.
    pub log: fn(&str),
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("invalid dataset: {0}")]
    Dataset(String),
    #[error("login_share must be between 0 and 1")]
    LoginShare,
    #[error("the database already has {0} users; seed an empty, migrated database")]
    NotEmpty(i64),
    #[error("hashing the shared password failed: {0}")]
    Password(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SeedError {
    fn from(e: sqlx::Error) -> Self {
        SeedError::Store(e.into())
    }
}

/// Writes `dataset` into the migrated, empty database `db` and returns the manifest. Passwords
/// are hashed with `auth`'s argon2 parameters and sessions last `auth.session_ttl_days`.
/// Refuses a database that already has users.
pub async fn seed(
    db: &PgPool,
    auth: &AuthConfig,
    dataset: &Dataset,
    options: &SeedOptions,
) -> Result<Manifest, SeedError> {
    let log = options.log;
    if !(0.0..=1.0).contains(&options.login_share) {
        return Err(SeedError::LoginShare);
    }
    let plan = Plan::new(dataset)?;
    let mut conn = db.acquire().await?;
    let conn = &mut *conn;
    let existing = store::seed::count_users(conn).await?;
    if existing > 0 {
        return Err(SeedError::NotEmpty(existing));
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    let hash = hash_password(auth, PASSWORD.into())
        .await
        .map_err(|e| SeedError::Password(e.to_string()))?;
    let mut counts = BTreeMap::new();
    let now = chrono::Utc::now();

    log(&format!("users: {}", plan.users));
    let mut users: Vec<SeededUser> = (0..plan.users)
        .map(|i| SeededUser {
            id: Uuid::now_v7(),
            username: format!("load{i:06}"),
            token: None,
        })
        .collect();
    let user_ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let n = store::seed::copy_users(
        conn,
        users.iter().enumerate().map(|(i, u)| UserRow {
            id: u.id,
            username: &u.username,
            display_name: format!("Load User {i}"),
            password_hash: &hash,
        }),
    )
    .await?;
    counts.insert("users".into(), n);

    log(&format!("friendships: {}", plan.friendships.len() * 2));
    let n = store::seed::copy_friendships(
        conn,
        plan.friendships.iter().flat_map(|(a, b)| {
            let (a, b) = (user_ids[*a as usize], user_ids[*b as usize]);
            [(a, b), (b, a)]
        }),
    )
    .await?;
    counts.insert("friendships".into(), n);

    log(&format!("rooms: {}", plan.rooms.len()));
    let room_ids: Vec<Uuid> = (0..plan.rooms.len()).map(|_| Uuid::now_v7()).collect();
    let n = store::seed::copy_rooms(
        conn,
        plan.rooms.iter().zip(&room_ids).map(|(room, id)| {
            let first = user_ids[room.members[0] as usize];
            let (kind, dm_key) = match room.class {
                RoomClass::Dm => {
                    let (a, b) = (first, user_ids[room.members[1] as usize]);
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    ("dm", Some(format!("dm:{lo}:{hi}")))
                }
                _ => ("group", None),
            };
            RoomRow {
                id: *id,
                kind,
                name: room.name.clone(),
                dm_key,
                created_by: first,
            }
        }),
    )
    .await?;
    counts.insert("rooms".into(), n);

    let n = store::seed::copy_members(
        conn,
        plan.rooms.iter().zip(&room_ids).flat_map(|(room, id)| {
            room.members.iter().enumerate().map(|(k, m)| MemberRow {
                room_id: *id,
                user_id: user_ids[*m as usize],
                role: if k == 0 && room.class != RoomClass::Dm {
                    "owner"
                } else {
                    "member"
                },
            })
        }),
    )
    .await?;
    counts.insert("room_members".into(), n);

    // History: each class gets the share of messages it gets live (35/25/40), spread over its
    // rooms, oldest first, so seq and created_at rise together.
    log(&format!("messages: {}", dataset.history_messages));
    let classes = [
        (RoomClass::Dm, 0.35),
        (RoomClass::Team, 0.25),
        (RoomClass::Channel, 0.40),
    ];
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
    let mut last_seq = vec![0i64; plan.rooms.len()];
    let n = store::seed::copy_messages(
        conn,
        planned.iter().enumerate().map(|(k, r)| {
            let room = &plan.rooms[*r];
            last_seq[*r] += 1;
            let author = room.members[rng.gen_range(0..room.members.len())];
            let words = rng.gen_range(3..20);
            MessageRow {
                id: Uuid::now_v7(),
                room_id: room_ids[*r],
                seq: last_seq[*r],
                author_id: user_ids[author as usize],
                body: sentence(&mut rng, words),
                // 30 days of history, evenly spread.
                created_at: now
                    - chrono::Duration::seconds((total - k as i64) * 2_592_000 / total.max(1)),
            }
        }),
    )
    .await?;
    counts.insert("messages".into(), n);

    log("room events and sequence numbers");
    let events = store::seed::derive_timelines(conn).await?;
    counts.insert("room_events".into(), events);
    // The seeded history stays out of the assistant's index: embedding 300,000 messages takes
    // about half an hour on a 2-core box, and a run measures the steady state (new messages
    // indexed as they arrive), not a backfill. `flowly assistant reindex` indexes it when wanted.
    store::seed::skip_history_in_index(conn).await?;

    log(&format!("tasks: {}", dataset.tasks));
    let teams = plan.rooms_of(RoomClass::Team);
    let task_count = if teams.is_empty() { 0 } else { dataset.tasks };
    let n = store::seed::copy_tasks(
        conn,
        (0..task_count).map(|k| {
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
            TaskRow {
                id: Uuid::now_v7(),
                room_id: room_ids[r],
                creator_id: user_ids[creator as usize],
                title: format!("{} {k}", sentence(&mut rng, words)),
                status,
                priority,
                assignee_id: user_ids[assignee as usize],
                position: (k / teams.len() as u64) as i64,
                completed_at: (status == "done").then_some(now),
            }
        }),
    )
    .await?;
    counts.insert("tasks".into(), n);

    // Sessions: all but `login_share` of the users (evenly spaced) get one, as a browser that
    // stayed logged in; the rest log in over the API when the run starts.
    let login_every = if options.login_share > 0.0 {
        (1.0 / options.login_share).round().max(1.0) as usize
    } else {
        0
    };
    let expires_at = now + chrono::Duration::days(auth.session_ttl_days);
    let mut sessions = Vec::new();
    for (i, user) in users.iter_mut().enumerate() {
        if login_every > 0 && i % login_every == login_every - 1 {
            continue;
        }
        let token = new_token();
        sessions.push(SessionRow {
            id: Uuid::now_v7(),
            user_id: user.id,
            token_hash: token_hash(&token),
            user_agent: "flowly dev seed",
            ip: "127.0.0.1",
            expires_at,
        });
        user.token = Some(token);
    }
    log(&format!("sessions: {}", sessions.len()));
    let n = store::seed::copy_sessions(conn, sessions).await?;
    counts.insert("sessions".into(), n);
    store::seed::analyze(conn).await?;

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
    fn a_small_dataset_keeps_the_default_shape_within_its_users() {
        let d = Dataset::for_users(60);
        assert_eq!((d.org_size, d.team_size, d.channel_size), (60, 10, 60));
        assert_eq!(d.history_messages, Dataset::default().history_messages);
        assert!(d.check().is_ok());
        assert!(Plan::new(&Dataset::default()).is_ok());
    }

    #[test]
    fn shapes_the_plan_cannot_place_are_refused() {
        for bad in [
            Dataset {
                users: 1,
                ..dataset(1)
            },
            Dataset {
                org_size: 600,
                ..dataset(500)
            },
            Dataset {
                team_size: 1,
                ..dataset(1_000)
            },
            Dataset {
                channel_size: 501,
                ..dataset(1_000)
            },
            Dataset {
                channels_per_user: 0,
                ..dataset(1_000)
            },
            Dataset {
                dms_per_user: 3,
                ..dataset(1_000)
            },
            Dataset {
                users: u64::from(u32::MAX) + 1,
                org_size: 500,
                ..dataset(1)
            },
        ] {
            assert!(
                matches!(Plan::new(&bad), Err(SeedError::Dataset(_))),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn the_manifest_is_the_json_the_generator_reads() {
        let id = Uuid::nil();
        let manifest = Manifest {
            password: PASSWORD.into(),
            users: vec![SeededUser {
                id,
                username: "load000000".into(),
                token: None,
            }],
            rooms: BTreeMap::from([(id, RoomClass::Channel)]),
            counts: BTreeMap::from([("users".into(), 1)]),
        };
        let json = serde_json::to_value(&manifest).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "password": PASSWORD,
                "users": [{ "id": id, "username": "load000000", "token": null }],
                "rooms": { id.to_string(): "channel" },
                "counts": { "users": 1 },
            })
        );
    }
}
