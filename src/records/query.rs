//! Listing records: `filter[field]`, `advancedFilter` (every operator of spec 000, nested AND/OR
//! groups), `search`, label and type filters, sorting, offset pages (spec 000) and cursor pages
//! (spec 004), and field selection.
//!
//! Field names are looked up in the module before anything reaches SQL; values are bound, never
//! pasted. Sorting always ends with the record id, so pages are stable, and empty values sort last
//! in both directions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::records::model::{Record, record_columns, record_from_row};
use crate::schema::value::{self, ValueOptions};
use crate::schema::{ADDRESS_PARTS, FieldDef, FieldType, Module};
use crate::store::{Dialect, Row, Sql, Store};

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;
const MAX_FILTER_DEPTH: usize = 8;
const MAX_FILTER_CONDITIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

impl SortDirection {
    fn sql(self) -> &'static str {
        match self {
            SortDirection::Asc => "ASC",
            SortDirection::Desc => "DESC",
        }
    }
    fn after(self) -> &'static str {
        match self {
            SortDirection::Asc => ">",
            SortDirection::Desc => "<",
        }
    }
}

/// The parameters of a list request, as spec 000 (offset pages) and spec 004 (cursor pages)
/// name them.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `filter[field]=a,b`: comma means OR, several fields mean AND.
    pub filters: Vec<(String, String)>,
    /// The `advancedFilter` JSON: `{"root": group}` or a group.
    pub advanced_filter: Option<Value>,
    pub search: Option<String>,
    pub label_ids: Vec<String>,
    pub type_ids: Vec<String>,
    pub sort_field: Option<String>,
    pub sort_direction: Option<SortDirection>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    /// Field slugs to return; core fields always come.
    pub fields: Option<Vec<String>>,
    /// Cursor pagination: a `nextCursor` from an earlier page.
    pub cursor: Option<String>,
    /// Cursor pagination: page size. Giving `limit` or `cursor` selects cursor pages.
    pub limit: Option<u32>,
    /// Cursor pagination: also count the matching records.
    pub include_count: bool,
}

impl ListQuery {
    /// Reads query-string parameters (`filter[status]=active`, `advancedFilter=…`, `page=2`, …).
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut q = ListQuery::default();
        for (key, val) in params {
            let number = |name: &str| -> Result<u32> {
                val.parse().map_err(|_| {
                    Error::invalid_field(name, "must be a whole number", Some(json!(val)))
                })
            };
            let list = || -> Vec<String> {
                val.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            };
            match key {
                "search" => q.search = Some(val.to_string()),
                "sortField" => q.sort_field = Some(val.to_string()),
                "sortDirection" => q.sort_direction = Some(parse_direction(val)?),
                "labelIds" => q.label_ids = list(),
                "typeIds" => q.type_ids = list(),
                "advancedFilter" => {
                    q.advanced_filter = Some(
                        serde_json::from_str(val).map_err(|e| Error::json("advancedFilter", e))?,
                    )
                }
                "page" => q.page = Some(number("page")?),
                "pageSize" => q.page_size = Some(number("pageSize")?),
                "fields" => q.fields = Some(list()),
                "cursor" => q.cursor = Some(val.to_string()),
                "limit" => q.limit = Some(number("limit")?),
                "includeCount" => q.include_count = matches!(val, "true" | "1"),
                _ => match key
                    .strip_prefix("filter[")
                    .and_then(|k| k.strip_suffix(']'))
                {
                    Some(field) => q.filters.push((field.to_string(), val.to_string())),
                    None => {
                        return Err(Error::validation(format!(
                            "unknown query parameter '{key}'"
                        )));
                    }
                },
            }
        }
        Ok(q)
    }

    fn uses_cursor(&self) -> bool {
        self.cursor.is_some() || self.limit.is_some()
    }
}

pub fn parse_direction(text: &str) -> Result<SortDirection> {
    match text.to_ascii_lowercase().as_str() {
        "asc" => Ok(SortDirection::Asc),
        "desc" => Ok(SortDirection::Desc),
        _ => Err(Error::invalid_field(
            "sortDirection",
            "must be asc or desc",
            Some(json!(text)),
        )),
    }
}

/// A page of records: offset pages carry `total`, `page`, `pageSize`; cursor pages carry
/// `pagination`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResult {
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<CursorPagination>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPagination {
    pub limit: u32,
    pub has_more: bool,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// How a filtered or sorted expression compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// Integers: times in microseconds, booleans as 1/0.
    Int,
}

/// What a field name in a filter or sort resolves to.
#[derive(Debug, Clone)]
enum Target<'a> {
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

