//! CQL tokens into a query tree, by recursive descent.
//!
//! In: the tokens of [`super::lexer`]. Out: a [`Query`] whose every name and value keeps its
//! position, or an [`crate::Error::Query`] at the first token that does not fit, saying what was
//! expected. Guarantees: keywords are case-insensitive; clauses after `FROM` come in any order,
//! each once (`INCLUDE` any number of times, at most [`MAX_INCLUDES`]); parentheses and `NOT`
//! nest at most [`MAX_NESTING`] deep and a query has at most [`MAX_CONDITIONS`] conditions, so
//! hostile input costs bounded stack and time.

use serde_json::Value;

use super::lexer::{CmpOp, Pos, Tok, Token};
use crate::error::Result;
use crate::records::query::{AggregateFn, number_value};

/// Deep enough for real queries; shallow enough that the list's filter (groups at most 8 deep)
/// takes whatever this allows, SEARCH's two levels included.
pub const MAX_NESTING: usize = 5;
pub const MAX_CONDITIONS: usize = 100;
pub const MAX_INCLUDES: usize = 5;
/// Most values one `IN (…)` list may hold.
pub const MAX_IN_VALUES: usize = 1000;

/// A name as written, possibly qualified (`Order.id`, `address.city`).
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub parts: Vec<String>,
    pub pos: Pos,
}

impl Name {
    pub fn dotted(&self) -> String {
        self.parts.join(".")
    }
}

/// A value in a condition: a literal, a `:parameter`, or (in an `INCLUDE`) a parent's field.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value, Pos),
    Param(String, Pos),
    Field(Name),
}

