//! Load shedding: a node at its limits refuses new requests (503 `overloaded` with a
//! `Retry-After`) and new sockets (close 1013) that waited their time in line for a place, and
//! finishes the work it already took. (Waiting in line and being admitted when a place comes
//! free: `server::admission`'s unit tests, on a paused clock.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{TestApp, code, eventually, new_task, ws};

/// Waits until a backend of the app's database waits on a lock: the request holding the node's
/// place has reached PostgreSQL and is stuck there.
async fn a_request_waits_on_the_lock(app: &TestApp) {
    eventually("a request waiting on the task's lock", || async {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        (waiting > 0).then_some(())
    })
    .await;
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_full_node_refuses_new_requests_past_their_wait_and_finishes_those_it_took() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_requests_in_flight = 1;
        c.server.request_queue_ms = 300;
    })
    .await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "Ops", &[]).await;
    let id = new_task(&ann, room, "Write the runbook").await;

    // An edit of the task waits on a lock held here, and so holds the node's one place.
    let mut holder = flowly::store::begin(&app.state.db).await.unwrap();
    flowly::store::tasks::lock(&mut holder, ann.id, id)
        .await
        .unwrap();
    let edit = tokio::spawn({
        let ann = ann.client.clone();
        async move {
            ann.patch(
                &format!("/api/v1/tasks/{id}"),
                json!({ "title": "Runbook" }),
            )
            .await
        }
    });
    a_request_waits_on_the_lock(&app).await;

    let refused = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(ann.client.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!((1..=5).contains(&retry_after(&refused)));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(code(&body), "overloaded");
    let (status, _) = app.anonymous().get("/healthz").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "health checks stay outside the limit"
    );

    holder.rollback().await.unwrap();
    let (status, edited) = edit.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the request it took is finished: {edited}"
    );
    assert_eq!(edited["title"], "Runbook");
    let (status, _) = ann.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "the place is free again");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"flowly_load_shed_total{kind="request"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn sockets_beyond_those_connecting_are_refused_before_the_upgrade() {
    let app = TestApp::spawn_with(|c| {
        c.realtime.max_connecting = 1;
        c.realtime.connect_queue_ms = 300;
    })
    .await;
    let ann = app.register("ann").await;
    let token = ann.client.token.clone().unwrap();

    // The first socket loads its rooms while the memberships are locked, so it stays connecting.
    let mut holder = flowly::store::begin(&app.state.db).await.unwrap();
    sqlx::query("lock table room_members in access exclusive mode")
        .execute(&mut *holder)
        .await
        .unwrap();
    let first = tokio::spawn({
        let (base, token) = (app.base.clone(), token.clone());
        async move { ws::open(&base, Some(&token)).await }
    });
    a_request_waits_on_the_lock(&app).await;

    // Refused before any work once its wait is over, with the close code a browser can read.
    match ws::open(&app.base, Some(&token)).await {
        Err(Some((code, reason))) => {
            assert_eq!((code, reason.as_str()), (1013, "overloaded: retry later"))
        }
        Err(None) => panic!("closed without a code"),
        Ok(_) => panic!("a second connecting socket was admitted"),
    }

    holder.rollback().await.unwrap();
    let socket = tokio::time::timeout(Duration::from_secs(15), first)
        .await
        .unwrap()
        .unwrap();
    assert!(socket.is_ok(), "the socket it took gets its hello");
    ws::open(&app.base, Some(&token))
        .await
        .expect("with the first one in, a new socket is admitted");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"flowly_load_shed_total{kind="socket"} 1"#),
        "{metrics}"
    );
}
