//! API keys (`Authorization: Bearer <key>`, or HTTP basic auth with the key as the password,
//! for shippers that only speak basic auth) and a token bucket per key.

use std::{collections::HashMap, sync::Mutex, time::Instant};

use axum::http::{HeaderMap, header};
use base64::Engine;

use super::error::ApiError;
use crate::config::{ApiKey, Role};

/// Who is calling: the key's name and role (`anonymous` on an open broker).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Option<Role>,
}

pub struct Auth {
    keys: Vec<ApiKey>,
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    pub fn new(keys: Vec<ApiKey>, rate: f64, burst: f64) -> Self {
        Auth {
            keys,
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The caller, who must hold `role` (every key may do what its role allows; an open broker
    /// allows everything).
    pub fn check(&self, headers: &HeaderMap, role: Role) -> Result<Caller, ApiError> {
        if self.keys.is_empty() {
            return Ok(Caller {
                name: "anonymous".into(),
                role: None,
            });
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                if let Some(token) = v.strip_prefix("Bearer ") {
                    Some(token.trim().to_owned())
                } else {
                    let basic = v.strip_prefix("Basic ")?;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(basic.trim())
                        .ok()?;
                    let text = String::from_utf8(decoded).ok()?;
                    text.split_once(':')
                        .map(|(_, password)| password.to_owned())
                }
            })
            .ok_or_else(ApiError::unauthorized)?;
        let key = self
            .keys
            .iter()
            .find(|k| same(k.key.as_bytes(), presented.as_bytes()))
            .ok_or_else(ApiError::unauthorized)?;
        if key.role != role {
            return Err(ApiError::forbidden(match role {
                Role::Producer => "ingest (it is a reader key)",
                Role::Reader => "read (it is a producer key)",
            }));
        }
        Ok(Caller {
            name: key.name.clone(),
            role: Some(key.role),
        })
    }

    /// Takes `cost` tokens from the caller's bucket, or says when to retry. A batch larger than
    /// the burst passes when the bucket is full (and leaves it in debt).
    pub fn take(&self, caller: &Caller, cost: f64) -> Result<(), ApiError> {
        self.take_at(caller, cost, Instant::now())
    }

    fn take_at(&self, caller: &Caller, cost: f64, now: Instant) -> Result<(), ApiError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(caller.name.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        let needed = cost.min(self.burst);
        if bucket.tokens >= needed {
            bucket.tokens -= cost;
            Ok(())
        } else {
            let wait = ((needed - bucket.tokens) / self.rate).ceil().max(1.0);
            Err(ApiError::rate_limited(wait as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::Duration;

    fn auth() -> Auth {
        Auth::new(
            vec![
                ApiKey {
                    name: "shipper".into(),
                    role: Role::Producer,
                    key: "p-key".into(),
                },
                ApiKey {
                    name: "grafana".into(),
                    role: Role::Reader,
                    key: "r-key".into(),
                },
            ],
            10.0,
            20.0,
        )
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn keys_are_checked_with_their_roles() {
        let a = auth();
        assert_eq!(
            a.check(&headers("Bearer p-key"), Role::Producer)
                .unwrap()
                .name,
            "shipper"
        );
        assert_eq!(
            a.check(&headers("Bearer p-key"), Role::Reader)
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            a.check(&headers("Bearer nope"), Role::Reader)
                .unwrap_err()
                .code,
            "unauthorized"
        );
        assert_eq!(
            a.check(&HeaderMap::new(), Role::Reader).unwrap_err().code,
            "unauthorized"
        );
        // Basic auth with the key as the password (user ignored): "loki:r-key".
        assert_eq!(
            a.check(&headers("Basic bG9raTpyLWtleQ=="), Role::Reader)
                .unwrap()
                .name,
            "grafana"
        );
    }

    #[test]
    fn the_bucket_allows_the_burst_then_says_when_to_retry() {
        let a = auth();
        let caller = Caller {
            name: "shipper".into(),
            role: Some(Role::Producer),
        };
        let t0 = Instant::now();
        assert!(a.take_at(&caller, 15.0, t0).is_ok());
        let err = a.take_at(&caller, 10.0, t0).unwrap_err();
        assert_eq!((err.code, err.retry_after), ("rate_limited", Some(1)));
        // Half a second later 5 more tokens have come: 10 are there.
        assert!(
            a.take_at(&caller, 10.0, t0 + Duration::from_millis(500))
                .is_ok()
        );
        // A batch above the burst passes on a full bucket only.
        let full = t0 + Duration::from_secs(10);
        assert!(a.take_at(&caller, 50.0, full).is_ok());
        assert_eq!(
            a.take_at(&caller, 1.0, full).unwrap_err().retry_after,
            Some(4)
        );
    }
}
