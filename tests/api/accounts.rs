//! Accounts: register, log in and out, sessions, password, profile, admins, rate limits, CSRF.

use reqwest::StatusCode;
use serde_json::json;

use flowly_testkit::{Client, TestApp, code, password_of};

#[tokio::test]
async fn the_first_account_becomes_admin_and_later_ones_do_not() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let (_, me) = ann.get("/api/v1/me").await;
    assert_eq!(me["is_admin"], true);
    let (_, me) = bob.get("/api/v1/me").await;
    assert_eq!(me["is_admin"], false);
    assert_eq!(me["username"], "bob");
    assert_eq!(me["display_name"], "Bob");
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn registration_validates_and_refuses_taken_usernames() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let cases = [
        (
            json!({"username": "ab", "display_name": "A", "password": "copper kettles hum beside 9 quiet wolves"}),
            "invalid_username",
        ),
        (
            json!({"username": "Ann!", "display_name": "A", "password": "copper kettles hum beside 9 quiet wolves"}),
            "invalid_username",
        ),
        (
            json!({"username": "ann", "display_name": "", "password": "copper kettles hum beside 9 quiet wolves"}),
            "invalid_display_name",
        ),
        (
            json!({"username": "ann", "display_name": "Ann", "password": "short"}),
            "weak_password",
        ),
    ];
    for (body, expected) in cases {
        let (status, err) = anon.post("/api/v1/auth/register", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&err), expected);
    }
    app.register("ann").await;
    let (status, err) = anon
        .post(
            "/api/v1/auth/register",
            json!({"username": "ann", "display_name": "Other", "password": "copper kettles hum beside 9 quiet wolves"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&err), "username_taken");
}

