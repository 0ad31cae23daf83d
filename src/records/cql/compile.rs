//! A CQL query tree checked against the modules and turned into the list's own plan.
//!
//! In: a [`Query`], the modules of the store and the request's parameters. Out: a [`Plan`]: a
//! [`ListQuery`] whose `advancedFilter` holds the `WHERE` (groups for AND/OR, `NOT` pushed down to
//! the conditions), its sort, the page, a [`Grouping`] for `GROUP BY`/aggregates, and the
//! `INCLUDE`s. Guarantees: nothing of the query text reaches SQL: names are looked up in the
//! module (an unknown one suggests the nearest), values go to the list's filter, which parses them
//! for their field types and binds them; every error is an [`Error::Query`] at the place to fix.

use serde_json::{Map, Value, json};

use super::lexer::{CmpOp, Pos};
use super::parser::{Expr, Include, Name, Operand, Query, SelectItem};
use crate::error::{Error, Result};
use crate::records::query::{
    Aggregate, AggregateFn, CORE_FIELDS, Grouping, ListPlan, ListQuery, SortDirection,
    check_aggregate, check_field, check_group_key,
};
use crate::schema::value::ValueOptions;
use crate::schema::{FieldType, Module};
use crate::store::Dialect;

/// Records or groups a query returns when it gives no `LIMIT`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `LIMIT`.
pub const MAX_LIMIT: u32 = 1000;

/// A query ready to run.
#[derive(Debug)]
pub struct Plan {
    pub module: Module,
    /// Filter and sort (and, for `SELECT f1, f2`, the fields to return).
    pub list: ListQuery,
    pub limit: u32,
    pub offset: u64,
    pub grouping: Option<Grouping>,
    pub includes: Vec<IncludePlan>,
}

/// `INCLUDE relation FROM module WHERE child_field = Parent.parent_field [AND …]`.
#[derive(Debug)]
pub struct IncludePlan {
    pub relation: String,
    pub module: Module,
    pub child_field: String,
    pub parent_field: String,
    /// The include's other conditions.
    pub list: ListQuery,
}

/// What a compile step needs besides the tree.
pub struct Context<'a> {
    pub modules: &'a [Module],
    pub parameters: &'a Map<String, Value>,
    pub dialect: Dialect,
    pub options: &'a ValueOptions,
}

pub fn compile(query: &Query, cx: &Context) -> Result<Plan> {
    let module = find_module(cx.modules, &query.module)?.clone();
    let mut list = ListQuery::default();
    if let Some(filter) = &query.filter {
        let filters = FilterCompiler {
            cx,
            module: &module,
            parent: None,
        };
        list.advanced_filter = Some(filters.root(filter)?);
    }
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some((n, pos)) if n == 0 || n > u64::from(MAX_LIMIT) => {
            return Err(pos.error(format!("LIMIT takes 1 to {MAX_LIMIT}, not {n}")));
        }
        Some((n, _)) => n as u32,
    };
    let offset = query.offset.map_or(0, |(n, _)| n);
    let has_aggregates = query
        .select
        .iter()
        .any(|item| matches!(item, SelectItem::Aggregate { .. }));
    let grouping = if !query.group_by.is_empty() || has_aggregates {
        if let Some(include) = query.includes.first() {
            return Err(include
                .pos
                .error("INCLUDE adds records to each result; grouped queries return groups"));
        }
        Some(grouping(query, &module, limit, offset)?)
    } else {
        if let Some((field, descending)) = &query.order_by {
            let name = field_name(&module, field)?;
            list.sort_field = Some(name);
            list.sort_direction = Some(if *descending == Some(true) {
                SortDirection::Desc
            } else {
                SortDirection::Asc
            });
        }
        if !query.select.is_empty() {
            list.fields = Some(projection(&module, &query.select)?);
        }
        None
    };
    let includes = query
        .includes
        .iter()
        .map(|include| include_plan(include, &module, &query.module, cx))
        .collect::<Result<Vec<_>>>()?;
    // The whole plan once, as the list will build it: whatever it still refuses is about the
    // query as a whole, so the error points at its module.
    ListPlan::new(cx.dialect, &module, &list, cx.options).map_err(|e| at(query.module.pos, e))?;
    Ok(Plan {
        module,
        list,
        limit,
        offset,
        grouping,
        includes,
    })
}

