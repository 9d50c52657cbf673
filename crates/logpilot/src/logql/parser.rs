//! A recursive-descent parser for the LogQL subset: a lexer into tokens, then one function per
//! rule. Errors say where and what was expected.

use regex::Regex;

use super::ast::*;

/// A query that cannot be parsed, with the byte position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at {pos}: {message}")]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    /// A duration literal, in nanoseconds.
    Dur(i64),
    /// A byte-size literal.
    Bytes(f64),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Pipe,
    PipeEq,
    PipeTilde,
    BangEq,
    BangTilde,
    Eq,
    EqEq,
    EqTilde,
    Gt,
    Ge,
    Lt,
    Le,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eof,
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        pos,
        message: message.into(),
    })
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = if i + 1 < b.len() {
            &b[i..i + 2]
        } else {
            &b[i..]
        };
        let (tok, len) = match two {
            b"|=" => (Tok::PipeEq, 2),
            b"|~" => (Tok::PipeTilde, 2),
            b"!=" => (Tok::BangEq, 2),
            b"!~" => (Tok::BangTilde, 2),
            b"==" => (Tok::EqEq, 2),
            b"=~" => (Tok::EqTilde, 2),
            b">=" => (Tok::Ge, 2),
            b"<=" => (Tok::Le, 2),
            _ => match c {
                b'{' => (Tok::LBrace, 1),
                b'}' => (Tok::RBrace, 1),
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b'[' => (Tok::LBracket, 1),
                b']' => (Tok::RBracket, 1),
                b',' => (Tok::Comma, 1),
                b'|' => (Tok::Pipe, 1),
                b'=' => (Tok::Eq, 1),
                b'>' => (Tok::Gt, 1),
                b'<' => (Tok::Lt, 1),
                b'+' => (Tok::Plus, 1),
                b'-' => (Tok::Minus, 1),
                b'*' => (Tok::Star, 1),
                b'/' => (Tok::Slash, 1),
                b'%' => (Tok::Percent, 1),
                b'"' => {
                    let (s, len) = lex_quoted(src, i)?;
                    (Tok::Str(s), len)
                }
                b'`' => match src[i + 1..].find('`') {
                    Some(end) => (Tok::Str(src[i + 1..i + 1 + end].to_owned()), end + 2),
                    None => return err(i, "unterminated raw string"),
                },
                c if c.is_ascii_digit()
                    || (c == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_digit()) =>
                {
                    let mut j = i;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
                        j += 1;
                    }
                    (lex_number(&src[i..j], i)?, j - i)
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let mut j = i;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    (Tok::Ident(src[i..j].to_owned()), j - i)
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return err(i, format!("unexpected character {ch:?}"));
                }
            },
        };
        out.push((tok, start));
        i += len;
    }
    out.push((Tok::Eof, src.len()));
    Ok(out)
}

fn lex_quoted(src: &str, at: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 2)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                // Kept as written so regular expressions such as "\\d" or "\d" work.
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    err(at, "unterminated string")
}

fn lex_number(text: &str, at: usize) -> Result<Tok, ParseError> {
    if let Ok(n) = text.parse::<f64>() {
        return Ok(Tok::Num(n));
    }
    if let Some(ns) = parse_duration(text) {
        return Ok(Tok::Dur(ns));
    }
    if let Some(bytes) = parse_bytes(text) {
        return Ok(Tok::Bytes(bytes));
    }
    err(
        at,
        format!("{text:?} is not a number, a duration or a size"),
    )
}

/// Parses a Go/Prometheus-style duration (`1h30m`, `250ms`, `1.5s`, `2d`, `1w`) into
/// nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut total = 0f64;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let n: f64 = text[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &text[ustart..i] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            "y" => 31_536_000e9,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total as i64)
}

/// Parses a size such as `20KB`, `1.5MiB` or `512B` into bytes.
pub fn parse_bytes(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let n: f64 = text[..split].parse().ok()?;
    let unit = match text[split..].to_ascii_uppercase().as_str() {
        "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TIB" => 1024f64.powi(4),
        _ => return None,
    };
    Some(n * unit)
}

