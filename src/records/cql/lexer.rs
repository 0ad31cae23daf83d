//! CQL text into tokens, each with its line and column.
//!
//! In: the query text (at most [`MAX_QUERY_CHARS`] characters). Out: the tokens, ending with
//! [`Tok::End`], or an [`Error::Query`] at the first character that starts no token. Guarantees:
//! work and memory linear in the text; `--` comments run to the end of their line; strings take
//! `"…"` or `'…'`, with `\` escapes or a doubled quote.

use crate::error::{Error, Result};

/// The longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;

/// Where a token starts: 1-based line and column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// An error at this place.
    pub fn error(self, message: impl Into<String>) -> Error {
        Error::Query {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or a keyword (the parser tells them apart, case-insensitively).
    Ident(String),
    Str(String),
    Num(f64),
    /// `:name`
    Param(String),
    LParen,
    RParen,
    Comma,
    Dot,
    Star,
    Cmp(CmpOp),
    End,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("\"{name}\""),
            Tok::Str(text) => format!("the string \"{text}\""),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Param(name) => format!("the parameter :{name}"),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Star => "\"*\"".into(),
            Tok::Cmp(op) => format!("\"{}\"", op.text()),
            Tok::End => "the end of the query".into(),
        }
    }
}

impl CmpOp {
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Reads characters and keeps the position of the next one.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    /// The character after the next one, without consuming either.
    fn peek_second(&self) -> Option<char> {
        let mut ahead = self.chars.clone();
        ahead.next();
        ahead.next()
    }
}

pub fn lex(text: &str) -> Result<Vec<Token>> {
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(Pos { line: 1, column: 1 }.error(format!(
            "the query has {chars} characters; at most {MAX_QUERY_CHARS} are accepted \
             (use parameters for long values)"
        )));
    }
    let mut cur = Cursor {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    while let Some(c) = cur.peek() {
        let pos = cur.pos;
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        if c == '-' && cur.peek_second() == Some('-') {
            while cur.peek().is_some_and(|c| c != '\n') {
                cur.bump();
            }
            continue;
        }
        let tok = match c {
            '(' | ')' | ',' | '.' | '*' => {
                cur.bump();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    '.' => Tok::Dot,
                    _ => Tok::Star,
                }
            }
            '=' | '!' | '<' | '>' => Tok::Cmp(comparison(&mut cur, pos)?),
            '"' | '\'' => Tok::Str(string(&mut cur, pos)?),
            ':' => {
                cur.bump();
                let name = identifier(&mut cur);
                if name.is_empty() {
                    return Err(pos.error("a parameter needs a name after \":\", e.g. :minPrice"));
                }
                Tok::Param(name)
            }
            c if c.is_ascii_digit() => Tok::Num(number(&mut cur, pos, false)?),
            '-' if cur.peek_second().is_some_and(|c| c.is_ascii_digit()) => {
                cur.bump();
                Tok::Num(number(&mut cur, pos, true)?)
            }
            c if c.is_alphabetic() || c == '_' => Tok::Ident(identifier(&mut cur)),
            other => {
                return Err(pos.error(format!("unexpected character {other:?}")));
            }
        };
        tokens.push(Token { tok, pos });
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: cur.pos,
    });
    Ok(tokens)
}

fn comparison(cur: &mut Cursor, pos: Pos) -> Result<CmpOp> {
    let first = cur.bump().unwrap_or_default();
    let next = cur.peek();
    let (op, two) = match (first, next) {
        ('=', Some('=')) => (CmpOp::Eq, true),
        ('=', _) => (CmpOp::Eq, false),
        ('!', Some('=')) => (CmpOp::Neq, true),
        ('<', Some('>')) => (CmpOp::Neq, true),
        ('<', Some('=')) => (CmpOp::Lte, true),
        ('<', _) => (CmpOp::Lt, false),
        ('>', Some('=')) => (CmpOp::Gte, true),
        ('>', _) => (CmpOp::Gt, false),
        _ => {
            return Err(pos.error("unexpected \"!\" (write != for \"not equal\", or NOT)"));
        }
    };
    if two {
        cur.bump();
    }
    Ok(op)
}

