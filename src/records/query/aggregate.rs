//! Groups of a list plan: the records that match a [`ListPlan`]'s filter, grouped by fields, with
//! counts, sums, averages, minimums and maximums per group.
//!
//! In: a checked plan, its module and a [`Grouping`]. Out: one JSON object per group, keys under
//! their field names and aggregates under their names, plus whether more groups follow.
//! Guarantees: fields are resolved as the list's filters and sorts resolve them, values are bound,
//! groups come in a total order (nulls last, then by every key), and at most `limit` groups are
//! read.

use serde_json::{Map, Value};

use super::filter::{FieldSql, Kind, Target, resolve_target};
use super::{ListPlan, SortDirection};
use crate::error::{Error, Result};
use crate::schema::{FieldType, Module};
use crate::store::{Dialect, Row, Sql, Store, format_micros};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggregateFn {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
        }
    }
}

/// One aggregate of a group: `COUNT(*)` has no field.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub function: AggregateFn,
    pub field: Option<String>,
    /// The key it has in each group.
    pub name: String,
}

/// What to group by and compute, in which order and how many groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Field names (as filters name them: `status`, `address.city`, `createdAt`).
    pub keys: Vec<String>,
    /// The names the keys have in each group (a key's field name unless renamed).
    pub key_names: Vec<String>,
    pub aggregates: Vec<Aggregate>,
    /// Sort by this output (a key name or an aggregate name) first; the keys follow.
    pub order: Option<(String, SortDirection)>,
    pub limit: u32,
    pub offset: u64,
}

/// How a selected value is read back from its row.
#[derive(Debug, Clone, Copy)]
enum Read {
    Text,
    Number,
    /// A number key, which comes as its text.
    NumberText,
    Boolean,
    Time,
    Count,
}

