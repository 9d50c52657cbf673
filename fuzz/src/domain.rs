//! `flowly::domain`, the part the targets use: error codes and validated fields.

#[path = "../../src/domain/error_code.rs"]
pub mod error_code;
#[path = "../../src/domain/fields.rs"]
pub mod fields;

pub use error_code::{ErrorCode, Invalid};
pub use fields::*;
