//! Typed row errors and honest error kinds, through the CLI on both stores: every row error and
//! warning code of `RowErrorCode::ALL` is produced by a real file, in `import validate --json`,
//! `import run --json` and the errors CSV; corrupt stored jobs and database unique races are
//! reported as what they are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use recordport::import::RowErrorCode;
use recordport::store::Sql;
use serde_json::{Value, json};

use crate::both;
use crate::common::TestDb;
use crate::common::recordport_command as command;

/// `recordport --db URL --json ARGS…`: exit code and stdout as JSON.
fn run_json(db: &TestDb, args: &[&str]) -> (i32, Value) {
    let mut cmd = command();
    cmd.args(["--db", &db.url, "--json"]).args(args);
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let body = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of {args:?} is not JSON ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), body)
}

fn ok(db: &TestDb, args: &[&str]) -> Value {
    let (code, body) = run_json(db, args);
    assert_eq!(code, 0, "{args:?}: {body}");
    body["data"].clone()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A module with a field of every kind that can reject a value.
const LEADS: &str = r#"{
  "slug": "leads", "name": "Leads", "displayName": ["{name}"],
  "fields": [
    {"slug": "name", "label": "Name", "type": "text", "required": true},
    {"slug": "email", "label": "Email", "type": "email", "unique": true},
    {"slug": "phone", "label": "Phone", "type": "phone"},
    {"slug": "score", "label": "Score", "type": "number"},
    {"slug": "subscribed", "label": "Subscribed", "type": "boolean"},
    {"slug": "site", "label": "Site", "type": "url"},
    {"slug": "stage", "label": "Stage", "type": "select", "options": ["new", "won"]},
    {"slug": "since", "label": "Since", "type": "date"},
    {"slug": "street", "label": "Street", "type": "address"},
    {"slug": "account", "label": "Account", "type": "reference", "target": "accounts"}
  ]
}"#;

const HEADER: &str = "Name,Email,Phone,Score,Subscribed,Site,Stage,Since,Street,Account";

/// One bad value per row (row numbers as the file has them: the header is row 1), with the code
/// each must get.
fn bad_rows() -> Vec<(String, &'static str)> {
    let long = "x".repeat(1_001);
    vec![
        (
            "Ann,ann@example.com,+12125550147,5,yes,https://a.example,new,2024-01-15,1 Main St,"
                .to_string(),
            "",
        ),
        // "won" in the rows of other defects: most Stage values fit, so the suggested mapping
        // keeps the column and "lost" stays a row error.
        ("Bob,bob(at)example.com,,,,,won,,,".into(), "invalid_email"),
        ("Cy,,not a phone,,,,won,,,".into(), "invalid_phone"),
        ("Di,,,lots,,,won,,,".into(), "invalid_number"),
        ("Ed,,,,maybe,,,,,".into(), "invalid_boolean"),
        ("Fay,,,,,http://,,,,".into(), "invalid_url"),
        ("Gus,,,,,,lost,,,".into(), "not_an_option"),
        ("Hal,,,,,,,2024-13-45,,".into(), "invalid_date"),
        (",ivy@example.com,,,,,,,,".into(), "required_missing"),
        (format!("Lu,,,,,,,,,{long}"), "value_too_long"),
        (format!("Jo,,,,,,,,{long},"), "invalid_address"),
        ("Kim,,,,,,,,,,extra".into(), "malformed_row"),
    ]
}

fn leads_file(dir: &Path) -> PathBuf {
    let mut text = format!("{HEADER}\n");
    for (row, _) in bad_rows() {
        text.push_str(&row);
        text.push('\n');
    }
    write(dir, "leads.csv", &text)
}

fn codes_by_row(errors: &Value) -> Vec<(u64, String)> {
    errors
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("row"),
                e["code"].as_str().expect("code").to_string(),
            )
        })
        .collect()
}

