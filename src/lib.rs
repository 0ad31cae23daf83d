//! # recordport
//!
//! A records store with a streaming import/export engine: records of typed modules, kept on
//! SQLite (embedded, the default) or PostgreSQL, moved in and out in bulk.
//!
//! ```text
//! import:  source ──chunks──> map ──> validate ──> resolve ──> dedupe ──> merge ──> write
//!          (CSV, XLSX,        (column  (typed      (reference  (match     (merge    (one writer;
//!           XLS, ODS,          mapping) values,     cells →     keys, in   modes)    batch tx with
//!           Parquet)                    row errors) record ids) file and              ledger and
//!                                                               store)                checkpoint)
//! export:  query (filter, sort, columns; one snapshot, streamed) ──> sink (CSV, PDF, Parquet)
//! ```
//!
//! Module map, from the foundations to the shells (each module opens with what comes in, what
//! goes out and what it guarantees):
//! - [`error`]: typed errors and the one table of their stable codes and HTTP statuses;
//! - [`schema`]: modules and their typed fields, the registry that stores them, and the parsing
//!   and formatting of a value for each field type ([`schema::value`]);
//! - [`store`]: the sqlx pool (SQLite by default, PostgreSQL by URL), migrations per dialect
//!   (`migrations/` at the crate root), dialect-neutral SQL and rows, and SQLite's bulk path on
//!   rusqlite ([`store::sqlite_raw`]);
//! - [`records`]: the Records service of spec 000 (CRUD, list with filters, search, sort, offset
//!   and cursor pages, bulk, trash, versions, references, upsert by external id) and CQL, spec
//!   004's query language, compiled into the list's plan ([`records::cql`]);
//! - [`import`]: the import pipeline of spec 002: its four steps (parse, suggest-mapping,
//!   validate, execute), one stage per file, jobs, the queue and rollback;
//! - [`export`]: the export pipeline of spec 002 (snapshot query, columns, CSV/PDF/Parquet
//!   sinks, export jobs);
//! - [`jobs`]: what import and export jobs share: the statuses of spec 002 and the claims under a
//!   lease that workers take them with;
//! - [`reports`]: saved reports (a module's filter, sort and columns) to export;
//! - [`apikeys`]: API keys of the HTTP API (scopes; stored as SHA-256 digests);
//! - [`webhooks`]: webhook subscriptions, the transactional outbox that record, import and export
//!   changes write their events to, and the signed, retried deliveries workers make of them;
//! - [`worker`]: the worker service (`recordport worker`): claims queued import and export jobs
//!   and runs them, and makes due webhook deliveries, until shut down;
//! - [`api`]: the HTTP API (`recordport serve`), a thin axum shell over the library;
//! - [`cli`]: the command-line shell over the library;
//! - [`bench`](mod@bench): the benchmark harness (`recordport bench`): a seeded generator of
//!   realistic contact files and the runner that times every step beside peer tools.

pub mod api;
pub mod apikeys;
pub mod bench;
pub mod cli;
pub mod error;
pub mod export;
pub mod import;
pub mod jobs;
pub mod records;
pub mod reports;
pub mod schema;
pub mod store;
pub mod webhooks;
pub mod worker;

pub use error::{Error, Result};
