//! The traffic generator against a real Flowly node (started in-process on its own database):
//! the server's seeding (`flowly dev seed`, called here as the library function) writes a dataset
//! the API serves and a manifest the generator reads, and a short, bounded run does every
//! operation, measures delivery, survives a reconnect storm and reports without errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{collections::BTreeMap, time::Duration};

use flowly::{
    config::AuthConfig,
    dev::seed::{self as dev_seed, SeedOptions},
};
use flowly_testkit::TestApp;
use flowly_traffic::{
    client::{Target, parse_sources},
    manifest::{Manifest, RoomClass},
    profile::{Op, Profile},
    report,
    run::{self, RunOptions},
};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// A Flowly node on a fresh database (the test kit's, dropped with the node).
struct Node {
    base: String,
    db_url: String,
    db: sqlx::PgPool,
    auth: AuthConfig,
    app: TestApp,
}

impl Node {
    async fn spawn() -> Node {
        // No load shedding here: the test counts every storm socket's first reconnect, and a node
        // that sheds a burst (`realtime.max_connecting`, tests/api/load_shedding.rs) makes some of
        // them retry.
        let app = TestApp::spawn_with(|c| c.realtime.max_connecting = 0).await;
        Node {
            base: app.base.clone(),
            db_url: app.database_url(),
            db: app.state.db.clone(),
            auth: app.state.config.auth.clone(),
            app,
        }
    }

    async fn stop(self) {
        self.app.stop().await;
    }

    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A small profile: 40 users online, every operation several times a second, churn, a storm.
fn small_profile() -> Profile {
    Profile::parse(
        r#"
name = "test-small"
[population]
online_users = 40
sockets_per_user = 1.5
login_share = 0.1
room_weights = { dm = 0.35, team = 0.25, channel = 0.40 }
[rates]
history = 8.0
room_list = 4.0
mark_read = 4.0
send_message = 20.0
react = 4.0
me = 4.0
friends = 2.0
mentions = 2.0
list_tasks = 8.0
get_task = 4.0
create_task = 3.0
update_task = 2.0
complete_task = 2.0
message_to_task = 2.0
search = 2.0
users_search = 2.0
assistant_ask = 2.0
login = 1.0
[realtime]
churn_per_minute = 0.3
[storm]
at_secs = 2
fraction = 0.5
spread_secs = 1
[timeouts]
request_secs = 10
connect_secs = 10
[dataset]
users = 60
org_size = 30
team_size = 5
channel_size = 10
channels_per_user = 2
dms_per_user = 2
history_messages = 600
tasks = 40
"#,
    )
    .expect("profile")
}

/// The server's dataset parameters for a profile's `[dataset]`.
fn server_dataset(profile: &Profile) -> dev_seed::Dataset {
    let d = &profile.dataset;
    dev_seed::Dataset {
        users: d.users,
        org_size: d.org_size,
        team_size: d.team_size,
        channel_size: d.channel_size,
        channels_per_user: d.channels_per_user,
        dms_per_user: d.dms_per_user,
        history_messages: d.history_messages,
        tasks: d.tasks,
    }
}

/// Seeds the node's database as `flowly dev seed` does and reads the manifest back as
/// `flowly-traffic run` does: through the JSON file that is their interface.
async fn seed_small(node: &Node, profile: &Profile) -> Manifest {
    let written = dev_seed::seed(
        &node.db,
        &node.auth,
        &server_dataset(profile),
        &SeedOptions {
            login_share: profile.population.login_share,
            seed: 5,
            log: |_| {},
        },
    )
    .await
    .expect("seed");
    let path = std::env::temp_dir().join(format!("flowly-traffic-{}.json", Uuid::new_v4()));
    std::fs::write(&path, serde_json::to_vec(&written).expect("json")).expect("write manifest");
    let manifest = Manifest::read(&path).expect("read manifest");
    let _ = std::fs::remove_file(&path);
    manifest
}

#[tokio::test]
async fn seeding_writes_a_dataset_the_api_serves_and_seeded_users_can_log_in() {
    let node = Node::spawn().await;
    let profile = small_profile();
    let manifest = seed_small(&node, &profile).await;
    assert_eq!(manifest.users.len(), 60);
    assert_eq!(manifest.counts["users"], 60);
    assert_eq!(manifest.counts["messages"], 600);
    assert_eq!(manifest.counts["room_events"], 600);
    assert_eq!(manifest.counts["tasks"], 40);
    // One user in ten (login_share 0.1) has no seeded session.
    let without: Vec<_> = manifest
        .users
        .iter()
        .filter(|u| u.token.is_none())
        .collect();
    assert_eq!(without.len(), 6);

    let mut db = PgConnection::connect(&node.db_url).await.expect("db");
    let inconsistent: i64 = sqlx::query_scalar(
        "select count(*) from rooms r where r.last_seq <> coalesce((select max(seq) from messages m where m.room_id = r.id), 0)
            or r.last_seq <> coalesce((select max(seq) from room_events e where e.room_id = r.id), 0)",
    )
    .fetch_one(&mut db)
    .await
    .expect("query");
    assert_eq!(
        inconsistent, 0,
        "rooms whose last_seq does not match their history"
    );
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "select r.kind, count(*) from room_members m join rooms r on r.id = m.room_id group by r.kind, r.id order by 1, 2",
    )
    .fetch_all(&mut db)
    .await
    .expect("query");
    assert!(
        sizes
            .iter()
            .filter(|(k, _)| k == "dm")
            .all(|(_, n)| *n == 2)
    );
    assert!(
        sizes
            .iter()
            .filter(|(k, _)| k == "group")
            .all(|(_, n)| *n == 5 || *n == 10)
    );

