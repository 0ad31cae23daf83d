//! The export's query: every record of a module that matches a list query, in its sort order,
//! streamed from one snapshot and turned into cells as it is read.
//!
//! In: a module, its export [`ColumnSet`], a [`ListQuery`] (filters, `advancedFilter`, `search`,
//! sort) and a limit. Out: pages of cells ([`Rows`]) and, up front, the exact number of rows that
//! will come. Guarantees: everything is read in one snapshot transaction
//! ([`Store::begin_snapshot`]), so records created, changed or deleted while the export runs
//! neither appear twice nor go missing: the export is the module as it was when it started. The
//! rows come from one sorted statement (the database sorts once, whatever the sort field), and at
//! most two pages wait between the reader and the caller, so memory holds a few pages however
//! many records there are; written pages come back to the reader ([`Recycler`]), so their buffers
//! serve again.
//!
//! ```text
//! reader ──pages of stored records──> cell maker ──pages of cells──> caller (the sink)
//!  SQLite: raw connection, blocking    blocking thread               (they come back for reuse)
//!  PostgreSQL: sqlx's row stream
//! ```
//! The reader copies what the cells need out of each row ([`StoredRecords`]): on SQLite on the
//! raw connection of the snapshot transaction ([`sqlite_raw`]), on a blocking thread, one
//! prepared statement read with borrowed values, the names of referenced records read by id and
//! remembered ([`NameLookup`]); on PostgreSQL from sqlx's row stream ([`Tx::fetch`]), the names
//! joined in the select. The cell maker turns them into cells ([`CellMaker`]) on its own thread,
//! so the database's work and the cells' work run side by side.

use std::borrow::Cow;
use std::collections::HashMap;

use futures_util::TryStreamExt;
use memchr::memmem::Finder;
use rusqlite::OptionalExtension;
use tokio::sync::mpsc;

use super::cells::CellMaker;
use super::columns::ColumnSet;
use super::json_scan::{members, string};
use super::rows::Rows;
use super::stored::{StoredRecord, StoredRecords};
use crate::error::{Error, Result};
use crate::records::Access;
use crate::records::query::{ListPlan, ListQuery, Window, no_extra};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::{RowValues, Sql, Store, Tx, sqlite_raw};

/// Records per page handed to the caller.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;
/// Pages in flight between two stages: each reads ahead this much.
const PAGES_AHEAD: usize = 2;
/// Used pages kept for reuse at each stage; more are dropped.
const SPARE_PAGES: usize = 8;

/// Hands written pages back to the cell maker.
#[derive(Clone)]
pub(crate) struct Recycler(crossbeam_channel::Sender<Rows>);

impl Recycler {
    pub(crate) fn give_back(&self, page: Rows) {
        // A full return queue means the cell maker has pages enough; this one is dropped.
        let _ = self.0.try_send(page);
    }
}

/// An open walk over the matching records; dropping it ends the read and its transaction.
pub(crate) struct RecordWalk {
    pages: mpsc::Receiver<Result<Rows>>,
    recycler: Recycler,
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
    pub(crate) async fn open(
        store: &Store,
        module: &Module,
        columns: &ColumnSet,
        query: &ListQuery,
        limit: Option<u64>,
        page_size: usize,
    ) -> Result<RecordWalk> {
        let plan = ListPlan::new(store.dialect(), module, query, &ValueOptions::default())?;
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
        let page_size = page_size.max(1);
        let references = columns.joined_references.clone();
        let (stored_tx, stored_rx) = mpsc::channel(PAGES_AHEAD);
        let (used_tx, used_rx) = crossbeam_channel::bounded(SPARE_PAGES);
        let (cells_tx, cells_rx) = mpsc::channel(PAGES_AHEAD);
        let (recycle, written) = crossbeam_channel::bounded(SPARE_PAGES);
        let reader = Reader {
            plan,
            rows: i64::try_from(total).unwrap_or(i64::MAX),
            references: references.clone(),
            page_size,
            sender: stored_tx,
            used: used_rx,
            at: None,
        };
        let maker = CellStage {
            cells: CellMaker::new(module, columns),
            width: columns.columns.len(),
            input: stored_rx,
            used: used_tx,
            output: cells_tx,
            written,
        };
        tokio::spawn(reader.run(tx));
        tokio::task::spawn_blocking(move || maker.run());
        Ok(RecordWalk {
            pages: cells_rx,
            recycler: Recycler(recycle),
            total,
            delivered: 0,
        })
    }

