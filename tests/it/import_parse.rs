//! Step 1 of spec 002 (parse) through the library: the sample files of `sample-data/import/`,
//! their encodings and delimiters, ragged rows, limits and unreadable files. No storage involved.

use std::path::{Path, PathBuf};

use recordport::Error;
use recordport::import::{
    FileType, ParseResult, RowDefect, SourceLimits, SourceOptions, open, parse_file,
};
use serde_json::{Map, Value, json};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data/import")
        .join(name)
}

fn parse(name: &str) -> ParseResult {
    parse_file(&sample(name), &SourceOptions::default()).unwrap()
}

fn parse_with_limits(name: &str, limits: SourceLimits) -> Error {
    let options = SourceOptions {
        limits,
        ..SourceOptions::default()
    };
    parse_file(&sample(name), &options).unwrap_err()
}

fn row(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

const CONTACT_COLUMNS: [&str; 12] = [
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "Job Title",
    "Deal Value",
    "Status",
    "Last Contacted",
    "City",
    "Country",
    "Notes",
];

#[test]
fn utf8_contacts() {
    let result = parse("contacts.csv");
    assert_eq!(result.source_columns, CONTACT_COLUMNS);
    assert_eq!(result.total_rows, 52);
    assert_eq!(result.sample_rows.len(), 50);
    assert_eq!(result.file_type, FileType::Csv);
    assert_eq!(result.file_name, "contacts.csv");
    assert_eq!(result.encoding.as_deref(), Some("utf-8"));
    assert_eq!(result.delimiter.as_deref(), Some(","));
    assert!(result.sheet_names.is_empty() && result.sheet.is_none());
    assert!(result.row_defects.is_empty());

    assert_eq!(
        result.sample_rows[0],
        row(json!({
            "First Name": "Ada", "Last Name": "Lovelace", "Email": "ada.lovelace@acme.com",
            "Phone": "+1 (212) 555-0100", "Company": "Acme Corporation",
            "Job Title": "VP of Engineering", "Deal Value": "$500", "Status": "lead",
            "Last Contacted": "2024-01-01", "City": "New York", "Country": "United States",
            "Notes": ""
        }))
    );
    // Quoted cells: doubled quotes, an embedded delimiter, embedded line breaks.
    assert_eq!(
        result.sample_rows[2]["Notes"],
        "Met at the \"AI\" meetup; follow up in Q2."
    );
    assert_eq!(result.sample_rows[3]["Deal Value"], "$57,500");
    assert_eq!(
        result.sample_rows[4]["Notes"],
        "Prefers email, not calls.\nAsk about the Madrid office, budget approved in March."
    );
    assert_eq!(
        result.sample_rows[11]["Notes"],
        "Said \"call me in June\"\nThen: renewal, upsell"
    );
    // The row after a multi-line record is read whole.
    assert_eq!(result.sample_rows[5]["First Name"], "Françoise");
    assert_eq!(result.sample_rows[5]["Company"], "Müller & Söhne KG");
}

#[test]
fn windows_1252_semicolon_contacts_decode() {
    let result = parse("contacts-windows1252.csv");
    assert_eq!(result.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(result.delimiter.as_deref(), Some(";"));
    assert_eq!(result.source_columns, CONTACT_COLUMNS);
    assert_eq!(result.total_rows, 52);
    let rows = &result.sample_rows;
    assert_eq!(
        (&rows[4]["First Name"], &rows[4]["Last Name"]),
        (&json!("José"), &json!("García"))
    );
    assert_eq!(rows[5]["First Name"], "Françoise");
    assert_eq!(rows[6]["Last Name"], "Müller");
    assert_eq!(rows[4]["Deal Value"], "26.500,00 €");
    assert_eq!(rows[4]["City"], "København");
}

#[test]
fn utf16_tab_contacts_decode() {
    let result = parse("contacts-utf16.csv");
    assert_eq!(result.encoding.as_deref(), Some("utf-16le"));
    assert_eq!(result.delimiter.as_deref(), Some("\t"));
    assert_eq!(result.source_columns, CONTACT_COLUMNS);
    assert_eq!(result.total_rows, 52);
    assert_eq!(result.sample_rows[6]["First Name"], "Jürgen");
    assert_eq!(result.sample_rows[6]["Last Name"], "Müller");
}

#[test]
fn the_three_encodings_give_the_same_rows() {
    let utf8 = parse("contacts.csv");
    for name in ["contacts-windows1252.csv", "contacts-utf16.csv"] {
        let other = parse(name);
        assert_eq!(other.source_columns, utf8.source_columns, "{name}");
        assert_eq!(other.total_rows, utf8.total_rows, "{name}");
        assert_eq!(other.sample_rows, utf8.sample_rows, "{name}");
    }
}

#[test]
fn streaming_rows_have_spreadsheet_row_numbers() {
    let mut source = open(&sample("contacts.csv"), &SourceOptions::default()).unwrap();
    assert_eq!(source.columns(), CONTACT_COLUMNS);
    let mut numbers = Vec::new();
    loop {
        let chunk = source.next_chunk(7).unwrap();
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= 7);
        for row in chunk {
            assert_eq!(row.cells.len(), CONTACT_COLUMNS.len());
            assert_eq!(row.defect, None);
            numbers.push(row.row_number);
        }
    }
    // Multi-line records count as one row each: data rows are 2..=53.
    assert_eq!(numbers, (2..=53).collect::<Vec<u64>>());
    let info = source.describe();
    assert_eq!(info.delimiter, Some(','));
    assert_eq!(info.encoding.as_deref(), Some("utf-8"));
}

#[test]
fn ragged_rows_are_reported_with_their_row_numbers() {
    let result = parse("ragged.csv");
    assert_eq!(result.source_columns, ["Name", "Email", "Phone", "Company"]);
    // Blank lines (row 4) and a row of empty cells (row 7) are not data.
    assert_eq!(result.total_rows, 6);
    let defect = |row, message: &str| RowDefect {
        row,
        message: message.to_string(),
    };
    assert_eq!(
        result.row_defects,
        vec![
            defect(3, "row has 2 cells, the header has 4"),
            defect(5, "row has 6 cells, the header has 4"),
            defect(8, "row has 5 cells, the header has 4"),
            defect(9, "row has 1 cell, the header has 4"),
        ]
    );
    assert_eq!(
        result.sample_rows[1],
        row(
            json!({"Name": "Grace Hopper", "Email": "grace@globex.de", "Phone": "", "Company": ""})
        )
    );
    assert_eq!(result.sample_rows[2]["Company"], "Initech");
    assert_eq!(result.sample_rows[4]["Company"], "Cirey, Inc.");
    assert_eq!(result.sample_rows[5]["Name"], "Hedy Lamarr");
}

#[test]
fn response_shape_matches_spec_002() {
    let json = serde_json::to_value(parse("contacts.csv")).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "sourceColumns",
        "sampleRows",
        "totalRows",
        "fileType",
        "fileName",
        "encoding",
        "delimiter",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    for absent in ["sheetNames", "sheet", "rowDefects"] {
        assert!(!keys.contains(&absent), "{absent} should be left out");
    }
    assert_eq!(json["fileType"], "csv");
    assert_eq!(json["totalRows"], 52);
    assert_eq!(json["sampleRows"][1]["City"], "München");
}

#[test]
fn cell_limit_names_file_row_and_column() {
    let err = parse_with_limits(
        "contacts.csv",
        SourceLimits {
            max_cell_bytes: 60,
            ..SourceLimits::default()
        },
    );
    assert_eq!(err.code(), "file_too_large");
    assert_eq!(
        err.to_string(),
        "contacts.csv: row 6, column 'Notes': the cell is 80 B, over the limit of 60 B"
    );
}

#[test]
fn column_and_file_size_limits() {
    let err = parse_with_limits(
        "contacts-utf16.csv",
        SourceLimits {
            max_columns: 10,
            ..SourceLimits::default()
        },
    );
    assert!(matches!(err, Error::TooLarge { .. }));
    assert_eq!(
        err.to_string(),
        "contacts-utf16.csv: row 1 has 12 columns, over the limit of 10"
    );

    let err = parse_with_limits(
        "contacts.csv",
        SourceLimits {
            max_file_bytes: 1024,
            ..SourceLimits::default()
        },
    );
    assert_eq!(err.http_status(), 413);
    assert_eq!(
        err.to_string(),
        "contacts.csv: the file is 6.9 KiB, over the limit of 1 KiB"
    );
}

#[test]
fn empty_file_is_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.csv");
    std::fs::write(&path, b"").unwrap();
    let err = parse_file(&path, &SourceOptions::default()).unwrap_err();
    assert_eq!(err.code(), "invalid_file");
    assert_eq!(
        err.to_string(),
        "empty.csv: the file is empty (no header row)"
    );
}