fn string(cur: &mut Cursor, pos: Pos) -> Result<String> {
    let quote = cur.bump().unwrap_or('"');
    let mut out = String::new();
    loop {
        match cur.bump() {
            None => {
                return Err(pos.error(format!(
                    "unterminated string: close it with {quote} (write \\{quote} for a quote inside)"
                )));
            }
            Some(c) if c == quote => {
                // A doubled quote stands for one quote, as in SQL.
                if cur.peek() == Some(quote) {
                    cur.bump();
                    out.push(quote);
                } else {
                    return Ok(out);
                }
            }
            Some('\\') => {
                let escape_pos = cur.pos;
                match cur.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(other) => {
                        return Err(escape_pos.error(format!(
                            "unknown escape \\{other} (use \\\\, \\\", \\', \\n or \\t)"
                        )));
                    }
                    None => {
                        return Err(
                            pos.error(format!("unterminated string: close it with {quote}"))
                        );
                    }
                }
            }
            Some(c) => out.push(c),
        }
    }
}

fn number(cur: &mut Cursor, pos: Pos, negative: bool) -> Result<f64> {
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    while let Some(c) = cur.peek() {
        let exponent_sign = matches!(c, '+' | '-') && text.ends_with(['e', 'E']);
        if c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || exponent_sign {
            // `1.` followed by a name is a number and a dot, never `1.name`.
            if c == '.' && !cur.peek_second().is_some_and(|d| d.is_ascii_digit()) {
                break;
            }
            text.push(c);
            cur.bump();
        } else {
            break;
        }
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(pos.error(format!("\"{text}\" is not a number"))),
    }
}

fn identifier(cur: &mut Cursor) -> String {
    let mut out = String::new();
    while let Some(c) = cur.peek() {
        if c.is_alphanumeric() || c == '_' {
            out.push(c);
            cur.bump();
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_and_positions() {
        let tokens =
            lex("FROM contacts\n  WHERE deal_value >= -1.5e2 -- note\n AND x <> :p").unwrap();
        let at: Vec<(u32, u32)> = tokens.iter().map(|t| (t.pos.line, t.pos.column)).collect();
        assert_eq!(
            at,
            [
                (1, 1),
                (1, 6),
                (2, 3),
                (2, 9),
                (2, 20),
                (2, 23),
                (3, 2),
                (3, 6),
                (3, 8),
                (3, 11),
                (3, 13)
            ]
        );
        assert_eq!(tokens[4].tok, Tok::Cmp(CmpOp::Gte));
        assert_eq!(tokens[5].tok, Tok::Num(-150.0));
        assert_eq!(tokens[8].tok, Tok::Cmp(CmpOp::Neq));
        assert_eq!(tokens[9].tok, Tok::Param("p".into()));
    }

    #[test]
    fn strings_take_both_quotes_and_escapes() {
        assert_eq!(
            toks(r#"'it''s' "say \"hi\"" 'a;b'"#),
            [
                Tok::Str("it's".into()),
                Tok::Str("say \"hi\"".into()),
                Tok::Str("a;b".into()),
                Tok::End
            ]
        );
    }

    #[test]
    fn bad_text_is_placed() {
        let err = lex("FROM x WHERE a = \"open").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 1, column 18: unterminated string"),
            "{err}"
        );
        let err = lex("FROM x\nWHERE a ~ 1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, column 9: unexpected character '~'"
        );
        let err = lex(&"a".repeat(MAX_QUERY_CHARS + 1)).unwrap_err();
        assert!(err.to_string().contains("at most 10000"), "{err}");
        let err = lex("a = :").unwrap_err();
        assert!(err.to_string().starts_with("line 1, column 5"), "{err}");
    }
}
