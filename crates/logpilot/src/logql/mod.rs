//! LogQL, the part of it Grafana's log panels and dashboards use: stream selectors, line
//! filters, `json` and `logfmt`, label filters, `line_format`, `drop`/`keep`, range
//! aggregations (`count_over_time`, `rate`, `bytes_over_time`, `bytes_rate`), vector
//! aggregations (`sum`, `count`, `max`, `min`, `avg`, `topk`, `bottomk` with `by`/`without`),
//! arithmetic and `vector(n)`.

pub mod ast;
pub mod eval;
pub mod parser;
pub mod pipeline;

pub use ast::{Expr, LogExpr, Matcher, MetricExpr};
pub use eval::{Direction, Grid, QueryError, Series, Stats, StreamEntries, Value};
pub use parser::{ParseError, parse, parse_selector};
