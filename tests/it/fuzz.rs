//! Fuzz targets on stable Rust (issue 17): proptest-driven, through the public library API.
//!
//! Each target runs `RECORDPORT_FUZZ_CASES` generated inputs (default 300, so `cargo test` stays
//! quick; FUZZING.md says how the long runs were made and what they found) and asserts that the
//! code under test never panics and that every error it returns is the caller's (a 4xx status:
//! a file or request to fix), never an internal one. Inputs are built from the pieces that
//! matter to each parser (quotes, line ends, delimiters, bad UTF-8 for CSV; byte flips and
//! truncations of the sample workbooks and Parquet file, and of small XLSX and Parquet seeds
//! written here; JSON filter trees for the query planner), so the cases reach past the first
//! check. The long runs use `--profile fuzz` (optimised, with debug assertions and overflow
//! checks).

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use recordport::import::{SourceLimits, SourceOptions, open};
use recordport::records::ListQuery;
use recordport::schema::value::{ValueOptions, parse_text};
use serde_json::{Value, json};

use crate::common::{TestDb, sample_dir, sample_modules};

fn runner() -> TestRunner {
    let cases = std::env::var("RECORDPORT_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Reads every row of `path`; checks each row has one cell per column.
fn read_all(path: &Path) -> recordport::Result<u64> {
    read_all_within(path, SourceLimits::default())
}

/// [`read_all`] within `limits`.
fn read_all_within(path: &Path, limits: SourceLimits) -> recordport::Result<u64> {
    let options = SourceOptions {
        limits,
        ..SourceOptions::default()
    };
    let mut source = open(path, &options)?;
    let width = source.columns().len();
    let mut rows = 0;
    loop {
        let chunk = source.next_chunk(256)?;
        if chunk.is_empty() {
            return Ok(rows);
        }
        for row in &chunk {
            assert_eq!(row.cells.len(), width, "{row:?}");
        }
        rows += chunk.len() as u64;
    }
}

/// An error, if any, must be the caller's to fix.
fn assert_callers(result: recordport::Result<impl Sized>, input: &dyn std::fmt::Debug) {
    if let Err(error) = result {
        assert!(
            error.http_status() < 500,
            "internal error {error:?} for {input:?}"
        );
    }
}

/// CSV: bytes from the pieces a CSV reader decides on.
#[test]
fn fuzz_csv_source() {
    const PIECES: &[&[u8]] = &[
        b"a",
        b"Name",
        b"bc",
        b",",
        b";",
        b"\t",
        b"|",
        b"\"",
        b"\"\"",
        b"\r",
        b"\n",
        b"\r\n",
        "é".as_bytes(),
        b"\xff",
        b"\xc3",
        b"\x00",
        b"=1",
        b" ",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.csv");
    let input =
        proptest::collection::vec(select(PIECES), 0..200).prop_map(|pieces| pieces.concat());
    runner()
        .run(&input, |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            assert_callers(read_all(&path), &String::from_utf8_lossy(&bytes));
            Ok(())
        })
        .unwrap();
}

/// A seed file with up to eight bytes changed, or cut short; the seed is picked from `seeds`.
fn mutated(seeds: Vec<&'static [u8]>) -> impl Strategy<Value = Vec<u8>> {
    select(seeds).prop_flat_map(|seed| {
        let len = seed.len();
        (
            Just(seed),
            proptest::collection::vec((0..len, any::<u8>()), 1..8),
            proptest::option::weighted(0.2, 0..len),
        )
            .prop_map(|(seed, flips, cut)| {
                let mut bytes = seed.to_vec();
                for (at, byte) in flips {
                    bytes[at] = byte;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut);
                }
                bytes
            })
    })
}

/// A workbook of three short rows, written by the same library as the benchmark's files: a
/// smaller seed than the sample, so each case is cheaper and a flipped byte more often lands in
/// a part that matters (the sheet, the shared strings) rather than in styles.
fn small_xlsx() -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, header) in ["Name", "Email", "Deal value"].into_iter().enumerate() {
        sheet.write_string(0, col as u16, header).unwrap();
    }
    for row in 1..4u32 {
        sheet.write_string(row, 0, format!("Ann {row}")).unwrap();
        sheet
            .write_string(row, 1, format!("ann{row}@example.com"))
            .unwrap();
        sheet.write_number(row, 2, f64::from(row) * 1.5).unwrap();
    }
    workbook.save_to_buffer().unwrap()
}