/// A validation error of the list's checks, placed at `pos`; other errors pass unchanged.
fn at(pos: Pos, error: Error) -> Error {
    match error {
        Error::Validation { message, .. } => pos.error(message),
        other => other,
    }
}

/// The module a name means: its slug or its name, in any case.
fn find_module<'a>(modules: &'a [Module], name: &Name) -> Result<&'a Module> {
    let written = name.dotted();
    if let Some(module) = modules.iter().find(|m| names_module(m, &written)) {
        return Ok(module);
    }
    let slugs: Vec<&str> = modules.iter().map(Module::slug).collect();
    Err(name.pos.error(format!(
        "unknown module \"{written}\"{}",
        suggestion(&written, slugs.iter().copied(), "modules", &slugs)
    )))
}

fn names_module(module: &Module, name: &str) -> bool {
    module.slug().eq_ignore_ascii_case(name) || module.def.name.eq_ignore_ascii_case(name)
}

/// ` (did you mean x?)` for the nearest candidate, or the list of candidates.
fn suggestion<'a>(
    written: &str,
    candidates: impl Iterator<Item = &'a str>,
    what: &str,
    all: &[&str],
) -> String {
    let squash = |s: &str| s.to_lowercase().replace('_', "");
    let target = squash(written);
    let best = candidates
        .map(|c| {
            let score = if squash(c) == target {
                1.0
            } else {
                strsim::normalized_damerau_levenshtein(&target, &squash(c))
            };
            (score, c)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, name)) if score >= 0.6 => format!(" (did you mean {name}?)"),
        _ => format!(" ({what}: {})", all.join(", ")),
    }
}

/// A field name of `module` as the list's filters take it: a module qualifier (`contacts.email`)
/// dropped, checked to exist.
fn field_name(module: &Module, name: &Name) -> Result<String> {
    let parts = match name.parts.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && names_module(module, first) => rest,
        all => all,
    };
    let dotted = parts.join(".");
    if let Err(error) = check_field(module, &dotted) {
        let base = &parts[0];
        if module.field(base).is_none() && !CORE_FIELDS.contains(&base.as_str()) {
            let mut known: Vec<&str> = module.def.fields.iter().map(|f| f.slug.as_str()).collect();
            known.extend(CORE_FIELDS);
            return Err(name.pos.error(format!(
                "unknown field \"{dotted}\" in {}{}",
                module.slug(),
                suggestion(&dotted, known.iter().copied(), "fields", &known)
            )));
        }
        return Err(at(name.pos, error));
    }
    Ok(dotted)
}

/// `SELECT f1, f2` without aggregates: the fields each record keeps.
fn projection(module: &Module, select: &[SelectItem]) -> Result<Vec<String>> {
    select
        .iter()
        .map(|item| match item {
            SelectItem::Field { name, alias: None } => {
                let field = field_name(module, name)?;
                if module.field(&field).is_none() {
                    return Err(name.pos.error(format!(
                        "SELECT picks fields of {}; \"{field}\" is always returned",
                        module.slug()
                    )));
                }
                Ok(field)
            }
            SelectItem::Field { name, .. } => Err(name
                .pos
                .error("AS renames group keys and aggregates; records keep their field names")),
            SelectItem::Aggregate { pos, .. } => Err(pos.error("unexpected aggregate")),
        })
        .collect()
}

