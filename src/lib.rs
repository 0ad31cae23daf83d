//! # recordport
//!
//! A records store with a streaming import/export engine.
//!
//! ```text
//! import:  source ──chunks──> map ──> validate ──> dedupe/merge ──> write (one writer, batch tx)
//! export:  query (filter, sort, columns; streamed) ──> sink (CSV, PDF, Parquet)
//! ```
//!
//! Module map:
//! - [`schema`]: modules, typed fields and the one place that parses a raw value for a field type;
//! - [`store`]: the sqlx pool (SQLite by default, PostgreSQL by URL), migrations, SQL building;
//! - [`import`]: the import pipeline of spec 002 (sources, parse, mapping suggestions so far);
//! - [`export`]: the export pipeline of spec 002 (snapshot query, CSV/PDF/Parquet sinks, jobs);
//! - [`records`]: the Records service of spec 000 (CRUD, list/filter/sort/page, bulk, trash,
//!   versions, upsert by external id);
//! - [`error`]: typed errors and their stable codes and HTTP statuses;
//! - [`bench`]: the benchmark harness's data generator;
//! - [`jobs`]: the job statuses import and export jobs share;
//! - [`apikeys`]: API keys of the HTTP API (scopes; stored as SHA-256 digests);
//! - [`reports`]: saved reports (a module's filter, sort and columns) to export;
//! - [`api`]: the HTTP API (`recordport serve`), a thin axum shell over the library;
//! - [`cli`]: the command-line shell over the library.

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
pub mod worker;

pub use error::{Error, Result};
