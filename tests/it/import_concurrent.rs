//! Two update imports of overlapping files running at once, as two `recordport import run`
//! processes: on PostgreSQL their transactions really interleave (READ COMMITTED, several
//! writers), so one meets the other's rows — a unique email the other inserted first, a record the
//! other updated since it was read, a deadlock. Both must complete, no email may be held twice,
//! and the records must equal those of running the two imports one after the other. On SQLite
//! the single writer serialises the two jobs' transactions; the same checks hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use recordport::store::Sql;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, recordport_process, scalar};

/// Emails `0..EMAILS`; the store starts with half of them (see [`is_stored`]); file A holds
/// `0..2/3`, file B `1/3..`, so the middle third is in both, half of it new (both files create
/// it: unique emails inserted by both) and half stored (both update it).
const EMAILS: usize = 1_800;

/// Whether email `i` is in the store before the two imports: runs of 100, longer than a chunk,
/// so that some chunks only create records and some only update them (each meets the other job
/// its own way: a unique key it inserted first, a record it changed since).
fn is_stored(i: usize) -> bool {
    (i / 100) % 2 == 1
}

fn email(i: usize) -> String {
    format!("person{i:05}@example.com")
}

/// A contacts CSV with the rows `rows` in that order: names and email from `i`, and one more
/// column (`header`, `value(i)`).
fn write_csv(
    path: &Path,
    rows: impl IntoIterator<Item = usize>,
    header: &str,
    value: impl Fn(usize) -> String,
) -> PathBuf {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer
        .write_record(["First Name", "Last Name", "Email", header])
        .unwrap();
    for i in rows {
        writer
            .write_record([format!("First{i}"), format!("Last{i}"), email(i), value(i)])
            .unwrap();
    }
    writer.flush().unwrap();
    path.to_path_buf()
}

fn mapping(column: &str, field: &str) -> String {
    json!([
        {"sourceColumn": "First Name", "targetFieldSlug": "first_name"},
        {"sourceColumn": "Last Name", "targetFieldSlug": "last_name"},
        {"sourceColumn": "Email", "targetFieldSlug": "email"},
        {"sourceColumn": column, "targetFieldSlug": field},
    ])
    .to_string()
}

/// `import run` of `file` as an update by email, in small chunks and transactions so the two
/// jobs' transactions interleave many times.
fn import_command(db: &TestDb, file: &Path, mapping: &str) -> Command {
    let mut cmd = recordport_process();
    // `-v`: the writer logs each conflict it retries at info.
    cmd.args(["--db", &db.url, "-v", "--json", "import", "run"])
        .arg(file)
        .args(["-m", "contacts", "--mapping", mapping])
        .args(["--strategy", "update", "--match", "email"])
        .args(["--merge", "prefer-import"])
        .args(["--chunk-rows", "50", "--commit-rows", "200"]);
    cmd
}

/// The job's result from a finished `import run --json`; panics unless it completed.
fn completed(output: Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}): {stdout}\n{stderr}",
        output.status
    );
    let body: Value = serde_json::from_str(&stdout).expect("JSON result");
    assert_eq!(body["data"]["status"], "completed", "{what}: {body}");
    let retries = stderr.matches("deciding its rows again").count();
    eprintln!("{what}: {retries} transactions rolled back and replayed");
    for line in stderr
        .lines()
        .filter(|l| l.contains("deciding its rows again"))
    {
        eprintln!("  {line}");
    }
    body["data"].clone()
}

/// One import: its file and mapping.
struct Import {
    file: PathBuf,
    mapping: String,
}

impl Import {
    fn new(
        dir: &Path,
        name: &str,
        rows: impl IntoIterator<Item = usize>,
        (column, field): (&str, &str),
        value: impl Fn(usize) -> String,
    ) -> Import {
        Import {
            file: write_csv(&dir.join(format!("{name}.csv")), rows, column, value),
            mapping: mapping(column, field),
        }
    }

    fn run(&self, db: &TestDb, what: &str) -> Value {
        let mut cmd = import_command(db, &self.file, &self.mapping);
        let output = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
        completed(output, what)
    }
}

/// `x` and `y` as two processes started together; both must complete.
fn side_by_side(db: &TestDb, x: &Import, y: &Import) -> (Value, Value) {
    let (x, y) = tokio::task::block_in_place(|| {
        let start = |import: &Import| {
            import_command(db, &import.file, &import.mapping)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start an import")
        };
        let (x, y) = (start(x), start(y));
        (x.wait_with_output(), y.wait_with_output())
    });
    (
        completed(
            x.expect("wait for the first import"),
            "first import beside second",
        ),
        completed(
            y.expect("wait for the second import"),
            "second import beside first",
        ),
    )
}

