//! Notifications: Web Push to people with no socket open, muted rooms, and the push service's
//! answers. A push service runs in the test (a local HTTP receiver); each browser is a real P-256
//! key pair and auth secret made by `ece` (OpenSSL), which also decrypts what the server sent, so
//! the server's RFC 8291 encryption is checked by an independent implementation.

use std::{collections::HashSet, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode as AxumStatus},
    routing::post,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ece::EcKeyComponents;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;
use web_push_native::jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, NoCustomClaims,
};

use flowly_testkit::{Team, TestApp, TestUser, code, eventually, id_of, say, ws};

/// One request the push service received.
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A push service on a loopback port: it records every push and answers 201, or 410 for
/// endpoints under `/gone/`.
struct PushService {
    base: String,
    received: Mutex<mpsc::UnboundedReceiver<Received>>,
}

impl PushService {
    async fn start() -> Arc<PushService> {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Router::new()
            .route("/{kind}/{name}", post(receive))
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Arc::new(PushService {
            base,
            received: Mutex::new(rx),
        })
    }

    /// The next push received (waiting up to 30 s).
    async fn next(&self) -> Received {
        let mut rx = self.received.lock().await;
        tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("no push arrived")
            .expect("push service stopped")
    }
}

async fn receive(
    State(tx): State<mpsc::UnboundedSender<Received>>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    let _ = tx.send(Received {
        path: format!("/{kind}/{name}"),
        headers,
        body,
    });
    if kind == "gone" {
        AxumStatus::GONE
    } else {
        AxumStatus::CREATED
    }
}

/// A browser: its push key pair and auth secret, as `pushManager.subscribe` would make them.
struct Browser {
    endpoint: String,
    keys: EcKeyComponents,
    auth: [u8; 16],
}

impl Browser {
    fn new(service: &PushService, path: &str) -> Browser {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
        Browser {
            endpoint: format!("{}{path}", service.base),
            keys: pair.raw_components().unwrap(),
            auth,
        }
    }

