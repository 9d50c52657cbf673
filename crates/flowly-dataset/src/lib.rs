//! The traffic dataset's shape and the files that describe it, shared by the two processes that
//! handle it: `flowly dev seed` (the server side, which writes the data and the [`Manifest`]) and
//! `flowly-traffic` (which reads the manifest and simulates the users over the public API). No IO
//! beyond reading a manifest, no SQL, no HTTP: a file format and a vocabulary.

pub mod assistant;

use std::{collections::BTreeMap, path::Path};

use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The password of every seeded user.
pub const PASSWORD: &str = "amber herons drift past quiet mills 0";

/// What to seed: how many users, and how they are grouped. The default is the `dau-150k`
/// traffic profile's dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// Refuses shapes the seed's plan cannot place, saying why.
    pub fn check(&self) -> Result<(), String> {
        let bad = |why: &str| Err(why.to_owned());
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

/// One seeded user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub id: Uuid,
    pub username: String,
    /// A session inserted by the seed (`None`: this user must log in over the API).
    pub token: Option<String>,
}

impl Manifest {
    /// Reads a manifest written by `flowly dev seed --manifest PATH`.
    pub fn read(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("parse {}: {e}", path.display()))
    }
}

/// Words for message bodies and task titles: the seeded history is written in them and simulated
/// users type and search them, so searches find both.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_dataset_is_placeable_and_bad_shapes_are_refused() {
        assert_eq!(Dataset::default().check(), Ok(()));
        assert_eq!(Dataset::for_users(40).check(), Ok(()));
        let odd_dms = Dataset {
            dms_per_user: 3,
            ..Dataset::default()
        };
        assert!(odd_dms.check().is_err_and(|e| e.contains("dms_per_user")));
    }

    #[test]
    fn sentences_are_made_of_the_vocabulary() {
        let mut rng = rand::thread_rng();
        let s = sentence(&mut rng, 6);
        assert_eq!(s.split(' ').count(), 6);
        assert!(s.split(' ').all(|w| WORDS.contains(&w)));
    }
}