/// The two jobs side by side reported what the two one after the other did, in sum (which of
/// them created a shared new email and which updated it depends on who got there first), and
/// each job's ledger holds a line per record it updated, and each record it created names it.
async fn assert_same_outcome(db: &TestDb, together: [&Value; 2], apart: [&Value; 2]) {
    for name in ["createdRows", "updatedRows", "unchangedRows"] {
        let sum = |results: [&Value; 2]| counter(results[0], name) + counter(results[1], name);
        assert_eq!(sum(together), sum(apart), "{name}: {together:?}");
    }
    for (result, sequential) in together.into_iter().zip(apart) {
        for name in ["errorRows", "skippedRows"] {
            assert_eq!(counter(result, name), counter(sequential, name), "{name}");
        }
        let id = result["importJobId"].as_str().expect("job id");
        assert_eq!(
            scalar(
                db,
                &format!(
                    "(SELECT COUNT(*) FROM import_ledger WHERE job_id = '{id}') + \
                     (SELECT COUNT(*) FROM records WHERE created_by_job = '{id}')"
                )
            )
            .await,
            counter(result, "createdRows") + counter(result, "updatedRows"),
            "ledger of {id}"
        );
    }
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM (SELECT key FROM record_keys k JOIN key_spaces s \
             ON s.id = k.space WHERE s.field_slug = 'email' GROUP BY k.space, k.key \
             HAVING COUNT(*) > 1) d"
        )
        .await,
        0,
        "an email held twice"
    );
}

/// Live contacts by email: (display name, fields, version).
async fn contacts(db: &TestDb) -> BTreeMap<String, (String, Value, i64)> {
    let store = db.service.store();
    let fields = store.dialect().json_column("r.fields");
    let rows = store
        .fetch_all(Sql::new(format!(
            "SELECT r.display_name, {fields} AS fields, r.version FROM records r \
             JOIN modules m ON m.id = r.module_id \
             WHERE m.slug = 'contacts' AND r.deleted_at IS NULL"
        )))
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for row in rows {
        let fields: Value = serde_json::from_str(&row.text("fields").unwrap()).unwrap();
        let email = fields["email"].as_str().expect("an email").to_string();
        let record = (
            row.text("display_name").unwrap(),
            fields,
            row.int("version").unwrap(),
        );
        assert!(
            out.insert(email.clone(), record).is_none(),
            "two records hold {email}"
        );
    }
    out
}

fn counter(result: &Value, name: &str) -> i64 {
    result[name]
        .as_i64()
        .unwrap_or_else(|| panic!("{name} in {result}"))
}

both!(
    overlapping_update_imports_run_side_by_side,
    overlapping_imports
);
async fn overlapping_imports(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let third = EMAILS / 3;
    // The shared third first, in the same order in both files: the two jobs reach the same rows
    // at the same moment. It starts with emails the store lacks, so the jobs first meet on
    // unique keys (both insert them); the second pair meets on records both update.
    let shared = third..2 * third;
    // The imports of each pair write different fields (and the same names), so their updates
    // commute: one then the other leaves the same records in either order, whichever of the two
    // a record met first.
    let base = Import::new(
        d,
        "base",
        (0..EMAILS).filter(|i| is_stored(*i)),
        ("Status", "status"),
        |_| "lead".into(),
    );
    let a = Import::new(
        d,
        "a",
        shared.clone().chain(0..third),
        ("Company", "company"),
        |i| format!("Company {i}"),
    );
    let b = Import::new(
        d,
        "b",
        shared.chain(2 * third..EMAILS),
        ("Job Title", "job_title"),
        |i| format!("Title {i}"),
    );
    let c = Import::new(d, "c", 0..EMAILS, ("Source", "source"), |i| {
        format!("Source {i}")
    });
    // What COPY's text format escapes, through the whole path.
    let e = Import::new(d, "e", 0..EMAILS, ("Notes", "notes"), |i| {
        format!("Line\t1\tof {i}\\N\nLine 2 \\ \"quoted\"\r\nend")
    });

    // One after the other, into a fresh store of the same kind.
    let reference = if db.url.starts_with("postgres") {
        TestDb::postgres().await.expect("PostgreSQL")
    } else {
        TestDb::sqlite().await
    };
    let seq: Vec<Value> = [&base, &a, &b, &c, &e]
        .iter()
        .map(|import| import.run(&reference, "an import on its own"))
        .collect();

    base.run(&db, "base import");
    let (together_a, together_b) = side_by_side(&db, &a, &b);
    assert_same_outcome(&db, [&together_a, &together_b], [&seq[1], &seq[2]]).await;
    let (together_c, together_e) = side_by_side(&db, &c, &e);
    assert_same_outcome(&db, [&together_c, &together_e], [&seq[3], &seq[4]]).await;

    let side_by_side = contacts(&db).await;
    assert_eq!(side_by_side.len(), EMAILS);
    assert_eq!(side_by_side, contacts(&reference).await);
    let notes = &side_by_side[&email(7)].1["notes"];
    assert_eq!(
        notes, "Line\t1\tof 7\\N\nLine 2 \\ \"quoted\"\r\nend",
        "{notes}"
    );
}

