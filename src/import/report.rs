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
use crate::schema::FieldType;

/// At most this many errors are listed in a report; the counts always cover every row.
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// At most this many created record ids are listed in a result; the ledger keeps them all.
pub const MAX_LISTED_RECORD_IDS: usize = 10_000;

/// The kind of a row error or warning: a stable snake_case code a program can act on, beside the
/// message a person reads. [`RowErrorCode::ALL`] is the table of every code; the README lists
/// them too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowErrorCode {
    /// The row has more or fewer cells than the header: it is never imported.
    MalformedRow,
    /// A required field is empty in a row that would create (or leave) a record without it.
    RequiredMissing,
    InvalidEmail,
    InvalidPhone,
    /// Not a date (or date-time) in any format the import reads.
    InvalidDate,
    /// Not a number (or amount) in any format the import reads.
    InvalidNumber,
    InvalidBoolean,
    InvalidUrl,
    InvalidAddress,
    /// Not one of the options of a select or multi-select field.
    NotAnOption,
    /// Text longer than its field allows.
    ValueTooLong,
    /// A unique value (e.g. an email) another record already holds.
    DuplicateUniqueValue,
    /// A reference names several records of the target module: the row fails, never a guess.
    ReferenceAmbiguous,
    /// A reference names no record of the target module: the field is left empty (a warning).
    ReferenceNotFound,
    /// A required field no column or static value fills (a warning about the whole mapping).
    RequiredNotMapped,
    /// A date column no value of which decides between day-first and month-first (a warning
    /// about the whole column: give a locale), or one whose values need both orders.
    AmbiguousDate,
    /// A number column no value of which decides between a decimal point and a decimal comma
    /// (`1.234`: a warning about the whole column: give a locale), or one whose values need both.
    AmbiguousNumber,
    /// A value that does not fit its field, from a job stored before codes were kept.
    #[default]
    InvalidValue,
}

