//! The export pipeline of spec 002: records of a module, as the Records list would select and
//! sort them, streamed into a CSV, PDF or Parquet file.
//!
//! ```text
//! query ──stored records──> cells ──pages of cells──> sink (CSV | PDF | Parquet)
//! snapshot, one sorted      own blocking thread       blocking thread
//! statement (SQLite: raw
//! connection, blocking
//! thread)                   bounded channels between the stages; pages come back for reuse
//! ```
//!
//! In: a module slug and an [`ExportRequest`] (the spec's `{format, config}` plus the list's
//! filters). Out: the file's bytes on any `Write`, and an [`ExportSummary`]. Guarantees: the
//! whole request is checked ([`prepare`]) before anything is read or a job row is written;
//! memory is bounded by a few pages of records per stage, never by the export's size; the file
//! shows the module as it was when the export started (see [`query`]); an export that fails or is
//! dropped never finishes its sink, so a half-written output cannot pass for a whole one.
//!
//! Direct or job: [`delivery`] says which one a request should be (spec 002: up to 10,000
//! records directly, more as an export job). Jobs ([`job`]) keep their file in
//! [`ExportSettings::dir`] for 24 hours.

mod cells;
pub mod columns;
pub mod job;
mod json_scan;
pub mod query;
pub mod rows;
pub mod sink;
mod stored;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use columns::{Cell, Column, ColumnSet, Layout, ValueKind};
pub(crate) use job::process_job;
pub use job::{
    ExportJob, ExportSettings, JobStatus, cancel_job, create_job, get_job, job_file, list_jobs,
    run_job, sweep_expired,
};
pub use query::DEFAULT_PAGE_SIZE;
pub use rows::{CellRef, Rows};
pub use sink::{DateFormat, Sink, SinkOptions};

use crate::error::{Error, Result};
use crate::records::Access;
use crate::records::query::{ListPlan, ListQuery, SortDirection};
use crate::schema::Module;
use crate::schema::registry::ModuleRegistry;
use crate::schema::value::ValueOptions;
use crate::store::Store;
use query::{RecordWalk, Recycler};

/// Exports up to this many records are delivered directly; larger ones become jobs (spec 002).
pub const DIRECT_MAX_RECORDS: u64 = 10_000;
/// Most records one export through the API may have (spec 002); the CLI has no limit.
pub const API_MAX_RECORDS: u64 = 100_000;
/// Pages in flight between the query and the sink: the query reads ahead this much.
const CHANNEL_PAGES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Pdf,
    Parquet,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Result<ExportFormat> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "pdf" => Ok(ExportFormat::Pdf),
            "parquet" => Ok(ExportFormat::Parquet),
            _ => Err(Error::invalid_field(
                "format",
                "must be csv, pdf or parquet",
                Some(Value::String(text.to_string())),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Pdf => "pdf",
            ExportFormat::Parquet => "parquet",
        }
    }

    /// The `contentType` of spec 002 (an HTTP response adds `; charset=utf-8` to CSV).
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Pdf => "application/pdf",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// Files for people keep multi-part values together; files for machines split them.
    pub fn layout(self) -> Layout {
        match self {
            ExportFormat::Pdf => Layout::Compact,
            ExportFormat::Csv | ExportFormat::Parquet => Layout::Flat,
        }
    }
}

/// The body of `POST /modules/{module}/export` (spec 002).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    pub format: ExportFormat,
    #[serde(default)]
    pub config: ExportConfig,
    /// The member the export is for: it holds only the records they may see. Set from the
    /// caller (an API key's member, `--member`), never from a request body; kept with a queued
    /// job so the worker exports what the requester could see.
    #[serde(default, rename = "forMember", skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// Spec 002's `config`, plus the Records list's filters (`filter`, `advancedFilter`, `search`,