fn grouping(query: &Query, module: &Module, limit: u32, offset: u64) -> Result<Grouping> {
    let keys = query
        .group_by
        .iter()
        .map(|name| field_name(module, name))
        .collect::<Result<Vec<_>>>()?;
    let mut key_names = keys.clone();
    let mut aggregates = Vec::new();
    for item in &query.select {
        match item {
            SelectItem::Field { name, alias } => {
                let field = field_name(module, name)?;
                let Some(i) = keys.iter().position(|k| *k == field) else {
                    return Err(name.pos.error(format!(
                        "\"{field}\" is not grouped: add it to GROUP BY or aggregate it (e.g. MAX({field}))"
                    )));
                };
                if let Some(alias) = alias {
                    key_names[i] = alias.clone();
                }
            }
            SelectItem::Aggregate {
                function,
                field,
                alias,
                pos,
            } => {
                let field = field.as_ref().map(|f| field_name(module, f)).transpose()?;
                let name = alias.clone().unwrap_or_else(|| match &field {
                    None => function.name().to_string(),
                    Some(f) => format!("{}_{}", function.name(), f.replace('.', "_")),
                });
                if *function != AggregateFn::Count && field.is_none() {
                    return Err(pos.error("only COUNT takes *"));
                }
                aggregates.push((
                    Aggregate {
                        function: *function,
                        field,
                        name,
                    },
                    *pos,
                ));
            }
        }
    }
    if aggregates.is_empty() {
        aggregates.push((
            Aggregate {
                function: AggregateFn::Count,
                field: None,
                name: "count".into(),
            },
            query.module.pos,
        ));
    }
    let mut names: Vec<&str> = key_names.iter().map(String::as_str).collect();
    for (aggregate, pos) in &aggregates {
        if names.contains(&aggregate.name.as_str()) {
            return Err(pos.error(format!(
                "two outputs are named \"{}\": rename one with AS",
                aggregate.name
            )));
        }
        names.push(&aggregate.name);
    }
    let order = match &query.order_by {
        None => None,
        Some((name, descending)) => {
            let written = name.dotted();
            if !names.contains(&written.as_str()) {
                return Err(name.pos.error(format!(
                    "a grouped query sorts by one of its outputs ({})",
                    names.join(", ")
                )));
            }
            let direction = if *descending == Some(true) {
                SortDirection::Desc
            } else {
                SortDirection::Asc
            };
            Some((written, direction))
        }
    };
    let grouping = Grouping {
        keys,
        key_names,
        aggregates: aggregates.iter().map(|(a, _)| a.clone()).collect(),
        order,
        limit,
        offset,
    };
    for (aggregate, pos) in &aggregates {
        check_aggregate(module, aggregate).map_err(|e| at(*pos, e))?;
    }
    for (key, name) in grouping.keys.iter().zip(&query.group_by) {
        check_group_key(module, key).map_err(|e| at(name.pos, e))?;
    }
    Ok(grouping)
}

fn include_plan(
    include: &Include,
    parent: &Module,
    parent_written: &Name,
    cx: &Context,
) -> Result<IncludePlan> {
    let module = find_module(cx.modules, &include.module)?.clone();
    let is_join = |e: &Expr| {
        matches!(
            e,
            Expr::Compare {
                value: Operand::Field(_),
                ..
            }
        )
    };
    let terms: Vec<&Expr> = match &include.filter {
        Expr::And(terms) => terms.iter().collect(),
        single => vec![single],
    };
    let (join, rest): (Vec<&Expr>, Vec<&Expr>) = terms.into_iter().partition(|e| is_join(e));
    let [join] = join.as_slice() else {
        return Err(include.pos.error(format!(
            "INCLUDE {} needs one condition that links it to {}: e.g. WHERE {}_id = {}.id, ANDed with any others",
            include.relation,
            parent_written.dotted(),
            parent.slug().trim_end_matches('s'),
            parent_written.dotted()
        )));
    };
    let Expr::Compare {
        field,
        op,
        value: Operand::Field(parent_ref),
    } = join
    else {
        unreachable!("partitioned on links");
    };
    if *op != CmpOp::Eq {
        return Err(parent_ref.pos.error("an INCLUDE links records with = only"));
    }
    let refers_to_parent = parent_ref.parts.len() == 2
        && (names_module(parent, &parent_ref.parts[0])
            || parent_ref.parts[0].eq_ignore_ascii_case(&parent_written.dotted()));
    if !refers_to_parent {
        return Err(parent_ref.pos.error(format!(
            "the right side of an INCLUDE's link names a field of {} (e.g. {}.id)",
            parent_written.dotted(),
            parent_written.dotted()
        )));
    }
    let parent_field = field_name(
        parent,
        &Name {
            parts: parent_ref.parts[1..].to_vec(),
            pos: parent_ref.pos,
        },
    )?;
    let child_field = field_name(&module, field)?;
    for (module, name, pos) in [
        (parent, &parent_field, parent_ref.pos),
        (&module, &child_field, field.pos),
    ] {
        let one_value = match module.field(name) {
            Some(f) => !f.field_type.is_multi_value() && f.field_type != FieldType::Address,
            None => matches!(name.as_str(), "id" | "externalId" | "displayName"),
        };
        if !one_value {
            return Err(pos.error(format!(
                "an INCLUDE links by a field with one value (id, externalId, displayName or a \
                 field of {} such as a reference), not {name}",
                module.slug()
            )));
        }
    }
    let mut list = ListQuery::default();
    let extra = match rest.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(Expr::And(many.iter().map(|e| (*e).clone()).collect())),
    };
    if let Some(extra) = extra {
        let filters = FilterCompiler {
            cx,
            module: &module,
            parent: Some(parent),
        };
        list.advanced_filter = Some(filters.root(&extra)?);
    }
    Ok(IncludePlan {
        relation: include.relation.clone(),
        module,
        child_field,
        parent_field,
        list,
    })
}

