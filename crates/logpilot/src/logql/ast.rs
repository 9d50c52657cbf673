//! The syntax tree of the LogQL subset LogPilot answers.

use regex::Regex;

/// A whole query: log lines or numbers.
#[derive(Debug, Clone)]
pub enum Expr {
    Log(LogExpr),
    Metric(MetricExpr),
}

/// `{selector} | stage | stage ...`
#[derive(Debug, Clone)]
pub struct LogExpr {
    pub selector: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// `name op "value"`, in a stream selector or a label filter.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored regular expression of `=~` and `!~`.
    pub regex: Option<Regex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl Matcher {
    /// Whether `value` (absent: the empty string, as in Loki) satisfies the matcher.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRe => self.regex.as_ref().is_some_and(|r| !r.is_match(v)),
        }
    }
}

/// One stage of a log pipeline.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`.
    LineFilter {
        op: LineOp,
        value: String,
        regex: Option<Regex>,
    },
    /// `| json`: the line's JSON object becomes labels (nested keys joined by `_`).
    Json,
    /// `| logfmt`: the line's `key=value` pairs become labels.
    Logfmt,
    /// `| level="error"`, `| status >= 500 and duration > 1s`...
    LabelFilter(LabelFilter),
    /// `| line_format "{{.level}} {{.msg}}"`: the line is rewritten from labels.
    LineFormat(Vec<TemplatePart>),
    /// `| drop a, b`: those labels are removed.
    Drop(Vec<String>),
    /// `| keep a, b`: only those labels are kept.
    Keep(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOp {
    Contains,
    NotContains,
    Re,
    NotRe,
}

/// A label filter expression.
#[derive(Debug, Clone)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    Str(Matcher),
    /// A numeric comparison; `kind` says how the label's value is read.
    Num {
        name: String,
        op: CmpOp,
        value: f64,
        kind: NumKind,
    },
}

/// How a label's text is read as a number in a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKind {
    /// A plain number.
    Number,
    /// A duration such as `1.5s` or `250ms`, in seconds.
    Duration,
    /// A size such as `20KB` or `1MiB`, in bytes.
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// A piece of a `line_format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    /// `{{.name}}`; `__line__` is the current line.
    Label(String),
}

/// An expression whose value is a set of series.
#[derive(Debug, Clone)]
pub enum MetricExpr {
    /// `count_over_time(log[5m])` and its kin.
    Range {
        func: RangeFn,
        log: LogExpr,
        /// The range, in nanoseconds.
        range: i64,
    },
    /// `sum by (level) (...)`, `topk(5, ...)`.
    Aggregate {
        op: AggOp,
        param: Option<f64>,
        grouping: Option<Grouping>,
        inner: Box<MetricExpr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
    },
    /// `vector(1)`: one series without labels.
    Vector(f64),
    /// A plain number.
    Scalar(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Count,
    Max,
    Min,
    Avg,
    Topk,
    Bottomk,
}

/// `by (a, b)` or `without (a, b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Mod => a % b,
        }
    }
}