#[tokio::test]
async fn login_logout_and_sessions() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let anon = app.anonymous();

    let (status, err) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "ann", "password": "wrong password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&err), "invalid_credentials");
    let (status, err) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "nobody", "password": "wrong password"}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    let (status, session) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "ANN", "password": password_of("ann")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let laptop = Client {
        token: session["token"].as_str().map(str::to_owned),
        ..anon.clone()
    };

    let (_, list) = laptop.get("/api/v1/me/sessions").await;
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["current"], session["session_id"]);

    // Revoking the registration session from the laptop ends it at once.
    let other = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] != session["session_id"])
        .unwrap()["id"]
        .clone();
    let (status, _) = laptop
        .delete(&format!("/api/v1/me/sessions/{}", other.as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = ann.get("/api/v1/me").await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );

    let (status, _) = laptop.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = laptop.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_everywhere_ends_every_session() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let phone = app.login("ann", &password_of("ann")).await;
    assert_eq!(phone.get("/api/v1/me").await.0, StatusCode::OK);
    assert_eq!(
        ann.post("/api/v1/auth/logout-all", json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(phone.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ann.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_needs_the_old_one() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let anon = app.anonymous();
    let phone = app.login("ann", &password_of("ann")).await;

    let (status, err) = ann
        .post(
            "/api/v1/me/password",
            json!({"current_password": "not it at all", "new_password": "copper kettles hum beside 9 quiet wolves"}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "wrong_password")
    );
    let (status, err) = ann
        .post(
            "/api/v1/me/password",
            json!({"current_password": password_of("ann"), "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password")
    );
    let (status, _) = ann
        .post(
            "/api/v1/me/password",
            json!({"current_password": password_of("ann"), "new_password": "copper kettles hum beside 9 quiet wolves"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    assert_eq!(
        ann.get("/api/v1/me").await.0,
        StatusCode::OK,
        "the session that changed it stays"
    );
    assert_eq!(phone.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "ann", "password": password_of("ann")}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "ann", "password": "copper kettles hum beside 9 quiet wolves"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn profile_edits_are_validated() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let (status, me) = ann
        .patch(
            "/api/v1/me",
            json!({"display_name": "  Ann Lee ", "bio": "Ops"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["display_name"], "Ann Lee");
    assert_eq!(me["bio"], "Ops");
    let (status, err) = ann
        .patch("/api/v1/me", json!({"display_name": "x".repeat(65)}))
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_display_name")
    );
    let (_, me) = ann.get("/api/v1/me").await;
    assert_eq!(
        me["display_name"], "Ann Lee",
        "a refused edit changes nothing"
    );
}

#[tokio::test]
async fn an_admin_disables_a_user_whose_sessions_end_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    assert_eq!(
        bob.get("/api/v1/me").await.0,
        StatusCode::OK,
        "session is now cached"
    );

    let (status, err) = bob.get("/api/v1/admin/users").await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "admin_only"));
    let (status, err) = bob
        .post(
            &format!("/api/v1/admin/users/{}/disable", admin.id),
            json!({}),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "admin_only"));

    let (status, users) = admin.get("/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().map(Vec::len), Some(2));

    let (status, user) = admin
        .post(
            &format!("/api/v1/admin/users/{}/disable", bob.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["disabled"], true);
    assert_eq!(bob.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, err) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "bob", "password": password_of("bob")}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::FORBIDDEN, "account_disabled")
    );

    let (status, err) = admin
        .post(
            &format!("/api/v1/admin/users/{}/disable", admin.id),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::CONFLICT, "cannot_disable_self")
    );
    let (status, err) = admin
        .post(
            &format!("/api/v1/admin/users/{}/disable", uuid::Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::NOT_FOUND, "user_not_found")
    );

    let (status, _) = admin
        .post(&format!("/api/v1/admin/users/{}/enable", bob.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "bob", "password": password_of("bob")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_account_and_per_address() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_failures_per_account = 3;
        c.auth.login_attempts_per_ip = 8;
    })
    .await;
    app.register("ann").await;
    let anon = app.anonymous();
    for _ in 0..3 {
        let (status, _) = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": "ann", "password": "wrong password"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = anon
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "ann", "password": password_of("ann")}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");

    // Other accounts from the same address still work until the address limit.
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            anon.post(
                "/api/v1/auth/login",
                json!({"username": format!("bob{i}"), "password": "wrong password"}),
            )
            .await
            .0,
        );
    }
    assert_eq!(&statuses[..4], &[StatusCode::UNAUTHORIZED; 4]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_for_writes() {
    let app = TestApp::spawn().await;
    app.register("ann").await;
    let browser = Client::with_cookies(&app.base);
    let response = browser
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "ann", "password": password_of("ann")}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("flowly_session="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"));
    assert!(session_cookie.contains("SameSite=Lax"));
    let body: serde_json::Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    assert_eq!(
        browser.get("/api/v1/me").await.0,
        StatusCode::OK,
        "reads need no CSRF header"
    );
    let (status, err) = browser.patch("/api/v1/me", json!({"bio": "forged"})).await;
    assert_eq!((status, code(&err)), (StatusCode::FORBIDDEN, "csrf_failed"));
    let forged = Client {
        csrf: Some("0".repeat(64)),
        ..browser.clone()
    };
    assert_eq!(
        forged.patch("/api/v1/me", json!({"bio": "forged"})).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, me) = browser.get("/api/v1/me").await;
    assert_eq!(me["bio"], "");

    let real = Client {
        csrf: Some(csrf),
        ..browser.clone()
    };
    let (status, me) = real.patch("/api/v1/me", json!({"bio": "real"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["bio"], "real");
}

#[tokio::test]
async fn guessable_passwords_are_refused_with_the_estimators_advice_everywhere() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    // Common, repetitive, and made of the account's own names or the product's: all long enough.
    let weak = [
        ("annabel", "Annabel Lee", "password12"),
        ("annabel", "Annabel Lee", "aaaaaaaaaa"),
        ("annabel", "Annabel Lee", "annabel2024!"),
        ("annabel", "Annabel Lee", "annabel lee 1"),
        ("annabel", "Annabel Lee", "flowlyflowly"),
        ("annabel", "Annabel Lee", "qwertyuiop123"),
    ];
    for (username, display_name, password) in weak {
        let (status, err) = anon
            .post(
                "/api/v1/auth/register",
                json!({"username": username, "display_name": display_name, "password": password}),
            )
            .await;
        assert_eq!(
            (status, code(&err)),
            (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
            "{password}: {err}"
        );
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("this password is too easy to guess"),
            "{password}: {message}"
        );
    }
    // Nothing was written: the username is still free.
    let (status, body) = anon
        .post(
            "/api/v1/auth/register",
            json!({"username": "annabel", "display_name": "Annabel Lee",
                   "password": "copper kettles hum beside 9 quiet wolves"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Changing the password runs the same check, with the same code; the old one still works.
    let ann = app.register("ann").await;
    let (status, err) = ann
        .post(
            "/api/v1/me/password",
            json!({"current_password": password_of("ann"), "new_password": "password1234"}),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
        "{err}"
    );
    app.login("ann", &password_of("ann")).await;
}

#[tokio::test]
async fn only_admins_and_the_user_themself_see_admin_and_disabled_flags() {
    let app = TestApp::spawn().await;
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    app.befriend(&bob, &cat).await;

    // Someone else's profile, found by id, by search or in the friend list: no flags.
    let (status, seen) = bob.get(&format!("/api/v1/users/{}", admin.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["username"], "admin");
    for flag in ["is_admin", "disabled"] {
        assert!(
            seen.get(flag).is_none(),
            "{flag} shown to another user: {seen}"
        );
    }
    let (_, found) = bob.get("/api/v1/users?q=adm").await;
    assert_eq!(found[0]["username"], "admin", "{found}");
    assert!(found[0].get("is_admin").is_none(), "{found}");
    let (_, friends) = bob.get("/api/v1/friends").await;
    let friend = &friends.as_array().unwrap()[0];
    assert!(
        friend.get("is_admin").is_none() && friend.get("disabled").is_none(),
        "{friend}"
    );

    // Their own profile, and anyone's to an administrator: with flags.
    let (_, own) = bob.get(&format!("/api/v1/users/{}", bob.id)).await;
    assert_eq!(
        (own["is_admin"].clone(), own["disabled"].clone()),
        (json!(false), json!(false))
    );
    let (_, to_admin) = admin.get(&format!("/api/v1/users/{}", cat.id)).await;
    assert_eq!(to_admin["is_admin"], false);
    assert_eq!(to_admin["disabled"], false);
    let (_, me) = admin.get("/api/v1/me").await;
    assert_eq!(me["is_admin"], true);
}

#[tokio::test]
async fn api_responses_carry_browser_security_headers_and_tokens_are_never_cached() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let register = http
        .post(format!("{}/api/v1/auth/register", app.base))
        .json(&json!({"username": "ann", "display_name": "Ann", "password": password_of("ann")}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);
    let login = http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "ann", "password": password_of("ann")}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let error = http
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    for response in [&register, &login, &error] {
        let h = response.headers();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(header("cache-control"), "no-store", "{h:?}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{h:?}");
        assert_eq!(header("x-frame-options"), "DENY", "{h:?}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{h:?}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{h:?}"
        );
    }
}

#[tokio::test]
async fn a_session_lookup_refreshes_last_seen_only_once_it_is_stale() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let hash = flowly::domain::auth::token_hash(ann.client.token.as_deref().unwrap());
    let set_age = |secs: f64| {
        sqlx::query(
            "update sessions set last_seen_at = now() - make_interval(secs => $2)
             where token_hash = $1 returning last_seen_at",
        )
        .bind(hash.clone())
        .bind(secs)
    };
    let seen = || {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "select last_seen_at from sessions where token_hash = $1",
        )
        .bind(hash.clone())
        .fetch_one(&app.state.db)
    };
    let lookup = || flowly::store::sessions::find_live(&app.state.db, &hash);
    let fresh = flowly::store::sessions::TOUCH_AFTER_SECS / 2.0;

    set_age(fresh).execute(&app.state.db).await.unwrap();
    let before = seen().await.unwrap();
    let actor = lookup().await.unwrap().expect("a live session");
    assert_eq!(actor.username, "ann");
    assert_eq!(
        seen().await.unwrap(),
        before,
        "seen a moment ago: not written"
    );

    set_age(flowly::store::sessions::TOUCH_AFTER_SECS * 2.0)
        .execute(&app.state.db)
        .await
        .unwrap();
    let stale = seen().await.unwrap();
    lookup().await.unwrap().expect("a live session");
    let touched = seen().await.unwrap();
    assert!(
        touched - stale > chrono::Duration::seconds(1000),
        "{stale} → {touched}"
    );
}
