//! The CQL2 text encoding: a tokenizer and a recursive-descent parser with a depth limit.

use super::MAX_DEPTH;
use super::ast::{Cmp, Expr, Instant, Scalar, SpatialArg, SpatialOp, TemporalArg, TemporalOp};
use super::wkt::{self, Geometry};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

struct Token {
    tok: Tok,
    start: usize,
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let b = input.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::Sym("(")
            }
            b')' => {
                i += 1;
                Tok::Sym(")")
            }
            b',' => {
                i += 1;
                Tok::Sym(",")
            }
            b'=' => {
                i += 1;
                Tok::Sym("=")
            }
            b'<' | b'>' => {
                i += 1;
                match (c, b.get(i)) {
                    (b'<', Some(b'>')) => {
                        i += 1;
                        Tok::Sym("<>")
                    }
                    (b'<', Some(b'=')) => {
                        i += 1;
                        Tok::Sym("<=")
                    }
                    (b'>', Some(b'=')) => {
                        i += 1;
                        Tok::Sym(">=")
                    }
                    (b'<', _) => Tok::Sym("<"),
                    _ => Tok::Sym(">"),
                }
            }
            b'\'' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match b.get(i) {
                        None => {
                            return Err(format!(
                                "a string starting at position {start} is not closed"
                            ));
                        }
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                Tok::Str(s)
            }
            b'"' => {
                i += 1;
                let end = input[i..].find('"').ok_or_else(|| {
                    format!("a quoted name starting at position {start} is not closed")
                })?;
                let name = input[i..i + end].to_owned();
                i += end + 1;
                Tok::Quoted(name)
            }
            b'0'..=b'9' | b'-' | b'+' | b'.' => {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || b[i] == b'e'
                        || b[i] == b'E'
                        || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &input[start..i];
                Tok::Num(
                    text.parse()
                        .map_err(|_| format!("{text:?} is not a number"))?,
                )
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b':'
                        || b[i] == b'.'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                Tok::Word(input[start..i].to_owned())
            }
            other => {
                return Err(format!(
                    "unexpected character {:?} at position {start}",
                    other as char
                ));
            }
        };
        out.push(Token { tok, start });
    }
    Ok(out)
}