/// Three rows of three columns (text, nullable integer, float) as Parquet, one file per
/// compression the source reads (none, Snappy, Zstandard): small seeds, so flips hit page
/// headers, dictionaries and compressed pages more often than in the sample.
fn small_parquets() -> Vec<Vec<u8>> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    let batch = RecordBatch::try_from_iter([
        (
            "Name",
            Arc::new(StringArray::from(vec!["Ann", "Bob", "Cy"])) as ArrayRef,
        ),
        (
            "Count",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])) as ArrayRef,
        ),
        (
            "Deal value",
            Arc::new(Float64Array::from(vec![1.5, 2.0, 1e9])) as ArrayRef,
        ),
    ])
    .unwrap();
    [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
    ]
    .into_iter()
    .map(|compression| {
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let mut bytes = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        bytes
    })
    .collect()
}

/// Where inputs that made a target fail are kept, as regression cases
/// ([`fuzz_regressions_stay_fixed`]).
fn regressions_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

/// Mutations of the sample file of `extension` and of `extra_seeds`, read to the end within
/// `limits`.
fn fuzz_binary(extension: &str, extra_seeds: Vec<Vec<u8>>, limits: SourceLimits) {
    let sample = std::fs::read(sample_dir().join(format!("import/contacts.{extension}"))).unwrap();
    let seeds: Vec<&'static [u8]> = std::iter::once(sample)
        .chain(extra_seeds)
        .map(|seed| &*Box::leak(seed.into_boxed_slice()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("fuzz.{extension}"));
    let outcome = runner().run(&mutated(seeds), |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        assert_callers(read_all_within(&path, limits), &bytes.len());
        Ok(())
    });
    if let Err(proptest::test_runner::TestError::Fail(reason, bytes)) = &outcome
        && std::env::var_os("RECORDPORT_FUZZ_SAVE").is_some()
    {
        let name = format!("{extension}-{:016x}.{extension}", fxhash(bytes));
        std::fs::create_dir_all(regressions_dir()).unwrap();
        std::fs::write(regressions_dir().join(name), bytes).unwrap();
        panic!("{reason}");
    }
    outcome.unwrap();
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every input a fuzz run found failing, read again: each is refused as the caller's error.
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(regressions_dir()).unwrap() {
        let found = entry.unwrap().path();
        // A fresh copy, so the name a source shows is short and the original stays untouched.
        let extension = found.extension().unwrap().to_str().unwrap().to_string();
        let path = dir.path().join(format!("case{seen}.{extension}"));
        std::fs::copy(&found, &path).unwrap();
        assert_callers(read_all(&path), &found);
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn fuzz_xlsx_source() {
    fuzz_binary("xlsx", vec![small_xlsx()], SourceLimits::default());
}

/// XLS: safe to fuzz since `xls_guard` refuses grids, loops and text over the limits before
/// calamine allocates them. A flipped byte in a cell's row or column makes a grid of up to
/// 65,536 by 256 cells; each one under the limit is laid out (128 MiB at the default, 640 MiB
/// at the earlier 10 million, when this target ran 207 cases a second against the other
/// workbooks' 5,000). The guard compares the same sums whatever the
/// limit, so the target runs with a grid of at most 65,536 cells (a column's worth of rows),
/// and `hostile_files` covers the default's size.
#[test]
fn fuzz_xls_source() {
    let limits = SourceLimits {
        max_cells: 65_536,
        ..SourceLimits::default()
    };
    fuzz_binary("xls", Vec::new(), limits);
}

#[test]
fn fuzz_ods_source() {
    fuzz_binary("ods", Vec::new(), SourceLimits::default());
}

#[test]
fn fuzz_parquet_source() {
    fuzz_binary("parquet", small_parquets(), SourceLimits::default());
}

/// Value parsers: every field type of the sample modules, on text built from the pieces numbers,
/// dates, phones, emails and URLs are made of.
#[test]
fn fuzz_value_parsers() {
    const PIECES: &[&str] = &[
        "1", "0", "9", "-", "+", ".", ",", "e", "E", "/", ":", " ", "T", "Z", "2024", "12", "31",
        "@", "a", "x.com", "http://", "(", ")", "ext", "$", "€", "%", "true", "no", "\u{a0}", "١",
        "lead", ";", "Ω", "0x", "inf", "NaN",
    ];
    let fields: Vec<_> = sample_modules()
        .into_iter()
        .flat_map(|m| m.fields)
        .collect();
    let input = (
        0..fields.len(),
        proptest::collection::vec(select(PIECES), 0..24).prop_map(|p| p.concat()),
        any::<bool>(),
    );
    runner()
        .run(&input, |(field, text, day_first)| {
            let options = ValueOptions {
                day_first,
                ..ValueOptions::default()
            };
            let _ = parse_text(&fields[field], &text, &options);
            Ok(())
        })
        .unwrap();
}

/// A JSON filter tree of spec 000's `advancedFilter`, with names, operators and values both
/// valid and not.
fn filter_tree() -> impl Strategy<Value = Value> {
    let fields = select(vec![
        "email",
        "status",
        "deal_value",
        "last_contacted",
        "phone",
        "address",
        "account",
        "displayName",
        "createdDateTime",
        "nope",
        "",
    ]);
    let operators = select(vec![
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "contains",
        "notContains",
        "startsWith",
        "endsWith",
        "in",
        "notIn",
        "isNull",
        "isNotNull",
        "between",
        "before",
        "after",
        "like",
    ]);
    let values = prop_oneof![
        Just(json!(null)),
        Just(json!("acme")),
        Just(json!(5)),
        Just(json!(-1e308)),
        Just(json!("2024-01-15")),
        Just(json!(["a", "b"])),
        Just(json!([1])),
        Just(json!({"a": 1})),
        Just(json!("%_\\'")),
        Just(json!(true)),
    ];
    let leaf = (fields, operators, values).prop_map(|(field, operator, value)| {
        json!({"id": "c", "fieldSlug": field, "operator": operator, "value": value})
    });
    leaf.prop_recursive(4, 32, 4, |inner| {
        (
            select(vec!["AND", "OR", "and", "XOR"]),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(conjunction, conditions)| {
                json!({"id": "g", "conjunction": conjunction, "conditions": conditions})
            })
    })
}

/// Filter and query parsing, planned and run on SQLite: list parameters as a query string gives
/// them, and filter trees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_filter_and_query_parsers() {
    let db = TestDb::sqlite().await;
    let handle = tokio::runtime::Handle::current();
    let keys = select(vec![
        "search",
        "sortField",
        "sortDirection",
        "page",
        "pageSize",
        "limit",
        "cursor",
        "fields",
        "labelIds",
        "typeIds",
        "filter[email]",
        "filter[status]",
        "filter[deal_value]",
        "filter[nope]",
        "includeCount",
        "advancedFilter",
    ]);
    let texts = select(vec![
        "",
        "1",
        "0",
        "-1",
        "99999999999",
        "email",
        "deal_value",
        "asc",
        "desc",
        "sideways",
        "a b c",
        "%",
        "_",
        "\\",
        "'",
        "\"",
        "lead,active",
        "eyJmIjoxfQ",
        "not base64!",
        "null",
        "{",
        "[]",
        "true",
    ]);
    let value = prop_oneof![
        texts.prop_map(str::to_string),
        filter_tree().prop_map(|tree| tree.to_string()),
        filter_tree().prop_map(|tree| json!({"root": tree}).to_string()),
    ];
    let params = proptest::collection::vec((keys, value), 0..5);
    tokio::task::block_in_place(|| {
        runner()
            .run(&params, |params| {
                let query = ListQuery::from_params(params.iter().map(|(k, v)| (*k, v.as_str())));
                match query {
                    Err(error) => assert_callers(Err::<(), _>(error), &params),
                    Ok(query) => {
                        let listed = handle.block_on(db.service.list("contacts", &query));
                        assert_callers(listed, &params);
                    }
                }
                Ok(())
            })
            .unwrap();
    });
}
