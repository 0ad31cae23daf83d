//! Sequential equivalence (DESIGN.md): an import gives the same records, counts, errors and
//! ledger whatever the chunk size and the number of mapping threads. Property test over random
//! small files (duplicates, letter-case variants, blanks, invalid values, ragged rows), random
//! strategies, merge modes and match fields, each compared with the same import done one row per
//! chunk on one thread into an identically seeded store; then both are rolled back to the seed.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use recordport::import::mapping::ColumnMapping;
use recordport::import::{
    DuplicateStrategy, ImportRequest, ImportResult, MergeMode, PipelineOptions, RowError,
    RunOptions, execute_file, get_job, rollback,
};
use recordport::records::{ListQuery, Record, RecordInput};
use serde_json::{Value, json};

use crate::common::{TestDb, actor, pipeline};

const FIRST_NAMES: &[&str] = &["Ann", "ann", "Bob", "", "Cy"];
const LAST_NAMES: &[&str] = &["Lee", "", "Moss", "Ng"];
/// A small pool, so rows repeat each other and the seeded records (a@, b@ and z@).
const EMAILS: &[&str] = &[
    "a@x.com",
    "A@X.COM",
    " b@x.com ",
    "b@x.com",
    "c@x.com",
    "C@x.Com",
    "d@x.com",
    "",
    "",
    "not-an-email",
    "z@x.com",
];
const PHONES: &[&str] = &[
    "",
    "",
    "212-555-0100",
    "+1 (212) 555-0100",
    "+1 212 555 0199",
    "(312) 555-0142",
    "12",
];
const STATUSES: &[&str] = &["", "lead", "Active", "customer", "prospect"];
const STRATEGIES: &[DuplicateStrategy] = &[
    DuplicateStrategy::Skip,
    DuplicateStrategy::Update,
    DuplicateStrategy::Create,
];
const MODES: &[MergeMode] = &[
    MergeMode::FillEmpty,
    MergeMode::Overwrite,
    MergeMode::PreferImport,
];
const MATCH_FIELDS: &[&[&str]] = &[&[], &["email"], &["phone"], &["email", "phone"]];

#[derive(Debug, Clone)]
struct Row {
    cells: [&'static str; 5],
    /// One cell too many: a malformed row.
    ragged: bool,
}

#[derive(Debug, Clone)]
struct Case {
    rows: Vec<Row>,
    strategy: DuplicateStrategy,
    mode: MergeMode,
    match_fields: &'static [&'static str],
    skip_validation: bool,
    chunk_rows: usize,
    /// Rows per write transaction: several chunks share one.
    commit_rows: usize,
    threads: usize,
}

impl Case {
    /// Rows of the file that are rows of data: a line of empty cells is no row.
    fn data_rows(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| r.ragged || r.cells.iter().any(|c| !c.is_empty()))
            .count() as u64
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        select(FIRST_NAMES),
        select(LAST_NAMES),
        select(EMAILS),
        select(PHONES),
        select(STATUSES),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(first, last, email, phone, status, ragged)| Row {
            cells: [first, last, email, phone, status],
            ragged,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(row(), 5..=40),
        select(STRATEGIES),
        select(MODES),
        select(MATCH_FIELDS),
        prop::bool::weighted(0.25),
        1..=7usize,
        1..=15usize,
        1..=3usize,
    )
        .prop_map(
            |(
                rows,
                strategy,
                mode,
                match_fields,
                skip_validation,
                chunk_rows,
                commit_rows,
                threads,
            )| {
                Case {
                    rows,
                    strategy,
                    mode,
                    match_fields,
                    skip_validation,
                    chunk_rows,
                    commit_rows,
                    threads,
                }
            },
        )
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(path)
        .expect("create CSV");
    writer
        .write_record(["First Name", "Last Name", "Email", "Phone", "Status"])
        .unwrap();
    for row in rows {
        let mut cells = row.cells.to_vec();
        if row.ragged {
            cells.push("extra");
        }
        writer.write_record(&cells).unwrap();
    }
    writer.flush().unwrap();
}

