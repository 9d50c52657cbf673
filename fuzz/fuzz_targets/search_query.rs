//! A search query (`GET /api/v1/search?q=`): never a panic; an accepted query is trimmed, 1–200
//! characters without control characters, and accepted again as it is.
#![no_main]

use flowly_fuzz::domain::{ErrorCode, SearchQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    match SearchQuery::parse(raw) {
        Ok(query) => {
            let q = query.as_str();
            assert_eq!(q, raw.trim());
            assert!((1..=200).contains(&q.chars().count()), "{q:?}");
            assert!(!q.chars().any(char::is_control), "{q:?}");
            assert_eq!(SearchQuery::parse(q), Ok(query.clone()));
        }
        Err(invalid) => {
            assert_eq!(invalid.code, ErrorCode::InvalidQuery);
            let trimmed = raw.trim();
            let n = trimmed.chars().count();
            assert!(
                n == 0 || n > 200 || trimmed.chars().any(char::is_control),
                "{raw:?} refused: {invalid}"
            );
        }
    }
});
