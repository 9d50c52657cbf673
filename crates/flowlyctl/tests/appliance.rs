//! The appliance on a real Docker engine, as an admin would use it: `flowlyctl install` on an
//! empty project, a second install that changes nothing, the preflight's refusals, HTTPS through
//! nginx, `status` and `logs -f`, `backup` + `backup verify`, `down -v` then `restore` (the dump
//! comes back byte-identical), a refused restore of a mismatched version, `upgrade` under load
//! (no failed request, no lost message) and `scale app=3` (a message through each node).
//!
//! Needs what `scripts/test.sh` prepares (step "appliance"): a running engine with
//! debian:bookworm-slim, the web client built, the models fetched, and two different `flowly`
//! binaries: FLOWLY_TEST_FLOWLY_BIN (installed) and FLOWLY_TEST_FLOWLY_UPGRADE_BIN (upgraded to).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const FLOWLYCTL: &str = env!("CARGO_BIN_EXE_flowlyctl");

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this test through scripts/test.sh (step \"appliance\")")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One appliance under test: its own compose project, install directory and ports. Dropping it
/// takes everything down, volumes included.
struct Stand {
    project: String,
    home: PathBuf,
    http_port: u16,
    https_port: u16,
}

impl Stand {
    fn new() -> Self {
        let project = format!("flowlytest{}", std::process::id());
        let home = std::env::temp_dir().join(&project);
        let _ = std::fs::remove_dir_all(&home);
        Stand {
            project,
            home,
            http_port: free_port(),
            https_port: free_port(),
        }
    }