fn request(case: &Case) -> ImportRequest {
    let mapping = [
        ("First Name", "first_name"),
        ("Last Name", "last_name"),
        ("Email", "email"),
        ("Phone", "phone"),
        ("Status", "status"),
    ]
    .iter()
    .map(|(column, field)| ColumnMapping {
        value_map: None,
        source_column: column.to_string(),
        target_field_slug: Some(field.to_string()),
        ignored: false,
        value_type: None,
        address_part: None,
    })
    .collect();
    ImportRequest {
        column_mapping: mapping,
        duplicate_strategy: case.strategy,
        duplicate_match_fields: case.match_fields.iter().map(|f| f.to_string()).collect(),
        merge_mode: case.mode,
        skip_validation: case.skip_validation,
        ..ImportRequest::default()
    }
}

/// Three records every store starts with: two the file's emails can match, one only phones can.
async fn seed(db: &TestDb) {
    for fields in [
        json!({"first_name": "Seed", "last_name": "A", "email": "a@x.com", "status": "lead"}),
        json!({"first_name": "Seed", "last_name": "B", "email": "b@x.com",
               "phone": "212-555-0100", "job_title": "Keeps"}),
        json!({"last_name": "Phone only", "phone": "(312) 555-0142"}),
    ] {
        let input = RecordInput::from_json(json!({ "fields": fields }), "seed").unwrap();
        db.service
            .create("contacts", input, &actor())
            .await
            .expect("seed record");
    }
}

async fn all_records(db: &TestDb) -> Vec<Record> {
    let query = ListQuery {
        page_size: Some(100),
        ..ListQuery::default()
    };
    let mut records = db.service.list("contacts", &query).await.unwrap().records;
    assert!(records.len() < 100);
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}

/// Everything an import decided, with record ids replaced by their rank among the store's
/// records (ids are time-ordered, so the rank is the order in which records were made).
#[derive(Debug, PartialEq)]
struct Outcome {
    counts: [u64; 7],
    created: Vec<usize>,
    errors: Vec<RowError>,
    warnings: Vec<(u64, Option<String>, String)>,
    /// (display name, fields, version) in id order.
    records: Vec<(String, Value, i64)>,
    processed_rows: u64,
    /// Deleted and restored counts, and the conflicts (records as ranks).
    rollback: (u64, u64, Vec<(usize, String)>),
    /// The store after rollback, without what the rollback itself changes.
    after_rollback: Vec<(String, Value)>,
}

async fn run(db: &TestDb, dir: &Path, case: &Case, pipeline: PipelineOptions) -> Outcome {
    let path = dir.join(format!(
        "rows-{}-{}-{}.csv",
        pipeline.chunk_rows, pipeline.commit.rows, pipeline.threads
    ));
    write_csv(&path, &case.rows);
    let mut options = RunOptions::new(actor());
    options.pipeline = pipeline;
    let result: ImportResult =
        execute_file(&db.service, "contacts", &path, &request(case), &options)
            .await
            .expect("import");
    assert_eq!(
        result.total_rows,
        result.created_rows
            + result.updated_rows
            + result.unchanged_rows
            + result.skipped_rows
            + result.error_rows
    );
    assert_eq!(result.total_rows, case.data_rows());
    let records = all_records(db).await;
    let rank: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let canonical = |text: &str| -> String {
        let mut out = text.to_string();
        for (id, i) in &rank {
            out = out.replace(id.as_str(), &format!("#{i}"));
        }
        out
    };
    let job_id = result.import_job_id.clone().expect("job id");
    let job = get_job(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &job_id,
    )
    .await
    .unwrap();
    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &job_id,
        &actor(),
    )
    .await
    .unwrap();
    Outcome {
        counts: [
            result.total_rows,
            result.success_rows,
            result.created_rows,
            result.updated_rows,
            result.unchanged_rows,
            result.skipped_rows,
            result.error_rows,
        ],
        created: result
            .created_record_ids
            .iter()
            .map(|id| rank[id])
            .collect(),
        errors: result
            .errors
            .iter()
            .map(|e| RowError {
                error: canonical(&e.error),
                ..e.clone()
            })
            .collect(),
        warnings: result
            .warnings
            .iter()
            .map(|e| (e.row, e.field.clone(), e.error.clone()))
            .collect(),
        records: records
            .iter()
            .map(|r| {
                (
                    r.display_name.clone(),
                    Value::Object(r.fields.clone()),
                    r.version,
                )
            })
            .collect(),
        processed_rows: job.processed_rows,
        rollback: (
            outcome.deleted_count,
            outcome.restored_count,
            outcome
                .conflicts
                .iter()
                .map(|c| (rank[&c.record_id], canonical(&c.reason)))
                .collect(),
        ),
        after_rollback: all_records(db)
            .await
            .into_iter()
            .map(|r| (r.display_name, Value::Object(r.fields)))
            .collect(),
    }
}

