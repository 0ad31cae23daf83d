//! Report: what an import tells its caller — the counters, the row errors, the reference
//! warnings, the result of a run — and the errors CSV (the failed rows as the file had them, plus
//! their errors) a user fixes and imports again.
//!
//! In: row outcomes from the writer. Out: [`ImportResult`], [`Counters`], [`RowError`]s and an
//! optional CSV file. Guarantees: the counters always reconcile (`processed = created + updated +
//! unchanged + skipped + failed`); lists are capped ([`MAX_REPORTED_ERRORS`],
//! [`MAX_LISTED_RECORD_IDS`]) while the counters and the errors CSV cover every row.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::import::job::{JobStatus, ProcessingMode};

/// At most this many errors are listed in a report; the counts always cover every row.
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// At most this many created record ids are listed in a result; the ledger keeps them all.
pub const MAX_LISTED_RECORD_IDS: usize = 10_000;

/// One row that cannot be imported as it is: the file's row number, the field and the column the
/// bad value came from, the value and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub error: String,
}

/// Counts of what happened to the rows read so far. They always reconcile:
/// `processed = created + updated + unchanged + skipped + failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub processed_rows: u64,
    pub created_rows: u64,
    pub updated_rows: u64,
    pub unchanged_rows: u64,
    pub skipped_rows: u64,
    pub error_rows: u64,
}

impl Counters {
    /// Spec 002's `successRows`: rows that ended in a record as the file says.
    pub fn success_rows(&self) -> u64 {
        self.created_rows + self.updated_rows + self.unchanged_rows
    }
}

/// Called after every commit (every batch in a dry run).
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub total_rows: u64,
    pub counters: Counters,
}

/// Spec 002's `referenceWarnings` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceWarning {
    pub field_slug: String,
    pub field_label: String,
    pub unresolved_values: Vec<String>,
    pub target_module_slug: String,
}

/// Spec 002's execute response, with the counters split further.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// `None` for a dry run.
    pub import_job_id: Option<String>,
    pub status: JobStatus,
    pub processing_mode: ProcessingMode,
    pub total_rows: u64,
    pub success_rows: u64,
    pub error_rows: u64,
    pub skipped_rows: u64,
    pub created_rows: u64,
    pub updated_rows: u64,
    pub unchanged_rows: u64,
    pub created_record_ids: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub created_record_ids_truncated: bool,
    /// Records made in referenced modules (`createMissingReferences`).
    pub created_reference_count: u64,
    pub errors: Vec<RowError>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub errors_truncated: bool,
    /// With `skipValidation`: the values left out of otherwise imported rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RowError>,
    pub reference_warnings: Vec<ReferenceWarning>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// The rows that failed, as the file had them, plus the row number and the errors: fix the
/// cells and import this file again.
pub(crate) struct ErrorsCsv {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
    width: usize,
}

impl ErrorsCsv {
    pub(crate) fn create(path: &Path, columns: &[String]) -> Result<ErrorsCsv> {
        let file = std::fs::File::create(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut writer = csv::Writer::from_writer(file);
        let mut header: Vec<&str> = columns.iter().map(String::as_str).collect();
        header.extend(["Import Row", "Import Errors"]);
        writer
            .write_record(&header)
            .map_err(|e| csv_error(path, e))?;
        Ok(ErrorsCsv {
            path: path.to_path_buf(),
            writer,
            width: columns.len(),
        })
    }

    pub(crate) fn write(&mut self, row: u64, cells: &[String], errors: &[RowError]) -> Result<()> {
        let mut record: Vec<String> = (0..self.width)
            .map(|i| cells.get(i).cloned().unwrap_or_default())
            .collect();
        record.push(row.to_string());
        record.push(
            errors
                .iter()
                .map(|e| match (&e.field, &e.column) {
                    (Some(field), Some(column)) => format!("{field} ({column}): {}", e.error),
                    (Some(field), None) => format!("{field}: {}", e.error),
                    _ => e.error.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
        self.writer
            .write_record(&record)
            .map_err(|e| csv_error(&self.path, e))
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        let result = self.writer.flush();
        result.map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            source: e,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    }
}
