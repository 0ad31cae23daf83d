//! Listing records: `filter[field]`, `advancedFilter` (every operator of spec 000, nested AND/OR
//! groups), `search`, label and type filters, sorting, offset pages (spec 000) and cursor pages
//! (spec 004), and field selection.
//!
//! In: a module and a [`ListQuery`]. Out: a [`ListResult`] page, or a `ListPlan` for callers
//! that read every matching record in one statement (the export). Guarantees: field names are
//! looked up in the module before anything reaches SQL (`filter`); values are bound, never
//! pasted. Sorting always ends with the record id, so pages are stable, and empty values sort
//! last in both directions.

mod aggregate;
mod filter;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::records::Access;
use crate::records::model::{Record, record_columns, record_from_row};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::{Dialect, Row, Sql, Store};
pub(crate) use aggregate::number_value;
pub use aggregate::{Aggregate, AggregateFn, Grouping};
pub(crate) use aggregate::{check_aggregate, check_group_key};
pub(crate) use filter::CORE_FIELDS;
use filter::{FieldSql, Kind, Target, resolve_target, where_clause};

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

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
    /// Reference fields whose records are embedded in place of their ids (spec 004).
    pub expand: Vec<String>,
    /// Whose list it is: only the records they may see match.
    pub access: Access,
}

impl ListQuery {
    /// Reads query-string parameters (`filter[status]=active`, `advancedFilter=…`, `page=2`, …).
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut q = ListQuery::default();
        for (key, val) in params {
            let number = |name: &str| whole_number(name, val, 1, u32::MAX);
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
                "expand" => q.expand = list(),
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

/// A whole number in `min..=max` from a query parameter: a value that is no number, and one
/// out of range (however many digits it has), each get their own message.
pub fn whole_number(name: &str, value: &str, min: u32, max: u32) -> Result<u32> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_field(
            name,
            "must be a whole number",
            Some(json!(crate::error::excerpt(value))),
        ));
    }
    match value.parse::<i64>() {
        Ok(n) if n >= i64::from(min) && n <= i64::from(max) => Ok(n as u32),
        _ => Err(Error::invalid_field(
            name,
            format!("must be between {min} and {max}"),
            Some(json!(crate::error::excerpt(value))),
        )),
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

/// Whether `name` is something a filter or a sort of `module` can name (a field, an address
/// part, a core field such as `createdAt`); the error says why not.
pub(crate) fn check_field(module: &Module, name: &str) -> Result<()> {
    resolve_target(module, name).map(|_| ())
}

pub(crate) fn project_fields(
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

pub(crate) async fn count(store: &Store, sql: Sql) -> Result<u64> {
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
    access: &Access,
) -> Result<ListResult> {
    if page == 0 {
        return Err(Error::invalid_field("page", "starts at 1", Some(json!(0))));
    }
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let mut filter = Sql::new("r.module_id = ");
    filter
        .bind(module.id.clone())
        .push(" AND r.deleted_at IS NOT NULL");
    access.restrict(&mut filter, "r");
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
    /// Whose reads these are (the records matched are already limited to theirs).
    access: Access,
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
        Window::page(limit, 0)
    }

    /// `limit` rows after the first `offset`.
    pub(crate) fn page(limit: i64, offset: i64) -> Window<'static> {
        Window {
            after: None,
            limit,
            offset,
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
        query.access.restrict(&mut filter, "r");
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
            access: query.access.clone(),
        })
    }

    /// Whose reads the plan makes: joins and lookups beside it (referenced records' names)
    /// must hold to the same privacy.
    pub(crate) fn access(&self) -> &Access {
        &self.access
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