impl Operand {
    pub fn pos(&self) -> Pos {
        match self {
            Operand::Literal(_, pos) | Operand::Param(_, pos) => *pos,
            Operand::Field(name) => name.pos,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Name,
        op: CmpOp,
        value: Operand,
    },
    Between {
        field: Name,
        negated: bool,
        low: Operand,
        high: Operand,
    },
    /// `IN (a, b)` holds its operands; `IN :list` one parameter that must be an array.
    In {
        field: Name,
        negated: bool,
        values: Vec<Operand>,
    },
    IsNull {
        field: Name,
        negated: bool,
    },
    /// `SEARCH("words") IN (f1, f2)`
    Search {
        text: Operand,
        fields: Vec<Name>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Field {
        name: Name,
        alias: Option<String>,
    },
    /// `COUNT(*)` has no field.
    Aggregate {
        function: AggregateFn,
        field: Option<Name>,
        alias: Option<String>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub relation: String,
    pub module: Name,
    pub filter: Expr,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub module: Name,
    pub filter: Option<Expr>,
    pub group_by: Vec<Name>,
    pub select: Vec<SelectItem>,
    /// The field and whether it sorts descending (`None`: as written, no direction).
    pub order_by: Option<(Name, Option<bool>)>,
    pub limit: Option<(u64, Pos)>,
    pub offset: Option<(u64, Pos)>,
    pub includes: Vec<Include>,
}

/// Words that cannot be field names.
const RESERVED: [&str; 20] = [
    "from", "where", "group", "by", "select", "order", "limit", "offset", "include", "and", "or",
    "not", "in", "between", "is", "null", "true", "false", "asc", "desc",
];

pub fn parse(tokens: &[Token]) -> Result<Query> {
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
        conditions: 0,
    };
    parser.query()
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
    conditions: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::End {
            self.at += 1;
        }
        token
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let found = self.is_keyword(word);
        if found {
            self.at += 1;
        }
        found
    }

    fn unexpected(&self, expected: &str) -> crate::error::Error {
        let token = self.peek();
        token.pos.error(format!(
            "expected {expected}, found {}",
            token.tok.describe()
        ))
    }

    fn expect_keyword(&mut self, word: &str) -> Result<()> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected(&word.to_uppercase()))
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<()> {
        if self.peek().tok == tok {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn query(&mut self) -> Result<Query> {
        self.expect_keyword("from")?;
        let module = self.module_name()?;
        let mut query = Query {
            module,
            filter: None,
            group_by: Vec::new(),
            select: Vec::new(),
            order_by: None,
            limit: None,
            offset: None,
            includes: Vec::new(),
        };
        loop {
            let pos = self.peek().pos;
            let twice = |clause: &str| pos.error(format!("{clause} is given twice"));
            if self.eat_keyword("where") {
                if query.filter.is_some() {
                    return Err(twice("WHERE"));
                }
                query.filter = Some(self.expr()?);
            } else if self.eat_keyword("group") {
                self.expect_keyword("by")?;
                if !query.group_by.is_empty() {
                    return Err(twice("GROUP BY"));
                }
                query.group_by = self.names()?;
            } else if self.eat_keyword("select") {
                if !query.select.is_empty() {
                    return Err(twice("SELECT"));
                }
                query.select = self.select_list()?;
            } else if self.eat_keyword("order") {
                self.expect_keyword("by")?;
                if query.order_by.is_some() {
                    return Err(twice("ORDER BY"));
                }
                let field = self.name("a field to sort by")?;
                let descending = if self.eat_keyword("desc") {
                    Some(true)
                } else if self.eat_keyword("asc") {
                    Some(false)
                } else {
                    None
                };
                if self.peek().tok == Tok::Comma {
                    return Err(self
                        .peek()
                        .pos
                        .error("ORDER BY takes one field (records sort by id after it)"));
                }
                query.order_by = Some((field, descending));
            } else if self.eat_keyword("limit") {
                if query.limit.is_some() {
                    return Err(twice("LIMIT"));
                }
                query.limit = Some(self.whole_number("LIMIT")?);
            } else if self.eat_keyword("offset") {
                if query.offset.is_some() {
                    return Err(twice("OFFSET"));
                }
                query.offset = Some(self.whole_number("OFFSET")?);
            } else if self.eat_keyword("include") {
                if query.includes.len() == MAX_INCLUDES {
                    return Err(pos.error(format!(
                        "a query may have at most {MAX_INCLUDES} INCLUDE clauses"
                    )));
                }
                let relation = self.name("the name of the included relation")?;
                if relation.parts.len() > 1 {
                    return Err(relation
                        .pos
                        .error("an INCLUDE's name is one word, e.g. INCLUDE items FROM …"));
                }
                self.expect_keyword("from")?;
                let module = self.module_name()?;
                self.expect_keyword("where")?;
                let filter = self.expr()?;
                query.includes.push(Include {
                    relation: relation.dotted(),
                    module,
                    filter,
                    pos,
                });
            } else if self.peek().tok == Tok::End {
                return Ok(query);
            } else {
                return Err(self.unexpected(
                    "WHERE, GROUP BY, SELECT, ORDER BY, LIMIT, OFFSET, INCLUDE or the end of the query",
                ));
            }
        }
    }

    fn whole_number(&mut self, clause: &str) -> Result<(u64, Pos)> {
        let token = self.next();
        match token.tok {
            Tok::Num(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => {
                Ok((n as u64, token.pos))
            }
            other => Err(token.pos.error(format!(
                "{clause} takes a whole number, found {}",
                other.describe()
            ))),
        }
    }

    /// A name, possibly dotted; a reserved word only as a module's name (`FROM Order`, a
    /// qualifier `Order.id`).
    fn name(&mut self, what: &str) -> Result<Name> {
        self.name_of(what, false)
    }

    fn module_name(&mut self) -> Result<Name> {
        self.name_of("a module name", true)
    }

    fn name_of(&mut self, what: &str, is_module: bool) -> Result<Name> {
        let token = self.peek().clone();
        let Tok::Ident(first) = &token.tok else {
            return Err(self.unexpected(what));
        };
        let qualified = self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::Dot);
        if !is_module && !qualified && RESERVED.iter().any(|w| w.eq_ignore_ascii_case(first)) {
            return Err(self.unexpected(what));
        }
        self.next();
        let mut parts = vec![first.clone()];
        while self.peek().tok == Tok::Dot {
            self.next();
            match self.next().tok {
                Tok::Ident(part) => parts.push(part),
                other => {
                    return Err(token.pos.error(format!(
                        "expected a name after \"{}.\", found {}",
                        parts.join("."),
                        other.describe()
                    )));
                }
            }
        }
        Ok(Name {
            parts,
            pos: token.pos,
        })
    }

    fn names(&mut self) -> Result<Vec<Name>> {
        let mut names = vec![self.name("a field name")?];
        while self.peek().tok == Tok::Comma {
            self.next();
            names.push(self.name("a field name")?);
        }
        Ok(names)
    }

    fn alias(&mut self) -> Result<Option<String>> {
        if !self.eat_keyword("as") {
            return Ok(None);
        }
        let name = self.name("a name after AS")?;
        if name.parts.len() > 1 {
            return Err(name.pos.error("an alias is one word"));
        }
        Ok(Some(name.dotted()))
    }

    fn select_list(&mut self) -> Result<Vec<SelectItem>> {
        let mut items = Vec::new();
        loop {
            let pos = self.peek().pos;
            let function = match &self.peek().tok {
                Tok::Ident(word)
                    if self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::LParen) =>
                {
                    Some(match word.to_ascii_lowercase().as_str() {
                        "count" => AggregateFn::Count,
                        "sum" => AggregateFn::Sum,
                        "avg" => AggregateFn::Avg,
                        "min" => AggregateFn::Min,
                        "max" => AggregateFn::Max,
                        _ => {
                            return Err(pos.error(format!(
                                "unknown function {word} (SELECT takes COUNT, SUM, AVG, MIN and MAX)"
                            )));
                        }
                    })
                }
                _ => None,
            };
            match function {
                Some(function) => {
                    self.next();
                    self.next();
                    let field = if function == AggregateFn::Count && self.peek().tok == Tok::Star {
                        self.next();
                        None
                    } else {
                        Some(self.name("a field name")?)
                    };
                    self.expect(Tok::RParen, "\")\"")?;
                    items.push(SelectItem::Aggregate {
                        function,
                        field,
                        alias: self.alias()?,
                        pos,
                    });
                }
                None => {
                    let name =
                        self.name("a field name or COUNT(*), SUM(f), AVG(f), MIN(f), MAX(f)")?;
                    items.push(SelectItem::Field {
                        name,
                        alias: self.alias()?,
                    });
                }
            }
            if self.peek().tok != Tok::Comma {
                return Ok(items);
            }
            self.next();
        }
    }

    fn nest(&mut self, pos: Pos) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(pos.error(format!(
                "conditions nest more than {MAX_NESTING} deep (parentheses and NOT); simplify the query"
            )));
        }
        Ok(())
    }

    fn counted(&mut self, pos: Pos) -> Result<()> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(pos.error(format!(
                "a query may have at most {MAX_CONDITIONS} conditions"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr> {
        let mut terms = vec![self.and_expr()?];
        while self.eat_keyword("or") {
            terms.push(self.and_expr()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::Or(terms)
        })
    }

    fn and_expr(&mut self) -> Result<Expr> {
        let mut terms = vec![self.unary()?];
        while self.eat_keyword("and") {
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::And(terms)
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        let pos = self.peek().pos;
        if self.eat_keyword("not") {
            self.nest(pos)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek().tok == Tok::LParen {
            self.next();
            self.nest(pos)?;
            let inner = self.expr()?;
            self.expect(Tok::RParen, "\")\" or AND/OR")?;
            self.depth -= 1;
            return Ok(inner);
        }
        if self.is_keyword("search")
            && self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::LParen)
        {
            self.counted(pos)?;
            self.next();
            self.next();
            let text = self.operand()?;
            self.expect(Tok::RParen, "\")\"")?;
            self.expect_keyword("in")?;
            self.expect(Tok::LParen, "\"(\" and the fields to search")?;
            let fields = self.names()?;
            self.expect(Tok::RParen, "\")\"")?;
            return Ok(Expr::Search { text, fields, pos });
        }
        let field = self.name("a field name, NOT, SEARCH or \"(\"")?;
        self.counted(field.pos)?;
        let token = self.peek().clone();
        if let Tok::Cmp(op) = token.tok {
            self.next();
            let value = self.operand()?;
            return Ok(Expr::Compare { field, op, value });
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null")?;
            return Ok(Expr::IsNull { field, negated });
        }
        let negated = self.eat_keyword("not");
        if self.eat_keyword("between") {
            let low = self.operand()?;
            self.expect_keyword("and")?;
            let high = self.operand()?;
            return Ok(Expr::Between {
                field,
                negated,
                low,
                high,
            });
        }
        if self.eat_keyword("in") {
            let values = if let Tok::Param(name) = &self.peek().tok {
                let value = Operand::Param(name.clone(), self.peek().pos);
                self.next();
                vec![value]
            } else {
                self.expect(Tok::LParen, "\"(\" and a list of values, or a :parameter")?;
                let mut values = vec![self.operand()?];
                while self.peek().tok == Tok::Comma {
                    self.next();
                    if values.len() == MAX_IN_VALUES {
                        return Err(self
                            .peek()
                            .pos
                            .error(format!("an IN list holds at most {MAX_IN_VALUES} values")));
                    }
                    values.push(self.operand()?);
                }
                self.expect(Tok::RParen, "\",\" or \")\"")?;
                values
            };
            return Ok(Expr::In {
                field,
                negated,
                values,
            });
        }
        Err(self.unexpected(if negated {
            "BETWEEN or IN after NOT"
        } else {
            "a comparison (=, !=, <>, <, <=, >, >=), BETWEEN, IN or IS [NOT] NULL"
        }))
    }

    fn operand(&mut self) -> Result<Operand> {
        let token = self.peek().clone();
        let literal = match &token.tok {
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Num(n) => number_value(*n),
            Tok::Param(name) => {
                self.next();
                return Ok(Operand::Param(name.clone(), token.pos));
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Tok::Ident(w) if w.eq_ignore_ascii_case("null") => Value::Null,
            Tok::Ident(_) => return Ok(Operand::Field(self.name("a value")?)),
            _ => {
                return Err(
                    self.unexpected("a value (a string, number, true, false, null or :parameter)")
                );
            }
        };
        self.next();
        Ok(Operand::Literal(literal, token.pos))
    }
}