    /// How many rows the walk gives in all.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// How many rows it has given so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Where the consumer gives written pages back.
    pub(crate) fn recycler(&self) -> Recycler {
        self.recycler.clone()
    }

    /// The next page, or `None` when every row has been given.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Rows>> {
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

/// The cell maker's stage: pages of stored records in, pages of cells out, on a blocking thread.
struct CellStage {
    cells: CellMaker,
    /// Cells per row.
    width: usize,
    input: mpsc::Receiver<Result<StoredRecords>>,
    /// Where read pages go back to the reader.
    used: crossbeam_channel::Sender<StoredRecords>,
    output: mpsc::Sender<Result<Rows>>,
    /// Pages the sink has written, to fill again.
    written: crossbeam_channel::Receiver<Rows>,
}

impl CellStage {
    /// Runs until the reader is done (or failed) or the walk is dropped; dropping its input then
    /// stops the reader.
    fn run(mut self) {
        while let Some(message) = self.input.blocking_recv() {
            let outcome = message.and_then(|stored| {
                let mut page = match self.written.try_recv() {
                    Ok(mut page) => {
                        page.clear();
                        page
                    }
                    Err(_) => Rows::new(self.width),
                };
                let mut names = Vec::new();
                for i in 0..stored.len() {
                    let record = stored.get(i, &mut names);
                    self.cells.fill(&record, &names, &mut page)?;
                }
                let _ = self.used.try_send(stored);
                Ok(page)
            });
            let failed = outcome.is_err();
            if self.output.blocking_send(outcome).is_err() || failed {
                return;
            }
        }
    }
}

/// PostgreSQL: `, xN.display_name AS ref_N` and `LEFT JOIN records xN` for each reference
/// whose target's name is wanted. (On SQLite the reader looks the names up itself: see
/// [`NameLookup`].)
fn postgres_reference_joins(
    sql: &mut Sql,
    references: &[String],
    access: &Access,
) -> (String, String) {
    let mut columns = String::new();
    let mut joins = String::new();
    for (i, slug) in references.iter().enumerate() {
        let target = format!(
            "jsonb_extract_path_text(r.fields, {})",
            sql.arg(slug.clone())
        );
        columns.push_str(&format!(", x{i}.display_name AS ref_{i}"));
        joins.push_str(&format!(" LEFT JOIN records x{i} ON x{i}.id = {target}"));
        // A record the reader may not see has no name here.
        if let Some(visible) = access.condition(sql, &format!("x{i}")) {
            joins.push_str(&format!(" AND {visible}"));
        }
    }
    (columns, joins)
}

/// The ids a record's references hold, found in its `fields` JSON.
struct ReferenceIds {
    slugs: Vec<String>,
    /// `"slug"` for each: a record whose text holds none of them references nothing, and is not
    /// scanned. (Slugs are plain ASCII, which JSON writers never escape.)
    finders: Vec<Finder<'static>>,
}

impl ReferenceIds {
    fn new(slugs: &[String]) -> ReferenceIds {
        ReferenceIds {
            slugs: slugs.to_vec(),
            finders: slugs
                .iter()
                .map(|slug| Finder::new(format!("\"{slug}\"").as_bytes()).into_owned())
                .collect(),
        }
    }

    /// The id each reference holds (in join order), `None` where it holds none or a value that
    /// is not text, which names no record.
    fn find<'r>(&self, fields: &'r str) -> Result<Vec<Option<Cow<'r, str>>>> {
        let mut ids = vec![None; self.slugs.len()];
        if !self
            .finders
            .iter()
            .any(|f| f.find(fields.as_bytes()).is_some())
        {
            return Ok(ids);
        }
        members(fields, |key, value| {
            if let Some(j) = self.slugs.iter().position(|s| s == key) {
                ids[j] = match value.is_string() {
                    true => Some(string(value)?),
                    false => None,
                };
            }
            Ok::<_, serde_json::Error>(())
        })
        .map_err(|e| Error::json("stored record", e))?;
        Ok(ids)
    }
}