fn expected_codes() -> Vec<(u64, String)> {
    bad_rows()
        .into_iter()
        .enumerate()
        .filter(|(_, (_, code))| !code.is_empty())
        .map(|(i, (_, code))| (i as u64 + 2, code.to_string()))
        .collect()
}

async fn every_row_error_has_its_code(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let module = write(dir.path(), "leads.json", LEADS);
    ok(&db, &["module", "apply", &module.display().to_string()]);
    let file = leads_file(dir.path());
    let file_arg = file.display().to_string();

    let report = ok(&db, &["import", "validate", &file_arg, "--module", "leads"]);
    assert_eq!(
        codes_by_row(&report["errors"]),
        expected_codes(),
        "{report}"
    );
    let distinct: BTreeSet<String> = expected_codes().into_iter().map(|(_, c)| c).collect();
    assert_eq!(distinct.len(), expected_codes().len(), "one code per kind");

    // The same codes in the execute result, the stored job and the errors CSV.
    let out = dir.path().join("failed.csv");
    let result = ok(
        &db,
        &[
            "import",
            "run",
            &file_arg,
            "--module",
            "leads",
            "--errors-out",
            &out.display().to_string(),
        ],
    );
    assert_eq!(codes_by_row(&result["errors"]), expected_codes());
    let job_id = result["importJobId"].as_str().unwrap();
    let job = ok(&db, &["import", "job", "--module", "leads", job_id]);
    assert_eq!(codes_by_row(&job["errors"]), expected_codes());
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&out)
        .unwrap();
    let header = reader.headers().unwrap().clone();
    let codes_at = header
        .iter()
        .position(|h| h == "Import Error Codes")
        .expect("an Import Error Codes column");
    let row_at = header.iter().position(|h| h == "Import Row").unwrap();
    let from_csv: Vec<(u64, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[row_at].parse().unwrap(), r[codes_at].to_string())
        })
        .collect();
    assert_eq!(from_csv, expected_codes());
}
both!(every_row_error_has_its_code, every_row_error_has_its_code);

async fn duplicate_and_reference_codes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let module = write(dir.path(), "leads.json", LEADS);
    ok(&db, &["module", "apply", &module.display().to_string()]);
    for _ in 0..2 {
        ok(
            &db,
            &[
                "records",
                "create",
                "--module",
                "accounts",
                "--data",
                r#"{"fields":{"name":"Twin"}}"#,
            ],
        );
    }
    let file = write(
        dir.path(),
        "refs.csv",
        &format!(
            "{HEADER}\nAnn,ann@example.com,,,,,,,,\nAnn again,ann@example.com,,,,,,,,\n\
             Bo,,,,,,,,,Twin\nCy,,,,,,,,,Nobody\n"
        ),
    );
    let result = ok(
        &db,
        &[
            "import",
            "run",
            &file.display().to_string(),
            "--module",
            "leads",
            "--strategy",
            "create",
        ],
    );
    assert_eq!(
        codes_by_row(&result["errors"]),
        vec![
            (3, "duplicate_unique_value".to_string()),
            (4, "reference_ambiguous".to_string())
        ],
        "{result}"
    );
    assert_eq!(
        result["referenceWarnings"],
        json!([{"code": "reference_not_found", "fieldSlug": "account", "fieldLabel": "Account",
                "unresolvedValues": ["Nobody"], "targetModuleSlug": "accounts"}])
    );

    // A required field no column fills: a warning with its code, before any row is read.
    let names = write(dir.path(), "domains.csv", "Domain\nacme.example\n");
    let report = ok(
        &db,
        &[
            "import",
            "validate",
            &names.display().to_string(),
            "--module",
            "accounts",
            "--mapping",
            r#"[{"sourceColumn":"Domain","targetFieldSlug":"domain"}]"#,
        ],
    );
    assert_eq!(
        report["warnings"][0]["code"], "required_not_mapped",
        "{report}"
    );
}
both!(duplicate_and_reference_codes, duplicate_and_reference_codes);