/// Parses a whole query.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
    };
    let expr = if p.peek() == &Tok::LBrace {
        Expr::Log(p.log_expr()?)
    } else {
        Expr::Metric(p.metric_expr(0)?)
    };
    if p.peek() != &Tok::Eof {
        return err(p.pos(), format!("unexpected {}", p.describe()));
    }
    Ok(expr)
}

/// Parses a stream selector alone (`{a="b", c=~"d"}`), as the `match[]` of `series` sends it.
pub fn parse_selector(src: &str) -> Result<Vec<Matcher>, ParseError> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
    };
    let selector = p.selector()?;
    if p.peek() != &Tok::Eof {
        return err(p.pos(), format!("unexpected {}", p.describe()));
    }
    Ok(selector)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

const RANGE_FNS: &[(&str, RangeFn)] = &[
    ("count_over_time", RangeFn::CountOverTime),
    ("rate", RangeFn::Rate),
    ("bytes_over_time", RangeFn::BytesOverTime),
    ("bytes_rate", RangeFn::BytesRate),
];

const AGG_OPS: &[(&str, AggOp)] = &[
    ("sum", AggOp::Sum),
    ("count", AggOp::Count),
    ("max", AggOp::Max),
    ("min", AggOp::Min),
    ("avg", AggOp::Avg),
    ("topk", AggOp::Topk),
    ("bottomk", AggOp::Bottomk),
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.at + n).min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> usize {
        self.toks[self.at].1
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Eof => "end of query".into(),
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            t => format!("{t:?}"),
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == tok {
            self.next();
            Ok(())
        } else {
            err(
                self.pos(),
                format!("expected {what}, found {}", self.describe()),
            )
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => err(
                self.pos(),
                format!("expected {what}, found {}", self.describe()),
            ),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => err(
                self.pos(),
                format!(
                    "expected {what} (a quoted string), found {}",
                    self.describe()
                ),
            ),
        }
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        self.expect(Tok::LBrace, "`{`")?;
        let mut matchers = Vec::new();
        while self.peek() != &Tok::RBrace {
            let name = self.ident("a label name")?;
            let at = self.pos();
            let op = match self.next() {
                Tok::Eq => MatchOp::Eq,
                Tok::BangEq => MatchOp::Ne,
                Tok::EqTilde => MatchOp::Re,
                Tok::BangTilde => MatchOp::NotRe,
                _ => return err(at, "expected =, !=, =~ or !~"),
            };
            let value = self.string("a label value")?;
            matchers.push(matcher(name, op, value, at)?);
            if self.peek() == &Tok::Comma {
                self.next();
            } else if self.peek() != &Tok::RBrace {
                return err(
                    self.pos(),
                    format!("expected `,` or `}}`, found {}", self.describe()),
                );
            }
        }
        self.next();
        if !matchers
            .iter()
            .any(|m| !m.matches(Some("")) || matches!(m.op, MatchOp::Eq) && !m.value.is_empty())
        {
            return err(
                self.pos(),
                "queries require at least one matcher that does not match the empty value, such as {service=\"api\"}",
            );
        }
        Ok(matchers)
    }

    fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let selector = self.selector()?;
        let stages = self.stages()?;
        Ok(LogExpr { selector, stages })
    }

    fn stages(&mut self) -> Result<Vec<Stage>, ParseError> {
        let mut stages = Vec::new();
        loop {
            let at = self.pos();
            let op = match self.peek() {
                Tok::PipeEq => Some(LineOp::Contains),
                Tok::BangEq => Some(LineOp::NotContains),
                Tok::PipeTilde => Some(LineOp::Re),
                Tok::BangTilde => Some(LineOp::NotRe),
                Tok::Pipe => None,
                _ => return Ok(stages),
            };
            self.next();
            if let Some(op) = op {
                let value = self.string("a line filter")?;
                let regex = match op {
                    LineOp::Re | LineOp::NotRe => Some(compile(&value, false, at)?),
                    _ => None,
                };
                stages.push(Stage::LineFilter { op, value, regex });
                continue;
            }
            let stage = match self.peek().clone() {
                Tok::Ident(word) => match word.as_str() {
                    "json" => {
                        self.next();
                        if matches!(self.peek(), Tok::Ident(_)) && self.peek_at(1) == &Tok::Eq {
                            return err(self.pos(), "json with parameters is not supported");
                        }
                        Stage::Json
                    }
                    "logfmt" => {
                        self.next();
                        Stage::Logfmt
                    }
                    "line_format" => {
                        self.next();
                        let template = self.string("a line_format template")?;
                        Stage::LineFormat(parse_template(&template, at)?)
                    }
                    "drop" | "keep" => {
                        self.next();
                        let mut names = vec![self.ident("a label name")?];
                        while self.peek() == &Tok::Comma {
                            self.next();
                            names.push(self.ident("a label name")?);
                        }
                        if word == "drop" {
                            Stage::Drop(names)
                        } else {
                            Stage::Keep(names)
                        }
                    }
                    "unpack" | "pattern" | "regexp" | "label_format" | "decolorize" | "unwrap" => {
                        return err(at, format!("`{word}` is not supported by LogPilot"));
                    }
                    _ => Stage::LabelFilter(self.label_filter_or()?),
                },
                Tok::LParen => Stage::LabelFilter(self.label_filter_or()?),
                _ => {
                    return err(
                        self.pos(),
                        format!(
                            "expected a parser or a label filter after `|`, found {}",
                            self.describe()
                        ),
                    );
                }
            };
            stages.push(stage);
        }
    }

    fn label_filter_or(&mut self) -> Result<LabelFilter, ParseError> {
        let mut lhs = self.label_filter_and()?;
        while matches!(self.peek(), Tok::Ident(w) if w == "or") {
            self.next();
            let rhs = self.label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut lhs = self.label_filter_primary()?;
        loop {
            match self.peek() {
                Tok::Ident(w) if w == "and" => {}
                Tok::Comma => {}
                _ => return Ok(lhs),
            }
            self.next();
            let rhs = self.label_filter_primary()?;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
    }

    fn label_filter_primary(&mut self) -> Result<LabelFilter, ParseError> {
        if self.peek() == &Tok::LParen {
            self.next();
            let inner = self.label_filter_or()?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(inner);
        }
        let name = self.ident("a label name")?;
        let at = self.pos();
        let op = self.next();
        match (op, self.next()) {
            (Tok::Eq, Tok::Str(v)) => matcher(name, MatchOp::Eq, v, at).map(LabelFilter::Str),
            (Tok::BangEq, Tok::Str(v)) => matcher(name, MatchOp::Ne, v, at).map(LabelFilter::Str),
            (Tok::EqTilde, Tok::Str(v)) => matcher(name, MatchOp::Re, v, at).map(LabelFilter::Str),
            (Tok::BangTilde, Tok::Str(v)) => {
                matcher(name, MatchOp::NotRe, v, at).map(LabelFilter::Str)
            }
            (op, value) => {
                let op = match op {
                    Tok::Eq | Tok::EqEq => CmpOp::Eq,
                    Tok::BangEq => CmpOp::Ne,
                    Tok::Gt => CmpOp::Gt,
                    Tok::Ge => CmpOp::Ge,
                    Tok::Lt => CmpOp::Lt,
                    Tok::Le => CmpOp::Le,
                    _ => {
                        return err(
                            at,
                            "expected a comparison (=, !=, =~, !~, ==, >, >=, <, <=)",
                        );
                    }
                };
                let (value, kind) = match value {
                    Tok::Num(n) => (n, NumKind::Number),
                    Tok::Dur(ns) => (ns as f64 / 1e9, NumKind::Duration),
                    Tok::Bytes(b) => (b, NumKind::Bytes),
                    _ => {
                        return err(
                            at,
                            "expected a number, a duration or a size after the comparison",
                        );
                    }
                };
                Ok(LabelFilter::Num {
                    name,
                    op,
                    value,
                    kind,
                })
            }
        }
    }

    /// A metric expression by precedence climbing: `+ -` bind looser than `* / %`.
    fn metric_expr(&mut self, min_prec: u8) -> Result<MetricExpr, ParseError> {
        let mut lhs = self.metric_primary()?;
        loop {
            let (op, prec) = match self.peek() {
                Tok::Plus => (BinOp::Add, 1),
                Tok::Minus => (BinOp::Sub, 1),
                Tok::Star => (BinOp::Mul, 2),
                Tok::Slash => (BinOp::Div, 2),
                Tok::Percent => (BinOp::Mod, 2),
                _ => return Ok(lhs),
            };
            if prec < min_prec {
                return Ok(lhs);
            }
            self.next();
            let rhs = self.metric_expr(prec + 1)?;
            lhs = MetricExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
    }

    fn metric_primary(&mut self) -> Result<MetricExpr, ParseError> {
        let at = self.pos();
        match self.peek().clone() {
            Tok::LParen => {
                self.next();
                let inner = self.metric_expr(0)?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(inner)
            }
            Tok::Num(n) => {
                self.next();
                Ok(MetricExpr::Scalar(n))
            }
            Tok::Minus => {
                self.next();
                match self.next() {
                    Tok::Num(n) => Ok(MetricExpr::Scalar(-n)),
                    _ => err(at, "expected a number after `-`"),
                }
            }
            Tok::LBrace => err(
                at,
                "a log query cannot be used as a number; wrap it in a range aggregation such as count_over_time({...}[5m])",
            ),
            Tok::Ident(word) => {
                self.next();
                if word == "vector" {
                    self.expect(Tok::LParen, "`(`")?;
                    let value = match self.next() {
                        Tok::Num(n) => n,
                        _ => return err(at, "vector() takes a number"),
                    };
                    self.expect(Tok::RParen, "`)`")?;
                    return Ok(MetricExpr::Vector(value));
                }
                if let Some((_, func)) = RANGE_FNS.iter().find(|(n, _)| *n == word) {
                    return self.range_aggregation(*func);
                }
                if let Some((_, op)) = AGG_OPS.iter().find(|(n, _)| *n == word) {
                    return self.vector_aggregation(*op, at);
                }
                err(at, format!("unknown function {word:?}"))
            }
            _ => err(
                at,
                format!("expected a metric expression, found {}", self.describe()),
            ),
        }
    }

    fn range_aggregation(&mut self, func: RangeFn) -> Result<MetricExpr, ParseError> {
        self.expect(Tok::LParen, "`(`")?;
        let selector = self.selector()?;
        // Both `{..}[5m] | stages` and `{..} | stages [5m]` are LogQL.
        let mut range = self.range()?;
        let stages = self.stages()?;
        if range.is_none() {
            range = self.range()?;
        }
        let Some(range) = range else {
            return err(self.pos(), "expected a range such as [5m]");
        };
        if range <= 0 {
            return err(self.pos(), "the range must be positive");
        }
        self.expect(Tok::RParen, "`)`")?;
        Ok(MetricExpr::Range {
            func,
            log: LogExpr { selector, stages },
            range,
        })
    }

    fn range(&mut self) -> Result<Option<i64>, ParseError> {
        if self.peek() != &Tok::LBracket {
            return Ok(None);
        }
        self.next();
        let at = self.pos();
        let ns = match self.next() {
            Tok::Dur(ns) => ns,
            _ => return err(at, "expected a duration such as 5m"),
        };
        self.expect(Tok::RBracket, "`]`")?;
        Ok(Some(ns))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = match self.peek() {
            Tok::Ident(w) if w == "by" => false,
            Tok::Ident(w) if w == "without" => true,
            _ => return Ok(None),
        };
        self.next();
        self.expect(Tok::LParen, "`(`")?;
        let mut labels = Vec::new();
        while self.peek() != &Tok::RParen {
            labels.push(self.ident("a label name")?);
            if self.peek() == &Tok::Comma {
                self.next();
            } else if self.peek() != &Tok::RParen {
                return err(self.pos(), "expected `,` or `)`");
            }
        }
        self.next();
        Ok(Some(Grouping { without, labels }))
    }

    fn vector_aggregation(&mut self, op: AggOp, at: usize) -> Result<MetricExpr, ParseError> {
        let mut grouping = self.grouping()?;
        self.expect(Tok::LParen, "`(`")?;
        let param = if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let k = match self.next() {
                Tok::Num(n) if n >= 1.0 && n.fract() == 0.0 => n,
                _ => return err(at, "topk and bottomk take a whole number k >= 1 first"),
            };
            self.expect(Tok::Comma, "`,`")?;
            Some(k)
        } else {
            None
        };
        let inner = self.metric_expr(0)?;
        self.expect(Tok::RParen, "`)`")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner: Box::new(inner),
        })
    }
}

