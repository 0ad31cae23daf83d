//! The export's query: every record of a module that matches a list query, in its sort order,
//! page by page from one snapshot.
//!
//! In: a module, a [`ListQuery`] (filters, `advancedFilter`, `search`, sort), a limit and the
//! reference fields whose target names are wanted. Out: pages of [`SourceRow`]s and, up front, the
//! exact number of rows the walk will give. Guarantees: memory holds one page; every page is read
//! in one read transaction (SQLite: a deferred transaction, whose WAL snapshot is fixed by the
//! first read; PostgreSQL: `REPEATABLE READ READ ONLY`), and pages are keyset ranges over
//! (sort value, id), so records created, changed or deleted while the export runs neither
//! appear twice nor go missing: the export is the module as it was when it started.

use crate::error::Result;
use crate::records::Record;
use crate::records::query::{KeysetKey, KeysetPlan, ListQuery};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::{Dialect, Sql, Store, Tx};

/// Records per page read from the store.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;

/// How many records match, counting no further than `cap`.
pub async fn count_up_to(
    store: &Store,
    module: &Module,
    query: &ListQuery,
    cap: u64,
) -> Result<u64> {
    let plan = KeysetPlan::new(store.dialect(), module, query, &ValueOptions::default())?;
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    Ok(
        match store.fetch_optional(plan.count_sql_capped(cap)).await? {
            Some(row) => row.int("n")?.max(0) as u64,
            None => 0,
        },
    )
}

/// A record and the display names of the records its joined references point at.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub record: Record,
    pub reference_names: Vec<Option<String>>,
}

/// An open walk over the matching records.
pub struct RecordWalk {
    tx: Option<Tx>,
    dialect: Dialect,
    plan: KeysetPlan,
    references: Vec<String>,
    after: Option<KeysetKey>,
    page_size: usize,
    total: u64,
    delivered: u64,
}

impl RecordWalk {
    /// Checks the query, opens the snapshot and counts the rows the walk will give (at most
    /// `limit`).
    pub async fn open(
        store: &Store,
        module: &Module,
        query: &ListQuery,
        limit: Option<u64>,
        references: Vec<String>,
        page_size: usize,
    ) -> Result<RecordWalk> {
        let dialect = store.dialect();
        let plan = KeysetPlan::new(dialect, module, query, &ValueOptions::default())?;
        let mut tx = store.begin_read().await?;
        if dialect == Dialect::Postgres {
            // Must be the transaction's first statement; every later read sees the same snapshot.
            tx.execute(Sql::new(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            ))
            .await?;
        }
        // With a limit, counting stops there: a 100-record export of a million-record module
        // does not count the million.
        let count = match limit {
            Some(limit) => plan.count_sql_capped(i64::try_from(limit).unwrap_or(i64::MAX)),
            None => plan.count_sql(),
        };
        let total = match tx.fetch_optional(count).await? {
            Some(row) => row.int("n")?.max(0) as u64,
            None => 0,
        };
        Ok(RecordWalk {
            tx: Some(tx),
            dialect,
            plan,
            references,
            after: None,
            page_size: page_size.max(1),
            total,
            delivered: 0,
        })
    }

    /// How many rows the walk gives in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many rows it has given so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The next page, or `None` when every row has been given (the snapshot is then released).
    pub async fn next_page(&mut self) -> Result<Option<Vec<SourceRow>>> {
        let remaining = self.total - self.delivered;
        let Some(tx) = self.tx.as_mut() else {
            return Ok(None);
        };
        if remaining == 0 {
            if let Some(tx) = self.tx.take() {
                tx.commit().await?;
            }
            return Ok(None);
        }
        let limit = remaining.min(self.page_size as u64) as i64;
        let dialect = self.dialect;
        let references = &self.references;
        let sql = self.plan.page_sql(
            dialect,
            |sql: &mut Sql| {
                let mut columns = String::new();
                let mut joins = String::new();
                for (i, slug) in references.iter().enumerate() {
                    let target = match dialect {
                        Dialect::Sqlite => {
                            format!("json_extract(r.fields, {})", sql.arg(format!("$.{slug}")))
                        }
                        Dialect::Postgres => format!(
                            "jsonb_extract_path_text(r.fields, {})",
                            sql.arg(slug.clone())
                        ),
                    };
                    columns.push_str(&format!(", x{i}.display_name AS ref_{i}"));
                    joins.push_str(&format!(" LEFT JOIN records x{i} ON x{i}.id = {target}"));
                }
                (columns, joins)
            },
            self.after.as_ref(),
            limit,
        )?;
        let rows = tx.fetch_all(sql).await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = self.plan.record(row)?;
            let mut reference_names = Vec::with_capacity(self.references.len());
            for i in 0..self.references.len() {
                reference_names.push(row.opt_text(&format!("ref_{i}"))?);
            }
            page.push(SourceRow {
                record,
                reference_names,
            });
        }
        if let (Some(row), Some(last)) = (rows.last(), page.last()) {
            self.after = Some(self.plan.key_of(row, &last.record.id)?);
        }
        self.delivered += page.len() as u64;
        if page.is_empty() {
            // Fewer rows than counted cannot happen inside one snapshot; stop cleanly anyway.
            self.total = self.delivered;
            if let Some(tx) = self.tx.take() {
                tx.commit().await?;
            }
            return Ok(None);
        }
        Ok(Some(page))
    }
}
