//! `recordport export …` as a process, on both stores: stdout and file outputs, the options,
//! jobs (`--job`, `export jobs`, `export job ID`) and exit codes.

use std::path::Path;

use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, actor, sample_dir};
use recordport::records::RecordInput;

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("UTF-8 stdout")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or(Value::Null)
    }
}

/// `recordport --db <db> ARGS…` with a clean environment and the exports directory in `dir`.
fn rp(db: &TestDb, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = crate::common::recordport_command();
    cmd.env("RECORDPORT_EXPORT_DIR", dir.join("kept"))
        .current_dir(dir)
        .args(["--db", &db.url])
        .args(args);
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn load_samples(db: &TestDb) {
    for module in ["accounts", "contacts"] {
        let path = sample_dir().join("records").join(format!("{module}.json"));
        let items: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let inputs = items
            .into_iter()
            .map(|v| RecordInput::from_json(v, "sample").unwrap())
            .collect();
        db.service
            .bulk_create(module, inputs, &actor())
            .await
            .unwrap();
    }
}

async fn csv_to_stdout_and_files(db: TestDb) {
    load_samples(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let run = rp(
        &db,
        dir.path(),
        &[
            "export",
            "--module",
            "contacts",
            "--format",
            "csv",
            "--columns",
            "email,status,last_contacted",
            "--label",
            "email=E-mail",
            "--sort",
            "email:asc",
            "--limit",
            "3",
            "--filter",
            r#"{"status": ["lead", "active"]}"#,
            "--date-format",
            "%d.%m.%Y",
            "-o",
            "-",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.text(),
        "E-mail,Status,Last contacted\r\nada.lovelace@acme.com,active,15.01.2024\r\nalan@initech.com,lead,\r\nkj@acme.com,lead,03.03.2024\r\n"
    );

    // An advancedFilter group, no header, search.
    let run = rp(
        &db,
        dir.path(),
        &[
            "export",
            "-m",
            "contacts",
            "-f",
            "csv",
            "--columns",
            "email",
            "--no-headers",
            "--filter",
            r#"{"conjunction": "OR", "conditions": [{"fieldSlug": "deal_value", "operator": "gte", "value": 100000}, {"fieldSlug": "status", "operator": "eq", "value": "churned"}]}"#,
            "--sort",
            "email",
            "-o",
            "-",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.text(), "emilie@example.fr\r\ngrace@globex.de\r\n");

    // To a file, with the spec's summary on stdout; nothing half-written is left beside it.
    let run = rp(
        &db,
        dir.path(),
        &[
            "--json",
            "export",
            "-m",
            "contacts",
            "-f",
            "pdf",
            "--title",
            "Contacts",
            "-o",
            "report.pdf",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["recordCount"], 6);
    assert_eq!(summary["contentType"], "application/pdf");
    let pdf = std::fs::read(dir.path().join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(summary["fileSizeBytes"], json!(pdf.len()));
    assert!(!dir.path().join("report.pdf.part").exists());
    // Small exports are direct: no job recorded.
    let jobs = rp(&db, dir.path(), &["--json", "export", "jobs"]);
    assert_eq!(jobs.json(), json!({ "jobs": [] }));

    // Without -o: the spec's file name in the working directory.
    let run = rp(
        &db,
        dir.path(),
        &["export", "-m", "accounts", "-f", "parquet"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let name = format!(
        "accounts-export-{}.parquet",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    assert!(
        std::fs::read(dir.path().join(&name))
            .unwrap()
            .starts_with(b"PAR1")
    );
    assert!(run.text().contains(&name), "{}", run.text());
}
both!(csv_to_stdout_and_files, csv_to_stdout_and_files);

/// `-o` naming a device (through a symlink here, so that a regression could only ever replace
/// the link) is written in place, not replaced by a file, in both direct and job exports.
async fn special_destinations(db: TestDb) {
    load_samples(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sink");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    for job in [false, true] {
        let mut args = vec!["export", "-m", "contacts", "-f", "csv", "-o", "sink"];
        if job {
            args.push("--job");
        }
        let run = rp(&db, dir.path(), &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "job={job}: the link was replaced"
        );
        assert!(!dir.path().join("sink.part").exists());
    }
}
both!(special_destinations, special_destinations);

async fn export_jobs(db: TestDb) {
    load_samples(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let run = rp(
        &db,
        dir.path(),
        &[
            "--json", "export", "-m", "contacts", "-f", "csv", "--job", "-o", "out.csv",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let job = run.json();
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["format"], "csv");
    assert_eq!(job["sourceType"], "module");
    assert_eq!(job["processedRecords"], 6);
    let id = job["exportJobId"].as_str().unwrap().to_string();
    assert!(id.starts_with("exp_"));
    let kept = Path::new(job["filePath"].as_str().unwrap()).to_path_buf();
    assert!(
        kept.starts_with(dir.path().join("kept")),
        "{}",
        kept.display()
    );
    let out = std::fs::read(dir.path().join("out.csv")).unwrap();
    assert_eq!(out, std::fs::read(&kept).unwrap());
    assert_eq!(job["fileSizeBytes"], json!(out.len()));

    // A job to stdout streams the kept file.
    let run = rp(
        &db,
        dir.path(),
        &[
            "export",
            "-m",
            "accounts",
            "-f",
            "csv",
            "--columns",
            "name",
            "--sort",
            "name:desc",
            "--job",
            "-o",
            "-",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.text(),
        "Name\r\nInitech\r\nGlobex GmbH\r\nAcme Corporation\r\n"
    );

    let list = rp(&db, dir.path(), &["--json", "export", "jobs"]).json();
    let jobs = list["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1]["exportJobId"], id.as_str());
    let one = rp(&db, dir.path(), &["--json", "export", "job", &id]).json();
    assert_eq!(one, job);
    let text = rp(&db, dir.path(), &["export", "job", &id]);
    assert!(text.text().contains("completed"), "{}", text.text());
    let table = rp(&db, dir.path(), &["export", "jobs", "--limit", "1"]);
    assert_eq!(table.code, 0);
    assert!(
        !table.text().contains(&id),
        "the older job is past the limit"
    );

    let missing = rp(&db, dir.path(), &["--json", "export", "job", "exp_missing"]);
    assert_eq!(missing.code, 3);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}
both!(export_jobs, export_jobs);

async fn bad_input(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 6] = [
        &[
            "export",
            "-m",
            "contacts",
            "-f",
            "csv",
            "--columns",
            "email,nope",
            "-o",
            "-",
        ],
        &["export", "-m", "contacts", "-f", "xlsx", "-o", "-"],
        &[
            "export",
            "-m",
            "contacts",
            "-f",
            "csv",
            "--sort",
            "email:sideways",
            "-o",
            "-",
        ],
        &[
            "export", "-m", "contacts", "-f", "csv", "--filter", "[1]", "-o", "-",
        ],
        &[
            "export", "-m", "contacts", "-f", "csv", "--label", "email", "-o", "-",
        ],
        &[
            "export",
            "-m",
            "contacts",
            "-f",
            "csv",
            "--date-format",
            "%Q",
            "-o",
            "-",
        ],
    ];
    for args in cases {
        let run = rp(&db, dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    let run = rp(
        &db,
        dir.path(),
        &["--json", "export", "-m", "nope", "-f", "csv"],
    );
    assert_eq!(run.code, 3);
    assert_eq!(run.json()["error"]["code"], "not_found");
    // The command needs a module and a format unless it names a subcommand.
    let run = rp(&db, dir.path(), &["export", "-f", "csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--module"), "{}", run.stderr);
    // Nothing was written for the failed runs.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
both!(bad_input, bad_input);