/// Runs `case` chunked as it says and one row at a time, each into a freshly seeded store.
async fn check(case: Case, open: impl AsyncFn() -> TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let reference_db = open().await;
    seed(&reference_db).await;
    let seeded: Vec<(String, Value)> = all_records(&reference_db)
        .await
        .into_iter()
        .map(|r| (r.display_name, Value::Object(r.fields)))
        .collect();
    // The reference commits every row on its own.
    let expected = run(&reference_db, dir.path(), &case, pipeline(1, 1, 1)).await;
    let db = open().await;
    seed(&db).await;
    let got = run(
        &db,
        dir.path(),
        &case,
        pipeline(case.chunk_rows, case.commit_rows, case.threads),
    )
    .await;
    assert_eq!(
        got, expected,
        "chunked import differs from one row at a time"
    );
    // The ledger undoes exactly what the import did.
    assert_eq!(expected.after_rollback, seeded);
    assert_eq!(expected.rollback.2, []);
    assert_eq!(expected.processed_rows, case.data_rows());
    assert_eq!(
        expected.rollback.0, expected.counts[2],
        "every created record is deleted"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `cases` unless PROPTEST_CASES asks for another number (to search longer by hand).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn chunking_and_threads_do_not_change_the_outcome_sqlite() {
    let rt = runtime();
    let mut runner = TestRunner::new(config(24));
    runner
        .run(&case(), |case| {
            rt.block_on(check(case, TestDb::sqlite));
            Ok(())
        })
        .unwrap();
}

#[test]
fn chunking_and_threads_do_not_change_the_outcome_postgres() {
    let rt = runtime();
    if rt.block_on(TestDb::postgres()).is_none() {
        return;
    }
    // A fixed seed: the same few cases every run.
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config(3), rng);
    runner
        .run(&case(), |case| {
            rt.block_on(check(case, async || {
                TestDb::postgres().await.expect("PostgreSQL")
            }));
            Ok(())
        })
        .unwrap();
}

/// A fixed file with every kind of row, every strategy and merge mode, on both stores: updates
/// of seeded records and of records made earlier in the file, across chunk boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_file_every_strategy_and_mode() {
    let rows: Vec<Row> = [
        ["Ann", "Lee", "a@x.com", "", "Active"],
        ["Bob", "", "c@x.com", "212-555-0100", "lead"],
        ["", "Moss", "C@x.Com", "", "customer"],
        ["Cy", "Ng", "not-an-email", "12", "prospect"],
        ["ann", "", " b@x.com ", "+1 212 555 0199", ""],
        ["Cy", "Lee", "", "(312) 555-0142", "lead"],
        ["Bob", "Moss", "c@x.com", "", ""],
        ["", "", "d@x.com", "+1 (212) 555-0100", "customer"],
    ]
    .into_iter()
    .map(|cells| Row {
        cells,
        ragged: false,
    })
    .collect();
    let postgres = std::env::var_os(crate::common::POSTGRES_URL_VAR).is_some();
    for strategy in STRATEGIES {
        for mode in MODES {
            let case = Case {
                rows: rows.clone(),
                strategy: *strategy,
                mode: *mode,
                match_fields: &[],
                skip_validation: false,
                chunk_rows: 3,
                commit_rows: 7,
                threads: 2,
            };
            if postgres {
                check(case.clone(), async || {
                    TestDb::postgres().await.expect("PostgreSQL")
                })
                .await;
            }
            check(case, TestDb::sqlite).await;
        }
    }
}
