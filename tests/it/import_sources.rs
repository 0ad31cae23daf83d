//! The workbook (XLSX, XLS, ODS) and Parquet sources through the library and the CLI: the sample
//! files of `sample-data/import/` read the same as `contacts.csv`, sheets, chunks, damaged files;
//! and the duplicates and defects samples hold what their README says. No storage involved.

use std::path::{Path, PathBuf};

use recordport::Error;
use recordport::import::{FileType, SourceOptions, SourceRow, open, parse_file};
use recordport::schema::value::{ValueOptions, parse_text};
use recordport::schema::{FieldDef, ModuleDef};
use serde_json::Value;

use crate::common::sample_modules;

const TYPED_FORMATS: [&str; 4] = ["xlsx", "xls", "ods", "parquet"];
const WORKBOOKS: [&str; 3] = ["xlsx", "xls", "ods"];
/// The columns the typed files store as numbers and dates; all others are text.
const DEAL_VALUE: &str = "Deal Value";
const LAST_CONTACTED: &str = "Last Contacted";

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data/import")
        .join(name)
}

/// Columns and every row of a file, read in chunks of `chunk` rows.
fn read_all(path: &Path, options: &SourceOptions, chunk: usize) -> (Vec<String>, Vec<SourceRow>) {
    let mut source = open(path, options).unwrap();
    let columns = source.columns().to_vec();
    let mut rows = Vec::new();
    loop {
        let next = source.next_chunk(chunk).unwrap();
        if next.is_empty() {
            return (columns, rows);
        }
        assert!(next.len() <= chunk);
        rows.extend(next);
    }
}

fn contacts_module() -> ModuleDef {
    sample_modules()
        .into_iter()
        .find(|m| m.slug == "contacts")
        .expect("contacts module")
}

fn field(module: &ModuleDef, slug: &str) -> FieldDef {
    module
        .fields
        .iter()
        .find(|f| f.slug == slug)
        .cloned()
        .expect("field")
}

