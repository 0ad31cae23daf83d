//! `recordport import validate|run|jobs|job|rollback` as a process, on both stores: spec 002's
//! JSON (`--json`), the readable output, exit codes and the options of `import run`.

use std::path::{Path, PathBuf};

use recordport::records::{ListQuery, Record};
use serde_json::{Value, json};

use crate::both;
use crate::common::{Run, TestDb, recordport_process, sample_dir};

fn run(db: &TestDb, json: bool, args: &[&str]) -> Run {
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url]);
    if json {
        cmd.arg("--json");
    }
    cmd.args(args);
    Run::of(cmd)
}

/// `recordport --json import ARGS…`, which must succeed: the `data` of `{"success":true,…}`.
fn import_ok(db: &TestDb, args: &[&str]) -> Value {
    let run = run(db, true, &[&["import"], args].concat());
    assert_eq!(
        run.code, 0,
        "import {args:?} failed: {} {}",
        run.stdout, run.stderr
    );
    let body = run.json();
    assert_eq!(body["success"], json!(true), "{body}");
    body["data"].clone()
}

/// `recordport --json import ARGS…`, which must fail: exit code and the error body.
fn import_err(db: &TestDb, args: &[&str]) -> (i32, Value) {
    let run = run(db, true, &[&["import"], args].concat());
    assert_ne!(
        run.code, 0,
        "import {args:?} should have failed: {}",
        run.stdout
    );
    (run.code, run.json()["error"].clone())
}

/// `recordport import ARGS…` with readable output, which must succeed: stdout.
fn import_text(db: &TestDb, args: &[&str]) -> String {
    let run = run(db, false, &[&["import"], args].concat());
    assert_eq!(
        run.code, 0,
        "import {args:?} failed: {} {}",
        run.stdout, run.stderr
    );
    run.stdout
}

pub(crate) fn sample(name: &str) -> String {
    sample_dir().join("import").join(name).display().to_string()
}

pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

async fn contacts(db: &TestDb) -> Vec<Record> {
    let query = ListQuery {
        page_size: Some(100),
        ..ListQuery::default()
    };
    let mut records = db
        .service
        .list("contacts", &query)
        .await
        .expect("list")
        .records;
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}

async fn contact_by_email(db: &TestDb, email: &str) -> Record {
    contacts(db)
        .await
        .into_iter()
        .find(|r| r.fields.get("email") == Some(&json!(email)))
        .unwrap_or_else(|| panic!("no contact {email}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

async fn run_jobs_job_and_rollback(db: TestDb) {
    let file = sample("contacts.csv");
    // The suggested mapping, the default strategy.
    let data = import_ok(&db, &["run", &file, "--module", "contacts"]);
    assert_eq!(data["status"], "completed");
    assert_eq!(data["processingMode"], "sync");
    for (key, n) in [
        ("totalRows", 52),
        ("successRows", 52),
        ("createdRows", 52),
        ("updatedRows", 0),
        ("unchangedRows", 0),
        ("skippedRows", 0),
        ("errorRows", 0),
        ("createdReferenceCount", 0),
    ] {
        assert_eq!(data[key], json!(n), "{key}: {data}");
    }
    assert_eq!(data["createdRecordIds"].as_array().unwrap().len(), 52);
    assert_eq!(data["errors"], json!([]));
    assert_eq!(data["referenceWarnings"], json!([]));
    assert!(data.get("dryRun").is_none(), "{data}");
    let job_id = str_of(&data["importJobId"]).to_string();
    assert!(job_id.starts_with("job_"));
    let records = contacts(&db).await;
    assert_eq!(records.len(), 52);
    let ada = contact_by_email(&db, "ada.lovelace@acme.com").await;
    assert_eq!(ada.display_name, "Ada Lovelace");
    assert_eq!(
        ada.fields["address"],
        json!({"city": "New York", "country": "United States"})
    );
    assert_eq!(ada.fields["deal_value"], json!(500));

    // Again: every row matches its record by email and is skipped.
    let again = import_text(&db, &["run", &file, "--module", "contacts"]);
    assert!(
        again.starts_with(
            "52 rows: 0 created, 0 updated, 0 unchanged, 52 skipped, 0 failed (sync mode), job job_"
        ),
        "{again}"
    );

    let jobs = import_ok(&db, &["jobs", "--module", "contacts"]);
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1]["importJobId"], json!(job_id));
    assert_eq!(jobs[0]["skippedRows"], json!(52));
    let limited = import_ok(&db, &["jobs", "--module", "contacts", "--limit", "1"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0], jobs[0]);
    let table = import_text(&db, &["jobs", "--module", "contacts"]);
    assert!(table.contains(&job_id), "{table}");
    assert!(
        table.contains("completed") && table.contains("contacts.csv"),
        "{table}"
    );

    let job = import_ok(&db, &["job", &job_id, "--module", "contacts"]);
    assert_eq!(job, jobs[1]);
    assert_eq!(job["status"], "completed");
    assert_eq!(job["processingMode"], "sync");
    assert_eq!(job["fileName"], "contacts.csv");
    assert_eq!(job["fileType"], "csv");
    assert_eq!(job["createdRows"], json!(52));
    assert_eq!(job["processedRows"], json!(52));
    assert_eq!(job["duplicateStrategy"], "skip");
    assert_eq!(job["createdByUserId"], "usr_local");
    let table = import_text(&db, &["job", &job_id, "--module", "contacts"]);
    for line in [
        "status",
        "completed",
        "sync",
        "contacts.csv",
        "52 of 52",
        "skip / prefer_import",
    ] {
        assert!(table.contains(line), "{line} missing in {table}");
    }

    let outcome = import_ok(&db, &["rollback", &job_id, "--module", "contacts"]);
    assert_eq!(
        outcome,
        json!({"deletedCount": 52, "restoredCount": 0, "conflicts": []})
    );
    assert!(contacts(&db).await.is_empty());
    let job = import_ok(&db, &["job", &job_id, "--module", "contacts"]);
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["rollback"], outcome);
    // Twice: the same answer, in words this time.
    let text = import_text(&db, &["rollback", &job_id, "--module", "contacts"]);
    assert_eq!(
        text.trim_end(),
        format!("rolled back {job_id}: 52 created records deleted, 0 updated records restored")
    );

    // Unknown job, unknown module: not found (exit code 3).
    let (code, error) = import_err(&db, &["job", "job_nope", "--module", "contacts"]);
    assert_eq!((code, str_of(&error["code"])), (3, "not_found"));
    let (code, error) = import_err(&db, &["rollback", &job_id, "--module", "nope"]);
    assert_eq!((code, str_of(&error["code"])), (3, "not_found"));
}
both!(run_jobs_job_and_rollback, run_jobs_job_and_rollback);

