//! The vocabulary of what simulated users type: message bodies, task titles, searches. It is the
//! one `flowly dev seed` writes its history in (`WORDS` in the server's `dev::seed`), so that
//! searches find seeded messages as well as the ones a run sends.

use rand::Rng;

pub const WORDS: &[&str] = &[
    "deploy",
    "backup",
    "release",
    "invoice",
    "meeting",
    "design",
    "review",
    "budget",
    "server",
    "database",
    "customer",
    "roadmap",
    "sprint",
    "bug",
    "fix",
    "launch",
    "report",
    "metrics",
    "onboarding",
    "contract",
    "schedule",
    "incident",
    "rollback",
    "feature",
    "campaign",
    "hiring",
    "security",
    "migration",
    "latency",
    "dashboard",
    "quarter",
    "planning",
    "support",
    "ticket",
    "vendor",
    "payroll",
    "travel",
    "workshop",
    "prototype",
    "feedback",
    "testing",
    "staging",
    "pipeline",
    "cache",
    "network",
    "storage",
    "mobile",
    "browser",
    "api",
    "docs",
    "lunch",
    "friday",
    "monday",
    "tomorrow",
    "today",
    "urgent",
    "later",
    "thanks",
    "great",
    "agreed",
];

/// A sentence of `n` words from the vocabulary.
pub fn sentence(rng: &mut impl Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    s
}
