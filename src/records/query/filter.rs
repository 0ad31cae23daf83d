//! The filters of a list query as SQL: `filter[field]`, `advancedFilter` (every operator of
//! spec 000, nested AND/OR groups, at most 8 deep and 100 conditions), `search`, label and type
//! filters; and what a field name in a filter or a sort stands for.
//!
//! In: a module, a [`ListQuery`] and the SQL being built. Out: WHERE conditions appended to it.
//! Guarantees: every field name is looked up in the module before anything reaches SQL (JSON
//! paths are bound values), and every value is parsed as its field's type and bound, never
//! pasted.

use serde_json::Value;

use super::ListQuery;
use crate::error::{Error, Result};
use crate::schema::value::{self, ValueOptions};
use crate::schema::{ADDRESS_PARTS, FieldDef, FieldType, Module};
use crate::store::{Dialect, Sql};

/// Words a search matches at most: each is one `LIKE` over the record's search text, and
/// databases refuse (or take long over) expressions of thousands of terms.
pub const MAX_SEARCH_WORDS: usize = 32;

const MAX_FILTER_DEPTH: usize = 8;
const MAX_FILTER_CONDITIONS: usize = 100;

/// How a filtered or sorted expression compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Number,
    /// Integers: times in microseconds, booleans as 1/0.
    Int,
}

/// What a field name in a filter or sort resolves to.
#[derive(Debug, Clone)]
pub(super) enum Target<'a> {
    Column {
        expr: &'static str,
        kind: Kind,
        is_time: bool,
    },
    Field {
        field: &'a FieldDef,
        part: Option<&'static str>,
    },
}

/// The names of a record's own columns that filters and sorts accept beside its fields (the
/// first of each group of aliases; `resolve_target` takes them all).
pub(crate) const CORE_FIELDS: [&str; 6] = [
    "id",
    "displayName",
    "createdAt",
    "updatedAt",
    "externalId",
    "privacyLevel",
];

pub(super) fn resolve_target<'a>(module: &'a Module, name: &str) -> Result<Target<'a>> {
    let (base, part) = match name.split_once('.') {
        Some((base, part)) => (base, Some(part)),
        None => (name, None),
    };
    if let Some(field) = module.field(base) {
        let part = match part {
            None => None,
            Some(p) if field.field_type == FieldType::Address => {
                Some(*ADDRESS_PARTS.iter().find(|a| **a == p).ok_or_else(|| {
                    Error::invalid_field(
                        name,
                        format!(
                            "unknown address part (expected {})",
                            ADDRESS_PARTS.join(", ")
                        ),
                        None,
                    )
                })?)
            }
            Some(_) => {
                return Err(Error::invalid_field(
                    name,
                    "only address fields have parts",
                    None,
                ));
            }
        };
        return Ok(Target::Field { field, part });
    }
    let column = |expr, kind, is_time| Target::Column {
        expr,
        kind,
        is_time,
    };
    match name {
        "id" => Ok(column("r.id", Kind::Text, false)),
        "displayName" | "name" => Ok(column("r.display_name", Kind::Text, false)),
        "createdDateTime" | "created_at" | "createdAt" => {
            Ok(column("r.created_at", Kind::Int, true))
        }
        "updatedDateTime" | "updated_at" | "updatedAt" => {
            Ok(column("r.updated_at", Kind::Int, true))
        }
        "externalId" => Ok(column("r.external_id", Kind::Text, false)),
        "privacyLevel" => Ok(column("r.privacy_level", Kind::Text, false)),
        _ => Err(module
            .require_field(name)
            .err()
            .unwrap_or_else(|| Error::invalid_field(name, "unknown field", None))),
    }
}

/// SQL expressions for one field of `r.fields`, per dialect.
pub(super) struct FieldSql<'a> {
    pub(super) dialect: Dialect,
    pub(super) field: &'a FieldDef,
    pub(super) part: Option<&'static str>,
}