fn resolve_target<'a>(module: &'a Module, name: &str) -> Result<Target<'a>> {
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
struct FieldSql<'a> {
    dialect: Dialect,
    field: &'a FieldDef,
    part: Option<&'static str>,
}

impl FieldSql<'_> {
    /// The value as SQL text (JSON text for arrays and objects); NULL when absent.
    fn text(&self, sql: &mut Sql) -> String {
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

    fn kind(&self) -> Kind {
        match self.field.field_type {
            t if t.is_numeric() && self.part.is_none() => Kind::Number,
            FieldType::Boolean => Kind::Int,
            _ => Kind::Text,
        }
    }

    /// The value typed for comparison: numbers as numbers, booleans as 1/0.
    fn typed(&self, sql: &mut Sql) -> String {
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
fn where_clause(
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

/// The sort of a list: an expression, its direction and how to read and bind its value for
/// cursors.
struct Sort {
    name: String,
    expr: String,
    kind: Kind,
    nullable: bool,
    direction: SortDirection,
}

fn sort_of(sql: &mut Sql, dialect: Dialect, module: &Module, query: &ListQuery) -> Result<Sort> {
    let name = query
        .sort_field
        .clone()
        .unwrap_or_else(|| "createdDateTime".to_string());
    let direction = query
        .sort_direction
        .unwrap_or(if query.sort_field.is_some() {
            SortDirection::Asc
        } else {
            SortDirection::Desc
        });
    let collate = match dialect {
        // Byte order, as SQLite compares, so both stores page alike.
        Dialect::Postgres => " COLLATE \"C\"",
        Dialect::Sqlite => "",
    };
    let (expr, kind, nullable) = match resolve_target(module, &name)? {
        Target::Column { expr, kind, .. } if kind == Kind::Text && expr != "r.id" => {
            let nullable = expr == "r.external_id";
            (format!("lower({expr}){collate}"), Kind::Text, nullable)
        }
        Target::Column { expr, kind, .. } => (expr.to_string(), kind, false),
        Target::Field { field, part } => {
            let f = FieldSql {
                dialect,
                field,
                part,
            };
            let kind = f.kind();
            let typed = f.typed(sql);
            let expr = match (kind, dialect) {
                (Kind::Text, _) => format!("lower({typed}){collate}"),
                (Kind::Number, Dialect::Sqlite) => format!("CAST({typed} AS REAL)"),
                _ => typed,
            };
            (expr, kind, true)
        }
    };
    Ok(Sort {
        name,
        expr,
        kind,
        nullable,
        direction,
    })
}

/// What a cursor remembers: the sort it belongs to and the last row's sort value and id.
#[derive(Debug, Serialize, Deserialize)]
struct CursorState {
    f: String,
    d: SortDirection,
    v: Value,
    id: String,
}

fn encode_cursor(state: &CursorState) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default())
}

fn decode_cursor(text: &str, sort: &Sort) -> Result<CursorState> {
    let bad = || Error::invalid_field("cursor", "is not a cursor of this list", Some(json!(text)));
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let state: CursorState = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if state.f != sort.name || state.d != sort.direction {
        return Err(Error::invalid_field(
            "cursor",
            "belongs to a list with another sort",
            Some(json!(text)),
        ));
    }
    Ok(state)
}

fn sort_value(row: &Row, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Kind::Text => row.opt_text("sort_key")?.map_or(Value::Null, Value::String),
        Kind::Int => row.opt_int("sort_key")?.map_or(Value::Null, Value::from),
        Kind::Number => row.opt_float("sort_key")?.map_or(Value::Null, Value::from),
    })
}