/// The codes the two tests above see are the whole table, but for the one kept for errors stored
/// before codes existed.
#[test]
fn the_tests_cover_every_code() {
    let seen: BTreeSet<&str> = expected_codes()
        .iter()
        .map(|(_, c)| c.as_str())
        .map(|c| {
            RowErrorCode::ALL
                .iter()
                .find(|k| k.as_str() == c)
                .unwrap()
                .as_str()
        })
        .chain([
            "duplicate_unique_value",
            "reference_ambiguous",
            "reference_not_found",
            "required_not_mapped",
            // tests/it/locale_values.rs.
            "ambiguous_date",
            "ambiguous_number",
        ])
        .collect();
    let table: BTreeSet<&str> = RowErrorCode::ALL
        .iter()
        .filter(|c| **c != RowErrorCode::InvalidValue)
        .map(|c| c.as_str())
        .collect();
    assert_eq!(seen, table);
    for code in RowErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        assert!(!code.meaning().is_empty());
    }
}

/// A queued job whose stored request was damaged is the store's fault: `internal_error`, exit 1,
/// never `validation_error`; so is a job with a status this program never writes.
async fn corrupt_stored_jobs_are_internal_errors(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "c.csv", "Email\nann@example.com\n");
    let job = ok(
        &db,
        &[
            "import",
            "run",
            &file.display().to_string(),
            "--module",
            "contacts",
            "--background",
        ],
    );
    let job_id = job["importJobId"].as_str().unwrap().to_string();
    let store = db.service.store();
    let column = if db.url.starts_with("postgres") {
        "'{\"columnMapping\": \"not a list\"}'::jsonb"
    } else {
        "'{\"columnMapping\": \"not a list\"}'"
    };
    let mut sql = Sql::new(format!(
        "UPDATE import_jobs SET options = {column} WHERE id = "
    ));
    sql.bind(job_id.clone());
    store.execute(sql).await.unwrap();
    let (code, body) = run_json(&db, &["import", "job", "--module", "contacts", &job_id]);
    assert_eq!(code, 1, "{body}");
    assert_eq!(body["error"]["code"], "internal_error", "{body}");

    let mut sql = Sql::new("UPDATE import_jobs SET status = 'exploded', options = ");
    sql.push(if db.url.starts_with("postgres") {
        "'{\"columnMapping\": []}'::jsonb"
    } else {
        "'{\"columnMapping\": []}'"
    })
    .push(" WHERE id = ")
    .bind(job_id.clone());
    store.execute(sql).await.unwrap();
    let (code, body) = run_json(&db, &["import", "jobs", "--module", "contacts"]);
    assert_eq!(code, 1, "{body}");
    assert_eq!(body["error"]["code"], "internal_error", "{body}");
}
both!(
    corrupt_stored_jobs_are_internal_errors,
    corrupt_stored_jobs_are_internal_errors
);

/// A unique value the database itself refuses (another writer got there first) is a conflict,
/// not an internal failure.
async fn database_unique_races_are_conflicts(db: TestDb) {
    let store = db.service.store();
    let insert = || {
        let mut sql = Sql::new(
            "INSERT INTO modules (id, slug, name, definition, created_at, updated_at) VALUES (",
        );
        sql.bind_list(["mod_race".to_string(), "race".into(), "Race".into()])
            .push(", ")
            .push(if db.url.starts_with("postgres") {
                "'{}'::jsonb"
            } else {
                "'{}'"
            })
            .push(", 0, 0)");
        sql
    };
    store.execute(insert()).await.unwrap();
    let error = store.execute(insert()).await.unwrap_err();
    assert!(error.is_unique_violation(), "{error:?}");
    assert_eq!(error.code(), "conflict");
    assert_eq!(error.http_status(), 409);
}
both!(
    database_unique_races_are_conflicts,
    database_unique_races_are_conflicts
);