    fn ctl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(FLOWLYCTL);
        cmd.args(args)
            .env("FLOWLY_HOME", &self.home)
            .env("FLOWLY_PROJECT", &self.project)
            .env("RUST_BACKTRACE", "0")
            .current_dir(source_root());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.ctl(args).output().expect("flowlyctl runs");
        eprintln!(
            "$ flowlyctl {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "flowlyctl {} failed", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn install_args(&self, bin: &str) -> Vec<String> {
        vec![
            "install".into(),
            "--source".into(),
            source_root().display().to_string(),
            "--flowly-bin".into(),
            bin.into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--http-port".into(),
            self.http_port.to_string(),
            "--https-port".into(),
            self.https_port.to_string(),
            "--offline".into(),
        ]
    }

    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }

    fn container(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .args(["--filter"])
            .arg(format!("label=com.docker.compose.service={service}"))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_else(|| panic!("no running {service} container"))
            .to_owned()
    }

    /// The database as plain SQL, leaving out what changes by itself while the appliance runs
    /// (sessions' last use, the assistant's index and request queue).
    fn dump(&self) -> Vec<u8> {
        let out = Command::new("docker")
            .args(["exec", &self.container("postgres")])
            .args([
                "pg_dump",
                "-h",
                "/var/run/postgresql",
                "-U",
                "postgres",
                "--no-owner",
                // A fixed key for psql's \restrict line (random by default) keeps dumps comparable.
                "--restrict-key=flowlytest",
                "--exclude-table-data=sessions",
                "--exclude-table-data=knowledge_chunks",
                "--exclude-table-data=assistant_index_cursors",
                "--exclude-table-data=assistant_requests",
                "flowly",
            ])
            .output()
            .expect("pg_dump");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn volumes(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["volume", "ls", "-q", "--filter"])
            .arg(format!("name={}_", self.project))
            .output()
            .expect("docker volume ls");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        let _ = self.ctl(&["down", "--volumes"]).output();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

struct User {
    token: String,
}

impl User {
    fn login(base: &str, username: &str, password: &str) -> Self {
        let r: Value = client()
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .expect("login request")
            .error_for_status()
            .expect("login succeeds")
            .json()
            .expect("login answer");
        User {
            token: r["token"].as_str().expect("a token").to_owned(),
        }
    }

    fn post(&self, url: &str, body: Value) -> reqwest::Result<reqwest::blocking::Response> {
        client()
            .post(url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
    }

    /// Uploads a text file to a room; returns the attachment's id.
    fn upload(&self, base: &str, room: &str, name: &str, text: &str) -> String {
        let r: Value = client()
            .post(format!("{base}/api/v1/rooms/{room}/attachments"))
            .query(&[("filename", name)])
            .bearer_auth(&self.token)
            .header("content-type", "text/plain")
            .body(text.to_owned())
            .send()
            .expect("upload")
            .error_for_status()
            .expect("upload succeeds")
            .json()
            .expect("attachment");
        r["id"].as_str().expect("attachment id").to_owned()
    }

    /// A file's bytes as text.
    fn download(&self, url: &str) -> String {
        client()
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .expect("GET")
            .error_for_status()
            .expect("download succeeds")
            .text()
            .expect("text")
    }

    fn get(&self, url: &str) -> Value {
        client()
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .expect("GET")
            .error_for_status()
            .expect("GET succeeds")
            .json()
            .expect("JSON")
    }
}

fn admin_password(home: &Path) -> String {
    let text = std::fs::read_to_string(home.join("admin-credentials")).expect("credentials");
    text.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a password line")
        .to_owned()
}

fn bodies(user: &User, base: &str, room: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let url = match before {
            Some(seq) => format!("{base}/api/v1/rooms/{room}/messages?limit=200&before={seq}"),
            None => format!("{base}/api/v1/rooms/{room}/messages?limit=200"),
        };
        let page = user.get(&url);
        let items = page["messages"].as_array().expect("messages").clone();
        if items.is_empty() {
            break;
        }
        before = items.iter().filter_map(|m| m["seq"].as_i64()).min();
        all.extend(
            items
                .iter()
                .filter_map(|m| m["body"].as_str().map(str::to_owned)),
        );
        if items.len() < 200 {
            break;
        }
    }
    all
}

#[test]
fn the_appliance_installs_backs_up_restores_upgrades_and_scales() {
    let install_bin = required_env("FLOWLY_TEST_FLOWLY_BIN");
    let upgrade_bin = required_env("FLOWLY_TEST_FLOWLY_UPGRADE_BIN");
    let stand = Stand::new();
    let args = stand.install_args(&install_bin);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Preflight refusals change nothing and say what to do.
    let taken = TcpListener::bind(("127.0.0.1", stand.https_port)).expect("hold the port");
    let out = stand.run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("is taken") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(
        !stand.home.join("compose.env").exists(),
        "a refused install wrote settings"
    );
    drop(taken);
    let out = stand
        .ctl(&args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("flowlyctl runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("the Docker engine does not answer"), "{err}");

    // Install on an empty project, then again: the second changes nothing.
    let started = Instant::now();
    let out = stand.ok(&args);
    eprintln!("install took {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.contains("Open https://"), "{out}");
    let started = Instant::now();
    let out = stand.ok(&args);
    eprintln!(
        "second install took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(out.contains("nothing changed"), "{out}");

    // HTTPS through nginx; plain HTTP redirects to it.
    let base = stand.base();
    let redirect = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("http://127.0.0.1:{}/login", stand.http_port))
        .send()
        .expect("plain HTTP answers");
    assert_eq!(redirect.status(), 301);
    assert_eq!(
        redirect.headers()["location"],
        format!("https://127.0.0.1:{}/login", stand.https_port).as_str()
    );
    let index = client()
        .get(format!("{base}/"))
        .send()
        .expect("the web client");
    assert!(index.status().is_success());
    assert!(index.text().expect("html").contains("<div id=\"app\""));
    let admin = User::login(&base, "admin", &admin_password(&stand.home));
    let room: Value = admin
        .post(&format!("{base}/api/v1/rooms"), json!({ "name": "Ops" }))
        .expect("create room")
        .json()
        .expect("room");
    let room = room["id"].as_str().expect("room id").to_owned();
    for (i, body) in ["Backups failed last night", "I'll look at the disk"]
        .iter()
        .enumerate()
    {
        let r = admin
            .post(
                &format!("{base}/api/v1/rooms/{room}/messages"),
                json!({ "body": body, "client_id": format!("m{i}") }),
            )
            .expect("send");
        assert_eq!(r.status(), 201);
    }
    let task = admin
        .post(
            &format!("{base}/api/v1/tasks"),
            json!({ "room_id": room, "title": "Replace the backup disk" }),
        )
        .expect("create task");
    assert_eq!(task.status(), 201);
    // An attachment lives in its own volume, which the backup carries too.
    let attachment = admin.upload(
        &base,
        &room,
        "disk-report.txt",
        "sda: 12 reallocated sectors",
    );
    let sent = admin
        .post(
            &format!("{base}/api/v1/rooms/{room}/messages"),
            json!({ "body": "the disk report", "attachments": [attachment] }),
        )
        .expect("send with attachment");
    assert_eq!(sent.status(), 201);

    // status and logs.
    let status = stand.ok(&["status"]);
    for service in ["postgres", "redis", "app", "worker", "nginx", "prometheus"] {
        assert!(
            status
                .lines()
                .any(|l| l.contains(&format!(" {service} ")) && l.contains("healthy")),
            "{service} is not healthy in:\n{status}"
        );
    }
    // Flowly's own services ship their logs to LogPilot; `logs` reads them from there.
    let logs = stand.ok(&["logs", "app", "--since", "10m"]);
    assert!(
        logs.lines()
            .any(|l| l.starts_with("flowly-serve@") && l.contains("flowly serving")),
        "no app line from LogPilot in:\n{logs}"
    );
    // The other containers' logs are collected into LogPilot through the Docker API (every
    // 5 s it looks for containers to follow).
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs = loop {
        let logs = stand.ok(&["logs", "postgres", "--since", "10m"]);
        if logs.contains("database system is ready") || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        logs.lines().any(|l| l.starts_with("postgres@")
            && (l.contains("_postgres_") || l.contains("-postgres-"))
            && l.contains("database system is ready")),
        "PostgreSQL's logs did not reach LogPilot:\n{logs}"
    );
    let mut follow = stand
        .ctl(&["logs", "-f", "nginx", "--tail", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs -f");
    let reader = BufReader::new(follow.stdout.take().expect("stdout"));
    let marker = format!("/logs-follow-{}", std::process::id());
    let found = Arc::new(AtomicBool::new(false));
    let seen = {
        let (found, marker) = (found.clone(), marker.clone());
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.contains(&marker) {
                    found.store(true, Ordering::SeqCst);
                    break;
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !found.load(Ordering::SeqCst) && Instant::now() < deadline {
        let _ = client().get(format!("{base}{marker}")).send();
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let _ = seen.join();
    assert!(
        found.load(Ordering::SeqCst),
        "`logs -f nginx` never showed {marker}"
    );

    // Backup, verify, wipe, restore: the same data, byte for byte.
    let archive = stand.home.join("test-backup.tar");
    let before = stand.dump();
    let started = Instant::now();
    stand.ok(&["backup", "--output", archive.to_str().expect("path")]);
    eprintln!(
        "backup took {:.1} s, {} bytes",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&archive).expect("archive").len()
    );
    let verified = stand.ok(&["backup", "verify", archive.to_str().expect("path")]);
    assert!(
        verified.contains("is good") && verified.contains("1 tasks"),
        "{verified}"
    );
    stand.ok(&["down", "--volumes"]);
    assert!(
        stand.volumes().is_empty(),
        "volumes left: {:?}",
        stand.volumes()
    );
    let started = Instant::now();
    stand.ok(&["restore", archive.to_str().expect("path")]);
    eprintln!("restore took {:.1} s", started.elapsed().as_secs_f64());
    let after = stand.dump();
    if after != before {
        let (b, a) = (
            String::from_utf8_lossy(&before),
            String::from_utf8_lossy(&after),
        );
        let differ: Vec<String> = b
            .lines()
            .zip(a.lines())
            .filter(|(x, y)| x != y)
            .take(5)
            .map(|(x, y)| format!("- {x}\n+ {y}"))
            .collect();
        panic!(
            "the restored database differs from the one backed up ({} vs {} bytes):\n{}",
            before.len(),
            after.len(),
            differ.join("\n")
        );
    }
    let admin = User::login(&base, "admin", &admin_password(&stand.home));
    let got = bodies(&admin, &base, &room);
    assert!(
        got.contains(&"Backups failed last night".to_owned()),
        "{got:?}"
    );
    // LogPilot's data came back too: the first node's start is still in the logs.
    let logs = stand.ok(&["logs", "app", "--since", "1h"]);
    let starts = logs
        .lines()
        .filter(|l| l.contains("flowly serving"))
        .count();
    assert!(
        starts >= 2,
        "the logs from before the backup are gone:\n{logs}"
    );
    assert_eq!(
        admin.download(&format!("{base}/api/v1/attachments/{attachment}")),
        "sda: 12 reallocated sectors",
        "the attachment did not come back with the restore"
    );
    let tasks = admin.get(&format!("{base}/api/v1/tasks?room={room}"));
    assert!(
        tasks.to_string().contains("Replace the backup disk"),
        "{tasks}"
    );

    // A backup of another version is refused, and says why.
    let forged = stand.home.join("forged.tar");
    forge_version(&archive, &forged, "0.0.1-000000000000");
    let out = stand.run(&["restore", forged.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("restore refused") && err.contains("0.0.1-000000000000"),
        "{err}"
    );

    // An upgrade whose new nodes never turn healthy rolls itself back: here the new "flowly"
    // migrates (it does nothing) but cannot serve.
    let broken = stand.home.join("broken-flowly");
    std::fs::write(
        &broken,
        "#!/bin/sh\n[ \"$1\" = migrate ] && exit 0\necho cannot serve >&2\nexit 1\n",
    )
    .expect("write the broken binary");
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let version_before = stand.ok(&["status"]);
    let out = stand.run(&[
        "upgrade",
        "--source",
        source_root().to_str().expect("path"),
        "--flowly-bin",
        broken.to_str().expect("path"),
        "--no-backup",
        "--health-timeout",
        "60",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("rolled back"), "{err}");
    let status = stand.ok(&["status"]);
    let summary = |s: &str| s.lines().last().unwrap_or_default().to_owned();
    assert_eq!(summary(&status), summary(&version_before), "{status}");
    let r = admin
        .post(
            &format!("{base}/api/v1/rooms/{room}/messages"),
            json!({ "body": "after the rollback", "client_id": "rollback" }),
        )
        .expect("send after the rollback");
    assert_eq!(r.status(), 201);

    // Upgrade under load: every request answers, every message is stored.
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|worker| {
            let (sent, failed, stop) = (sent.clone(), failed.clone(), stop.clone());
            let (base, room, token) = (base.clone(), room.clone(), admin.token.clone());
            std::thread::spawn(move || {
                let user = User { token };
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let r = user.post(
                        &format!("{base}/api/v1/rooms/{room}/messages"),
                        json!({ "body": format!("load {worker}-{i}"), "client_id": format!("load-{worker}-{i}") }),
                    );
                    match r {
                        Ok(r) if r.status().is_success() => {
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                        other => {
                            eprintln!("failed during the upgrade: {other:?}");
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _ = client().get(format!("{base}/api/v1/rooms/{room}/messages?limit=5")).bearer_auth(&user.token).send().map(|r| {
                        if !r.status().is_success() {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }).map_err(|_| failed.fetch_add(1, Ordering::SeqCst));
                    i += 1;
                    // 4 × 2 sends a second stays under the 600 writes a minute a user may make.
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let out = stand.ok(&[
        "upgrade",
        "--source",
        source_root().to_str().expect("path"),
        "--flowly-bin",
        &upgrade_bin,
    ]);
    eprintln!("upgrade took {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.contains("upgraded to Flowly"), "{out}");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.join().expect("load thread");
    }
    let (sent, failed) = (sent.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    eprintln!("upgrade under load: {sent} messages sent, {failed} failed requests");
    assert!(sent > 50, "too little load to mean anything: {sent}");
    assert_eq!(failed, 0, "requests failed during the upgrade");
    let stored = bodies(&admin, &base, &room)
        .iter()
        .filter(|b| b.starts_with("load "))
        .count() as u64;
    assert_eq!(
        stored, sent,
        "messages lost or duplicated across the upgrade"
    );

    // Three app nodes; a message through each, all seen through nginx.
    let out = stand.ok(&["scale", "app=3"]);
    assert!(out.contains("-> 3"), "{out}");
    let nodes = node_addresses(&stand);
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    for (i, ip) in nodes.iter().enumerate() {
        let r = admin
            .post(
                &format!("http://{ip}:8080/api/v1/rooms/{room}/messages"),
                json!({ "body": format!("via node {i}"), "client_id": format!("node-{i}") }),
            )
            .expect("send through one node");
        assert_eq!(r.status(), 201, "node {ip}");
    }
    let got = bodies(&admin, &base, &room);
    for i in 0..3 {
        assert!(
            got.contains(&format!("via node {i}")),
            "node {i}'s message is missing"
        );
    }
    let status = stand.ok(&["status"]);
    eprintln!("{status}");
}

/// The addresses of the running app nodes on the appliance's network.
fn node_addresses(stand: &Stand) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!(
            "label=com.docker.compose.project={}",
            stand.project
        ))
        .args(["--filter", "label=com.docker.compose.service=app"])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|id| {
            let out = Command::new("docker")
                .args([
                    "inspect",
                    "-f",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    id,
                ])
                .output()
                .expect("docker inspect");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .collect()
}

/// A copy of a backup whose manifest claims another Flowly version.
fn forge_version(from: &Path, to: &Path, version: &str) {
    let mut input = tar::Archive::new(std::fs::File::open(from).expect("archive"));
    let mut output = tar::Builder::new(std::fs::File::create(to).expect("forged"));
    for entry in input.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).expect("read");
        if name == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&content).expect("manifest");
            m["flowly_version"] = json!(version);
            content = serde_json::to_vec(&m).expect("json");
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        output
            .append_data(&mut header, &name, content.as_slice())
            .expect("append");
    }
    output.finish().expect("finish");
}
