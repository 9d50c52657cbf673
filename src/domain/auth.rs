//! Session tokens and CSRF, as pure functions; who the caller is ([`Actor`]).
//!
//! A session is an opaque random token. PostgreSQL stores only its SHA-256; cookie-authenticated
//! writes must send a CSRF token derived from the session token: a page on another origin can
//! neither read the HttpOnly cookie nor compute it.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "flowly_session";
pub const CSRF_COOKIE: &str = "flowly_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a use case: what a live session says about its user (cached in
/// Redis as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub session_id: Uuid,
    #[serde(rename = "user_id")]
    pub id: Uuid,
    pub username: String,
    pub is_admin: bool,
}

/// A fresh session token: 32 random bytes, base64url.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What PostgreSQL stores of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The CSRF token that goes with a session token.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("flowly-csrf:{session_token}").as_bytes(),
    ))
}

/// Whether `sent` is the CSRF token of `session_token`, compared in constant time.
pub fn csrf_matches(session_token: &str, sent: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn csrf_token_belongs_to_its_session() {
        let token = new_token();
        assert!(csrf_matches(&token, &csrf_token(&token)));
        assert!(!csrf_matches(&token, &csrf_token(&new_token())));
        assert!(!csrf_matches(&token, ""));
    }

    #[test]
    fn an_actor_is_cached_under_the_field_names_of_a_session() {
        let actor = Actor {
            session_id: Uuid::nil(),
            id: Uuid::max(),
            username: "ada".into(),
            is_admin: true,
        };
        let json = serde_json::to_value(&actor).unwrap_or_default();
        assert_eq!(json["user_id"], serde_json::json!(Uuid::max()));
        assert_eq!(serde_json::from_value::<Actor>(json).ok(), Some(actor));
    }
}
