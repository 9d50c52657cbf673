//! A login costs the same password work whether or not the username exists, so its time does not
//! tell which usernames do (issue 12, finding 4). The work is counted, not timed: the node's
//! `flowly_password_hashing_total{op}` counts argon2 hashes made and verified by this process.
//!
//! Its own test binary: the counts are the process's, and nothing else here logs in or registers
//! while it measures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{TestApp, code, password_of};

/// `(hashes made, hashes verified)` so far, as the node's metrics listener reports them.
async fn password_work(app: &TestApp) -> (u64, u64) {
    let text = app.metrics().await;
    let count = |op: &str| {
        let prefix = format!("flowly_password_hashing_total{{op=\"{op}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (count("hash"), count("verify"))
}

#[tokio::test]
async fn every_failed_or_refused_login_verifies_exactly_one_hash_and_makes_none() {
    let app = TestApp::spawn().await;
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/users/{}/disable", bob.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let anon = app.anonymous();
    let cases = [
        (
            "admin",
            "not the right password".to_owned(),
            "invalid_credentials",
            "wrong password",
        ),
        (
            "nobody",
            "not the right password".to_owned(),
            "invalid_credentials",
            "unknown user",
        ),
        (
            "no such name!",
            "not the right password".to_owned(),
            "invalid_credentials",
            "impossible username",
        ),
        (
            "bob",
            "not the right password".to_owned(),
            "invalid_credentials",
            "disabled user, wrong password",
        ),
        (
            "bob",
            password_of("bob"),
            "account_disabled",
            "disabled user, right password",
        ),
    ];
    for (username, password, expected, what) in cases {
        let before = password_work(&app).await;
        let (_, err) = anon
            .post(
                "/api/v1/auth/login",
                json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(code(&err), expected, "{what}: {err}");
        let after = password_work(&app).await;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (0, 1),
            "{what}: (hashes made, hashes verified) during the login"
        );
    }
}
