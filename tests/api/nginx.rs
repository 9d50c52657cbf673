//! Two nodes behind Debian's nginx, with the repository's own nginx locations: messages sent
//! through either node reach a socket on the other, and a client resumes through nginx after the
//! node it was on stops.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{
    Api, Client, TestApp, fresh_database, test_config,
    ws::{connect, seqs},
};

/// An nginx master process on a free loopback port, stopped on drop.
struct Nginx {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Nginx {
    async fn start(upstreams: &[String]) -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("flowly-nginx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let locations = Path::new(env!("CARGO_MANIFEST_DIR")).join("nginx/locations.conf");
        let servers: String = upstreams
            .iter()
            .map(|u| format!("server {u} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               upstream flowly {{\n{servers}  keepalive 8;\n}}\n\
               map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
               server {{\n  listen 127.0.0.1:{port};\n  include {};\n}}\n}}\n",
            locations.display()
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nginx");
        let child = Command::new(nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .spawn()
            .expect("nginx is installed (scripts/test.sh installs it)");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{base}/healthz"))
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
                return Nginx { child, base, dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not come up: {log}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn two_nodes_behind_nginx_share_one_gap_free_stream() {
    let db = fresh_database().await;
    let a = TestApp::start(test_config(&db)).await;
    let b = TestApp::start(test_config(&db)).await;
    let nginx = Nginx::start(&[a.base.replace("http://", ""), b.base.replace("http://", "")]).await;
    // Everyone talks to nginx only; it spreads requests over both nodes.
    let front = Api {
        base: nginx.base.clone(),
    };
    let ann = front.register("ann").await;
    let bob = front.register("bob").await;
    let room = front.group(&ann, "Ops", &[&bob]).await;
    let (_, r) = bob.get(&format!("/api/v1/rooms/{room}")).await;
    let start = r["last_seq"].as_i64().unwrap();

    let bob_token = bob.client.token.clone().unwrap();
    let (mut socket, _) = connect(&nginx.base, &bob_token, json!({})).await;
    for i in 0..20 {
        let (status, _) = ann
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                json!({ "body": format!("m{i}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        got.push(socket.next_of(&["message.created"]).await);
    }
    assert_eq!(seqs(&got), (start + 1..=start + 20).collect::<Vec<_>>());

    // One node stops; the socket (wherever it was) is told to go, and resumes through nginx.
    let last = start + 20;
    a.stop().await;
    let ann_front = Client {
        base: nginx.base.clone(),
        ..ann.client.clone()
    };
    for i in 0..10 {
        let (status, _) = ann_front
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                json!({ "body": format!("n{i}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    drop(socket);
    let (_, replayed) = connect(&nginx.base, &bob_token, json!({ room.to_string(): last })).await;
    assert_eq!(seqs(&replayed), (last + 1..=last + 10).collect::<Vec<_>>());
    drop(b);
}