/// Parses a whole CQL2 text expression.
pub fn parse(input: &str) -> Result<Expr, String> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        input,
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.or()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(format!(
            "unexpected text at position {}: {}",
            t.start,
            &input[t.start..]
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

const GEOMETRY_WORDS: &[&str] = &[
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];
const RESERVED: &[&str] = &[
    "AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE",
];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + n).map(|t| &t.tok)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        match self.peek() {
            Some(Tok::Sym(x)) if *x == s => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(format!("expected {s:?} {}", self.here())),
        }
    }

    fn here(&self) -> String {
        self.tokens.get(self.pos).map_or_else(
            || "at the end of the filter".to_owned(),
            |t| format!("at position {}", t.start),
        )
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(format!(
                "the filter is nested deeper than {MAX_DEPTH} levels"
            ))
        } else {
            Ok(())
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let mut items = vec![self.and()?];
        while self.eat_word("OR") {
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.eat_word("AND") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_word("NOT") {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if matches!(self.peek(), Some(Tok::Sym("("))) {
            self.pos += 1;
            let e = self.or()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        if let Some(Tok::Word(w)) = self.peek().cloned() {
            let calls = matches!(self.peek_at(1), Some(Tok::Sym("(")));
            if calls {
                if let Some(op) = SpatialOp::from_name(&w) {
                    self.pos += 2;
                    let a = self.spatial_arg()?;
                    self.expect_sym(",")?;
                    let b = self.spatial_arg()?;
                    self.expect_sym(")")?;
                    return Ok(Expr::Spatial(op, a, b));
                }
                if let Some(op) = TemporalOp::from_name(&w) {
                    self.pos += 2;
                    let a = self.temporal_arg()?;
                    self.expect_sym(",")?;
                    let b = self.temporal_arg()?;
                    self.expect_sym(")")?;
                    return Ok(Expr::Temporal(op, a, b));
                }
            }
            let boolean_alone = (w.eq_ignore_ascii_case("TRUE") || w.eq_ignore_ascii_case("FALSE"))
                && !matches!(
                    self.peek_at(1),
                    Some(Tok::Sym("=" | "<>" | "<" | ">" | "<=" | ">="))
                );
            if boolean_alone {
                self.pos += 1;
                return Ok(Expr::Bool(w.eq_ignore_ascii_case("TRUE")));
            }
        }
        let left = self.scalar()?;
        self.predicate(left)
    }

    fn predicate(&mut self, left: Scalar) -> Result<Expr, String> {
        if let Some(Tok::Sym(s)) = self.peek().cloned()
            && let Some(op) = Cmp::from_symbol(s)
        {
            self.pos += 1;
            let right = self.scalar()?;
            return Ok(Expr::Comparison(op, left, right));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            if !self.eat_word("NULL") {
                return Err(format!("expected NULL {}", self.here()));
            }
            let e = Expr::IsNull(left);
            return Ok(if negated { Expr::Not(Box::new(e)) } else { e });
        }
        let negated = self.eat_word("NOT");
        let e = if self.eat_word("LIKE") {
            Expr::Like(left, self.scalar()?)
        } else if self.eat_word("BETWEEN") {
            let low = self.scalar()?;
            if !self.eat_word("AND") {
                return Err(format!("expected AND in BETWEEN {}", self.here()));
            }
            Expr::Between(left, low, self.scalar()?)
        } else if self.eat_word("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.scalar()?];
            while matches!(self.peek(), Some(Tok::Sym(","))) {
                self.pos += 1;
                list.push(self.scalar()?);
            }
            self.expect_sym(")")?;
            Expr::In(left, list)
        } else {
            return Err(format!(
                "expected a comparison, LIKE, BETWEEN, IN or IS NULL {}",
                self.here()
            ));
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn string_arg(&mut self, function: &str) -> Result<String, String> {
        self.expect_sym("(")?;
        let Some(Tok::Str(s)) = self.peek().cloned() else {
            return Err(format!("{function} needs a quoted string {}", self.here()));
        };
        self.pos += 1;
        self.expect_sym(")")?;
        Ok(s)
    }

    fn scalar(&mut self) -> Result<Scalar, String> {
        let Some(tok) = self.peek().cloned() else {
            return Err("the filter ends where a value was expected".to_owned());
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Str(s) => Scalar::Text(s),
            Tok::Num(n) => Scalar::Number(n),
            Tok::Quoted(name) => Scalar::Property(name),
            Tok::Sym(s) => return Err(format!("unexpected {s:?} where a value was expected")),
            Tok::Word(w) => {
                let upper = w.to_ascii_uppercase();
                let calls = matches!(self.peek(), Some(Tok::Sym("(")));
                match upper.as_str() {
                    "TRUE" => Scalar::Bool(true),
                    "FALSE" => Scalar::Bool(false),
                    "DATE" if calls => Scalar::Date(self.string_arg("DATE")?),
                    "TIMESTAMP" if calls => Scalar::Timestamp(self.string_arg("TIMESTAMP")?),
                    "CASEI" | "ACCENTI" if calls => {
                        self.enter()?;
                        self.expect_sym("(")?;
                        let inner = self.scalar()?;
                        self.expect_sym(")")?;
                        self.depth -= 1;
                        if upper == "CASEI" {
                            Scalar::Casei(Box::new(inner))
                        } else {
                            Scalar::Accenti(Box::new(inner))
                        }
                    }
                    _ if calls => return Err(format!("unknown function {w}")),
                    _ if RESERVED.contains(&upper.as_str()) => {
                        return Err(format!("{w} cannot stand here {}", self.here()));
                    }
                    _ => Scalar::Property(w),
                }
            }
        })
    }

    fn spatial_arg(&mut self) -> Result<SpatialArg, String> {
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return match self.scalar()? {
                Scalar::Property(p) => Ok(SpatialArg::Property(p)),
                _ => Err("a spatial function needs geometries".to_owned()),
            };
        };
        let upper = w.to_ascii_uppercase();
        if upper == "BBOX" {
            self.pos += 1;
            self.expect_sym("(")?;
            let mut numbers = Vec::new();
            loop {
                match self.peek() {
                    Some(Tok::Num(n)) => numbers.push(*n),
                    _ => return Err(format!("BBOX needs numbers {}", self.here())),
                }
                self.pos += 1;
                if matches!(self.peek(), Some(Tok::Sym(","))) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            self.expect_sym(")")?;
            return Ok(SpatialArg::Geometry(Geometry::from_bbox(&numbers)?));
        }
        if GEOMETRY_WORDS.contains(&upper.as_str()) {
            // Take the literal's text up to its balanced closing parenthesis.
            let start = self.tokens[self.pos].start;
            let mut depth = 0usize;
            let mut end = None;
            while let Some(t) = self.tokens.get(self.pos) {
                self.pos += 1;
                match t.tok {
                    Tok::Sym("(") => depth += 1,
                    Tok::Sym(")") => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(t.start + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("a geometry literal is not closed")?;
            return Ok(SpatialArg::Geometry(wkt::parse_wkt(
                &self.input[start..end],
            )?));
        }
        match self.scalar()? {
            Scalar::Property(p) => Ok(SpatialArg::Property(p)),
            _ => Err("a spatial function needs geometries".to_owned()),
        }
    }

    fn instant(&mut self) -> Result<Instant, String> {
        Ok(match self.scalar()? {
            Scalar::Property(p) => Instant::Property(p),
            Scalar::Date(d) => Instant::Date(d),
            Scalar::Timestamp(t) => Instant::Timestamp(t),
            Scalar::Text(s) if s == ".." => Instant::Open,
            Scalar::Text(s) if s.len() == 10 => Instant::Date(s),
            Scalar::Text(s) => Instant::Timestamp(s),
            _ => {
                return Err(
                    "a temporal function needs dates, timestamps, intervals or properties"
                        .to_owned(),
                );
            }
        })
    }

    fn temporal_arg(&mut self) -> Result<TemporalArg, String> {
        if self.is_word("INTERVAL") && matches!(self.peek_at(1), Some(Tok::Sym("("))) {
            self.pos += 2;
            let a = self.instant()?;
            self.expect_sym(",")?;
            let b = self.instant()?;
            self.expect_sym(")")?;
            return Ok(TemporalArg::Interval(a, b));
        }
        match self.instant()? {
            Instant::Open => Err("'..' is only allowed inside INTERVAL".to_owned()),
            i => Ok(TemporalArg::Instant(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_predicates() {
        let e = parse("a = 1 OR b <> 'x' AND NOT c IS NULL").unwrap();
        let expected = Expr::Or(vec![
            Expr::Comparison(Cmp::Eq, Scalar::Property("a".into()), Scalar::Number(1.0)),
            Expr::And(vec![
                Expr::Comparison(
                    Cmp::Ne,
                    Scalar::Property("b".into()),
                    Scalar::Text("x".into()),
                ),
                Expr::Not(Box::new(Expr::IsNull(Scalar::Property("c".into())))),
            ]),
        ]);
        assert_eq!(e, expected);
        assert!(matches!(parse("name NOT LIKE 'K%'").unwrap(), Expr::Not(_)));
        assert!(matches!(
            parse("x BETWEEN 1 AND 5").unwrap(),
            Expr::Between(..)
        ));
        assert!(
            matches!(parse("x IN ('a', 'b''c')").unwrap(), Expr::In(_, l) if l[1] == Scalar::Text("b'c".into()))
        );
        assert!(matches!(
            parse("S_INTERSECTS(geometry, POLYGON((7 50, 8 50, 8 51, 7 50)))").unwrap(),
            Expr::Spatial(SpatialOp::Intersects, ..)
        ));
        assert!(matches!(
            parse("s_within(geometry, bbox(7, 50, 8, 51))").unwrap(),
            Expr::Spatial(SpatialOp::Within, ..)
        ));
        assert!(matches!(
            parse("T_DURING(t, INTERVAL('2020-01-01', '..'))").unwrap(),
            Expr::Temporal(TemporalOp::During, ..)
        ));
        assert!(matches!(
            parse("CASEI(name) = casei('KOBLENZ')").unwrap(),
            Expr::Comparison(..)
        ));
        assert_eq!(parse("TRUE").unwrap(), Expr::Bool(true));
        assert!(
            matches!(parse("\"Straße\" = 'x'").unwrap(), Expr::Comparison(_, Scalar::Property(p), _) if p == "Straße")
        );
    }

    #[test]
    fn errors_are_clear() {
        assert!(parse("name = ").unwrap_err().contains("value"));
        assert!(
            parse("FOO(x) = 1")
                .unwrap_err()
                .contains("unknown function FOO")
        );
        assert!(parse("name = 'open").unwrap_err().contains("not closed"));
        assert!(parse("a = 1 b").unwrap_err().contains("unexpected"));
        let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let nots = format!("{}a = 1", "NOT ".repeat(10_000));
        assert!(parse(&nots).unwrap_err().contains("nested deeper"));
    }
}