/// Rows after the cursor's row in sort order; empty values come last in both directions.
fn after_cursor(sql: &mut Sql, sort: &Sort, cursor: &CursorState) -> Result<()> {
    let cmp = sort.direction.after();
    let id = sql.arg(cursor.id.clone());
    let e = &sort.expr;
    if cursor.v.is_null() {
        sql.push(&format!(" AND ({e} IS NULL AND r.id {cmp} {id})"));
        return Ok(());
    }
    let bad = || Error::invalid_field("cursor", "is not a cursor of this list", None);
    let v = match (sort.kind, &cursor.v) {
        (Kind::Text, Value::String(s)) => sql.arg(s.clone()),
        (Kind::Int, Value::Number(n)) => sql.arg(n.as_i64().ok_or_else(bad)?),
        (Kind::Number, Value::Number(n)) => sql.arg(n.as_f64().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    let nulls = if sort.nullable {
        format!("{e} IS NULL OR ")
    } else {
        String::new()
    };
    sql.push(&format!(
        " AND ({nulls}{e} {cmp} {v} OR ({e} = {v} AND r.id {cmp} {id}))"
    ));
    Ok(())
}

fn project_fields(
    module: &Module,
    records: &mut [Record],
    fields: &Option<Vec<String>>,
) -> Result<()> {
    let Some(wanted) = fields else { return Ok(()) };
    for slug in wanted {
        module.require_field(slug)?;
    }
    for record in records {
        let kept: Map<String, Value> = std::mem::take(&mut record.fields)
            .into_iter()
            .filter(|(k, _)| wanted.contains(k))
            .collect();
        record.fields = kept;
    }
    Ok(())
}

/// `SELECT COUNT(*) AS n` over the records that match `filter` (WHERE conditions on `records r`).
fn count_sql(filter: &Sql) -> Sql {
    Sql {
        text: format!("SELECT COUNT(*) AS n FROM records r WHERE {}", filter.text),
        args: filter.args.clone(),
    }
}

async fn count(store: &Store, sql: Sql) -> Result<u64> {
    let row = store.fetch_optional(sql).await?;
    Ok(row.map(|r| r.int("n")).transpose()?.unwrap_or(0) as u64)
}

pub(crate) async fn list(
    store: &Store,
    module: &Module,
    query: &ListQuery,
    options: &ValueOptions,
) -> Result<ListResult> {
    let plan = ListPlan::new(store.dialect(), module, query, options)?;
    if query.uses_cursor() {
        let limit = query
            .limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let after = query
            .cursor
            .as_deref()
            .map(|cursor| decode_cursor(cursor, &plan.sort))
            .transpose()?;
        // One row more than the page tells whether there are more.
        let window = Window {
            after: after.as_ref(),
            limit: i64::from(limit) + 1,
            offset: 0,
            sort_key: true,
        };
        let rows = store.fetch_all(plan.select_sql(&window, no_extra)?).await?;
        let has_more = rows.len() > limit as usize;
        let mut records = Vec::with_capacity(limit as usize);
        let mut next_cursor = None;
        for row in rows.iter().take(limit as usize) {
            let record = plan.record(row)?;
            if has_more {
                next_cursor = Some(encode_cursor(&CursorState {
                    f: plan.sort.name.clone(),
                    d: plan.sort.direction,
                    v: sort_value(row, plan.sort.kind)?,
                    id: record.id.clone(),
                }));
            }
            records.push(record);
        }
        project_fields(module, &mut records, &query.fields)?;
        let total = if query.include_count {
            Some(count(store, plan.count_sql()).await?)
        } else {
            None
        };
        return Ok(ListResult {
            records,
            total: None,
            page: None,
            page_size: None,
            pagination: Some(CursorPagination {
                limit,
                has_more,
                next_cursor,
                total,
            }),
        });
    }
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(Error::invalid_field("page", "starts at 1", Some(json!(0))));
    }
    let page_size = query
        .page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let window = Window {
        after: None,
        limit: i64::from(page_size),
        offset: i64::from(page - 1) * i64::from(page_size),
        sort_key: true,
    };
    let rows = store.fetch_all(plan.select_sql(&window, no_extra)?).await?;
    let mut records = rows
        .iter()
        .map(|row| plan.record(row))
        .collect::<Result<Vec<_>>>()?;
    project_fields(module, &mut records, &query.fields)?;
    Ok(ListResult {
        records,
        total: Some(count(store, plan.count_sql()).await?),
        page: Some(page),
        page_size: Some(page_size),
        pagination: None,
    })
}

fn push_order(sql: &mut Sql, sort: &Sort) {
    let dir = sort.direction.sql();
    if sort.nullable {
        sql.push(&format!(
            " ORDER BY ({} IS NULL), {} {dir}, r.id {dir}",
            sort.expr, sort.expr
        ));
    } else {
        sql.push(&format!(" ORDER BY {} {dir}, r.id {dir}", sort.expr));
    }
}

pub(crate) async fn list_trash(
    store: &Store,
    module: &Module,
    page: u32,
    page_size: u32,
) -> Result<ListResult> {
    if page == 0 {
        return Err(Error::invalid_field("page", "starts at 1", Some(json!(0))));
    }
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let mut filter = Sql::new("r.module_id = ");
    filter
        .bind(module.id.clone())
        .push(" AND r.deleted_at IS NOT NULL");
    let mut sql = Sql {
        text: format!(
            "SELECT {} FROM records r WHERE {} ORDER BY r.deleted_at DESC, r.id DESC LIMIT ",
            record_columns(store.dialect()),
            filter.text
        ),
        args: filter.args.clone(),
    };
    sql.bind(i64::from(page_size))
        .push(" OFFSET ")
        .bind(i64::from(page - 1) * i64::from(page_size));
    let rows = store.fetch_all(sql).await?;
    let records = rows
        .iter()
        .map(|row| record_from_row(row, module.slug()))
        .collect::<Result<Vec<_>>>()?;
    Ok(ListResult {
        records,
        total: Some(count(store, count_sql(&filter)).await?),
        page: Some(page),
        page_size: Some(page_size),
        pagination: None,
    })
}

/// A list query checked against its module and turned into SQL: the WHERE conditions, the sort
/// and the selects of the list's pages ([`list`]) and of callers that read every matching record
/// in sort order in one statement (the export streams it inside a snapshot). Sorting ends with
/// the record id, so the order is total.
pub(crate) struct ListPlan {
    dialect: Dialect,
    /// The WHERE conditions and their values.
    filter: Sql,
    /// The filter's values followed by those the sort expression binds.
    select_args: Vec<crate::store::Arg>,
    sort: Sort,
    module_slug: String,
}

/// Which matching rows a select of a [`ListPlan`] reads, in sort order.
pub(crate) struct Window<'a> {
    /// Only the rows after a cursor's row.
    after: Option<&'a CursorState>,
    limit: i64,
    offset: i64,
    /// Also select the sort value, as `sort_key` (a cursor remembers it).
    sort_key: bool,
}