fn matcher(name: String, op: MatchOp, value: String, at: usize) -> Result<Matcher, ParseError> {
    let regex = match op {
        MatchOp::Re | MatchOp::NotRe => Some(compile(&value, true, at)?),
        _ => None,
    };
    Ok(Matcher {
        name,
        op,
        value,
        regex,
    })
}

/// Label matchers are anchored (as in Prometheus); line filters are not.
fn compile(pattern: &str, anchored: bool, at: usize) -> Result<Regex, ParseError> {
    let full = if anchored {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    regex::RegexBuilder::new(&full)
        .size_limit(1 << 20)
        .build()
        .or_else(|e| err(at, format!("invalid regular expression {pattern:?}: {e}")))
}

/// `line_format` templates: text with `{{.label}}` (or `{{ .label }}`) references only.
fn parse_template(template: &str, at: usize) -> Result<Vec<TemplatePart>, ParseError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_owned()));
        }
        let Some(close) = rest[open..].find("}}") else {
            return err(at, "unterminated {{ in line_format");
        };
        let inner = rest[open + 2..open + close].trim();
        let Some(name) = inner.strip_prefix('.') else {
            return err(
                at,
                format!("line_format supports {{{{.label}}}} only, not {{{{{inner}}}}}"),
            );
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return err(
                at,
                format!("line_format supports {{{{.label}}}} only, not {{{{{inner}}}}}"),
            );
        }
        parts.push(TemplatePart::Label(name.to_owned()));
        rest = &rest[open + close + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_owned()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(q: &str) -> LogExpr {
        match parse(q).unwrap() {
            Expr::Log(l) => l,
            other => panic!("not a log query: {other:?}"),
        }
    }

    fn metric(q: &str) -> MetricExpr {
        match parse(q).unwrap() {
            Expr::Metric(m) => m,
            other => panic!("not a metric query: {other:?}"),
        }
    }

    #[test]
    fn stream_selectors_take_all_four_operators() {
        let l = log(r#"{service="api", level!="debug", node=~"n[0-9]+", target!~"sqlx.*"}"#);
        let ops: Vec<_> = l.selector.iter().map(|m| (m.name.as_str(), m.op)).collect();
        assert_eq!(
            ops,
            [
                ("service", MatchOp::Eq),
                ("level", MatchOp::Ne),
                ("node", MatchOp::Re),
                ("target", MatchOp::NotRe)
            ]
        );
        assert!(l.selector[2].matches(Some("n12")));
        assert!(
            !l.selector[2].matches(Some("xn12")),
            "label regexes are anchored"
        );
        assert!(l.stages.is_empty());
    }

    #[test]
    fn line_filters_parsers_and_label_filters_chain() {
        let l = log(
            r#"{service="api"} |= "error" != "timeout" |~ "disk|cpu" !~ `(?i)ignored` | json | level="error" and status >= 500 or duration > 1.5s, size < 20KB | logfmt | line_format "{{.level}}: {{ .msg }}" | drop __error__, __error_details__"#,
        );
        assert_eq!(l.stages.len(), 9);
        assert!(
            matches!(&l.stages[0], Stage::LineFilter { op: LineOp::Contains, value, .. } if value == "error")
        );
        assert!(matches!(
            &l.stages[1],
            Stage::LineFilter {
                op: LineOp::NotContains,
                ..
            }
        ));
        assert!(matches!(
            &l.stages[2],
            Stage::LineFilter {
                op: LineOp::Re,
                regex: Some(_),
                ..
            }
        ));
        assert!(matches!(
            &l.stages[3],
            Stage::LineFilter {
                op: LineOp::NotRe,
                ..
            }
        ));
        assert!(matches!(l.stages[4], Stage::Json));
        let Stage::LabelFilter(LabelFilter::Or(lhs, rhs)) = &l.stages[5] else {
            panic!("{:?}", l.stages[5])
        };
        assert!(matches!(**lhs, LabelFilter::And(..)));
        let LabelFilter::And(d, s) = &**rhs else {
            panic!()
        };
        assert!(
            matches!(**d, LabelFilter::Num { op: CmpOp::Gt, value, kind: NumKind::Duration, .. } if value == 1.5)
        );
        assert!(
            matches!(**s, LabelFilter::Num { op: CmpOp::Lt, value, kind: NumKind::Bytes, .. } if value == 20_000.0)
        );
        assert!(matches!(l.stages[6], Stage::Logfmt));
        assert!(
            matches!(&l.stages[7], Stage::LineFormat(p) if p == &[TemplatePart::Label("level".into()), TemplatePart::Text(": ".into()), TemplatePart::Label("msg".into())])
        );
        assert!(matches!(&l.stages[8], Stage::Drop(names) if names.len() == 2));
    }

    #[test]
    fn metric_queries_nest_aggregations_ranges_and_grouping() {
        let m = metric(r#"sum by (level) (count_over_time({service="api"} |= "x" [5m]))"#);
        let MetricExpr::Aggregate {
            op: AggOp::Sum,
            grouping: Some(g),
            inner,
            ..
        } = m
        else {
            panic!()
        };
        assert_eq!(
            g,
            Grouping {
                without: false,
                labels: vec!["level".into()]
            }
        );
        assert!(
            matches!(*inner, MetricExpr::Range { func: RangeFn::CountOverTime, range, ref log } if range == 300_000_000_000 && log.stages.len() == 1)
        );
        let m = metric(r#"topk(3, sum(rate({service=~".+"}[1m])) without (node))"#);
        assert!(matches!(
            m,
            MetricExpr::Aggregate {
                op: AggOp::Topk,
                param: Some(3.0),
                ..
            }
        ));
        let m = metric(r#"bytes_over_time({a="b"}[1h30m] | json)"#);
        assert!(
            matches!(m, MetricExpr::Range { func: RangeFn::BytesOverTime, range, .. } if range == 5_400_000_000_000)
        );
        for agg in ["count", "max", "min", "avg", "bottomk(2,"] {
            let q = if agg.ends_with(',') {
                format!(r#"{agg} rate({{a="b"}}[1m]))"#)
            } else {
                format!(r#"{agg}(bytes_rate({{a="b"}}[10s]))"#)
            };
            assert!(matches!(parse(&q), Ok(Expr::Metric(_))), "{q}");
        }
    }

    #[test]
    fn grafanas_health_check_and_arithmetic_parse_with_precedence() {
        let m = metric("vector(1)+vector(1)");
        assert!(matches!(m, MetricExpr::Binary { op: BinOp::Add, .. }));
        let m = metric("1 + 2 * 3");
        let MetricExpr::Binary {
            op: BinOp::Add,
            rhs,
            ..
        } = m
        else {
            panic!()
        };
        assert!(matches!(*rhs, MetricExpr::Binary { op: BinOp::Mul, .. }));
    }

    #[test]
    fn bad_queries_say_where_and_why() {
        let cases = [
            ("", "expected a metric expression"),
            (r#"{service="api""#, "expected `,` or `}`"),
            (r#"{service=~""}"#, "at least one matcher"),
            (r#"{service="api"} |= error"#, "quoted string"),
            (r#"{a="b"} | pattern "<x>""#, "not supported"),
            (r#"count_over_time({a="b"})"#, "expected a range"),
            (r#"{a=~"("}"#, "invalid regular expression"),
            (r#"sum({a="b"})"#, "cannot be used as a number"),
            (r#"{a="b"} | status > "x""#, "expected a number"),
            (r#"rate({a="b"}[5q])"#, "not a number, a duration or a size"),
            (r#"unknown_fn({a="b"}[1m])"#, "unknown function"),
            (r#"{a="b"} extra"#, "unexpected"),
        ];
        for (q, why) in cases {
            let e = parse(q).expect_err(q);
            assert!(e.message.contains(why), "{q}: {e}");
        }
    }

    #[test]
    fn durations_and_sizes_read_as_loki_reads_them() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("2x"), None);
        assert_eq!(parse_bytes("1MiB"), Some(1_048_576.0));
        assert_eq!(parse_bytes("20kb"), Some(20_000.0));
        assert_eq!(parse_bytes("20"), None);
    }
}
