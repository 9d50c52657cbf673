//! Traffic profiles: who is online, how often each operation happens, the dataset to seed. A
//! profile is TOML; the built-in `dau-150k` (derived in `docs/capacity.md`) and the chat benchmark
//! `chat-rooms-10` are compiled in.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The built-in profile names and their TOML.
const BUILT_IN: &[(&str, &str)] = &[
    ("dau-150k", include_str!("profiles/dau-150k.toml")),
    ("chat-rooms-10", include_str!("profiles/chat-rooms-10.toml")),
];

/// One kind of thing a simulated user does. Each has its own rate and latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    History,
    RoomList,
    MarkRead,
    SendMessage,
    React,
    Me,
    Friends,
    Mentions,
    ListTasks,
    GetTask,
    CreateTask,
    UpdateTask,
    CompleteTask,
    MessageToTask,
    Search,
    UsersSearch,
    AssistantAsk,
    Login,
}

impl Op {
    pub const ALL: [Op; 18] = [
        Op::History,
        Op::RoomList,
        Op::MarkRead,
        Op::SendMessage,
        Op::React,
        Op::Me,
        Op::Friends,
        Op::Mentions,
        Op::ListTasks,
        Op::GetTask,
        Op::CreateTask,
        Op::UpdateTask,
        Op::CompleteTask,
        Op::MessageToTask,
        Op::Search,
        Op::UsersSearch,
        Op::AssistantAsk,
        Op::Login,
    ];

    /// The name used in profiles and reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::History => "history",
            Op::RoomList => "room_list",
            Op::MarkRead => "mark_read",
            Op::SendMessage => "send_message",
            Op::React => "react",
            Op::Me => "me",
            Op::Friends => "friends",
            Op::Mentions => "mentions",
            Op::ListTasks => "list_tasks",
            Op::GetTask => "get_task",
            Op::CreateTask => "create_task",
            Op::UpdateTask => "update_task",
            Op::CompleteTask => "complete_task",
            Op::MessageToTask => "message_to_task",
            Op::Search => "search",
            Op::UsersSearch => "users_search",
            Op::AssistantAsk => "assistant_ask",
            Op::Login => "login",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A whole profile as read from TOML.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub population: Population,
    /// Operations per second at `--scale 1`, by operation name.
    pub rates: BTreeMap<String, f64>,
    pub realtime: Realtime,
    #[serde(default)]
    pub storm: Storm,
    pub timeouts: Timeouts,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Users online at once.
    pub online_users: u64,
    /// Whether `--scale` multiplies the online users and sockets as well as the rates (the
    /// default); `false` keeps the population and steps only the rates (a benchmark's steps).
    #[serde(default = "yes")]
    pub scale_population: bool,
    /// Average sockets per online user (1.2: one user in five has two).
    pub sockets_per_user: f64,
    /// Share of online users who log in over the API when the run starts.
    pub login_share: f64,
    /// Where messages go, by room class.
    pub room_weights: RoomWeights,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoomWeights {
    pub dm: f64,
    pub team: f64,
    pub channel: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Realtime {
    /// Share of sockets that reconnect (and resume) every minute.
    pub churn_per_minute: f64,
}

/// A reconnect storm: `fraction` of the sockets drop at `at_secs` and come back within
/// `spread_secs`. `at_secs = 0` or `fraction = 0` turns it off.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storm {
    pub at_secs: u64,
    pub fraction: f64,
    pub spread_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub request_secs: u64,
    pub connect_secs: u64,
}

/// The dataset `flowly dev seed` writes for this profile (the server's `dev::seed::Plan` places
/// the users).
pub use flowly_dataset::Dataset;

impl Profile {
    /// A built-in profile by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> anyhow::Result<Profile> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            return Profile::parse(text);
        }
        let text = std::fs::read_to_string(Path::new(name_or_path)).with_context(|| {
            format!("{name_or_path} is neither a built-in profile (dau-150k, chat-rooms-10) nor a readable file")
        })?;
        Profile::parse(&text).with_context(|| format!("profile {name_or_path}"))
    }

    pub fn parse(text: &str) -> anyhow::Result<Profile> {
        let profile: Profile = toml::from_str(text)?;
        profile.validate()?;
        Ok(profile)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in &self.rates {
            if Op::from_name(name).is_none() {
                bail!("unknown operation {name:?} in [rates]");
            }
            if !rate.is_finite() || *rate < 0.0 {
                bail!("rate of {name} must be a number >= 0");
            }
        }
        let p = &self.population;
        if !(1.0..=20.0).contains(&p.sockets_per_user) {
            bail!("sockets_per_user must be between 1 and 20");
        }
        if !(0.0..=1.0).contains(&p.login_share) {
            bail!("login_share must be between 0 and 1");
        }
        let w = p.room_weights;
        if [w.dm, w.team, w.channel]
            .iter()
            .any(|x| !x.is_finite() || *x < 0.0)
            || w.dm + w.team + w.channel <= 0.0
        {
            bail!("room_weights must be >= 0 and not all 0");
        }
        if !(0.0..=1.0).contains(&self.realtime.churn_per_minute) {
            bail!("churn_per_minute must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.storm.fraction) {
            bail!("storm.fraction must be between 0 and 1");
        }
        if self.timeouts.request_secs == 0 || self.timeouts.connect_secs == 0 {
            bail!("timeouts must be at least 1 second");
        }
        self.dataset
            .check()
            .map_err(|why| anyhow::anyhow!("dataset: {why}"))?;
        Ok(())
    }

    /// The rate of one operation at `scale` (0 when the profile leaves it out).
    pub fn rate(&self, op: Op, scale: f64) -> f64 {
        self.rates.get(op.name()).copied().unwrap_or(0.0) * scale
    }

    /// Users online at `scale`, never more than the dataset has.
    pub fn online_users(&self, scale: f64) -> u64 {
        let scale = if self.population.scale_population {
            scale
        } else {
            1.0
        };
        ((self.population.online_users as f64 * scale).round() as u64).min(self.dataset.users)
    }

    /// Sockets at `scale`.
    pub fn sockets(&self, scale: f64) -> u64 {
        let users = self.online_users(scale);
        users + extra_sockets(users, self.population.sockets_per_user)
    }

    /// REST requests per second at `scale` (every operation except none: all are REST).
    pub fn rest_rate(&self, scale: f64) -> f64 {
        Op::ALL.iter().map(|op| self.rate(*op, scale)).sum()
    }
}