impl Window<'_> {
    /// The first `limit` rows.
    pub(crate) fn first(limit: i64) -> Window<'static> {
        Window {
            after: None,
            limit,
            offset: 0,
            sort_key: false,
        }
    }
}

/// For selects that need nothing beyond the record's own columns.
pub(crate) fn no_extra(_: &mut Sql) -> (String, String) {
    (String::new(), String::new())
}

impl ListPlan {
    /// Checks the filters (`filters`, `advanced_filter`, `search`, labels, types) and the sort of
    /// `query` against the module; paging parameters of `query` are ignored.
    pub(crate) fn new(
        dialect: Dialect,
        module: &Module,
        query: &ListQuery,
        options: &ValueOptions,
    ) -> Result<ListPlan> {
        let mut filter = Sql::new("r.module_id = ");
        filter
            .bind(module.id.clone())
            .push(" AND r.deleted_at IS NULL");
        where_clause(&mut filter, dialect, module, query, options)?;
        let mut select = Sql {
            text: String::new(),
            args: filter.args.clone(),
        };
        let sort = sort_of(&mut select, dialect, module, query)?;
        Ok(ListPlan {
            dialect,
            filter,
            select_args: select.args,
            sort,
            module_slug: module.slug().to_string(),
        })
    }

    /// `SELECT COUNT(*) AS n` over the matching records.
    pub(crate) fn count_sql(&self) -> Sql {
        count_sql(&self.filter)
    }

    /// `SELECT COUNT(*) AS n` over at most `cap` matching records: cheap however many match, for
    /// callers that only need to know whether there are more than `cap`.
    pub(crate) fn count_sql_capped(&self, cap: i64) -> Sql {
        let mut sql = Sql {
            text: format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM records r WHERE {} LIMIT ",
                self.filter.text
            ),
            args: self.filter.args.clone(),
        };
        sql.bind(cap).push(") AS capped");
        sql
    }

    /// The matching records of `window`, in sort order. `extra` binds what it needs into the
    /// query and returns more select-list items (each starting with `, `) and joins (each
    /// starting with a space) on `records r`; [`no_extra`] adds none.
    pub(crate) fn select_sql(
        &self,
        window: &Window,
        extra: impl FnOnce(&mut Sql) -> (String, String),
    ) -> Result<Sql> {
        let mut sql = Sql {
            text: String::new(),
            args: self.select_args.clone(),
        };
        let (more_columns, joins) = extra(&mut sql);
        let sort_key = if window.sort_key {
            format!(", {} AS sort_key", self.sort.expr)
        } else {
            String::new()
        };
        sql.text = format!(
            "SELECT {}{sort_key}{more_columns} FROM records r{joins} WHERE {}",
            record_columns(self.dialect),
            self.filter.text
        );
        if let Some(cursor) = window.after {
            after_cursor(&mut sql, &self.sort, cursor)?;
        }
        // The sort expression may bind values (a field's JSON path); ORDER BY repeats it.
        push_order(&mut sql, &self.sort);
        sql.push(" LIMIT ").bind(window.limit);
        if window.offset > 0 {
            sql.push(" OFFSET ").bind(window.offset);
        }
        Ok(sql)
    }

    /// The record of a row of [`ListPlan::select_sql`].
    pub(crate) fn record(&self, row: &Row) -> Result<Record> {
        record_from_row(row, &self.module_slug)
    }
}