impl FieldSql<'_> {
    /// The value as SQL text (JSON text for arrays and objects); NULL when absent.
    pub(super) fn text(&self, sql: &mut Sql) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let path = match self.part {
                    Some(part) => format!("$.{}.{part}", self.field.slug),
                    None => format!("$.{}", self.field.slug),
                };
                format!("json_extract(r.fields, {})", sql.arg(path))
            }
            Dialect::Postgres => {
                let mut args = sql.arg(self.field.slug.clone());
                if let Some(part) = self.part {
                    args = format!("{args}, {}", sql.arg(part));
                }
                format!("jsonb_extract_path_text(r.fields, {args})")
            }
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self.field.field_type {
            t if t.is_numeric() && self.part.is_none() => Kind::Number,
            FieldType::Boolean => Kind::Int,
            _ => Kind::Text,
        }
    }

    /// The value typed for comparison: numbers as numbers, booleans as 1/0.
    pub(super) fn typed(&self, sql: &mut Sql) -> String {
        let text = self.text(sql);
        match (self.dialect, self.kind()) {
            (Dialect::Postgres, Kind::Number) => format!("CAST({text} AS DOUBLE PRECISION)"),
            (Dialect::Postgres, Kind::Int) => format!("CAST(CAST({text} AS BOOLEAN) AS INTEGER)"),
            _ => text,
        }
    }

    /// `EXISTS (… each element … WHERE <cond(element)>)` for multi-value fields.
    fn any_element(
        &self,
        sql: &mut Sql,
        cond: impl FnOnce(&mut Sql, &str) -> Result<String>,
    ) -> Result<String> {
        let is_phone = self.field.field_type == FieldType::Phone;
        match self.dialect {
            Dialect::Sqlite => {
                let path = sql.arg(format!("$.{}", self.field.slug));
                let elem = if is_phone {
                    "json_extract(e.value, '$.number')"
                } else {
                    "e.value"
                };
                let c = cond(sql, elem)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM json_each(r.fields, {path}) AS e WHERE {c})"
                ))
            }
            Dialect::Postgres => {
                let key = sql.arg(self.field.slug.clone());
                let elem = if is_phone {
                    "(e.v ->> 'number')"
                } else {
                    "(e.v #>> '{}')"
                };
                let c = cond(sql, elem)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(r.fields -> {key}, '[]'::jsonb)) AS e(v) WHERE {c})"
                ))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    Between,
    Before,
    After,
}

impl Op {
    fn parse(name: &str) -> Result<Op> {
        Ok(match name {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "contains" => Op::Contains,
            "notContains" => Op::NotContains,
            "startsWith" => Op::StartsWith,
            "endsWith" => Op::EndsWith,
            "in" => Op::In,
            "notIn" => Op::NotIn,
            "isNull" => Op::IsNull,
            "isNotNull" => Op::IsNotNull,
            "between" => Op::Between,
            "before" => Op::Before,
            "after" => Op::After,
            other => {
                return Err(Error::invalid_field(
                    "operator",
                    format!(
                        "unknown operator '{other}' (expected eq, neq, gt, gte, lt, lte, contains, \
                         notContains, startsWith, endsWith, in, notIn, isNull, isNotNull, between, \
                         before, after)"
                    ),
                    None,
                ));
            }
        })
    }

    fn negated(self) -> bool {
        matches!(self, Op::Neq | Op::NotContains | Op::NotIn)
    }
}

/// One condition, checked against the module.
struct Condition<'a> {
    name: String,
    target: Target<'a>,
    op: Op,
    values: Vec<Value>,
}

/// Turns filters into SQL for one module.
struct FilterBuilder<'a> {
    module: &'a Module,
    dialect: Dialect,
    options: &'a ValueOptions,
    conditions: usize,
}