#[test]
fn header_only_file_has_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("header.csv");
    std::fs::write(&path, b"Name;Email\r\n").unwrap();
    let result = parse_file(&path, &SourceOptions::default()).unwrap();
    assert_eq!(result.source_columns, ["Name", "Email"]);
    assert_eq!(result.total_rows, 0);
    assert!(result.sample_rows.is_empty());
}

#[test]
fn unknown_and_unreadable_types() {
    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("contacts.docx");
    std::fs::write(&docx, b"PK").unwrap();
    match parse_file(&docx, &SourceOptions::default()).unwrap_err() {
        Error::Source {
            file,
            row,
            column,
            message,
        } => {
            assert_eq!(file, "contacts.docx");
            assert_eq!((row, column), (None, None));
            assert!(
                message.starts_with("unsupported file type: '.docx'"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    let xlsx = dir.path().join("contacts.xlsx");
    std::fs::write(&xlsx, b"PK").unwrap();
    let err = parse_file(&xlsx, &SourceOptions::default()).unwrap_err();
    assert_eq!(err.code(), "invalid_file");
    let message = err.to_string();
    assert!(
        message.starts_with("contacts.xlsx: the file cannot be read as an XLSX workbook"),
        "{message}"
    );
}

#[test]
fn missing_file_is_the_users_error() {
    let err = parse_file(&sample("no-such-file.csv"), &SourceOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err:?}");
    assert_eq!(err.code(), "invalid_file");
    assert!(err.to_string().contains("no-such-file.csv"), "{err}");
}