/// The display names of referenced records, looked up on the raw SQLite connection (inside the
/// snapshot) and remembered. A join would make SQLite parse every record's JSON to find the id
/// (a tenth of the export's time when no record references anything); here a record is scanned
/// only when its text names a reference field, and a name is read once however many records
/// point at it.
struct NameLookup<'c> {
    statement: rusqlite::Statement<'c>,
    /// The member whose privacy the names hold to (bound as `?2`), if any.
    member: Option<String>,
    names: HashMap<String, Option<String>>,
}

/// Names remembered at most; beyond, the memory starts over (exports referencing that many
/// records gain little from it).
const MAX_NAMES: usize = 65_536;

impl<'c> NameLookup<'c> {
    fn new(connection: &'c rusqlite::Connection, access: &Access) -> Result<NameLookup<'c>> {
        let mut text = "SELECT r.display_name FROM records r WHERE r.id = ?1".to_string();
        if let Some(visible) = access.positional_condition("r", 2) {
            text.push_str(" AND ");
            text.push_str(&visible);
        }
        Ok(NameLookup {
            statement: connection.prepare(&text)?,
            member: access.member_id().map(str::to_string),
            names: HashMap::new(),
        })
    }

    /// Reads the name of `id` unless it is known already.
    fn load(&mut self, id: &str) -> Result<()> {
        if self.names.contains_key(id) {
            return Ok(());
        }
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        let read = |row: &rusqlite::Row<'_>| row.get::<_, Option<String>>(0);
        let name = match &self.member {
            Some(member) => self.statement.query_row([id, member.as_str()], read),
            None => self.statement.query_row([id], read),
        }
        .optional()?
        .flatten();
        self.names.insert(id.to_string(), name);
        Ok(())
    }

    /// The name of a loaded id.
    fn get(&self, id: &str) -> Option<&str> {
        self.names.get(id).and_then(|name| name.as_deref())
    }
}

/// Where each value the cells need sits in a row of the select.
struct Positions {
    id: usize,
    display_name: usize,
    fields: usize,
    label_ids: usize,
    type_ids: usize,
    privacy_level: usize,
    external_id: usize,
    created_at: usize,
    updated_at: usize,
    created_by_user_id: usize,
    created_by_display_name: usize,
    updated_by_user_id: usize,
    updated_by_display_name: usize,
    version: usize,
    /// The joined names (`ref_N`), when the select joins them.
    references: Vec<usize>,
}

impl Positions {
    fn of(row: &impl RowValues, joined: usize) -> Result<Positions> {
        let at = |name: &str| row.column_index(name);
        Ok(Positions {
            id: at("id")?,
            display_name: at("display_name")?,
            fields: at("fields")?,
            label_ids: at("label_ids")?,
            type_ids: at("type_ids")?,
            privacy_level: at("privacy_level")?,
            external_id: at("external_id")?,
            created_at: at("created_at")?,
            updated_at: at("updated_at")?,
            created_by_user_id: at("created_by_user_id")?,
            created_by_display_name: at("created_by_display_name")?,
            updated_by_user_id: at("updated_by_user_id")?,
            updated_by_display_name: at("updated_by_display_name")?,
            version: at("version")?,
            references: (0..joined)
                .map(|i| at(&format!("ref_{i}")))
                .collect::<Result<_>>()?,
        })
    }

    fn record<'r>(&self, row: &'r impl RowValues) -> Result<StoredRecord<'r>> {
        let text = |i| -> Result<&'r str> { Ok(row.text(i)?.unwrap_or_default()) };
        let int = |i| -> Result<i64> { Ok(row.int(i)?.unwrap_or_default()) };
        Ok(StoredRecord {
            id: text(self.id)?,
            display_name: text(self.display_name)?,
            fields: text(self.fields)?,
            label_ids: text(self.label_ids)?,
            type_ids: text(self.type_ids)?,
            privacy_level: text(self.privacy_level)?,
            external_id: row.text(self.external_id)?,
            created_at: int(self.created_at)?,
            updated_at: int(self.updated_at)?,
            created_by_user_id: row.text(self.created_by_user_id)?,
            created_by_display_name: row.text(self.created_by_display_name)?,
            updated_by_user_id: row.text(self.updated_by_user_id)?,
            updated_by_display_name: row.text(self.updated_by_display_name)?,
            version: int(self.version)?,
        })
    }
}