impl<'a> FilterBuilder<'a> {
    /// A filter value in the stored form of its target, bound with the right type.
    fn bind_value(
        &self,
        sql: &mut Sql,
        cond: &Condition,
        raw: &Value,
        kind: Kind,
    ) -> Result<String> {
        let bad = |message: String| Error::invalid_field(&cond.name, message, Some(raw.clone()));
        match &cond.target {
            Target::Column { is_time: true, .. } => {
                let def = FieldDef::of_type("value", FieldType::Datetime);
                let stored = value::parse_json(&def, raw, self.options)
                    .map_err(|e| bad(e.0))?
                    .ok_or_else(|| bad("needs a value".into()))?;
                let micros =
                    chrono::DateTime::parse_from_rfc3339(stored.as_str().unwrap_or_default())
                        .map_err(|e| bad(e.to_string()))?
                        .timestamp_micros();
                Ok(sql.arg(micros))
            }
            Target::Column { .. } => Ok(sql.arg(scalar_text(raw))),
            Target::Field { field, part } => {
                if part.is_some() {
                    return Ok(sql.arg(scalar_text(raw)));
                }
                let stored = value::parse_json(field, raw, self.options)
                    .map_err(|e| bad(e.0))?
                    .ok_or_else(|| bad("needs a value".into()))?;
                // Multi-value fields compare one element at a time.
                let stored = match (&field.field_type, stored) {
                    (FieldType::Phone, Value::Array(items)) => items
                        .first()
                        .and_then(|p| p.get("number"))
                        .cloned()
                        .unwrap_or(Value::Null),
                    (FieldType::MultiSelect, Value::Array(items)) => {
                        items.into_iter().next().unwrap_or(Value::Null)
                    }
                    (_, v) => v,
                };
                Ok(match (kind, stored) {
                    (Kind::Number, Value::Number(n)) => sql.arg(n.as_f64().unwrap_or_default()),
                    (Kind::Int, Value::Bool(b)) => sql.arg(i64::from(b)),
                    (_, Value::String(s)) => sql.arg(s),
                    (_, other) => sql.arg(other.to_string()),
                })
            }
        }
    }