    // A seeded session works as it is; the user sees their rooms and their history.
    let user = manifest
        .users
        .iter()
        .find(|u| u.token.is_some())
        .expect("a user");
    let token = user.token.as_deref().expect("token");
    let (status, me) = node.get(token, "/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], user.username);
    let (status, rooms) = node.get(token, "/rooms").await;
    assert_eq!(status, 200);
    let rooms = rooms.as_array().expect("rooms").clone();
    // A team, two channels, two DMs.
    assert_eq!(rooms.len(), 5, "{rooms:?}");
    let team = rooms
        .iter()
        .filter_map(|r| r["id"].as_str()?.parse::<Uuid>().ok())
        .find(|id| manifest.rooms.get(id) == Some(&RoomClass::Team))
        .expect("team room");
    let (status, page) = node
        .get(token, &format!("/rooms/{team}/messages?limit=50"))
        .await;
    assert_eq!(status, 200);
    assert!(!page["messages"].as_array().expect("messages").is_empty());
    let (status, found) = node.get(token, "/search?q=deploy").await;
    assert_eq!(status, 200, "{found}");

    // The shared password logs in a user without a seeded session, over the API.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", node.base))
        .json(
            &serde_json::json!({ "username": without[0].username, "password": manifest.password }),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(response.status().as_u16(), 200);

    // Seeding twice into one database is refused rather than doubling the data.
    assert_eq!(manifest.password, dev_seed::PASSWORD);
    let again = dev_seed::seed(
        &node.db,
        &node.auth,
        &server_dataset(&profile),
        &SeedOptions {
            login_share: 0.0,
            seed: 1,
            log: |_| {},
        },
    )
    .await;
    assert!(again.is_err());
    node.stop().await;
}

#[tokio::test]
async fn a_short_run_in_two_processes_does_every_operation_and_reports_clean() {
    let node = Node::spawn().await;
    let profile = small_profile();
    let manifest = seed_small(&node, &profile).await;
    let options = |shard| RunOptions {
        targets: vec![Target::parse(&node.base).expect("target")],
        profile: profile.clone(),
        scale: 1.0,
        duration: Duration::from_secs(6),
        ramp: Duration::from_secs(30),
        shard,
        shards: 2,
        sources: parse_sources("2-5").expect("sources"),
        start_at: None,
        interval: Duration::from_secs(1),
        seed: 9,
        connect_concurrency: 20,
        max_in_flight: 1000,
        progress: false,
        verify: true,
        live: None,
    };
    let (a, b) = tokio::join!(
        run::run(&manifest, options(0)),
        run::run(&manifest, options(1))
    );
    let outputs = vec![a.expect("shard 0"), b.expect("shard 1")];
    for o in &outputs {
        assert_eq!(o.sockets_open_at_start, o.sockets_planned);
        assert!(
            o.storm_recovery_secs.is_some(),
            "storm sockets did not all come back"
        );
    }
    assert_eq!(outputs.iter().map(|o| o.sockets_planned).sum::<u64>(), 60);
    // Every device got every room event once, in order, through churn and the storm, and was
    // level with every room after its final resume.
    for o in &outputs {
        let v = o.verification.as_ref().expect("verified");
        assert!(
            v.violations().is_empty(),
            "{:?}: {:?}",
            v.violations(),
            v.examples
        );
        assert!(v.events_checked > 0 && v.sends_acknowledged > 0, "{v:?}");
        assert_eq!(v.final_resumes, o.sockets_planned, "{v:?}");
    }
    assert_eq!(outputs.iter().map(|o| o.users).sum::<u64>(), 40);

    let report = report::build(&outputs, BTreeMap::new()).expect("report");
    let by_name: BTreeMap<_, _> = report.ops.iter().map(|r| (r.name.as_str(), r)).collect();
    for op in [
        Op::History,
        Op::RoomList,
        Op::MarkRead,
        Op::SendMessage,
        Op::Me,
        Op::ListTasks,
        Op::CreateTask,
        Op::Search,
        Op::UsersSearch,
        Op::Login,
    ] {
        let row = by_name
            .get(op.name())
            .unwrap_or_else(|| panic!("{} never ran", op.name()));
        assert!(row.ok > 0, "{}: {row:?}", op.name());
    }
    for row in &report.ops {
        assert_eq!(
            row.errors + row.timeouts,
            0,
            "{}: {:?}",
            row.name,
            row.codes
        );
    }
    assert!(report.delivered > 0, "no delivery measured");
    assert!(report.delivery.p50_ms > 0.0);
    assert_eq!(report.verdict.error_rate, 0.0);
    // The login share logged in over the API during the ramp.
    let ramp_logins = report
        .ramp_ops
        .iter()
        .find(|r| r.name == "login")
        .expect("ramp logins");
    assert_eq!(ramp_logins.ok, 4);
    // Every storm socket reconnected (and resumed).
    let storm = by_name.get("storm_reconnect").expect("storm reconnects");
    assert_eq!(storm.ok, report.counters["storm_sockets"]);
    assert!(report.assistant_present.is_some());

    // Every message the run counts as sent is in the database, once.
    let mut db = PgConnection::connect(&node.db_url).await.expect("db");
    let sent: i64 = sqlx::query_scalar("select count(*) from messages where body like '⏱%'")
        .fetch_one(&mut db)
        .await
        .expect("query");
    assert_eq!(sent as u64, by_name["send_message"].ok);

    let md = report.markdown("chart.svg");
    assert!(md.contains("| send_message |"));
    assert!(report.svg().contains("<polyline"));

    // The same run again on the same database (the same seed: the same users, rooms and send
    // counters): its sends are new messages, not the first run's answered again as retries.
    let again = run::run(&manifest, options(0))
        .await
        .expect("shard 0 again");
    let v = again.verification.as_ref().expect("verified");
    assert!(
        v.violations().is_empty(),
        "{:?}: {:?}",
        v.violations(),
        v.examples
    );
    assert!(v.sends_acknowledged > 0, "{v:?}");
    let after: i64 = sqlx::query_scalar("select count(*) from messages where body like '⏱%'")
        .fetch_one(&mut db)
        .await
        .expect("query");
    assert_eq!((after - sent) as u64, v.sends_acknowledged);
    node.stop().await;
}