/// `labelIds`, `typeIds`), which select the records the same way the list does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportConfig {
    /// Column keys: field slugs, core fields, parts (`address.city`, `phone.mobile`,
    /// `account.id`). Default: see [`columns::default_keys`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_headers: Option<bool>,
    /// A chrono strftime format for dates and date-times in CSV and PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_direction: Option<SortDirection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `filter[field]`: a value, `a,b` (either) or a list of values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_filter: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub type_ids: Vec<String>,
}

impl ExportRequest {
    pub fn new(format: ExportFormat) -> Self {
        ExportRequest {
            format,
            config: ExportConfig::default(),
            member_id: None,
        }
    }

    /// Parses a request body; `context` names where it came from in errors.
    pub fn from_json(value: Value, context: &str) -> Result<ExportRequest> {
        serde_json::from_value(value).map_err(|e| Error::json(context, e))
    }

    /// The API's rule (spec 002): at most 100,000 records, which is also the limit when none is
    /// given. The CLI does not call this.
    pub fn for_api(mut self) -> Result<ExportRequest> {
        match self.config.limit {
            Some(limit) if limit > API_MAX_RECORDS => Err(Error::invalid_field(
                "limit",
                format!("an export has at most {API_MAX_RECORDS} records"),
                Some(Value::from(limit)),
            )),
            Some(_) => Ok(self),
            None => {
                self.config.limit = Some(API_MAX_RECORDS);
                Ok(self)
            }
        }
    }

    fn list_query(&self) -> Result<ListQuery> {
        let config = &self.config;
        let mut filters = Vec::with_capacity(config.filter.len());
        for (field, value) in &config.filter {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(Error::invalid_field(
                        &format!("filter.{field}"),
                        "must be a value or a list of values",
                        Some(value.clone()),
                    ));
                }
            };
            filters.push((field.clone(), text));
        }
        Ok(ListQuery {
            filters,
            advanced_filter: config.advanced_filter.clone(),
            search: config.search.clone().filter(|s| !s.trim().is_empty()),
            label_ids: config.label_ids.clone(),
            type_ids: config.type_ids.clone(),
            sort_field: config.sort_field.clone(),
            sort_direction: config.sort_direction,
            access: match &self.member_id {
                Some(member) => Access::Member(member.clone()),
                None => Access::Everything,
            },
            ..ListQuery::default()
        })
    }
}

/// Direct download or export job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    Direct,
    Job,
}

/// Spec 002: up to [`DIRECT_MAX_RECORDS`] records directly, more (or when asked) as a job.
pub fn delivery(records: u64, job_requested: bool) -> Delivery {
    if job_requested || records > DIRECT_MAX_RECORDS {
        Delivery::Job
    } else {
        Delivery::Direct
    }
}

/// The spec's download name: `contacts-export-2024-01-15.csv`.
pub fn file_name(
    module_slug: &str,
    format: ExportFormat,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "{module_slug}-export-{}.{}",
        at.format("%Y-%m-%d"),
        format.extension()
    )
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    pub format: ExportFormat,
    pub record_count: u64,
    pub file_size_bytes: u64,
    pub content_type: &'static str,
    pub file_name: String,
}

/// A checked request: the module, its columns and its query, ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    module: Module,
    request: ExportRequest,
    columns: ColumnSet,
    query: ListQuery,
    date_format: Option<DateFormat>,
}

/// Checks every part of a request against the module: columns, labels, filters, sort, date
/// format. Nothing is read but the module.
pub async fn prepare(
    store: &Store,
    module_slug: &str,
    request: &ExportRequest,
) -> Result<Prepared> {
    let module = ModuleRegistry::new(store.clone()).get(module_slug).await?;
    let config = &request.config;
    let columns = ColumnSet::resolve(
        &module,
        config.columns.as_deref(),
        &config.column_labels,
        request.format.layout(),
    )?;
    let query = request.list_query()?;
    ListPlan::new(store.dialect(), &module, &query, &ValueOptions::default())?;
    let date_format = config
        .date_format
        .as_deref()
        .map(|f| DateFormat::parse(f, "dateFormat"))
        .transpose()?;
    Ok(Prepared {
        module,
        request: request.clone(),
        columns,
        query,
        date_format,
    })
}

