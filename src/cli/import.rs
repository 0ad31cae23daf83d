//! `recordport import …`: the steps of spec 002 on files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{ModuleArg, Output, table};
use crate::error::Result;
use crate::import::mapping::suggest;
use crate::import::memory::recall;
use crate::import::{SourceLimits, SourceOptions, parse_file};
use crate::records::RecordService;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Step 1: read a file's columns, a sample of its rows and its row count.
    Parse {
        file: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Step 2: suggest a column-to-field mapping for a file.
    Suggest {
        file: PathBuf,
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        source: SourceArgs,
    },
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Sheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Encoding of a CSV file (default: detected), e.g. utf-8, windows-1252, utf-16le.
    #[arg(long)]
    pub encoding: Option<String>,
    /// Delimiter of a CSV file (default: detected among , ; tab |).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Largest file accepted, in MiB.
    #[arg(long, default_value_t = 100)]
    pub max_file_mb: u64,
}

impl SourceArgs {
    fn options(&self) -> SourceOptions {
        SourceOptions {
            limits: SourceLimits {
                max_file_bytes: self.max_file_mb * 1024 * 1024,
                ..SourceLimits::default()
            },
            sheet: self.sheet.clone(),
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
        }
    }
}

pub async fn run(service: &RecordService, cmd: ImportCommand, out: &Output) -> Result<()> {
    match cmd {
        ImportCommand::Parse { file, source } => {
            let parsed = parse_file(&file, &source.options())?;
            out.print(&json!({ "success": true, "data": parsed }), || {
                let mut text = format!(
                    "{}: {} rows, {} columns ({:?}{}{})\n",
                    parsed.file_name,
                    parsed.total_rows,
                    parsed.source_columns.len(),
                    parsed.file_type,
                    parsed
                        .encoding
                        .as_deref()
                        .map(|e| format!(", {e}"))
                        .unwrap_or_default(),
                    parsed
                        .delimiter
                        .as_deref()
                        .map(|d| format!(", delimiter {d:?}"))
                        .unwrap_or_default(),
                );
                let mut t = table(
                    &parsed
                        .source_columns
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                );
                for row in parsed.sample_rows.iter().take(5) {
                    t.add_row(
                        parsed
                            .source_columns
                            .iter()
                            .map(|c| {
                                row.get(c)
                                    .and_then(|v| v.as_str())
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect::<Vec<_>>(),
                    );
                }
                text.push_str(&t.to_string());
                for d in &parsed.row_defects {
                    text.push_str(&format!("\nrow {}: {}", d.row, d.message));
                }
                text
            })
        }
        ImportCommand::Suggest {
            file,
            module,
            source,
        } => {
            let parsed = parse_file(&file, &source.options())?;
            let module = service.modules().get(&module.module).await?;
            let remembered = recall(service.store(), &module).await?;
            let result = suggest(
                &module,
                &parsed.source_columns,
                &parsed.sample_rows,
                &remembered,
                &Default::default(),
            );
            out.print(&json!({ "success": true, "data": result }), || {
                let mut t = table(&["column", "field", "confidence", "kind / part"]);
                for s in &result.suggestions {
                    t.add_row(vec![
                        s.source_column.clone(),
                        s.target_field_slug
                            .clone()
                            .unwrap_or_else(|| "(unmapped)".into()),
                        format!("{:.2}", s.confidence),
                        s.value_type
                            .clone()
                            .or_else(|| s.address_part.clone())
                            .unwrap_or_default(),
                    ]);
                }
                t.to_string()
            })
        }
    }
}
