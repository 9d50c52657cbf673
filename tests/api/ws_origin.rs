//! The WebSocket's origin check: a browser's cookie opens a socket only from Flowly's own origin
//! (scheme, host and port), and headers a proxy would set count only from a trusted proxy.

use flowly::config::Config;
use flowly_testkit::{TestApp, TestUser, ws};

const FORBIDDEN_ORIGIN: u16 = 4403;

/// The session cookie of `user`, as a browser holding it would send it.
fn cookie(user: &TestUser) -> (&'static str, String) {
    let token = user.client.token.clone().expect("token");
    ("cookie", format!("flowly_session={token}"))
}

/// Opens a socket with `user`'s cookie and these extra headers; `Ok` when it was accepted, else
/// the close code.
async fn open_with_cookie(
    app: &TestApp,
    user: &TestUser,
    headers: &[(&'static str, &str)],
) -> Result<(), Option<u16>> {
    let mut all = vec![cookie(user)];
    all.extend(headers.iter().map(|(n, v)| (*n, (*v).to_owned())));
    match ws::open_with_headers(&app.base, &all).await {
        Ok(socket) => {
            socket.close().await;
            Ok(())
        }
        Err(closed) => Err(closed.map(|c| c.0)),
    }
}

#[tokio::test]
async fn a_browser_socket_opens_only_from_the_nodes_own_scheme_host_and_port() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let own = app.base.clone(); // http://127.0.0.1:<port>
    assert_eq!(
        open_with_cookie(&app, &ann, &[("origin", &own)]).await,
        Ok(())
    );
    // The same host over another scheme is another origin.
    let https = own.replacen("http://", "https://", 1);
    assert_eq!(
        open_with_cookie(&app, &ann, &[("origin", &https)]).await,
        Err(Some(FORBIDDEN_ORIGIN))
    );
    let other_port = format!("http://127.0.0.1:{}", addr_port(&app) + 1);
    let others = [
        other_port.as_str(),
        "http://evil.example",
        "null",
        "not a url",
        "http://127.0.0.1",
    ];
    assert_refused(&app, &ann, &others).await;
    // A client that is not a browser sends no origin; a bearer token needs no origin check.
    assert_eq!(open_with_cookie(&app, &ann, &[]).await, Ok(()));
}

/// Each of `origins` gets a cookie socket closed with 4403.
async fn assert_refused(app: &TestApp, user: &TestUser, origins: &[&str]) {
    for origin in origins {
        assert_eq!(
            open_with_cookie(app, user, &[("origin", origin)]).await,
            Err(Some(FORBIDDEN_ORIGIN)),
            "origin {origin:?}"
        );
    }
}

fn addr_port(app: &TestApp) -> u16 {
    app.base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

#[tokio::test]
async fn forwarded_host_and_scheme_are_ignored_unless_the_proxy_is_trusted() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    // Anyone can send these headers: with `trust_forwarded_for` off they change nothing.
    let forged = [
        ("origin", "http://evil.example"),
        ("x-forwarded-host", "evil.example"),
    ];
    assert_eq!(
        open_with_cookie(&app, &ann, &forged).await,
        Err(Some(FORBIDDEN_ORIGIN))
    );
    let forged = [
        ("origin", "https://evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
    ];
    assert_eq!(
        open_with_cookie(&app, &ann, &forged).await,
        Err(Some(FORBIDDEN_ORIGIN))
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_host_and_scheme_are_the_origin() {
    let app = TestApp::spawn_with(|c: &mut Config| c.server.trust_forwarded_for = true).await;
    let ann = app.register("ann").await;
    let proxied = |origin: &'static str| {
        [
            ("origin", origin),
            ("x-forwarded-host", "chat.example.com"),
            ("x-forwarded-proto", "https"),
        ]
    };
    assert_eq!(
        open_with_cookie(&app, &ann, &proxied("https://chat.example.com")).await,
        Ok(())
    );
    assert_eq!(
        open_with_cookie(&app, &ann, &proxied("https://chat.example.com:443")).await,
        Ok(())
    );
    // The proxy says HTTPS: a page served over plain HTTP is another origin.
    assert_eq!(
        open_with_cookie(&app, &ann, &proxied("http://chat.example.com")).await,
        Err(Some(FORBIDDEN_ORIGIN))
    );
    assert_eq!(
        open_with_cookie(&app, &ann, &proxied("https://evil.example")).await,
        Err(Some(FORBIDDEN_ORIGIN))
    );
    // nginx passes the browser's Host and sets only the scheme.
    let port = addr_port(&app);
    let own_over_tls = format!("https://127.0.0.1:{port}");
    assert_eq!(
        open_with_cookie(
            &app,
            &ann,
            &[("origin", &own_over_tls), ("x-forwarded-proto", "https")]
        )
        .await,
        Ok(())
    );
}

#[tokio::test]
async fn a_configured_public_url_is_the_only_origin_accepted() {
    let app = TestApp::spawn_with(|c: &mut Config| {
        c.server.public_url = "https://chat.example.com".into();
    })
    .await;
    let ann = app.register("ann").await;
    assert_eq!(
        open_with_cookie(&app, &ann, &[("origin", "https://chat.example.com")]).await,
        Ok(())
    );
    let own = app.base.clone();
    let others = [
        own.as_str(),
        "http://chat.example.com",
        "https://chat.example.com:8443",
    ];
    assert_refused(&app, &ann, &others).await;
}