    fn condition(&mut self, sql: &mut Sql, cond: &Condition) -> Result<String> {
        self.conditions += 1;
        if self.conditions > MAX_FILTER_CONDITIONS {
            return Err(Error::validation(format!(
                "a filter may have at most {MAX_FILTER_CONDITIONS} conditions"
            )));
        }
        let one = |n: usize| -> Result<&Value> {
            cond.values.get(n).ok_or_else(|| {
                Error::invalid_field(
                    &cond.name,
                    format!("operator needs {} value(s)", n + 1),
                    None,
                )
            })
        };
        let (field_sql, kind) = match &cond.target {
            Target::Column { kind, .. } => (None, *kind),
            Target::Field { field, part } => {
                let f = FieldSql {
                    dialect: self.dialect,
                    field,
                    part: *part,
                };
                let kind = f.kind();
                (Some(f), kind)
            }
        };
        let multi = field_sql
            .as_ref()
            .is_some_and(|f| f.part.is_none() && f.field.field_type.is_multi_value());
        let is_date = match &cond.target {
            Target::Column { is_time, .. } => *is_time,
            Target::Field { field, part } => {
                part.is_none() && matches!(field.field_type, FieldType::Date | FieldType::Datetime)
            }
        };
        let whole_address = field_sql
            .as_ref()
            .is_some_and(|f| f.field.field_type == FieldType::Address && f.part.is_none());
        let expr_of = |sql: &mut Sql| -> String {
            match (&cond.target, &field_sql) {
                (Target::Column { expr, .. }, _) => expr.to_string(),
                (_, Some(f)) => f.typed(sql),
                _ => unreachable!("a field target always has its SQL"),
            }
        };
        if matches!(cond.op, Op::IsNull | Op::IsNotNull) {
            let expr = match (&cond.target, &field_sql) {
                (Target::Column { expr, .. }, _) => expr.to_string(),
                (_, Some(f)) => f.text(sql),
                _ => unreachable!("a field target always has its SQL"),
            };
            let not = if cond.op == Op::IsNull { "" } else { "NOT " };
            return Ok(format!("({expr} IS {not}NULL)"));
        }
        if whole_address && !matches!(cond.op, Op::Contains | Op::NotContains) {
            return Err(Error::invalid_field(
                &cond.name,
                "address fields compare by part (e.g. address.city); the whole address supports contains and notContains",
                None,
            ));
        }
        if matches!(cond.op, Op::Before | Op::After) && !is_date {
            return Err(Error::invalid_field(
                &cond.name,
                "before and after need a date or date-time field",
                None,
            ));
        }
        // Builds the positive comparison of one element (or the scalar) against the value(s).
        let compare = |sql: &mut Sql, expr: &str| -> Result<String> {
            Ok(match cond.op {
                Op::Eq | Op::Neq => {
                    format!("{expr} = {}", self.bind_value(sql, cond, one(0)?, kind)?)
                }
                Op::Gt | Op::After => {
                    format!("{expr} > {}", self.bind_value(sql, cond, one(0)?, kind)?)
                }
                Op::Gte => format!("{expr} >= {}", self.bind_value(sql, cond, one(0)?, kind)?),
                Op::Lt | Op::Before => {
                    format!("{expr} < {}", self.bind_value(sql, cond, one(0)?, kind)?)
                }
                Op::Lte => format!("{expr} <= {}", self.bind_value(sql, cond, one(0)?, kind)?),
                Op::Between => {
                    let low = self.bind_value(sql, cond, one(0)?, kind)?;
                    let high = self.bind_value(sql, cond, one(1)?, kind)?;
                    format!("{expr} >= {low} AND {expr} <= {high}")
                }
                Op::In | Op::NotIn => {
                    if cond.values.is_empty() {
                        return Err(Error::invalid_field(
                            &cond.name,
                            "needs a list of values",
                            None,
                        ));
                    }
                    let mut items = Vec::with_capacity(cond.values.len());
                    for v in &cond.values {
                        items.push(self.bind_value(sql, cond, v, kind)?);
                    }
                    format!("{expr} IN ({})", items.join(", "))
                }
                Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith => {
                    let needle = like_escape(&scalar_text(one(0)?).to_lowercase());
                    let pattern = match cond.op {
                        Op::StartsWith => format!("{needle}%"),
                        Op::EndsWith => format!("%{needle}"),
                        _ => format!("%{needle}%"),
                    };
                    let text_expr = match self.dialect {
                        Dialect::Sqlite => format!("lower({expr})"),
                        Dialect::Postgres => format!("lower(CAST({expr} AS TEXT))"),
                    };
                    format!("{text_expr} LIKE {} ESCAPE '\\'", sql.arg(pattern))
                }
                Op::IsNull | Op::IsNotNull => unreachable!("handled above"),
            })
        };
        if multi {
            let f = field_sql.as_ref().expect("multi implies a field");
            let exists = f.any_element(sql, |sql, elem| compare(sql, elem))?;
            return Ok(if cond.op.negated() {
                format!("(NOT {exists})")
            } else {
                exists
            });
        }
        let expr = expr_of(sql);
        let positive = compare(sql, &expr)?;
        Ok(if cond.op.negated() {
            format!("({expr} IS NULL OR NOT ({positive}))")
        } else {
            format!("({positive})")
        })
    }

