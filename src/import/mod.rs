//! The import pipeline of spec 002.
//!
//! ```text
//! source ──chunks──> map ──> validate ──> dedupe/merge ──> write
//! (CSV, XLSX,        (column   (typed      (match keys)      (one writer,
//!  XLS, ODS,          mapping)  values,                       batch tx)
//!  Parquet)                     row errors)
//! ```
//!
//! What is here so far: [`source`], which turns a file into chunks of string rows with row
//! numbers (memory bounded by the chunk size, never by the file size); [`parse`], step 1 of
//! spec 002: the columns, a sample of rows and the row count of a file; [`mapping`], step 2: the
//! `columnMapping` type and mapping suggestions; [`memory`], the mappings earlier imports used;
//! [`uploads`], files kept between the steps of the HTTP API; [`inline`], rows given inline.

pub mod apply;
pub mod dedupe;
pub mod execute;
pub mod inline;
pub mod job;
pub mod mapping;
pub mod memory;
pub mod merge;
pub mod parse;
pub mod pipeline;
pub mod queue;
pub mod source;
pub mod uploads;
pub mod validate;
mod write;

pub use apply::{MappedRow, MappingPlan, RowError};
pub use execute::{
    ImportRequest, ImportResult, Progress, ReferenceWarning, RunOptions, execute_file,
};
pub use job::{
    Counters, ImportJob, JobStatus, ProcessingMode, RollbackOutcome, cancel, get_job, list_jobs,
    rollback,
};
pub use merge::{DuplicateStrategy, MergeMode};
pub use parse::{ParseResult, RowDefect, parse_file};
pub use pipeline::{CommitPolicy, PipelineOptions};
pub use queue::{Submission, submit};
pub use source::{FileType, Source, SourceInfo, SourceLimits, SourceOptions, SourceRow, open};
pub use validate::{ValidationReport, Warning, validate_file};