impl RowErrorCode {
    /// Every code, in the order of the table.
    pub const ALL: [RowErrorCode; 18] = [
        RowErrorCode::MalformedRow,
        RowErrorCode::RequiredMissing,
        RowErrorCode::InvalidEmail,
        RowErrorCode::InvalidPhone,
        RowErrorCode::InvalidDate,
        RowErrorCode::InvalidNumber,
        RowErrorCode::InvalidBoolean,
        RowErrorCode::InvalidUrl,
        RowErrorCode::InvalidAddress,
        RowErrorCode::NotAnOption,
        RowErrorCode::ValueTooLong,
        RowErrorCode::DuplicateUniqueValue,
        RowErrorCode::ReferenceAmbiguous,
        RowErrorCode::ReferenceNotFound,
        RowErrorCode::RequiredNotMapped,
        RowErrorCode::AmbiguousDate,
        RowErrorCode::AmbiguousNumber,
        RowErrorCode::InvalidValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RowErrorCode::MalformedRow => "malformed_row",
            RowErrorCode::RequiredMissing => "required_missing",
            RowErrorCode::InvalidEmail => "invalid_email",
            RowErrorCode::InvalidPhone => "invalid_phone",
            RowErrorCode::InvalidDate => "invalid_date",
            RowErrorCode::InvalidNumber => "invalid_number",
            RowErrorCode::InvalidBoolean => "invalid_boolean",
            RowErrorCode::InvalidUrl => "invalid_url",
            RowErrorCode::InvalidAddress => "invalid_address",
            RowErrorCode::NotAnOption => "not_an_option",
            RowErrorCode::ValueTooLong => "value_too_long",
            RowErrorCode::DuplicateUniqueValue => "duplicate_unique_value",
            RowErrorCode::ReferenceAmbiguous => "reference_ambiguous",
            RowErrorCode::ReferenceNotFound => "reference_not_found",
            RowErrorCode::RequiredNotMapped => "required_not_mapped",
            RowErrorCode::AmbiguousDate => "ambiguous_date",
            RowErrorCode::AmbiguousNumber => "ambiguous_number",
            RowErrorCode::InvalidValue => "invalid_value",
        }
    }

    /// What the code means, for people (the README's table says the same).
    pub fn meaning(self) -> &'static str {
        match self {
            RowErrorCode::MalformedRow => "the row has more or fewer cells than the header",
            RowErrorCode::RequiredMissing => "a required field is empty",
            RowErrorCode::InvalidEmail => "not an email address",
            RowErrorCode::InvalidPhone => "not a phone number",
            RowErrorCode::InvalidDate => "not a date or date-time",
            RowErrorCode::InvalidNumber => "not a number or amount",
            RowErrorCode::InvalidBoolean => "not true/false, yes/no or 1/0",
            RowErrorCode::InvalidUrl => "not a URL",
            RowErrorCode::InvalidAddress => "not an address",
            RowErrorCode::NotAnOption => "not one of the field's options",
            RowErrorCode::ValueTooLong => "text longer than the field allows",
            RowErrorCode::DuplicateUniqueValue => "a unique value another record holds",
            RowErrorCode::ReferenceAmbiguous => "the reference names several records",
            RowErrorCode::ReferenceNotFound => "the reference names no record",
            RowErrorCode::RequiredNotMapped => "a required field no column fills",
            RowErrorCode::AmbiguousDate => "dates that read both day-first and month-first",
            RowErrorCode::AmbiguousNumber => {
                "numbers that read both with a decimal point and with a decimal comma"
            }
            RowErrorCode::InvalidValue => "a value that does not fit its field",
        }
    }

    /// The code of a value that does not parse as a field of this type.
    pub fn for_field_type(field_type: FieldType) -> RowErrorCode {
        match field_type {
            FieldType::Email => RowErrorCode::InvalidEmail,
            FieldType::Phone => RowErrorCode::InvalidPhone,
            FieldType::Date | FieldType::Datetime => RowErrorCode::InvalidDate,
            FieldType::Number | FieldType::Currency => RowErrorCode::InvalidNumber,
            FieldType::Boolean => RowErrorCode::InvalidBoolean,
            FieldType::Url => RowErrorCode::InvalidUrl,
            FieldType::Address => RowErrorCode::InvalidAddress,
            FieldType::Select | FieldType::MultiSelect => RowErrorCode::NotAnOption,
            // Text of any kind only fails on its length.
            FieldType::Text | FieldType::LongText | FieldType::Reference => {
                RowErrorCode::ValueTooLong
            }
        }
    }
}

/// One row that cannot be imported as it is: the file's row number, the field and the column the
/// bad value came from, the value, the kind of error and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    pub row: u64,
    /// Errors of jobs stored before codes were kept read as `invalid_value`.
    #[serde(default)]
    pub code: RowErrorCode,
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

/// Called after every commit (every batch in a dry run), and once more before a failed or
/// cancelled job is undone.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub total_rows: u64,
    pub counters: Counters,
    pub phase: Phase,
}

/// What a foreground import is doing: reading the file once to check and count it (before the
/// first callback: a caller shows it until then), importing its rows, or undoing what it wrote
/// (a failed or cancelled job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Counting,
    Importing,
    Undoing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Counting => "counting",
            Phase::Importing => "importing",
            Phase::Undoing => "undoing",
        }
    }
}

/// Spec 002's `referenceWarnings` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceWarning {
    /// Always `reference_not_found`.
    #[serde(default = "reference_not_found")]
    pub code: RowErrorCode,
    pub field_slug: String,
    pub field_label: String,
    pub unresolved_values: Vec<String>,
    pub target_module_slug: String,
}

fn reference_not_found() -> RowErrorCode {
    RowErrorCode::ReferenceNotFound
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
        header.extend(["Import Row", "Import Errors", "Import Error Codes"]);
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
        record.push(
            errors
                .iter()
                .map(|e| e.code.as_str())
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