impl Prepared {
    pub fn module(&self) -> &Module {
        &self.module
    }

    pub fn request(&self) -> &ExportRequest {
        &self.request
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns.columns
    }

    /// How many records the export would write now; the export itself counts again inside its
    /// snapshot.
    pub async fn count(&self, store: &Store) -> Result<u64> {
        let cap = self.request.config.limit.unwrap_or(u64::MAX);
        query::count_up_to(store, &self.module, &self.query, cap).await
    }

    /// Direct or job ([`delivery`]) for this export as the store is now. Counts no further than
    /// the direct limit, so deciding costs the same for a million records as for ten thousand.
    pub async fn delivery(&self, store: &Store, job_requested: bool) -> Result<Delivery> {
        if job_requested {
            return Ok(Delivery::Job);
        }
        let cap = match self.request.config.limit {
            Some(limit) => limit.min(DIRECT_MAX_RECORDS + 1),
            None => DIRECT_MAX_RECORDS + 1,
        };
        let matching = query::count_up_to(store, &self.module, &self.query, cap).await?;
        Ok(delivery(matching, false))
    }

    /// Opens the snapshot and the sink; `target` names `out` in errors. Drive it with
    /// [`Export::step`] and [`Export::finish`].
    pub async fn start(
        self,
        store: &Store,
        out: Box<dyn Write + Send>,
        target: &str,
        page_size: usize,
    ) -> Result<Export> {
        let walk = RecordWalk::open(
            store,
            &self.module,
            &self.columns,
            &self.query,
            self.request.config.limit,
            page_size,
        )
        .await?;
        let config = &self.request.config;
        let options = SinkOptions {
            include_headers: config.include_headers.unwrap_or(true),
            date_format: self.date_format.clone(),
            title: config.title.clone(),
            description: config.description.clone(),
            total_rows: walk.total(),
            target: target.to_string(),
        };
        let bytes = Arc::new(AtomicU64::new(0));
        let out = Box::new(CountingWriter {
            inner: out,
            count: bytes.clone(),
        });
        let (sender, receiver) = mpsc::channel(CHANNEL_PAGES);
        let format = self.request.format;
        let columns = self.columns.columns.clone();
        let recycler = walk.recycler();
        let sink_task = tokio::task::spawn_blocking(move || {
            run_sink(format, &options, out, &columns, receiver, &recycler)
        });
        Ok(Export {
            walk,
            sender: Some(sender),
            sink_task: Some(sink_task),
            bytes,
            format,
            file_name: file_name(self.module.slug(), format, chrono::Utc::now()),
            target: target.to_string(),
        })
    }
}

enum Message {
    Rows(Rows),
    End,
}

/// The sink's side: writes pages of cells and gives each back to be filled again; finishes only
/// on [`Message::End`], so a dropped export leaves its output unfinished.
fn run_sink(
    format: ExportFormat,
    options: &SinkOptions,
    out: Box<dyn Write + Send>,
    columns: &[Column],
    mut receiver: mpsc::Receiver<Message>,
    recycler: &Recycler,
) -> Result<()> {
    let mut sink = sink::open(format, options, out)?;
    sink.begin(columns)?;
    while let Some(message) = receiver.blocking_recv() {
        match message {
            Message::Rows(page) => {
                sink.write(&page)?;
                recycler.give_back(page);
            }
            Message::End => return sink.finish(),
        }
    }
    Err(sink::io_error(
        &options.target,
        std::io::Error::other("the export stopped before its last page"),
    ))
}

/// A running export: the snapshot walk on this side, the sink on a blocking thread.
pub struct Export {
    walk: RecordWalk,
    sender: Option<mpsc::Sender<Message>>,
    sink_task: Option<JoinHandle<Result<()>>>,
    bytes: Arc<AtomicU64>,
    format: ExportFormat,
    file_name: String,
    target: String,
}

impl Export {
    /// Records the export writes in all (counted in its snapshot, limit applied).
    pub fn total(&self) -> u64 {
        self.walk.total()
    }

