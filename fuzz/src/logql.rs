//! `logpilot::logql`, the query language: its parser and the log pipeline.

#[path = "../../crates/logpilot/src/logql/ast.rs"]
pub mod ast;
#[path = "../../crates/logpilot/src/logql/parser.rs"]
pub mod parser;
#[path = "../../crates/logpilot/src/logql/pipeline.rs"]
pub mod pipeline;
