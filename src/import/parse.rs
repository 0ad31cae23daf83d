//! Step 1 of spec 002, "Upload and Parse File": a file in; its columns, the first 50 rows and
//! the row count out.
//!
//! The whole file is read once, so the count is exact and a file that cannot be read fails here
//! rather than halfway through an import. Only the sample is kept: past it, rows are counted
//! without being built ([`Source::count_rest`](super::source::Source::count_rest)), so memory
//! stays at one chunk.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::source::{self, FileType, SourceOptions};
use crate::Result;

/// Spec 002: "The preview includes up to 50 sample rows."
pub const SAMPLE_ROWS: usize = 50;
/// How many row defects the response lists; enough to see a pattern, bounded for huge files.
pub const MAX_ROW_DEFECTS: usize = 50;

/// The parse response of spec 002 (`data`), plus what the file's shape told us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParseResult {
    pub source_columns: Vec<String>,
    /// Up to [`SAMPLE_ROWS`] rows, column name -> cell text.
    pub sample_rows: Vec<Map<String, Value>>,
    /// Data rows, not counting the header or blank rows.
    pub total_rows: u64,
    pub file_type: FileType,
    pub file_name: String,
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sheet_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The first [`MAX_ROW_DEFECTS`] rows that do not fit the header, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_defects: Vec<RowDefect>,
}

/// A row whose shape does not fit the header (it is still imported, padded or truncated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDefect {
    pub row: u64,
    pub message: String,
}

/// Parses a file: see the module note.
pub fn parse_file(path: &Path, options: &SourceOptions) -> Result<ParseResult> {
    let mut source = source::open(path, options)?;
    let columns = source.columns().to_vec();
    let mut row_defects = Vec::new();
    let mut note_defect = |row: u64, message: &str| {
        if row_defects.len() < MAX_ROW_DEFECTS {
            row_defects.push(RowDefect {
                row,
                message: message.to_string(),
            });
        }
    };

    let mut sample_rows = Vec::with_capacity(SAMPLE_ROWS);
    while sample_rows.len() < SAMPLE_ROWS {
        let chunk = source.next_chunk(SAMPLE_ROWS - sample_rows.len())?;
        if chunk.is_empty() {
            break;
        }
        for row in chunk {
            if let Some(defect) = &row.defect {
                note_defect(row.row_number, defect);
            }
            sample_rows.push(
                columns
                    .iter()
                    .cloned()
                    .zip(row.cells.into_iter().map(Value::String))
                    .collect::<Map<_, _>>(),
            );
        }
    }
    let total_rows = sample_rows.len() as u64 + source.count_rest(&mut note_defect)?;

    let info = source.describe();
    Ok(ParseResult {
        source_columns: columns,
        sample_rows,
        total_rows,
        file_type: info.file_type,
        file_name: info.file_name,
        encoding: info.encoding,
        delimiter: info.delimiter.map(String::from),
        sheet_names: info.sheet_names,
        sheet: info.sheet,
        row_defects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_fifty_rows_counts_all_and_serialises_camel_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.csv");
        let mut data = String::from("id,name\n");
        for i in 0..120 {
            data.push_str(&format!("{i},n{i}\n"));
        }
        data.push_str("120\n");
        std::fs::write(&path, data).unwrap();

        let result = parse_file(&path, &SourceOptions::default()).unwrap();
        assert_eq!(result.total_rows, 121);
        assert_eq!(result.sample_rows.len(), SAMPLE_ROWS);
        assert_eq!(result.sample_rows[49]["name"], "n49");
        assert_eq!(
            result.row_defects,
            vec![RowDefect {
                row: 122,
                message: "row has 1 cell, the header has 2".into()
            }]
        );

        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["sourceColumns"], serde_json::json!(["id", "name"]));
        assert_eq!(json["totalRows"], 121);
        assert_eq!(json["fileType"], "csv");
        assert_eq!(json["fileName"], "many.csv");
        assert_eq!(json["encoding"], "utf-8");
        assert_eq!(json["delimiter"], ",");
        assert_eq!(json["rowDefects"][0]["row"], 122);
        assert!(json.get("sheetNames").is_none() && json.get("sheet").is_none());
        let back: ParseResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }
}
