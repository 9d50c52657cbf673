//! Browser security headers on every response of a node: the web client's files and the API
//! alike. nginx in front (nginx/security-headers.conf) sets the same on the files it serves
//! itself and passes these through for the rest.
//!
//! The web client is built with no inline script or style (Vite emits files; Preact sets styles
//! through the CSSOM, which a policy does not restrict), so its policy allows only its own origin.
//! API responses are data, never documents: their policy allows nothing, and they are never
//! stored by a cache (they carry session tokens, CSRF tokens and private messages).

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// The web client's Content-Security-Policy.
pub const WEB_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The API's Content-Security-Policy: a JSON answer opened as a page may do nothing.
pub const API_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Adds the security headers a response lacks.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let csp = if api { API_CSP } else { WEB_CSP };
    set_missing(headers, header::CONTENT_SECURITY_POLICY, csp);
    set_missing(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_missing(headers, header::X_FRAME_OPTIONS, "DENY");
    set_missing(headers, header::REFERRER_POLICY, "no-referrer");
    if api {
        set_missing(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

fn set_missing(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers
        .entry(name)
        .or_insert(HeaderValue::from_static(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appliances_nginx_sets_the_same_headers_on_the_web_client_it_serves() {
        let site = include_str!("../../nginx/flowly.conf");
        assert!(
            site.contains(&format!("Content-Security-Policy \"{WEB_CSP}\" always;")),
            "nginx/flowly.conf's policy differs from WEB_CSP"
        );
        for header in [
            "X-Content-Type-Options \"nosniff\" always;",
            "X-Frame-Options \"DENY\" always;",
            "Referrer-Policy \"no-referrer\" always;",
        ] {
            assert_eq!(
                site.matches(header).count(),
                2,
                "{header} in both web locations"
            );
        }
    }

    #[test]
    fn the_web_policy_allows_no_inline_code_and_no_framing() {
        for policy in [WEB_CSP, API_CSP] {
            assert!(!policy.contains("unsafe"), "{policy}");
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        }
    }
}