async fn validate_reports_defects(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let defects = sample("contacts-defects.csv");
    let file = if Path::new(&defects).exists() {
        defects
    } else {
        write_file(
            dir.path(),
            "contacts-defects.csv",
            "First Name,Email\nGood,good@example.com\nBad,bad(at)example.com\n",
        )
        .display()
        .to_string()
    };
    let report = import_ok(&db, &["validate", &file, "--module", "contacts"]);
    assert_eq!(report["isValid"], json!(false));
    let (total, valid, failed) = (
        report["totalRows"].as_u64().unwrap(),
        report["validRows"].as_u64().unwrap(),
        report["errorRows"].as_u64().unwrap(),
    );
    assert_eq!(total, valid + failed);
    assert!(failed > 0);
    let errors = report["errors"].as_array().unwrap();
    assert!(errors.len() as u64 >= failed);
    let bad_email = errors
        .iter()
        .find(|e| e["field"] == "email")
        .expect("an email error");
    assert_eq!(bad_email["row"], json!(3));
    assert_eq!(bad_email["error"], "Invalid email format");
    assert_eq!(report["warnings"], json!([]));
    let text = import_text(&db, &["validate", &file, "--module", "contacts"]);
    assert!(
        text.starts_with(&format!(
            "invalid: {total} rows, {valid} valid, {failed} with errors"
        )),
        "{text}"
    );
    assert!(text.contains("Invalid email format"), "{text}");
    // Validating writes nothing.
    assert!(contacts(&db).await.is_empty());
    assert_eq!(import_ok(&db, &["jobs", "--module", "contacts"]), json!([]));

    // A valid file.
    let report = import_ok(
        &db,
        &["validate", &sample("contacts.csv"), "--module", "contacts"],
    );
    assert_eq!(report["isValid"], json!(true));
    assert_eq!(report["totalRows"], json!(52));
    assert_eq!(report["validRows"], json!(52));
}
both!(validate_reports_defects, validate_reports_defects);