/// The sample files' columns and the contacts fields they hold values of.
const COLUMN_FIELDS: [(&str, &str); 10] = [
    ("First Name", "first_name"),
    ("Last Name", "last_name"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Company", "company"),
    ("Job Title", "job_title"),
    ("Deal Value", "deal_value"),
    ("Status", "status"),
    ("Last Contacted", "last_contacted"),
    ("Notes", "notes"),
];

/// The CSV's dotted dates are day-first ("09.01.2024" is 9 January), which is how the typed
/// files store them.
fn day_first() -> ValueOptions {
    ValueOptions {
        day_first: true,
        ..ValueOptions::default()
    }
}

#[test]
fn typed_files_read_like_the_csv() {
    let (csv_columns, csv_rows) = read_all(&sample("contacts.csv"), &SourceOptions::default(), 50);
    assert_eq!(csv_rows.len(), 52);
    let module = contacts_module();
    let opts = day_first();
    for format in TYPED_FORMATS {
        let name = format!("contacts.{format}");
        let (columns, rows) = read_all(&sample(&name), &SourceOptions::default(), 50);
        assert_eq!(columns, csv_columns, "{name}");
        assert_eq!(rows.len(), csv_rows.len(), "{name}");
        for (row, csv_row) in rows.iter().zip(&csv_rows) {
            assert_eq!(row.row_number, csv_row.row_number, "{name}");
            assert_eq!(row.defect, None, "{name} row {}", row.row_number);
            for (i, column) in columns.iter().enumerate() {
                let (got, want) = (&row.cells[i], &csv_row.cells[i]);
                if column != DEAL_VALUE && column != LAST_CONTACTED {
                    assert_eq!(got, want, "{name} row {} {column}", row.row_number);
                    continue;
                }
                // Typed cells read as other text, but must store the same value.
                let slug = COLUMN_FIELDS
                    .iter()
                    .find(|(c, _)| c == column)
                    .map(|(_, slug)| *slug)
                    .unwrap();
                let field = field(&module, slug);
                assert_eq!(
                    parse_text(&field, got, &opts).unwrap(),
                    parse_text(&field, want, &opts).unwrap(),
                    "{name} row {} {column}: {got:?} vs CSV {want:?}",
                    row.row_number
                );
            }
        }
        let deal = columns.iter().position(|c| c == DEAL_VALUE).unwrap();
        let contacted = columns.iter().position(|c| c == LAST_CONTACTED).unwrap();
        assert_eq!(rows[0].cells[deal], "500", "{name}");
        assert_eq!(rows[0].cells[contacted], "2024-01-01", "{name}");
        // "119.500,00 €" in the CSV.
        assert_eq!(rows[1].cells[deal], "119500", "{name}");
        // "09.01.2024" in the CSV: a real date, day first.
        assert_eq!(rows[24].cells[contacted], "2024-01-09", "{name}");
    }
}

#[test]
fn chunks_of_seven_hand_out_every_row_in_order() {
    for format in TYPED_FORMATS {
        let name = format!("contacts.{format}");
        let mut source = open(&sample(&name), &SourceOptions::default()).unwrap();
        let mut numbers = Vec::new();
        let mut chunks = 0;
        loop {
            let chunk = source.next_chunk(7).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= 7, "{name}");
            chunks += 1;
            numbers.extend(chunk.iter().map(|r| r.row_number));
        }
        assert_eq!(chunks, 8, "{name}: 52 rows in chunks of 7");
        assert_eq!(numbers, (2..=53).collect::<Vec<u64>>(), "{name}");
        assert!(source.next_chunk(7).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn parse_reports_file_type_and_sheets() {
    for (format, file_type) in [
        ("xlsx", FileType::Xlsx),
        ("xls", FileType::Xls),
        ("ods", FileType::Ods),
    ] {
        let result = parse_file(
            &sample(&format!("contacts.{format}")),
            &SourceOptions::default(),
        )
        .unwrap();
        assert_eq!(result.file_type, file_type);
        assert_eq!(result.total_rows, 52);
        assert_eq!(result.sample_rows.len(), 50);
        assert_eq!(result.sheet_names, ["Contacts", "Summary"]);
        assert_eq!(result.sheet.as_deref(), Some("Contacts"));
        assert_eq!((result.encoding, result.delimiter), (None, None));
        assert!(result.row_defects.is_empty());
        let json = serde_json::to_value(
            parse_file(
                &sample(&format!("contacts.{format}")),
                &SourceOptions::default(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(json["fileType"], format);
        assert_eq!(
            json["sheetNames"],
            serde_json::json!(["Contacts", "Summary"])
        );
        assert_eq!(json["sheet"], "Contacts");
    }
    let result = parse_file(&sample("contacts.parquet"), &SourceOptions::default()).unwrap();
    assert_eq!(result.file_type, FileType::Parquet);
    assert_eq!(result.total_rows, 52);
    assert!(result.sheet_names.is_empty() && result.sheet.is_none());
}

#[test]
fn sheet_selection() {
    for format in WORKBOOKS {
        let name = format!("contacts.{format}");
        // Excel compares sheet names without case, so the source does too.
        for wanted in ["Summary", "summary"] {
            let options = SourceOptions {
                sheet: Some(wanted.into()),
                ..SourceOptions::default()
            };
            let (columns, rows) = read_all(&sample(&name), &options, 10);
            assert_eq!(columns, ["Status", "Contacts"], "{name}");
            let cells: Vec<_> = rows.iter().map(|r| r.cells.join("=")).collect();
            assert_eq!(
                cells,
                ["active=13", "churned=13", "customer=13", "lead=13"],
                "{name}"
            );
            assert_eq!(rows[0].row_number, 2);
            let source = open(&sample(&name), &options).unwrap();
            assert_eq!(source.describe().sheet.as_deref(), Some("Summary"));
        }

        let options = SourceOptions {
            sheet: Some("Deals".into()),
            ..SourceOptions::default()
        };
        match open(&sample(&name), &options).err().unwrap() {
            Error::Source { file, message, .. } => {
                assert_eq!(file, name);
                assert_eq!(
                    message,
                    "there is no sheet 'Deals'; the sheets are 'Contacts', 'Summary'"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn parquet_nulls_are_empty_cells() {
    let (columns, rows) = read_all(&sample("contacts.parquet"), &SourceOptions::default(), 100);
    let notes = columns.iter().position(|c| c == "Notes").unwrap();
    let contacted = columns.iter().position(|c| c == LAST_CONTACTED).unwrap();
    // Ada has no notes; Jürgen (row 8) was never contacted: both null in the file.
    assert_eq!(rows[0].cells[notes], "");
    assert_eq!(rows[6].row_number, 8);
    assert_eq!(rows[6].cells[0], "Jürgen");
    assert_eq!(rows[6].cells[contacted], "");
}

#[test]
fn damaged_files_are_source_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic junk, and the first half of a real workbook (a zip without its directory).
    let junk: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let xlsx = std::fs::read(sample("contacts.xlsx")).unwrap();
    let cases = [
        ("random.xlsx", junk.clone()),
        ("random.xls", junk.clone()),
        ("random.ods", junk.clone()),
        ("random.parquet", junk.clone()),
        ("truncated.xlsx", xlsx[..xlsx.len() / 2].to_vec()),
        ("empty.xlsx", Vec::new()),
        ("empty.parquet", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = parse_file(&path, &SourceOptions::default()).unwrap_err();
        match &err {
            Error::Source { file, .. } => assert_eq!(file, name),
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert_eq!(err.code(), "invalid_file", "{name}");
        assert!(err.to_string().starts_with(&format!("{name}: ")), "{err}");
    }
}

#[test]
fn defects_sample_has_one_defect_per_row() {
    let path = sample("contacts-defects.csv");
    let module = contacts_module();
    let opts = ValueOptions::default();
    let (columns, rows) = read_all(&path, &SourceOptions::default(), 100);
    // (row, the one column with a problem), as sample-data/import/README.md lists them.
    let expected: Vec<(u64, Option<&str>)> = vec![
        (2, None),
        (3, Some("Email")),
        (4, Some("Phone")),
        (5, Some("Last Contacted")),
        (6, Some("Deal Value")),
        (7, Some("Status")),
        (8, Some("(shape)")),
        (9, Some("(shape)")),
        (10, Some("First Name")),
        (11, None),
    ];
    let mut got = Vec::new();
    for row in &rows {
        let mut problems = Vec::new();
        if row.defect.is_some() {
            problems.push("(shape)");
        }
        for (column, slug) in COLUMN_FIELDS {
            let i = columns.iter().position(|c| c == column).unwrap();
            if parse_text(&field(&module, slug), &row.cells[i], &opts).is_err() {
                problems.push(column);
            }
        }
        assert!(problems.len() <= 1, "row {}: {problems:?}", row.row_number);
        got.push((row.row_number, problems.first().copied()));
    }
    assert_eq!(got, expected);
    let parsed = parse_file(&path, &SourceOptions::default()).unwrap();
    let defect_rows: Vec<_> = parsed.row_defects.iter().map(|d| d.row).collect();
    assert_eq!(defect_rows, [8, 9]);
}

#[test]
fn duplicates_sample_repeats_what_the_readme_says() {
    let module = contacts_module();
    let email = field(&module, "email");
    let opts = ValueOptions::default();
    let key = |text: &str| match parse_text(&email, text, &opts).unwrap() {
        Some(Value::String(address)) => address,
        other => panic!("{text}: {other:?}"),
    };
    let (columns, known) = read_all(&sample("contacts.csv"), &SourceOptions::default(), 100);
    let at = columns.iter().position(|c| c == "Email").unwrap();
    let known: Vec<String> = known.iter().map(|r| key(&r.cells[at])).collect();
    let (_, rows) = read_all(
        &sample("contacts-duplicates.csv"),
        &SourceOptions::default(),
        100,
    );
    assert_eq!(rows.len(), 20);
    // (row, the earlier row of the same file it repeats), and rows repeating contacts.csv.
    let mut in_file = Vec::new();
    let mut of_contacts = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.defect, None);
        let this = key(&row.cells[at]);
        if let Some(earlier) = rows[..i].iter().find(|r| key(&r.cells[at]) == this) {
            in_file.push((row.row_number, earlier.row_number));
        }
        if known.contains(&this) {
            of_contacts.push(row.row_number);
        }
    }
    assert_eq!(
        in_file,
        [(6, 2), (7, 3), (10, 5), (13, 8), (15, 2), (19, 11)]
    );
    assert_eq!(of_contacts, [4, 9, 12, 17]);
}

#[test]
fn cli_parses_a_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let mut cmd = assert_cmd::Command::cargo_bin("recordport").expect("recordport binary");
    for var in ["RECORDPORT_DATABASE_URL", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    let file = sample("contacts.xlsx");
    let out = cmd
        .args(["--db", &db, "import", "parse"])
        .arg(&file)
        .arg("--json")
        .output()
        .expect("run recordport");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["success"], true);
    assert_eq!(json["data"]["fileType"], "xlsx");
    assert_eq!(json["data"]["fileName"], "contacts.xlsx");
    assert_eq!(json["data"]["totalRows"], 52);
    assert_eq!(json["data"]["sheet"], "Contacts");
    assert_eq!(json["data"]["sampleRows"][0]["Deal Value"], "500");
}