fn yes() -> bool {
    true
}

/// How many of `users` hold a second (third...) socket for `per_user` sockets on average.
pub fn extra_sockets(users: u64, per_user: f64) -> u64 {
    ((per_user - 1.0) * users as f64).round() as u64
}

/// Sockets of online user number `index` (0-based) among `users` with `per_user` on average:
/// the extra sockets go to evenly spaced users, so every shard gets its share.
pub fn sockets_of(index: u64, users: u64, per_user: f64) -> u64 {
    let extra = extra_sockets(users, per_user);
    if users == 0 {
        return 0;
    }
    let whole = extra / users;
    let rest = extra % users;
    // User i gets one of the `rest` extra sockets when floor((i+1)*rest/users) moves.
    let gets = ((index + 1) * rest / users) > (index * rest / users);
    1 + whole + u64::from(gets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_profile_has_the_published_peak() {
        let p = Profile::load("dau-150k").unwrap();
        assert_eq!(p.online_users(1.0), 45_000);
        assert_eq!(p.sockets(1.0), 54_000);
        assert!(
            (p.rest_rate(1.0) - 1350.0).abs() < 0.5,
            "{}",
            p.rest_rate(1.0)
        );
        assert_eq!(p.rate(Op::SendMessage, 1.0), 34.0);
        assert_eq!(p.realtime.churn_per_minute, 0.01);
    }

    #[test]
    fn scale_multiplies_population_and_rates() {
        let p = Profile::load("dau-150k").unwrap();
        assert_eq!(p.online_users(0.1), 4_500);
        assert_eq!(p.sockets(0.1), 5_400);
        assert!((p.rest_rate(2.0) - 2700.0).abs() < 1.0);
        // Never more users online than the dataset holds.
        assert_eq!(p.online_users(10.0), 150_000);
    }

    #[test]
    fn the_chat_benchmark_steps_only_its_send_rate() {
        let p = Profile::load("chat-rooms-10").unwrap();
        assert_eq!(p.online_users(1.0), 5_000);
        assert_eq!(p.online_users(8.0), 5_000, "the population stays");
        assert_eq!(p.sockets(8.0), 5_000);
        assert_eq!(p.rate(Op::SendMessage, 8.0), 80.0);
        assert_eq!(p.rest_rate(8.0), 80.0, "nothing but sends");
        assert_eq!(p.dataset.team_size, 10);
        assert_eq!(
            p.online_users(1.0),
            p.dataset.users,
            "every member is online"
        );
    }

    #[test]
    fn every_operation_has_a_distinct_name_that_round_trips() {
        let names: std::collections::HashSet<_> = Op::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        for op in Op::ALL {
            assert_eq!(Op::from_name(op.name()), Some(op));
        }
    }

    #[test]
    fn bad_profiles_are_refused() {
        let good = include_str!("profiles/dau-150k.toml");
        for (from, to) in [
            ("history = 400.0", "teleport = 1.0"),
            ("history = 400.0", "history = -1.0"),
            ("sockets_per_user = 1.2", "sockets_per_user = 0.5"),
            ("dms_per_user = 4", "dms_per_user = 3"),
            ("churn_per_minute = 0.01", "churn_per_minute = 2.0"),
            ("team_size = 10", "team_size = 1000"),
        ] {
            assert!(good.contains(from), "{from}");
            let bad = good.replace(from, to);
            assert!(Profile::parse(&bad).is_err(), "accepted {to}");
        }
        assert!(Profile::load("/nonexistent/profile.toml").is_err());
    }

    #[test]
    fn extra_sockets_are_spread_evenly() {
        let users = 1000;
        let total: u64 = (0..users).map(|i| sockets_of(i, users, 1.2)).sum();
        assert_eq!(total, 1200);
        // Every block of 10 users holds exactly 2 extra sockets.
        for block in 0..100 {
            let s: u64 = (block * 10..block * 10 + 10)
                .map(|i| sockets_of(i, users, 1.2))
                .sum();
            assert_eq!(s, 12);
        }
        assert_eq!((0..7).map(|i| sockets_of(i, 7, 1.0)).sum::<u64>(), 7);
    }
}