/// The reading side: owns the snapshot transaction, reads the statement's rows and hands them
/// on in pages of stored records.
struct Reader {
    plan: ListPlan,
    /// Rows to read (the count the walk announced).
    rows: i64,
    /// Reference fields whose target's name is wanted, in join order.
    references: Vec<String>,
    page_size: usize,
    sender: mpsc::Sender<Result<StoredRecords>>,
    /// Pages the cell maker has read, to fill again.
    used: crossbeam_channel::Receiver<StoredRecords>,
    /// Found from the first row.
    at: Option<Positions>,
}

impl Reader {
    async fn run(self, mut tx: Tx) {
        let report = self.sender.clone();
        let outcome = if let Some(connection) = tx.sqlite_connection() {
            sqlite_raw::with_connection(connection, move |raw| self.read_sqlite(raw)).await
        } else {
            self.read_stream(&mut tx).await
        };
        match outcome {
            // Read-only: committing only ends the transaction.
            Ok(true) => {
                if let Err(e) = tx.commit().await {
                    let _ = report.send(Err(e)).await;
                }
            }
            // The walk was dropped: the transaction rolls back as it drops.
            Ok(false) => {}
            Err(e) => {
                let _ = report.send(Err(e)).await;
            }
        }
    }

    /// SQLite, on a blocking thread: steps one prepared statement and sends each page as it
    /// fills; `false` when the walk was dropped before the end.
    fn read_sqlite(mut self, connection: &rusqlite::Connection) -> Result<bool> {
        let select = self.plan.select_sql(&Window::first(self.rows), no_extra)?;
        let mut statement = sqlite_raw::prepare(connection, &select)?;
        let ids = ReferenceIds::new(&self.references);
        let mut lookup = NameLookup::new(connection, self.plan.access())?;
        let mut rows = statement.raw_query();
        let mut page = self.page();
        while let Some(row) = rows.next()? {
            let record = self.positions(row, 0)?.record(row)?;
            let ids = ids.find(record.fields)?;
            for id in ids.iter().flatten() {
                lookup.load(id)?;
            }
            let names: Vec<Option<&str>> = ids
                .iter()
                .map(|id| id.as_deref().and_then(|id| lookup.get(id)))
                .collect();
            page.push(&record, &names);
            if page.len() == self.page_size {
                let full = std::mem::replace(&mut page, self.page());
                if self.sender.blocking_send(Ok(full)).is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(page.is_empty() || self.sender.blocking_send(Ok(page)).is_ok())
    }

    /// PostgreSQL: reads sqlx's row stream (names joined in the select) and sends each page as
    /// it fills; `false` when the walk was dropped before the end.
    async fn read_stream(mut self, tx: &mut Tx) -> Result<bool> {
        let references = self.references.clone();
        let access = self.plan.access().clone();
        let select = self.plan.select_sql(&Window::first(self.rows), |sql| {
            postgres_reference_joins(sql, &references, &access)
        })?;
        let mut rows = tx.fetch(select);
        let mut page = self.page();
        while let Some(row) = rows.try_next().await? {
            let at = self.positions(&row, references.len())?;
            let record = at.record(&row)?;
            let names = at
                .references
                .iter()
                .map(|&i| RowValues::text(&row, i))
                .collect::<Result<Vec<_>>>()?;
            page.push(&record, &names);
            if page.len() == self.page_size {
                let full = std::mem::replace(&mut page, self.page());
                if self.sender.send(Ok(full)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(page.is_empty() || self.sender.send(Ok(page)).await.is_ok())
    }

    /// A page to fill: one the cell maker is done with, else a new one.
    fn page(&self) -> StoredRecords {
        match self.used.try_recv() {
            Ok(mut page) => {
                page.clear();
                page
            }
            Err(_) => StoredRecords::new(self.references.len()),
        }
    }

    fn positions(&mut self, row: &impl RowValues, joined: usize) -> Result<&Positions> {
        if self.at.is_none() {
            self.at = Some(Positions::of(row, joined)?);
        }
        match &self.at {
            Some(at) => Ok(at),
            None => unreachable!("positions were just found"),
        }
    }
}
