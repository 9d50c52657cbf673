//! Operability: health, readiness, metrics, the OpenAPI document, graceful shutdown.

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{TestApp, fresh_database, test_config};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    assert_eq!(anon.get("/healthz").await, (StatusCode::OK, json!("ok")));
    let (status, ready) = anon.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ready,
        json!({ "status": "ok", "postgres": "ok", "redis": "ok" })
    );
}

#[tokio::test]
async fn readiness_fails_when_redis_is_unreachable() {
    let app = TestApp::spawn().await;
    let mut config = (*app.state.config).clone();
    // A second node pointed at a Redis that is not there: it cannot even start.
    config.redis.url = flowly::config::Secret::new("redis://127.0.0.1:1");
    let err = flowly::server::connect(config)
        .await
        .err()
        .expect("no Redis, no node");
    assert!(format!("{err:#}").contains("Redis"), "{err:#}");
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template_on_their_own_port() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let room = app.group(&ann, "Ops", &[]).await;
    ann.get(&format!("/api/v1/rooms/{room}/messages")).await;
    ann.get(&format!("/api/v1/rooms/{}/messages", uuid::Uuid::now_v7()))
        .await;
    let text = app.metrics().await;
    assert!(text.contains(r#"flowly_http_requests_total{method="GET",route="/api/v1/rooms/{id}/messages",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"route="/api/v1/rooms/{id}/messages",status="404"} 1"#));
    assert!(text.contains("flowly_http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"flowly_db_pool_connections{state="max"} 8"#));
    // Every request above has finished; each scrape checks PostgreSQL and Redis.
    assert!(
        text.contains("flowly_http_requests_in_flight 0\n"),
        "{text}"
    );
    assert!(
        text.contains(r#"flowly_dependency_up{dependency="postgres"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flowly_dependency_up{dependency="redis"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"flowly_build_info{version=""#), "{text}");
    assert!(
        !text.contains(&room.to_string()),
        "raw paths never become labels"
    );
    let api = app.anonymous().get("/metrics").await;
    assert_eq!(
        api.0,
        StatusCode::NOT_FOUND,
        "metrics are not on the public port"
    );
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let count: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    // Every documented operation is routed: unauthenticated, it is refused, never "no such route".
    let anon = app.anonymous();
    for (path, methods) in paths {
        let concrete = path
            .replace("{emoji}", "x")
            .replace("{id}", &uuid::Uuid::nil().to_string())
            .replace("{user_id}", &uuid::Uuid::nil().to_string());
        for method in methods.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = anon.send(method.clone(), &concrete, Some(json!({}))).await;
            assert!(
                status != StatusCode::NOT_FOUND || flowly_testkit::code(&body) != "route_not_found",
                "{method} {path}"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
    assert!(count >= 50, "{count} operations");
}

#[tokio::test]
async fn a_stopped_node_finishes_and_its_data_is_there_for_the_next() {
    let db = fresh_database().await;
    let first = TestApp::start(test_config(&db)).await;
    let ann = first.register("ann").await;
    let room = first.group(&ann, "Ops", &[]).await;
    flowly_testkit::say(&ann, room, "before restart").await;
    let token = ann.client.token.clone();
    first.stop().await;

    let second = TestApp::start(test_config(&db)).await;
    let client = flowly_testkit::Client {
        base: second.base.clone(),
        token,
        ..second.anonymous()
    };
    let (status, page) = client.get(&format!("/api/v1/rooms/{room}/messages")).await;
    assert_eq!(status, StatusCode::OK, "the session survives the restart");
    assert_eq!(page["messages"][1]["body"], "before restart");
}

fn flowly(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flowly"));
    cmd.args(args)
        .env_remove("FLOWLY_CONFIG")
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run flowly")
}

#[test]
fn flowly_config_prints_the_effective_config_without_secrets() {
    let out = flowly(
        &["config"],
        &[
            (
                "FLOWLY_DATABASE__URL",
                "postgres://flowly:hunter2-secret@db:5432/flowly",
            ),
            ("FLOWLY_REDIS__URL", "redis://:redis-secret@cache:6379"),
            ("FLOWLY_SERVER__LISTEN", "0.0.0.0:9000"),
            ("FLOWLY_TEST_DATABASE_URL", "ignored: not a setting"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"0.0.0.0:9000\""), "{text}");
    assert!(
        text.contains("postgres://flowly:***@db:5432/flowly"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("redis-secret"),
        "{text}"
    );

    let bad = flowly(&["config"], &[("FLOWLY_SERVER__LISTEN", "not an address")]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid configuration"));
}

/// Runs `flowly users create <args>` against `app`'s database and Redis, with `password`.
async fn create_from_shell(
    app: &TestApp,
    args: &'static [&'static str],
    password: &'static str,
) -> std::process::Output {
    let db_url = app.state.config.database.url.expose().to_owned();
    let redis_url = app.state.config.redis.url.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let env = [
            ("FLOWLY_DATABASE__URL", db_url.as_str()),
            ("FLOWLY_REDIS__URL", redis_url.as_str()),
            ("FLOWLY_NEW_PASSWORD", password),
            ("FLOWLY_LOG__LEVEL", "warn"),
        ];
        let mut full = vec!["users", "create"];
        full.extend_from_slice(args);
        flowly(&full, &env)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_admin_is_created_from_the_shell_and_can_log_in() {
    let app = TestApp::spawn().await;
    let out = create_from_shell(
        &app,
        &["root", "--admin"],
        "shell made 4 copper kettles hum",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("administrator"));

    // A guessable password is refused from the shell as from the API, and no account is made.
    let weak = create_from_shell(&app, &["weakling"], "rootroot123").await;
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("weak_password"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let made: i64 = sqlx::query_scalar("select count(*) from users where username = 'weakling'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(made, 0);
    let (status, session) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({ "username": "root", "password": "shell made 4 copper kettles hum" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["user"]["is_admin"], true);
}

#[tokio::test]
async fn the_web_client_is_served_at_the_root_and_api_misses_stay_json() {
    let dir = std::env::temp_dir().join(format!("flowly-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Flowly</title>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('flowly')").unwrap();
    let web_dir = dir.display().to_string();
    let app = TestApp::spawn_with(move |c| c.server.web_dir = web_dir).await;
    let get = |path: &str| reqwest::get(format!("{}{path}", app.base));

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    // The client runs no inline script or style: the policy allows only its own files.
    let csp = index.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["x-frame-options"], "DENY");
    assert_eq!(index.headers()["referrer-policy"], "no-referrer");
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<title>Flowly</title>")
    );
    let js = get("/assets/app.js").await.unwrap();
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let client_route = get("/rooms/some-room").await.unwrap();
    assert!(
        client_route
            .text()
            .await
            .unwrap()
            .contains("<title>Flowly</title>"),
        "client routes get index.html"
    );
    let (status, body) = app.anonymous().get("/api/v1/nope").await;
    assert_eq!(
        (status, flowly_testkit::code(&body)),
        (StatusCode::NOT_FOUND, "route_not_found")
    );
    std::fs::remove_dir_all(dir).unwrap();
}