async fn dry_run_and_errors_out(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "mixed.csv",
        "First Name,Email,Status\nAnn,ann@example.com,lead\nBob,bob(at)example.com,active\n\
         Cy,cy@example.com,dormant\n",
    );
    let file = file.display().to_string();
    let dry = import_ok(&db, &["run", &file, "--module", "contacts", "--dry-run"]);
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(dry["importJobId"], Value::Null);
    assert_eq!(
        (&dry["createdRows"], &dry["errorRows"], &dry["successRows"]),
        (&json!(1), &json!(2), &json!(1))
    );
    assert!(contacts(&db).await.is_empty());
    assert_eq!(import_ok(&db, &["jobs", "--module", "contacts"]), json!([]));
    let text = import_text(&db, &["run", &file, "--module", "contacts", "--dry-run"]);
    assert!(
        text.starts_with(
            "dry run, nothing written: 3 rows: 1 created, 0 updated, 0 unchanged, 0 skipped, \
             2 failed (sync mode)\n"
        ),
        "{text}"
    );

    let out = dir.path().join("failed.csv");
    let out_arg = out.display().to_string();
    let data = import_ok(
        &db,
        &[
            "run",
            &file,
            "--module",
            "contacts",
            "--errors-out",
            &out_arg,
        ],
    );
    assert_eq!(data["createdRows"], json!(1));
    assert_eq!(data["errorRows"], json!(2));
    assert_eq!(
        data["errors"],
        json!([
            {"row": 3, "code": "invalid_email", "field": "email", "column": "Email",
             "value": "bob(at)example.com", "error": "Invalid email format"},
            {"row": 4, "code": "not_an_option", "field": "status", "column": "Status",
             "value": "dormant",
             "error": "Value 'dormant' is not an option (expected one of: lead, active, customer, churned)"}
        ])
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "First Name,Email,Status,Import Row,Import Errors,Import Error Codes\n\
         Bob,bob(at)example.com,active,3,email (Email): Invalid email format,invalid_email\n\
         Cy,cy@example.com,dormant,4,\"status (Status): Value 'dormant' is not an option \
         (expected one of: lead, active, customer, churned)\",not_an_option\n"
    );
    assert_eq!(contacts(&db).await.len(), 1);
}
both!(dry_run_and_errors_out, dry_run_and_errors_out);