/// The id of the record another transaction holds back in [`a_unique_value_committed_meanwhile_is_matched`].
const HELD: &str = "rec_00000000-0000-7000-8000-000000000001";

/// An import that inserts an email another transaction holds uncommitted waits for it; when that
/// transaction commits, the import's batch fails on the unique index, is rolled back, and its
/// rows are decided again: the row now updates the committed record (PostgreSQL; on SQLite the
/// other transaction would hold the one write lock and the import would simply wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_value_committed_meanwhile_is_matched() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.service.store();
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(&dir.path().join("held.csv"), [1, 2, 3], "Company", |i| {
        format!("Company {i}")
    });
    // Row 3 of the file (i = 2) carries the held email.
    let held_email = email(2);
    let request: recordport::import::ImportRequest = serde_json::from_value(json!({
        "columnMapping": serde_json::from_str::<Value>(&mapping("Company", "company")).unwrap(),
        "duplicateStrategy": "update",
        "duplicateMatchFields": ["email"],
    }))
    .unwrap();
    let options = recordport::import::RunOptions::new(crate::common::actor());

    let contacts_id = "(SELECT id FROM modules WHERE slug = 'contacts')";
    // The email field's key space exists before the blocker begins, so that the import waits
    // for the held key itself.
    store
        .execute(Sql::new(format!(
            "INSERT INTO key_spaces (module_id, field_slug) VALUES ({contacts_id}, 'email') \
             ON CONFLICT DO NOTHING"
        )))
        .await
        .unwrap();
    let mut blocker = store.begin().await.unwrap();
    // Placeholders first (`Sql::arg`), then the text that uses them.
    let mut insert = Sql::default();
    let (id, fields) = (
        insert.arg(HELD),
        insert.arg(json!({"email": held_email, "first_name": "Held"}).to_string()),
    );
    insert.push(&format!(
        "INSERT INTO records (id, module_id, display_name, fields, search_text, created_at, \
         updated_at, version) VALUES ({id}, {contacts_id}, 'Held Back', {fields}::jsonb, \
         'held back', 0, 0, 1)"
    ));
    blocker.execute(insert).await.unwrap();
    let mut key = Sql::default();
    let (value, holder) = (key.arg(held_email.clone()), key.arg(HELD));
    key.push(&format!(
        "INSERT INTO record_keys (space, key, tiebreak, record_id) SELECT id, {value}, '', \
         {holder} FROM key_spaces WHERE module_id = {contacts_id} AND field_slug = 'email'"
    ));
    blocker.execute(key).await.unwrap();
    let pid = blocker
        .fetch_optional(Sql::new("SELECT pg_backend_pid()::bigint AS n"))
        .await
        .unwrap()
        .unwrap()
        .int("n")
        .unwrap();

    let import =
        recordport::import::execute_file(&db.service, "contacts", &file, &request, &options);
    let release = async {
        // Until the import waits for the blocker's key, then commit it.
        let waiting = format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE {pid} = ANY(pg_blocking_pids(pid))"
        );
        let start = std::time::Instant::now();
        while scalar(&db, &waiting).await == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "the import never waited for the held email"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        blocker.commit().await.unwrap();
    };
    let (result, ()) = tokio::join!(import, release);
    let result = result.expect("the import completes");
    assert_eq!(
        (result.created_rows, result.updated_rows, result.error_rows),
        (2, 1, 0),
        "{result:?}"
    );
    let stored = contacts(&db).await;
    assert_eq!(stored.len(), 3);
    let (name, fields, version) = &stored[&held_email];
    assert_eq!(name, "Held Back");
    assert_eq!(fields["company"], "Company 2");
    assert_eq!(*version, 2);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM record_keys k JOIN key_spaces s ON s.id = k.space \
             WHERE s.field_slug = 'email'"
        )
        .await,
        3
    );

    // The ledger kept the held record's before-image: a rollback gives it back.
    let job_id = result.import_job_id.expect("a job");
    let undone = recordport::import::rollback(
        store,
        db.service.modules(),
        "contacts",
        &job_id,
        &crate::common::actor(),
    )
    .await
    .unwrap();
    assert_eq!((undone.deleted_count, undone.restored_count), (2, 1));
    let stored = contacts(&db).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[&held_email].1,
        json!({"email": held_email, "first_name": "Held"})
    );
}
