//! The import pipeline of spec 002, one stage per file.
//!
//! ```text
//!  source/ ──chunks──> map ──> validate ──> resolve ──> dedupe ──> merge ──> write + ledger
//!  (CSV, XLSX, XLS,    (column  (typed       (reference  (match keys,  (merge    (one writer,
//!   ODS, Parquet)       mapping, values,      cells →     in-file and   modes)    batch tx with
//!                       static   row errors)  record ids) store, unique           the job's
//!                       values)                           conflicts)              checkpoint)
//!                                      report: counters, row errors, errors CSV
//!  rollback: the job's created records deleted, its updates restored from the ledger, page by page
//! ```
//!
//! | file | stage |
//! |---|---|
//! | [`source`] | a file as chunks of string rows with row numbers (memory bounded by the chunk size) |
//! | [`parse`] | step 1 of spec 002: columns, sample rows, row count, encoding |
//! | [`mapping`] | step 2: the `columnMapping` type and mapping suggestions |
//! | [`memory`] | the mappings earlier imports used, suggested first |
//! | [`map`] | a row's cells into typed field values by a checked [`MappingPlan`] |
//! | [`locale`] | how values read: the import's locale, the module's, or what the file's values decide |
//! | [`validate`] | step 3: every row checked, nothing written |
//! | [`pipeline`] | reader thread ─> rayon map/validate ─> bounded channel to the writer |
//! | [`resolve`] | reference cells become record ids (or warnings, or new records) |
//! | [`dedupe`] | the record a row matches, unique conflicts, and each row's decision |
//! | [`merge`] | strategies and merge modes: what an update does to a record |
//! | [`write`] | a batch's records, keys and versions in few statements (SQLite: cached prepared statements; PostgreSQL: `COPY` into the tables or into staging tables, then set-based statements) |
//! | [`writer`] | the one writer: chunks in file order through resolve ─> dedupe ─> merge ─> write, batch transactions, checkpoints |
//! | [`ledger`] | the old values of what a job updated, written with each batch (records it created name the job instead) |
//! | [`rollback`] | undo a job exactly: delete what it created, restore what it updated |
//! | `undo` | a failed or cancelled job undone so that a crash cannot cut the undo short |
//! | [`budget`] | the error budget: above it the job stops and undoes what it wrote |
//! | [`report`] | counters, row errors, reference warnings, the result, the errors CSV |
//! | [`execute`] | step 4, the one driver: [`PreparedImport`] checks once, then runs in the foreground or queues |
//! | [`job`] | the job row: insert, checkpoint, finish, list, cancel |
//! | [`queue`] | submitted jobs run by workers under a lease, resumed after a crash |
//! | [`uploads`], [`inline`] | files kept between HTTP steps; rows given inline |

pub mod budget;
pub mod dedupe;
pub mod execute;
pub mod inline;
pub mod job;
pub(crate) mod ledger;
pub mod locale;
pub mod map;
pub mod mapping;
pub mod memory;
pub mod merge;
pub mod parse;
pub mod pipeline;
pub mod queue;
pub mod report;
pub(crate) mod resolve;
pub mod rollback;
pub mod source;
mod undo;
pub mod uploads;
pub mod validate;
pub(crate) mod write;
pub(crate) mod writer;

pub use budget::ErrorBudget;
pub use execute::{ImportRequest, PreparedImport, RunOptions, Started, execute_file};
pub use job::{ImportJob, JobStatus, ProcessingMode, cancel, get_job, list_jobs};
pub use map::{MappedRow, MappingPlan};
pub use merge::{DuplicateStrategy, MergeMode};
pub use parse::{ParseResult, RowDefect, parse_file};
pub use pipeline::{CommitPolicy, PipelineOptions};
pub use queue::{QueueOptions, Submission, submit};
pub use report::{
    Counters, ImportResult, Phase, Progress, ReferenceWarning, RowError, RowErrorCode,
};
pub use rollback::{RollbackOutcome, rollback};
pub use source::{
    FileType, RowNumbers, Source, SourceInfo, SourceLimits, SourceOptions, SourceRow, open,
};
pub use validate::{ValidationReport, Warning, validate_file};