    /// A group `{"conjunction": "AND"|"OR", "conditions": [...]}` or a condition
    /// `{"fieldSlug", "operator", "value"|"values"}`.
    fn node(&mut self, sql: &mut Sql, node: &Value, depth: usize) -> Result<String> {
        if depth > MAX_FILTER_DEPTH {
            return Err(Error::validation(format!(
                "advancedFilter groups nest at most {MAX_FILTER_DEPTH} deep"
            )));
        }
        let obj = node.as_object().ok_or_else(|| {
            Error::validation("advancedFilter: every group and condition must be a JSON object")
        })?;
        if let Some(conditions) = obj.get("conditions") {
            let conjunction = match obj
                .get("conjunction")
                .and_then(Value::as_str)
                .unwrap_or("AND")
            {
                c if c.eq_ignore_ascii_case("and") => " AND ",
                c if c.eq_ignore_ascii_case("or") => " OR ",
                other => {
                    return Err(Error::validation(format!(
                        "advancedFilter: conjunction must be AND or OR, got '{other}'"
                    )));
                }
            };
            let items = conditions.as_array().ok_or_else(|| {
                Error::validation("advancedFilter: \"conditions\" must be an array")
            })?;
            if items.is_empty() {
                return Ok("(1 = 1)".to_string());
            }
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(self.node(sql, item, depth + 1)?);
            }
            return Ok(format!("({})", parts.join(conjunction)));
        }
        let field = obj
            .get("fieldSlug")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::validation(
                    "advancedFilter: a condition needs \"fieldSlug\" (or a group \"conditions\")",
                )
            })?;
        let op = Op::parse(
            obj.get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;
        let values = match (obj.get("values"), obj.get("value")) {
            (Some(Value::Array(vs)), _) => vs.clone(),
            (_, Some(Value::Array(vs))) => vs.clone(),
            (_, Some(v)) if !v.is_null() => vec![v.clone()],
            _ => Vec::new(),
        };
        let cond = Condition {
            name: field.to_string(),
            target: resolve_target(self.module, field)?,
            op,
            values,
        };
        self.condition(sql, &cond)
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The WHERE conditions (after the module and liveness ones) of a list query.
pub(super) fn where_clause(
    sql: &mut Sql,
    dialect: Dialect,
    module: &Module,
    query: &ListQuery,
    options: &ValueOptions,
) -> Result<()> {
    let mut builder = FilterBuilder {
        module,
        dialect,
        options,
        conditions: 0,
    };
    for (name, raw) in &query.filters {
        let values: Vec<Value> = raw
            .split(',')
            .map(|v| Value::String(v.trim().to_string()))
            .collect();
        let cond = Condition {
            name: name.clone(),
            target: resolve_target(module, name)?,
            op: if values.len() == 1 { Op::Eq } else { Op::In },
            values,
        };
        let c = builder.condition(sql, &cond)?;
        sql.push(" AND ").push(&c);
    }
    if let Some(filter) = &query.advanced_filter {
        let root = filter.get("root").unwrap_or(filter);
        let c = builder.node(sql, root, 0)?;
        sql.push(" AND ").push(&c);
    }
    if let Some(search) = &query.search {
        let words = search.split_whitespace().count();
        if words > MAX_SEARCH_WORDS {
            return Err(Error::invalid_field(
                "search",
                format!(
                    "has {words} words; a search takes at most {MAX_SEARCH_WORDS} (every word \
                     must match)"
                ),
                None,
            ));
        }
        for word in search.split_whitespace() {
            let pattern = format!("%{}%", like_escape(&word.to_lowercase()));
            sql.push(" AND r.search_text LIKE ")
                .bind(pattern)
                .push(" ESCAPE '\\'");
        }
    }
    for (column, ids) in [
        ("label_ids", &query.label_ids),
        ("type_ids", &query.type_ids),
    ] {
        if ids.is_empty() {
            continue;
        }
        let each = match builder.dialect {
            Dialect::Sqlite => {
                format!("SELECT 1 FROM json_each(r.{column}) AS j WHERE j.value IN (")
            }
            Dialect::Postgres => {
                format!(
                    "SELECT 1 FROM jsonb_array_elements_text(r.{column}) AS j(value) WHERE j.value IN ("
                )
            }
        };
        sql.push(" AND EXISTS (")
            .push(&each)
            .bind_list(ids.iter().cloned())
            .push("))");
    }
    Ok(())
}