impl ListPlan {
    /// The groups of the matching records, and whether there are more than `grouping.limit`.
    pub(crate) async fn groups(
        &self,
        store: &Store,
        module: &Module,
        grouping: &Grouping,
    ) -> Result<(Vec<Map<String, Value>>, bool)> {
        let mut sql = Sql {
            text: String::new(),
            args: self.filter.args.clone(),
        };
        let collate = match self.dialect {
            Dialect::Postgres => " COLLATE \"C\"",
            Dialect::Sqlite => "",
        };
        let mut columns = Vec::new();
        // (output name, column, how it reads, the expression's collation for sorting)
        let mut outputs: Vec<(String, String, Read, &str)> = Vec::new();
        let mut add = |name: &str, (expr, read): (String, Read)| {
            let column = format!("c{}", outputs.len());
            columns.push(format!("{expr} AS {column}"));
            let collation = if matches!(read, Read::Text) {
                collate
            } else {
                ""
            };
            outputs.push((name.to_string(), column, read, collation));
        };
        for (key, name) in grouping.keys.iter().zip(&grouping.key_names) {
            add(name, key_expr(self.dialect, &mut sql, module, key)?);
        }
        for aggregate in &grouping.aggregates {
            add(
                &aggregate.name,
                aggregate_expr(self.dialect, &mut sql, module, aggregate)?,
            );
        }
        let group_by = if grouping.keys.is_empty() {
            String::new()
        } else {
            let ordinals: Vec<String> = (1..=grouping.keys.len()).map(|i| i.to_string()).collect();
            format!(" GROUP BY {}", ordinals.join(", "))
        };
        let mut order = Vec::new();
        let mut sort_by = |column: &str, collation: &str, direction: SortDirection| {
            order.push(format!(
                "({column} IS NULL), {column}{collation} {}",
                direction.sql()
            ));
        };
        if let Some((name, direction)) = &grouping.order {
            let (_, column, _, collation) = outputs
                .iter()
                .find(|(n, ..)| n == name)
                .ok_or_else(|| Error::validation(format!("cannot sort groups by '{name}'")))?;
            sort_by(column, collation, *direction);
        }
        for (_, column, _, collation) in outputs.iter().take(grouping.keys.len()) {
            sort_by(column, collation, SortDirection::Asc);
        }
        sql.text = format!(
            "SELECT * FROM (SELECT {} FROM records r WHERE {}{group_by}) AS grouped",
            columns.join(", "),
            self.filter.text
        );
        if !order.is_empty() {
            sql.push(" ORDER BY ").push(&order.join(", "));
        }
        sql.push(" LIMIT ").bind(i64::from(grouping.limit) + 1);
        if grouping.offset > 0 {
            sql.push(" OFFSET ")
                .bind(i64::try_from(grouping.offset).unwrap_or(i64::MAX));
        }
        let rows = store.fetch_all(sql).await?;
        let has_more = rows.len() > grouping.limit as usize;
        let groups = rows
            .iter()
            .take(grouping.limit as usize)
            .map(|row| {
                outputs
                    .iter()
                    .map(|(name, column, read, _)| {
                        Ok((name.clone(), read_value(row, column, *read)?))
                    })
                    .collect::<Result<Map<String, Value>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((groups, has_more))
    }
}

/// Whether `name` can be a group key of `module`; the error says why not.
pub(crate) fn check_group_key(module: &Module, name: &str) -> Result<()> {
    key_expr(Dialect::Sqlite, &mut Sql::default(), module, name).map(|_| ())
}

/// Whether `aggregate` can be computed over `module`; the error says why not.
pub(crate) fn check_aggregate(module: &Module, aggregate: &Aggregate) -> Result<()> {
    aggregate_expr(Dialect::Sqlite, &mut Sql::default(), module, aggregate).map(|_| ())
}

/// A group key as SQL, read back as what it is.
fn key_expr(
    dialect: Dialect,
    sql: &mut Sql,
    module: &Module,
    name: &str,
) -> Result<(String, Read)> {
    Ok(match resolve_target(module, name)? {
        Target::Column { expr, is_time, .. } => (
            expr.to_string(),
            if is_time { Read::Time } else { Read::Text },
        ),
        Target::Field { field, part } => {
            if part.is_none()
                && (field.field_type.is_multi_value() || field.field_type == FieldType::Address)
            {
                return Err(Error::invalid_field(
                    name,
                    "cannot group by a field with several values (group an address by a part, e.g. address.city)",
                    None,
                ));
            }
            let f = FieldSql {
                dialect,
                field,
                part,
            };
            let read = match f.kind() {
                Kind::Number => Read::NumberText,
                Kind::Int => Read::Boolean,
                Kind::Text => Read::Text,
            };
            (format!("CAST({} AS TEXT)", f.text(sql)), read)
        }
    })
}

fn aggregate_expr(
    dialect: Dialect,
    sql: &mut Sql,
    module: &Module,
    aggregate: &Aggregate,
) -> Result<(String, Read)> {
    let function = aggregate.function;
    let Some(name) = &aggregate.field else {
        return Ok(("COUNT(*)".to_string(), Read::Count));
    };
    let target = resolve_target(module, name)?;
    let as_float = |expr: String| match dialect {
        Dialect::Sqlite => format!("CAST({expr} AS REAL)"),
        Dialect::Postgres => format!("CAST({expr} AS DOUBLE PRECISION)"),
    };
    let needs_number = || {
        Error::invalid_field(
            name,
            format!(
                "{} needs a number or currency field",
                function.name().to_uppercase()
            ),
            None,
        )
    };
    let sql_fn = function.name().to_uppercase();
    Ok(match target {
        Target::Column { expr, is_time, .. } => match function {
            AggregateFn::Count => (format!("COUNT({expr})"), Read::Count),
            AggregateFn::Min | AggregateFn::Max if is_time => {
                (format!("{sql_fn}({expr})"), Read::Time)
            }
            AggregateFn::Min | AggregateFn::Max => (format!("{sql_fn}({expr})"), Read::Text),
            AggregateFn::Sum | AggregateFn::Avg => return Err(needs_number()),
        },
        Target::Field { field, part } => {
            let f = FieldSql {
                dialect,
                field,
                part,
            };
            match (function, f.kind()) {
                (AggregateFn::Count, _) => (format!("COUNT({})", f.text(sql)), Read::Count),
                (_, Kind::Number) => (
                    as_float(format!("{sql_fn}({})", f.typed(sql))),
                    Read::Number,
                ),
                (AggregateFn::Min | AggregateFn::Max, Kind::Text)
                    if part.is_some() || !field.field_type.is_multi_value() =>
                {
                    (
                        format!("{sql_fn}(CAST({} AS TEXT))", f.text(sql)),
                        Read::Text,
                    )
                }
                (AggregateFn::Min | AggregateFn::Max, _) => {
                    return Err(Error::invalid_field(
                        name,
                        format!(
                            "{sql_fn} needs a field with one value that orders (a number, date or text)"
                        ),
                        None,
                    ));
                }
                _ => return Err(needs_number()),
            }
        }
    })
}

fn read_value(row: &Row, column: &str, read: Read) -> Result<Value> {
    Ok(match read {
        Read::Count => Value::from(row.opt_int(column)?.unwrap_or(0)),
        Read::Time => row
            .opt_int(column)?
            .map_or(Value::Null, |micros| Value::String(format_micros(micros))),
        Read::Number => row.opt_float(column)?.map_or(Value::Null, Value::from),
        Read::NumberText => row
            .opt_text(column)?
            .and_then(|t| t.parse::<f64>().ok())
            .map_or(Value::Null, number_value),
        Read::Boolean => row.opt_text(column)?.map_or(Value::Null, |t| {
            Value::Bool(matches!(t.as_str(), "1" | "true"))
        }),
        Read::Text => row.opt_text(column)?.map_or(Value::Null, Value::String),
    })
}

/// Whole numbers as integers, so a number reads as it was written.
pub(crate) fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}