async fn mapping_file_strategy_merge_match_and_static(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let first = write_file(
        dir.path(),
        "first.csv",
        "Given,Mail,Org,Origin\nAnn,ann@example.com,OldCo,\nBob,bob@example.com,BobCo,Referral\n",
    );
    let mapping = write_file(
        dir.path(),
        "mapping.json",
        &json!([
            {"sourceColumn": "Given", "targetFieldSlug": "first_name"},
            {"sourceColumn": "Mail", "targetFieldSlug": "email"},
            {"sourceColumn": "Org", "targetFieldSlug": "company"},
            {"sourceColumn": "Origin", "targetFieldSlug": "source"}
        ])
        .to_string(),
    );
    let mapping_arg = format!("@{}", mapping.display());
    let data = import_ok(
        &db,
        &[
            "run",
            &first.display().to_string(),
            "--module",
            "contacts",
            "--mapping",
            &mapping_arg,
            "--static",
            "source=Trade show",
        ],
    );
    assert_eq!(data["createdRows"], json!(2));
    let ann = contact_by_email(&db, "ann@example.com").await;
    assert_eq!(
        ann.fields,
        json!({"first_name": "Ann", "email": "ann@example.com", "company": "OldCo",
               "source": "Trade show"})
        .as_object()
        .unwrap()
        .clone()
    );
    let bob = contact_by_email(&db, "bob@example.com").await;
    assert_eq!(bob.fields["source"], "Referral");

    // Update with overwrite, matched on email: Ann's empty Org clears her company.
    let second = write_file(
        dir.path(),
        "second.csv",
        "Given,Mail,Org,Origin\nAnnie,ANN@example.com,,Web\nBob,bob@example.com,BobCo,Referral\n\
         Cy,cy@example.com,CyCo,\n",
    );
    let data = import_ok(
        &db,
        &[
            "run",
            &second.display().to_string(),
            "--module",
            "contacts",
            "--mapping",
            &mapping_arg,
            "--strategy",
            "update",
            "--merge",
            "overwrite",
            "--match",
            "email",
        ],
    );
    for (key, n) in [
        ("createdRows", 1),
        ("updatedRows", 1),
        ("unchangedRows", 1),
        ("successRows", 3),
    ] {
        assert_eq!(data[key], json!(n), "{key}: {data}");
    }
    let ann = contact_by_email(&db, "ann@example.com").await;
    assert_eq!(
        ann.fields,
        json!({"first_name": "Annie", "email": "ann@example.com", "source": "Web"})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(ann.display_name, "Annie");
    assert_eq!(ann.version, 2);
    let job = import_ok(
        &db,
        &["job", str_of(&data["importJobId"]), "--module", "contacts"],
    );
    assert_eq!(job["duplicateStrategy"], "update");
    assert_eq!(job["mergeMode"], "overwrite");
    assert_eq!(job["duplicateMatchFields"], json!(["email"]));

    // A whole execute body as --mapping, inline.
    let body = json!({
        "columnMapping": [
            {"sourceColumn": "Mail", "targetFieldSlug": "email"},
            {"sourceColumn": "Org", "targetFieldSlug": "company"}
        ],
        "duplicateStrategy": "update",
        "mergeMode": "fill_empty"
    })
    .to_string();
    let data = import_ok(
        &db,
        &[
            "run",
            &second.display().to_string(),
            "--module",
            "contacts",
            "--mapping",
            &body,
        ],
    );
    // Ann's company is empty: filled with her Org cell, which is empty too; Bob and Cy have
    // theirs already.
    assert_eq!(data["unchangedRows"], json!(3), "{data}");

    // Rolling back the update restores Ann as the first import left her.
    let jobs = import_ok(&db, &["jobs", "--module", "contacts"]);
    let update_job = str_of(&jobs[1]["importJobId"]).to_string();
    let outcome = import_ok(&db, &["rollback", &update_job, "--module", "contacts"]);
    assert_eq!(
        outcome,
        json!({"deletedCount": 1, "restoredCount": 1, "conflicts": []})
    );
    let ann = contact_by_email(&db, "ann@example.com").await;
    assert_eq!(ann.fields["company"], "OldCo");
    assert_eq!(ann.fields["first_name"], "Ann");
    assert_eq!(ann.display_name, "Ann");
    assert_eq!(contacts(&db).await.len(), 2);
}
both!(
    mapping_file_strategy_merge_match_and_static,
    mapping_file_strategy_merge_match_and_static
);

async fn errors_and_exit_codes(db: TestDb) {
    let file = sample("contacts.csv");
    // Unknown module: not found.
    let (code, error) = import_err(&db, &["run", &file, "--module", "nope"]);
    assert_eq!(code, 3);
    assert_eq!(error["code"], "not_found");
    let (code, _) = import_err(&db, &["validate", &file, "--module", "nope"]);
    assert_eq!(code, 3);
    let (code, _) = import_err(&db, &["jobs", "--module", "nope"]);
    assert_eq!(code, 3);

    // A mapping naming a column the file lacks, and a field the module lacks: invalid input,
    // each problem named by its entry.
    let mapping = json!([
        {"sourceColumn": "Email", "targetFieldSlug": "email"},
        {"sourceColumn": "E-mail", "targetFieldSlug": "email"},
        {"sourceColumn": "Phone", "targetFieldSlug": "fax"}
    ])
    .to_string();
    let (code, error) = import_err(
        &db,
        &["run", &file, "--module", "contacts", "--mapping", &mapping],
    );
    assert_eq!(code, 2);
    assert_eq!(error["code"], "validation_error");
    let fields: Vec<&str> = error["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| str_of(&f["field"]))
        .collect();
    assert_eq!(
        fields,
        [
            "columnMapping[1].sourceColumn",
            "columnMapping[2].targetFieldSlug"
        ]
    );
    // Without --json: one line on stderr naming the entries.
    let run_text = run(
        &db,
        false,
        &[
            "import",
            "validate",
            &file,
            "--module",
            "contacts",
            "--mapping",
            &mapping,
        ],
    );
    assert_eq!(run_text.code, 2);
    assert!(
        run_text.stderr.contains("columnMapping[1].sourceColumn")
            && run_text.stderr.contains("columnMapping[2].targetFieldSlug"),
        "{}",
        run_text.stderr
    );
    // Not JSON at all.
    let (code, error) = import_err(
        &db,
        &["run", &file, "--module", "contacts", "--mapping", "[{"],
    );
    assert_eq!((code, str_of(&error["code"])), (2, "validation_error"));
    assert!(
        str_of(&error["message"]).starts_with("--mapping"),
        "{error}"
    );
    // A bad static value and a bad --static argument.
    let (code, error) = import_err(
        &db,
        &[
            "run",
            &file,
            "--module",
            "contacts",
            "--static",
            "status=prospect",
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(error["details"]["field"], "staticValues.status");
    let (code, error) = import_err(
        &db,
        &[
            "run",
            &file,
            "--module",
            "contacts",
            "--static",
            "no-equals",
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(error["details"]["field"], "--static");
    // A file that is not there, and one with a cell over the limits: the file is named.
    let (code, error) = import_err(
        &db,
        &["run", "/nonexistent/contacts.csv", "--module", "contacts"],
    );
    assert_ne!(code, 0);
    assert!(
        str_of(&error["message"]).contains("contacts.csv"),
        "{error}"
    );
    // Nothing was written.
    assert!(contacts(&db).await.is_empty());
    assert_eq!(import_ok(&db, &["jobs", "--module", "contacts"]), json!([]));
}
both!(errors_and_exit_codes, errors_and_exit_codes);