/// Turns a `WHERE` into the list's `advancedFilter` groups.
struct FilterCompiler<'a> {
    cx: &'a Context<'a>,
    module: &'a Module,
    /// In an INCLUDE, the module whose fields only the link may name.
    parent: Option<&'a Module>,
}

impl FilterCompiler<'_> {
    fn root(&self, expr: &Expr) -> Result<Value> {
        Ok(json!({ "root": self.node(expr, false)? }))
    }

    /// The filter node of `expr`, or of `NOT expr` when `negated`: NOT goes down to the
    /// conditions (De Morgan), as the list's filter has no NOT groups.
    fn node(&self, expr: &Expr, negated: bool) -> Result<Value> {
        match expr {
            Expr::And(terms) | Expr::Or(terms) => {
                let is_and = matches!(expr, Expr::And(_)) != negated;
                let conditions = terms
                    .iter()
                    .map(|t| self.node(t, negated))
                    .collect::<Result<Vec<_>>>()?;
                Ok(group(is_and, conditions))
            }
            Expr::Not(inner) => self.node(inner, !negated),
            Expr::Compare { field, op, value } => {
                let name = field_name(self.module, field)?;
                let value_json = self.value(value)?;
                if value_json.is_array() {
                    return Err(value.pos().error(format!(
                        "{} compares with one value; use IN for a list",
                        op.text()
                    )));
                }
                if value_json.is_null() {
                    let is_null = (*op == CmpOp::Eq) != negated;
                    return match op {
                        CmpOp::Eq | CmpOp::Neq => Ok(condition(
                            &name,
                            if is_null { "isNull" } else { "isNotNull" },
                            Value::Null,
                        )),
                        _ => Err(value.pos().error(format!(
                            "{} null never holds: compare with null using IS NULL or IS NOT NULL",
                            op.text()
                        ))),
                    };
                }
                let op = if negated { negate(*op) } else { *op };
                let operator = match op {
                    CmpOp::Eq => "eq",
                    CmpOp::Neq => "neq",
                    CmpOp::Lt => "lt",
                    CmpOp::Lte => "lte",
                    CmpOp::Gt => "gt",
                    CmpOp::Gte => "gte",
                };
                let node = condition(&name, operator, value_json);
                self.check(&node, value.pos())?;
                Ok(node)
            }
            Expr::Between {
                field,
                negated: not,
                low,
                high,
            } => {
                let name = field_name(self.module, field)?;
                let low_json = self.scalar(low)?;
                let high_json = self.scalar(high)?;
                self.check(&condition(&name, "gte", low_json.clone()), low.pos())?;
                self.check(&condition(&name, "lte", high_json.clone()), high.pos())?;
                Ok(if *not != negated {
                    group(
                        false,
                        vec![
                            condition(&name, "lt", low_json),
                            condition(&name, "gt", high_json),
                        ],
                    )
                } else {
                    json!({"fieldSlug": name, "operator": "between", "values": [low_json, high_json]})
                })
            }
            Expr::In {
                field,
                negated: not,
                values,
            } => {
                let name = field_name(self.module, field)?;
                let mut items = Vec::new();
                for operand in values {
                    let value = self.value(operand)?;
                    let listed = match value {
                        Value::Array(list) if matches!(operand, Operand::Param(..)) => list,
                        Value::Array(_) => unreachable!("literals are scalars"),
                        one => vec![one],
                    };
                    if items.len() + listed.len() > super::parser::MAX_IN_VALUES {
                        return Err(operand.pos().error(format!(
                            "an IN list holds at most {} values",
                            super::parser::MAX_IN_VALUES
                        )));
                    }
                    for item in listed {
                        if item.is_null() || item.is_object() || item.is_array() {
                            return Err(operand.pos().error(
                                "IN takes strings, numbers and booleans (test for empty values with IS NULL)",
                            ));
                        }
                        self.check(&condition(&name, "eq", item.clone()), operand.pos())?;
                        items.push(item);
                    }
                }
                if items.is_empty() {
                    let pos = values.first().map_or(field.pos, Operand::pos);
                    return Err(pos.error("IN needs at least one value"));
                }
                let operator = if *not != negated { "notIn" } else { "in" };
                Ok(json!({"fieldSlug": name, "operator": operator, "values": items}))
            }
            Expr::IsNull {
                field,
                negated: not,
            } => {
                let name = field_name(self.module, field)?;
                let operator = if *not != negated {
                    "isNotNull"
                } else {
                    "isNull"
                };
                Ok(condition(&name, operator, Value::Null))
            }
            Expr::Search { text, fields, pos } => {
                let text_json = self.scalar(text)?;
                let Some(words) = text_json
                    .as_str()
                    .map(|t| t.split_whitespace().map(String::from).collect::<Vec<_>>())
                    .filter(|w| !w.is_empty())
                else {
                    return Err(text
                        .pos()
                        .error("SEARCH takes a string with at least one word"));
                };
                let names = fields
                    .iter()
                    .map(|f| field_name(self.module, f))
                    .collect::<Result<Vec<_>>>()?;
                if words.len() * names.len() > super::parser::MAX_CONDITIONS {
                    return Err(pos.error(format!(
                        "SEARCH of {} words in {} fields makes more than {} conditions",
                        words.len(),
                        names.len(),
                        super::parser::MAX_CONDITIONS
                    )));
                }
                // Every word in one of the fields; negated: some word in none of them.
                let operator = if negated { "notContains" } else { "contains" };
                let per_word = words
                    .iter()
                    .map(|word| {
                        let each: Vec<Value> = names
                            .iter()
                            .map(|name| condition(name, operator, Value::String(word.clone())))
                            .collect();
                        for (c, f) in each.iter().zip(fields) {
                            self.check(c, f.pos)?;
                        }
                        Ok(group(negated, each))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(group(!negated, per_word))
            }
        }
    }

    /// A value: a literal or a parameter's value.
    fn value(&self, operand: &Operand) -> Result<Value> {
        match operand {
            Operand::Literal(value, _) => Ok(value.clone()),
            Operand::Param(name, pos) => match self.cx.parameters.get(name) {
                Some(Value::Object(_)) => Err(pos.error(format!(
                    "parameter :{name} is an object; give a string, number, boolean, null or (for IN) a list"
                ))),
                Some(value) => Ok(value.clone()),
                None => {
                    let mut given: Vec<&str> =
                        self.cx.parameters.keys().map(String::as_str).collect();
                    given.sort_unstable();
                    Err(pos.error(format!(
                        "parameter :{name} is not in the request's parameters ({})",
                        if given.is_empty() {
                            "none given".to_string()
                        } else {
                            given.join(", ")
                        }
                    )))
                }
            },
            Operand::Field(name) => Err(name.pos.error(match self.parent {
                Some(parent) => format!(
                    "only the link of an INCLUDE may name a field of {} (WHERE field = {}.id); compare other fields with values",
                    parent.slug(),
                    parent.slug()
                ),
                None => format!(
                    "\"{}\" is a name, not a value: quote strings (\"{}\")",
                    name.dotted(),
                    name.dotted()
                ),
            })),
        }
    }

    /// A value that must be one value, not a list or null.
    fn scalar(&self, operand: &Operand) -> Result<Value> {
        let value = self.value(operand)?;
        if value.is_null() || value.is_array() {
            return Err(operand
                .pos()
                .error("expected one value here, not null or a list"));
        }
        Ok(value)
    }

    /// Checks one condition on its own, so that a value the field refuses is reported here.
    fn check(&self, node: &Value, pos: Pos) -> Result<()> {
        let query = ListQuery {
            advanced_filter: Some(node.clone()),
            ..ListQuery::default()
        };
        ListPlan::new(self.cx.dialect, self.module, &query, self.cx.options)
            .map(|_| ())
            .map_err(|e| at(pos, e))
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Neq,
        CmpOp::Neq => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Gte,
        CmpOp::Lte => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Lte,
        CmpOp::Gte => CmpOp::Lt,
    }
}

fn condition(field: &str, operator: &str, value: Value) -> Value {
    if value.is_null() {
        json!({"fieldSlug": field, "operator": operator})
    } else {
        json!({"fieldSlug": field, "operator": operator, "value": value})
    }
}

fn group(is_and: bool, conditions: Vec<Value>) -> Value {
    json!({"conjunction": if is_and { "AND" } else { "OR" }, "conditions": conditions})
}