    /// Records handed to the sink so far.
    pub fn processed(&self) -> u64 {
        self.walk.delivered()
    }

    /// Reads the next page and hands it to the sink; `false` once every page has been handed.
    pub async fn step(&mut self) -> Result<bool> {
        let Some(sender) = self.sender.as_ref() else {
            return Ok(false);
        };
        let Some(page) = self.walk.next_page().await? else {
            return Ok(false);
        };
        if sender.send(Message::Rows(page)).await.is_err() {
            return Err(self.sink_failure().await);
        }
        Ok(true)
    }

    /// Hands the rest to the sink, lets it finish and reports what was written.
    pub async fn finish(mut self) -> Result<ExportSummary> {
        while self.step().await? {}
        if let Some(sender) = self.sender.take()
            && sender.send(Message::End).await.is_err()
        {
            return Err(self.sink_failure().await);
        }
        self.join_sink().await?;
        Ok(ExportSummary {
            format: self.format,
            record_count: self.walk.delivered(),
            file_size_bytes: self.bytes.load(Ordering::Relaxed),
            content_type: self.format.content_type(),
            file_name: self.file_name.clone(),
        })
    }

    async fn join_sink(&mut self) -> Result<()> {
        match self.sink_task.take() {
            Some(task) => task
                .await
                .map_err(|e| Error::internal(format!("the export's sink task failed: {e}")))?,
            None => Ok(()),
        }
    }

    /// The sink stopped taking pages: its own error says why.
    async fn sink_failure(&mut self) -> Error {
        self.sender = None;
        match self.join_sink().await {
            Err(e) => e,
            Ok(()) => sink::io_error(
                &self.target,
                std::io::Error::other("the export sink stopped early"),
            ),
        }
    }
}

/// Runs a whole export into `out`, calling `progress(done, total)` after each page.
pub async fn run(
    store: &Store,
    module_slug: &str,
    request: &ExportRequest,
    out: Box<dyn Write + Send>,
    target: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportSummary> {
    let prepared = prepare(store, module_slug, request).await?;
    let mut export = prepared
        .start(store, out, target, DEFAULT_PAGE_SIZE)
        .await?;
    progress(0, export.total());
    while export.step().await? {
        progress(export.processed(), export.total());
    }
    export.finish().await
}

/// Counts the bytes that reach the output (the direct download's size).
struct CountingWriter {
    inner: Box<dyn Write + Send>,
    count: Arc<AtomicU64>,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_parse_the_spec_body() {
        let request = ExportRequest::from_json(
            json!({
                "format": "csv",
                "config": {
                    "columns": ["displayName", "email", "phone", "createdDateTime"],
                    "includeHeaders": true,
                    "sortField": "createdDateTime",
                    "sortDirection": "desc",
                    "limit": 1000,
                    "filter": {"status": ["active", "lead"]}
                }
            }),
            "body",
        )
        .unwrap();
        assert_eq!(request.format, ExportFormat::Csv);
        assert_eq!(request.config.limit, Some(1000));
        let query = request.list_query().unwrap();
        assert_eq!(
            query.filters,
            [("status".to_string(), "active,lead".to_string())]
        );
        assert!(ExportRequest::from_json(json!({"format": "xls"}), "body").is_err());
        assert!(
            ExportRequest::from_json(json!({"format": "csv", "config": {"colums": []}}), "body")
                .is_err()
        );
    }

    #[test]
    fn api_limit_and_delivery() {
        let mut r = ExportRequest::new(ExportFormat::Pdf);
        assert_eq!(
            r.clone().for_api().unwrap().config.limit,
            Some(API_MAX_RECORDS)
        );
        r.config.limit = Some(API_MAX_RECORDS + 1);
        assert!(r.for_api().is_err());
        assert_eq!(delivery(10_000, false), Delivery::Direct);
        assert_eq!(delivery(10_001, false), Delivery::Job);
        assert_eq!(delivery(3, true), Delivery::Job);
    }
}
