//! The vocabulary of what simulated users type: message bodies, task titles, searches. It is the
//! one `flowly dev seed` writes its history in, so that searches find seeded messages as well as
//! the ones a run sends.

pub use flowly_dataset::{WORDS, sentence};
