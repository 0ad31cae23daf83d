//! The export's query: every record of a module that matches a list query, in its sort order,
//! streamed from one snapshot.
//!
//! In: a module, a [`ListQuery`] (filters, `advancedFilter`, `search`, sort), a limit and the
//! reference fields whose target names are wanted. Out: pages of [`SourceRow`]s and, up front, the
//! exact number of rows that will come. Guarantees: everything is read in one snapshot
//! transaction ([`Store::begin_snapshot`]), so records created, changed or deleted while the export runs
//! neither appear twice nor go missing: the export is the module as it was when it started. The
//! rows come from one sorted statement read as a stream (the database sorts once, whatever the
//! sort field; [`Tx::fetch`]), and at most two pages wait between the store and the caller, so memory holds a
//! few pages however many records there are.

use futures_util::TryStreamExt;
use tokio::sync::mpsc;

use crate::error::Result;
use crate::records::Record;
use crate::records::query::{ListPlan, ListQuery, Window};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::{Dialect, Row, Sql, Store, Tx};

/// Records per page handed to the caller.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;
/// Pages read ahead of the caller.
const PAGES_AHEAD: usize = 2;

/// A record and the display names of the records its joined references point at.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub record: Record,
    pub reference_names: Vec<Option<String>>,
}

/// An open walk over the matching records; dropping it ends the read and its transaction.
pub struct RecordWalk {
    pages: mpsc::Receiver<Result<Vec<SourceRow>>>,
    total: u64,
    delivered: u64,
}

/// How many records match, counting no further than `cap`.
pub async fn count_up_to(
    store: &Store,
    module: &Module,
    query: &ListQuery,
    cap: u64,
) -> Result<u64> {
    let plan = ListPlan::new(store.dialect(), module, query, &ValueOptions::default())?;
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    Ok(
        match store.fetch_optional(plan.count_sql_capped(cap)).await? {
            Some(row) => row.int("n")?.max(0) as u64,
            None => 0,
        },
    )
}

impl RecordWalk {
    /// Checks the query, opens the snapshot, counts the rows the walk will give (at most
    /// `limit`) and starts reading them.
    pub async fn open(
        store: &Store,
        module: &Module,
        query: &ListQuery,
        limit: Option<u64>,
        references: Vec<String>,
        page_size: usize,
    ) -> Result<RecordWalk> {
        let dialect = store.dialect();
        let plan = ListPlan::new(dialect, module, query, &ValueOptions::default())?;
        let mut tx = store.begin_snapshot().await?;
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
        let select = plan.select_sql(
            &Window::first(i64::try_from(total).unwrap_or(i64::MAX)),
            |sql| reference_joins(sql, dialect, &references),
        )?;
        let (sender, pages) = mpsc::channel(PAGES_AHEAD);
        let reader = Reader {
            plan,
            references: references.len(),
            page_size: page_size.max(1),
            sender,
        };
        tokio::spawn(reader.run(tx, select));
        Ok(RecordWalk {
            pages,
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

    /// The next page, or `None` when every row has been given.
    pub async fn next_page(&mut self) -> Result<Option<Vec<SourceRow>>> {
        match self.pages.recv().await {
            Some(Ok(page)) => {
                self.delivered += page.len() as u64;
                Ok(Some(page))
            }
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }
}

/// `, xN.display_name AS ref_N` and `LEFT JOIN records xN` for each reference whose target's
/// name is wanted.
fn reference_joins(sql: &mut Sql, dialect: Dialect, references: &[String]) -> (String, String) {
    let mut columns = String::new();
    let mut joins = String::new();
    for (i, slug) in references.iter().enumerate() {
        let target = match dialect {
            Dialect::Sqlite => format!("json_extract(r.fields, {})", sql.arg(format!("$.{slug}"))),
            Dialect::Postgres => format!(
                "jsonb_extract_path_text(r.fields, {})",
                sql.arg(slug.clone())
            ),
        };
        columns.push_str(&format!(", x{i}.display_name AS ref_{i}"));
        joins.push_str(&format!(" LEFT JOIN records x{i} ON x{i}.id = {target}"));
    }
    (columns, joins)
}

/// The reading side: owns the snapshot transaction and streams the statement's rows into pages.
struct Reader {
    plan: ListPlan,
    references: usize,
    page_size: usize,
    sender: mpsc::Sender<Result<Vec<SourceRow>>>,
}

impl Reader {
    async fn run(mut self, mut tx: Tx, select: Sql) {
        let outcome = self.stream(&mut tx, select).await;
        match outcome {
            // Read-only: committing only ends the transaction.
            Ok(true) => {
                if let Err(e) = tx.commit().await {
                    let _ = self.sender.send(Err(e)).await;
                }
            }
            // The walk was dropped: the transaction rolls back as it drops.
            Ok(false) => {}
            Err(e) => {
                let _ = self.sender.send(Err(e)).await;
            }
        }
    }

    /// Sends every page; `false` when the walk was dropped before the end.
    async fn stream(&mut self, tx: &mut Tx, select: Sql) -> Result<bool> {
        let mut page = Vec::with_capacity(self.page_size);
        let mut rows = tx.fetch(select);
        while let Some(row) = rows.try_next().await? {
            page.push(self.source_row(&row)?);
            if page.len() == self.page_size && !self.send(&mut page).await {
                return Ok(false);
            }
        }
        Ok(page.is_empty() || self.send(&mut page).await)
    }

    fn source_row(&self, row: &Row) -> Result<SourceRow> {
        let record = self.plan.record(row)?;
        let mut reference_names = Vec::with_capacity(self.references);
        for i in 0..self.references {
            reference_names.push(row.opt_text(&format!("ref_{i}"))?);
        }
        Ok(SourceRow {
            record,
            reference_names,
        })
    }

    /// Hands the page over; `false` when nobody is reading any more.
    async fn send(&self, page: &mut Vec<SourceRow>) -> bool {
        let full = std::mem::replace(page, Vec::with_capacity(self.page_size));
        self.sender.send(Ok(full)).await.is_ok()
    }
}
