//! Step 3 of spec 002: validate a file against a column mapping without writing anything.
//!
//! Reads the whole file through the pipeline (parallel mapping, bounded memory) and reports every
//! row that would fail: values that do not fit their field, rows of the wrong shape, required
//! fields left empty. Warnings cover what is not an error of one row, such as a required field no
//! column is mapped to.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::import::map::MappingPlan;
use crate::import::mapping::ColumnMapping;
use crate::import::pipeline::{Pipeline, PipelineOptions};
use crate::import::report::{MAX_REPORTED_ERRORS, RowError, RowErrorCode};
use crate::import::source::{self, SourceOptions};
use crate::schema::Module;
use crate::schema::value::ValueOptions;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub row: u64,
    pub code: RowErrorCode,
    pub field: String,
    pub message: String,
}

/// Spec 002's validate response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub is_valid: bool,
    pub total_rows: u64,
    pub valid_rows: u64,
    pub error_rows: u64,
    pub errors: Vec<RowError>,
    /// More errors were found than `errors` lists.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub errors_truncated: bool,
    pub warnings: Vec<Warning>,
}

/// Warnings that hold for the whole file: required fields nothing fills. Row 1 is the header.
pub fn mapping_warnings(plan: &MappingPlan) -> Vec<Warning> {
    plan.unmapped_required()
        .into_iter()
        .map(|f| Warning {
            row: 1,
            code: RowErrorCode::RequiredNotMapped,
            field: f.slug.clone(),
            message: format!("Required field \"{}\" is not mapped", f.label),
        })
        .collect()
}

/// Validates `path` mapped by `mappings` for `module`.
pub async fn validate_file(
    module: &Module,
    path: &Path,
    source_options: &SourceOptions,
    mappings: &[ColumnMapping],
    static_values: &Map<String, Value>,
    value_options: &ValueOptions,
    pipeline: PipelineOptions,
) -> Result<ValidationReport> {
    let source = source::open_blocking(path, source_options).await?;
    let plan = Arc::new(MappingPlan::new(
        module,
        source.columns(),
        mappings,
        static_values,
        value_options,
    )?);
    let mut report = ValidationReport {
        is_valid: true,
        total_rows: 0,
        valid_rows: 0,
        error_rows: 0,
        errors: Vec::new(),
        errors_truncated: false,
        warnings: mapping_warnings(&plan),
    };
    let mut running = Pipeline::start(source, plan.clone(), pipeline, false)?;
    while let Some(chunk) = running.chunks.recv().await {
        for row in chunk?.rows {
            report.total_rows += 1;
            let mut errors = row.errors;
            if !row.malformed {
                errors.extend(plan.missing_required(row.row_number, &row.fields));
            }
            if errors.is_empty() {
                report.valid_rows += 1;
                continue;
            }
            report.error_rows += 1;
            for error in errors {
                if report.errors.len() < MAX_REPORTED_ERRORS {
                    report.errors.push(error);
                } else {
                    report.errors_truncated = true;
                }
            }
        }
    }
    report.is_valid = report.error_rows == 0;
    Ok(report)
}