    fn subscription(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.keys.public_key()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    async fn subscribe(&self, user: &TestUser) {
        let (status, body) = user
            .post("/api/v1/push/subscriptions", self.subscription())
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// Decrypts a push meant for this browser and parses its JSON.
    fn open(&self, push: &Received) -> Value {
        let plain = ece::decrypt(&self.keys, &self.auth, &push.body).expect("decrypt the push");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// A push service, a node that may push to it over loopback http, and a team in the room "Ops".
async fn setup<const N: usize>(names: [&str; N]) -> (Arc<PushService>, TestApp, Team<N>) {
    let service = PushService::start().await;
    let app = TestApp::spawn_with(|config| config.push.allow_loopback_http = true).await;
    let team = app.team("Ops", names).await;
    (service, app, team)
}

#[tokio::test]
async fn a_mention_reaches_a_person_with_no_tab_open_as_an_encrypted_signed_push() {
    let (
        service,
        _app,
        Team {
            users: [ann, bob],
            room,
        },
    ) = setup(["ann", "bob"]).await;
    let browser = Browser::new(&service, "/push/bob-laptop");
    browser.subscribe(&bob).await;

    let message = say(&ann, room, "**backups** failed again, @bob can you look?").await;
    let push = service.next().await;
    assert_eq!(push.path, "/push/bob-laptop");
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    assert_eq!(push.headers["ttl"], "86400");
    let notice = browser.open(&push);
    assert_eq!(notice["reason"], "mention");
    assert_eq!(notice["room"], room.to_string());
    assert_eq!(notice["id"], message["id"]);
    assert_eq!(notice["title"], "Ann in Ops");
    assert_eq!(
        notice["body"],
        "**backups** failed again, @bob can you look?"
    );
    assert_eq!(notice["url"], format!("/#/r/{room}"));

    // The VAPID token is signed by the key the server publishes, for this push service.
    let (_, key) = bob.get("/api/v1/push/key").await;
    let public = key["public_key"].as_str().unwrap();
    let authorization = push.headers["authorization"].to_str().unwrap();
    let (token, k) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("a VAPID authorization");
    assert_eq!(k, public);
    let verifier = ES256PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(public).unwrap()).unwrap();
    let claims = verifier
        .verify_token::<NoCustomClaims>(token, None)
        .expect("the token verifies with the published key");
    // The audience is the push service's scheme and host (the port is left out: real push
    // services listen on 443).
    assert_eq!(
        claims.audiences.unwrap().into_string().unwrap(),
        "http://127.0.0.1"
    );
    assert_eq!(claims.subject.as_deref(), Some("mailto:admin@localhost"));
}

#[tokio::test]
async fn dms_and_assigned_tasks_push_too_but_never_to_the_one_who_acted() {
    let (
        service,
        _app,
        Team {
            users: [ann, bob],
            room,
        },
    ) = setup(["ann", "bob"]).await;
    let ann_browser = Browser::new(&service, "/push/ann");
    let bob_browser = Browser::new(&service, "/push/bob");
    ann_browser.subscribe(&ann).await;
    bob_browser.subscribe(&bob).await;

    let (_, dm) = ann.post("/api/v1/dms", json!({ "user_id": bob.id })).await;
    let dm = id_of(&dm);
    say(&ann, dm, "lunch at noon?").await;
    let push = service.next().await;
    assert_eq!(push.path, "/push/bob", "the author is not notified");
    let notice = bob_browser.open(&push);
    assert_eq!(
        (notice["reason"].as_str(), notice["title"].as_str()),
        (Some("dm"), Some("Ann"))
    );
    assert_eq!(notice["body"], "lunch at noon?");

    let (status, task) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Rotate the keys", "assignee_id": bob.id }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let notice = bob_browser.open(&service.next().await);
    assert_eq!(notice["reason"], "task_assigned");
    assert_eq!(notice["body"], "Rotate the keys");
    assert_eq!(
        notice["url"],
        format!("/#/t/{}", task["id"].as_str().unwrap())
    );

    // Bob hands it back to Ann: she is told, he is not.
    let (status, _) = bob
        .patch(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            json!({ "assignee_id": ann.id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let push = service.next().await;
    assert_eq!(push.path, "/push/ann");
    assert_eq!(ann_browser.open(&push)["title"], "bob assigned you a task");
}

#[tokio::test]
async fn an_open_socket_or_a_muted_room_means_no_push_but_assignments_still_come() {
    let (
        service,
        app,
        Team {
            users: [ann, bob, cat],
            room,
        },
    ) = setup(["ann", "bob", "cat"]).await;
    let bob_browser = Browser::new(&service, "/push/bob");
    bob_browser.subscribe(&bob).await;
    Browser::new(&service, "/push/cat").subscribe(&cat).await;

    // With a tab open, the page notifies Bob itself: no push. People are pushed to in id order,
    // so Cat's push for the same message comes after Bob was passed over.
    let (socket, _) = ws::connect(&app.base, bob.token.as_deref().unwrap(), json!({})).await;
    say(&ann, room, "@bob @cat while you are here").await;
    assert_eq!(service.next().await.path, "/push/cat");
    socket.close().await;
    eventually("bob's socket to be gone", || async {
        let live = flowly::realtime::presence::live_sockets(&app.state, bob.id)
            .await
            .unwrap();
        (live == 0).then_some(())
    })
    .await;

    // Muted: mentions in the room do not push.
    let (status, muted) = bob.put(&format!("/api/v1/rooms/{room}/mute")).await;
    assert_eq!((status, &muted["muted"]), (StatusCode::OK, &json!(true)));
    let (_, rooms) = bob.get("/api/v1/rooms").await;
    assert_eq!(rooms[0]["muted"], true);
    let (_, for_ann) = ann.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(for_ann["muted"], false, "a mute is the member's own");
    say(&ann, room, "@bob in a muted room").await;

    // A task assigned to him still does, and it is the first push he gets.
    let (status, _) = ann
        .post(
            "/api/v1/tasks",
            json!({ "room_id": room, "title": "Check the disks", "assignee_id": bob.id }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let push = service.next().await;
    assert_eq!(push.path, "/push/bob");
    assert_eq!(bob_browser.open(&push)["reason"], "task_assigned");

    let (status, unmuted) = bob.delete(&format!("/api/v1/rooms/{room}/mute")).await;
    assert_eq!((status, &unmuted["muted"]), (StatusCode::OK, &json!(false)));
    let loud = say(&ann, room, "@bob unmuted now").await;
    let notice = bob_browser.open(&service.next().await);
    assert_eq!(notice["id"], loud["id"]);
}

#[tokio::test]
async fn a_subscription_the_push_service_says_is_gone_is_dropped() {
    let (
        service,
        app,
        Team {
            users: [ann, bob],
            room,
        },
    ) = setup(["ann", "bob"]).await;
    let gone = Browser::new(&service, "/gone/old-phone");
    let alive = Browser::new(&service, "/push/laptop");
    gone.subscribe(&bob).await;
    alive.subscribe(&bob).await;

    say(&ann, room, "@bob ping").await;
    let mut paths = HashSet::new();
    paths.insert(service.next().await.path);
    paths.insert(service.next().await.path);
    assert_eq!(
        paths,
        HashSet::from(["/gone/old-phone".to_owned(), "/push/laptop".to_owned()])
    );
    let endpoints = eventually("the gone subscription to be removed", || async {
        let rows: Vec<String> = sqlx::query_scalar("select endpoint from push_subscriptions")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
        (rows.len() == 1).then_some(rows)
    })
    .await;
    assert_eq!(endpoints, vec![alive.endpoint.clone()]);

    // Bob turns notifications off on the laptop: nothing is left to push to.
    let (status, _) = bob
        .send(
            Method::DELETE,
            "/api/v1/push/subscriptions",
            Some(json!({ "endpoint": alive.endpoint })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = bob
        .send(
            Method::DELETE,
            "/api/v1/push/subscriptions",
            Some(json!({ "endpoint": alive.endpoint })),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "subscription_not_found")
    );
}

#[tokio::test]
async fn bad_subscriptions_and_mutes_are_refused_with_stable_codes() {
    let service = PushService::start().await;
    let app = TestApp::spawn_with(|config| {
        config.push.allow_loopback_http = true;
        config.push.max_subscriptions_per_user = 2;
    })
    .await;
    let Team {
        users: [ann, bob],
        room,
    } = app.team("Ops", ["ann", "bob"]).await;
    let cat = app.register("cat").await;
    let browser = Browser::new(&service, "/push/one");
    let good = browser.subscription();

    let mut bad = Vec::new();
    for endpoint in [
        "http://push.example.com/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "javascript:alert(1)",
        "",
    ] {
        let mut sub = good.clone();
        sub["endpoint"] = json!(endpoint);
        bad.push(sub);
    }
    for (field, value) in [
        ("p256dh", "not base64!"),
        ("p256dh", "AAAA"),
        ("auth", "c2hvcnQ"),
    ] {
        let mut sub = good.clone();
        sub["keys"][field] = json!(value);
        bad.push(sub);
    }
    for sub in bad {
        let (status, err) = ann.post("/api/v1/push/subscriptions", sub.clone()).await;
        assert_eq!(
            (status, code(&err)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_subscription"),
            "{sub}"
        );
    }
    let (status, err) = ann
        .post(
            "/api/v1/push/subscriptions",
            json!({ "endpoint": "https://x.example" }),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    let count: i64 = sqlx::query_scalar("select count(*) from push_subscriptions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing refused was stored");

    // Two browsers at most; renewing one of them is not a third.
    Browser::new(&service, "/push/a").subscribe(&ann).await;
    browser.subscribe(&ann).await;
    browser.subscribe(&ann).await;
    let (status, err) = ann
        .post(
            "/api/v1/push/subscriptions",
            Browser::new(&service, "/push/c").subscription(),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "too_many_subscriptions")
    );

    // Muting a room one is not in is like any other room one cannot see.
    let (status, err) = cat.put(&format!("/api/v1/rooms/{room}/mute")).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    let (status, err) = bob
        .put(&format!("/api/v1/rooms/{}/mute", Uuid::now_v7()))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "room_not_found")
    );
    let (status, _) = bob.put("/api/v1/rooms/not-a-uuid/mute").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.api.anonymous().get("/api/v1/push/key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_node_signs_with_the_one_vapid_key_made_at_first_start() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let (_, first) = ann.get("/api/v1/push/key").await;
    let public = first["public_key"].as_str().unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(public).unwrap().len(), 65);
    assert_eq!(first["enabled"], true);

    // A second node on the same database, as a scaled-out deployment runs them.
    let second = TestApp::start((*app.state.config).clone()).await;
    let ann_there = second
        .login("ann", &flowly_testkit::password_of("ann"))
        .await;
    let (_, again) = ann_there.get("/api/v1/push/key").await;
    assert_eq!(again["public_key"], first["public_key"]);
}
