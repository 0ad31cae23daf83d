//! Rows given inline, as spec 002's validate and execute bodies carry them (`rows: object[]`),
//! written to a CSV file so they go through the same reader, pipeline and job as an uploaded
//! file.
//!
//! In: rows keyed by column name. Out: a UTF-8, comma-separated file with a header row, and the
//! [`SourceOptions`] that read it back exactly, numbering the rows as spec 002 does (the n-th
//! element of `rows` is row n). Guarantees: the columns are every key of any
//! row (the first row's keys, then keys that later rows add; a JSON object's keys come sorted,
//! and the mapping goes by name, so the order carries no meaning); a key a row lacks is an
//! empty cell.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::import::source::{RowNumbers, SourceOptions};

/// Writes `rows` to `path` (see the module note); returns the number of rows written.
pub fn write_rows_csv(rows: &[Map<String, Value>], path: &Path) -> Result<u64> {
    if rows.is_empty() {
        return Err(Error::invalid_field(
            "rows",
            "must hold at least one row",
            None,
        ));
    }
    let mut columns: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        for key in row.keys() {
            if seen.insert(key.as_str()) {
                columns.push(key);
            }
        }
    }
    let io = |e: csv::Error| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    };
    let mut writer = csv::Writer::from_path(path).map_err(io)?;
    writer.write_record(&columns).map_err(io)?;
    for row in rows {
        writer
            .write_record(columns.iter().map(|c| cell_text(row.get(*c))))
            .map_err(io)?;
    }
    writer.flush().map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(rows.len() as u64)
}

/// How to read a file written by [`write_rows_csv`]: nothing left to detection, and rows
/// numbered as spec 002 numbers them (the n-th element of `rows` is row n).
pub fn source_options() -> SourceOptions {
    SourceOptions {
        encoding: Some("utf-8".to_string()),
        delimiter: Some(','),
        row_numbers: RowNumbers::DataRows,
        ..SourceOptions::default()
    }
}

fn cell_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::parse_file;
    use serde_json::json;

    #[test]
    fn rows_round_trip_through_the_csv_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let rows: Vec<Map<String, Value>> = serde_json::from_value(json!([
            {"Name": "John Smith", "Email": "john@example.com"},
            {"Name": "Jane, \"JD\" Doe", "Deal": 1500.5, "Active": true, "Email": null}
        ]))
        .unwrap();
        assert_eq!(write_rows_csv(&rows, &path).unwrap(), 2);
        let parsed = parse_file(&path, &source_options()).unwrap();
        assert_eq!(parsed.source_columns, ["Email", "Name", "Active", "Deal"]);
        assert_eq!(parsed.total_rows, 2);
        assert_eq!(parsed.sample_rows[1]["Name"], "Jane, \"JD\" Doe");
        assert_eq!(parsed.sample_rows[1]["Deal"], "1500.5");
        assert_eq!(parsed.sample_rows[1]["Email"], "");
        assert_eq!(parsed.sample_rows[0]["Active"], "");
        assert!(write_rows_csv(&[], &path).is_err());
    }
}
