//! Issue 18, first run and everyday use, through the real binary: no size cap on local files,
//! the spec's spellings, the demo script, help, progress, the error budget, the data directory,
//! rollback reports (locale-aware values: `locale_values.rs`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::both;
use crate::common::{Run, TestDb, recordport_process, sample_dir};
use crate::import_cli::{sample, write_file};

/// `recordport ARGS…` as a process, in `dir` when given.
fn recordport(args: &[&str], dir: Option<&Path>) -> Run {
    let mut cmd = recordport_process();
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    Run::of(cmd)
}

/// `recordport --db DB ARGS…`.
pub(crate) fn on_db(db: &TestDb, args: &[&str]) -> Run {
    recordport(&[&["--db", db.url.as_str()], args].concat(), None)
}

/// `recordport --db DB --json import run FILE --module contacts EXTRA…`.
fn run_contacts(db: &TestDb, file: &str, extra: &[&str]) -> Run {
    let args = ["--json", "import", "run", file, "--module", "contacts"];
    on_db(db, &[&args[..], extra].concat())
}

/// A CSV of `rows` contacts, about 100 bytes a row.
fn contacts_csv(rows: usize) -> String {
    let mut text = String::from("First Name,Last Name,Email,Notes\n");
    for i in 0..rows {
        text.push_str(&format!(
            "Person{i},Tester,person{i}@example.com,{}\n",
            "x".repeat(60)
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_have_no_size_cap_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    // About 2 MiB: over a 1 MiB cap, under none.
    let file = write_file(dir.path(), "two-mib.csv", &contacts_csv(22_000));
    let file = file.display().to_string();
    let parse = |file: &str, extra: &[&str]| {
        let args = ["--db", db.as_str(), "--json", "import", "parse", file];
        recordport(&[&args[..], extra].concat(), None)
    };
    let capped = parse(&file, &["--max-file-mb", "1"]);
    assert_eq!(capped.code, 2, "{} {}", capped.stdout, capped.stderr);
    let error = &capped.json()["error"];
    assert_eq!(error["code"], "file_too_large", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1 MiB"),
        "{error}"
    );
    // 0 is no cap, not zero bytes.
    let parsed = parse(&file, &["--max-file-mb", "0"]).ok("parse --max-file-mb 0");
    assert_eq!(parsed.json()["data"]["totalRows"], json!(22_000));

    // Over spec 002's 100 MB upload limit, by default: the file is read (a sparse file, so its
    // tail of zero bytes is refused as a row, not for its size).
    let big = write_file(dir.path(), "big.csv", "name,email\nA,a@example.com\n");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(101 * 1024 * 1024)
        .unwrap();
    let read = parse(&big.display().to_string(), &[]);
    let error = &read.json()["error"];
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("row after row 2") && !message.contains("the file is"),
        "{error}"
    );
}

async fn spec_spellings_of_merge_modes(db: TestDb) {
    let file = sample("contacts-duplicates.csv");
    on_db(&db, &["import", "run", &file, "--module", "contacts"]).ok("first import");
    for (given, stored) in [
        ("prefer_import", "prefer_import"),
        ("prefer-import", "prefer_import"),
        ("fill_empty", "fill_empty"),
        ("fill-empty", "fill_empty"),
        ("overwrite", "overwrite"),
    ] {
        let run = run_contacts(&db, &file, &["--strategy", "update", "--merge", given]).ok(given);
        let job_id = run.json()["data"]["importJobId"]
            .as_str()
            .unwrap()
            .to_string();
        let job = on_db(
            &db,
            &["--json", "import", "job", &job_id, "--module", "contacts"],
        )
        .ok("import job");
        assert_eq!(job.json()["data"]["mergeMode"], json!(stored), "{given}");
    }
    let help = recordport(&["import", "run", "--help"], None).ok("help");
    assert!(help.stdout.contains("prefer_import"), "{}", help.stdout);
}
both!(spec_spellings, spec_spellings_of_merge_modes);

/// `sample-data/demo.sh` from a copy of the repository without a `target/`, under another
/// CARGO_TARGET_DIR: it must reach the binary through cargo, not a path of its own. A `cargo`
/// first on PATH stands in for the real one: it runs this test's binary for `cargo run --`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_script_runs_from_a_fresh_clone_under_any_target_dir() {
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("clone");
    copy_dir(&sample_dir(), &clone.join("sample-data"));
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("cargo-calls.txt");
    let shim = write_file(
        &bin,
        "cargo",
        "#!/bin/sh\n\
         echo \"$*\" >> \"$CARGO_CALLS\"\n\
         [ \"$1\" = run ] || { echo \"only cargo run is expected: $*\" >&2; exit 101; }\n\
         while [ \"$#\" -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n\
         shift\n\
         exec \"$RECORDPORT_BIN\" \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A clean environment: no database URL, author or log settings from outside.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(clone.join("sample-data/demo.sh"))
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("elsewhere"))
        .env("CARGO_CALLS", &calls)
        .env("RECORDPORT_BIN", env!("CARGO_BIN_EXE_recordport"));
    let out = tokio::task::block_in_place(|| cmd.output()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo.sh failed: {stdout}\n{stderr}");
    for step in [
        "1. Parse",
        "4. Execute",
        "Roll back the last import",
        "rolled back job_",
    ] {
        assert!(stdout.contains(step), "{step} missing in {stdout}");
    }
    assert!(
        clone.join("demo.db").exists(),
        "the demo's database is in the clone's root"
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.lines().all(|l| l.starts_with("run --release")),
        "{calls}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every command of `recordport` and its path, e.g. `import run`.
fn every_command() -> Vec<(String, clap::Command)> {
    use clap::CommandFactory;
    fn walk(prefix: &str, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands() {
            let path = format!("{prefix} {}", sub.get_name()).trim().to_string();
            out.push((path.clone(), sub.clone()));
            walk(&path, sub, out);
        }
    }
    let mut cli = recordport::cli::Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk("", &cli, &mut out);
    out.retain(|(path, _)| !path.split(' ').any(|p| p == "help"));
    out
}

#[test]
fn help_describes_every_command_and_argument_with_examples() {
    let mut missing = Vec::new();
    for (path, command) in every_command() {
        if command.get_about().is_none() {
            missing.push(format!("{path}: no one-line purpose"));
        }
        let after = command
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !after.contains("Examples:\n  recordport ") {
            missing.push(format!("{path}: no Examples: section"));
        }
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            if arg.get_help().is_none() && !["help", "version"].contains(&arg.get_id().as_str()) {
                missing.push(format!("{path}: {} has no description", arg.get_id()));
            }
            // Two doc lines that say the same thing read as one sentence said twice.
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if let Some((first, rest)) = help.split_once(". ")
                && rest.contains(first)
            {
                missing.push(format!("{path}: {} says '{first}' twice", arg.get_id()));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_global_options_apart_and_only_where_they_apply() {
    let help = recordport(&["import", "run", "--help"], None).ok("help");
    let (own, global) = help
        .stdout
        .split_once("Global options:")
        .unwrap_or_else(|| panic!("no Global options heading: {}", help.stdout));
    // The lines that introduce an option (its description may name others).
    let lists = |text: &str, option: &str| {
        text.lines().any(|line| {
            let line = line.trim_start();
            line.strip_prefix(option)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    };
    for option in ["--db", "--json", "--user-id", "--user-name", "--log-json"] {
        assert!(
            !lists(own, option),
            "{option} among the command's own: {own}"
        );
        assert!(lists(global, option), "{option} not under Global options");
    }
    assert!(own.contains("--strategy"), "{own}");
    assert!(
        help.stdout.contains("Examples:\n  recordport import run"),
        "{}",
        help.stdout
    );

    for (args, refused) in [
        (vec!["serve", "--json"], "--json"),
        (vec!["worker", "--json", "--exit-when-idle"], "--json"),
        (
            vec!["bench", "gen", "--db", "sqlite://x.db", "-o", "x.csv"],
            "--db",
        ),
        (vec!["module", "list", "--user-id", "u1"], "--user-id"),
    ] {
        let run = recordport(&args, None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(refused), "{args:?}: {}", run.stderr);
        let help = recordport(&[&args[..args.len().min(2)], &["--help"]].concat(), None);
        assert!(
            !help.stdout.contains(&format!("{refused} ")),
            "{args:?}: {}",
            help.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_gen_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen.csv");
    let run = recordport(
        &[
            "bench",
            "gen",
            "--rows",
            "250",
            "-o",
            &out.display().to_string(),
        ],
        None,
    )
    .ok("bench gen");
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(
        run.stdout.starts_with("wrote 250 contacts rows ("),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&out.display().to_string()),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("{:.1} KiB", size as f64 / 1024.0)),
        "{size}: {}",
        run.stdout
    );
}

/// 10 good contacts, then 40 with a bad email.
fn mostly_bad_contacts(dir: &Path) -> String {
    let mut text = String::from("First Name,Email\n");
    for i in 0..50 {
        let email = if i < 10 {
            format!("good{i}@example.com")
        } else {
            format!("not an email {i}")
        };
        text.push_str(&format!("Person{i},{email}\n"));
    }
    write_file(dir, "mostly-bad.csv", &text)
        .display()
        .to_string()
}

async fn contact_count(db: &TestDb) -> usize {
    db.service
        .list("contacts", &recordport::records::ListQuery::default())
        .await
        .unwrap()
        .records
        .len()
}

async fn error_budget_stops_fails_and_undoes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = mostly_bad_contacts(dir.path());
    let mapping = json!([
        {"sourceColumn": "First Name", "targetFieldSlug": "first_name"},
        {"sourceColumn": "Email", "targetFieldSlug": "email"}
    ])
    .to_string();
    let small_batches = [
        "--chunk-rows",
        "10",
        "--commit-rows",
        "10",
        "--mapping",
        &mapping,
    ];
    // The first batch (10 good rows) commits before the budget of 5 is passed in the second.
    let run = run_contacts(
        &db,
        &file,
        &[&["--max-errors", "5"][..], &small_batches].concat(),
    );
    assert_eq!(run.code, 2, "{} {}", run.stdout, run.stderr);
    let error = run.json()["error"].clone();
    assert_eq!(error["code"], "error_budget_exceeded", "{error}");
    assert_eq!(error["details"]["errorRows"], json!(10), "{error}");
    assert_eq!(error["details"]["row"], json!(21), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("over the error budget of 5"), "{message}");
    assert!(message.contains("undone"), "{message}");
    assert_eq!(contact_count(&db).await, 0, "what the job wrote is undone");
    let job_id = error["details"]["jobId"].as_str().unwrap().to_string();
    let job = on_db(
        &db,
        &["--json", "import", "job", &job_id, "--module", "contacts"],
    )
    .ok("job")
    .json()["data"]
        .clone();
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["failure"]
            .as_str()
            .unwrap_or_default()
            .contains("error budget"),
        "{job}"
    );

    // A share of the rows, in the execute body: 80% of 50 rows allows the 40 bad ones.
    let body = format!(r#"{{"columnMapping": {mapping}, "maxErrors": "80%"}}"#);
    let within = run_contacts(
        &db,
        &file,
        &[&small_batches[..4], &["--mapping", &body]].concat(),
    )
    .ok("within budget");
    assert_eq!(within.json()["data"]["errorRows"], json!(40));
    assert_eq!(contact_count(&db).await, 10);
    let body = body.replace("80%", "10%");
    let over = run_contacts(
        &db,
        &file,
        &[
            &["--strategy", "create"][..],
            &["--mapping", &body],
            &small_batches[..4],
        ]
        .concat(),
    );
    assert_eq!(over.code, 2, "{}", over.stdout);
    assert_eq!(over.json()["error"]["details"]["limit"], json!(5));
    assert_eq!(
        contact_count(&db).await,
        10,
        "only the over-budget job is undone"
    );

    // Without a budget every row is tried.
    let text = on_db(
        &db,
        &[
            "import",
            "run",
            &file,
            "--module",
            "contacts",
            "--mapping",
            &mapping,
        ],
    )
    .ok("no budget");
    assert!(text.stdout.contains("40 failed"), "{}", text.stdout);
    let bad = on_db(
        &db,
        &[
            "import",
            "run",
            &file,
            "--module",
            "contacts",
            "--max-errors",
            "x",
        ],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("not an error budget"), "{}", bad.stderr);
}
both!(error_budget, error_budget_stops_fails_and_undoes);

/// `rows` contacts, every `bad_every`-th with a bad email, and the mapping for them.
fn contacts_with_bad_emails(dir: &Path, rows: usize, bad_every: usize) -> (String, String) {
    let mut text = String::from("First Name,Email\n");
    for i in 0..rows {
        if i % bad_every == 0 {
            text.push_str(&format!("Person{i},not an email {i}\n"));
        } else {
            text.push_str(&format!("Person{i},p{i}@example.com\n"));
        }
    }
    let file = write_file(dir, "with-bad.csv", &text);
    let mapping = json!([
        {"sourceColumn": "First Name", "targetFieldSlug": "first_name"},
        {"sourceColumn": "Email", "targetFieldSlug": "email"}
    ]);
    (file.display().to_string(), mapping.to_string())
}

/// The `progress` events among `--log-json` lines: their fields.
fn progress_events(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "recordport::progress")
        .map(|event| event["fields"].clone())
        .collect()
}

async fn progress_tells_the_truth(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (file, mapping) = contacts_with_bad_emails(dir.path(), 2_000, 7);
    let errors_out = dir.path().join("failed.csv").display().to_string();
    // Small batches and a short interval, so that even a small file reports several times.
    let import = |extra: &[&str]| {
        let args = [
            "--log-json",
            "import",
            "run",
            &file,
            "--module",
            "contacts",
            "--mapping",
            &mapping,
            "--chunk-rows",
            "50",
            "--commit-rows",
            "50",
            "--progress-secs",
            "0.02",
        ];
        on_db(&db, &[&args[..], extra].concat())
    };
    let run = import(&["--errors-out", &errors_out]).ok("import with progress events");
    let events = progress_events(&run.stderr);
    assert!(events.len() >= 2, "{}", run.stderr);
    for event in &events {
        assert!(event["rows_per_second"].is_u64(), "{event}");
        assert!(
            ["counting", "importing"].contains(&event["phase"].as_str().unwrap()),
            "{event}"
        );
        assert!(
            event["rows"].is_u64() && event["total_rows"].is_u64(),
            "{event}"
        );
    }
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "importing", "{last}");
    assert_eq!(last["rows"], json!(2_000), "{last}");
    assert_eq!(last["total_rows"], json!(2_000), "{last}");
    assert!(
        events.iter().any(|e| e.get("eta_seconds").is_some()),
        "{events:?}"
    );

    // The summary matches the result; the error table says how many rows failed and where
    // they all are.
    let summary = run.stdout;
    let failed = 2_000usize.div_ceil(7);
    assert!(
        summary.starts_with(&format!(
            "2000 rows: {} created, 0 updated, 0 unchanged, 0 skipped, {failed} failed (sync mode), job job_",
            2_000 - failed
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "20 of the errors shown; {failed} rows failed in all; every failed row, with its \
             errors, is in {errors_out}"
        )),
        "{summary}"
    );
    let validated = on_db(
        &db,
        &[
            "import",
            "validate",
            &file,
            "--module",
            "contacts",
            "--mapping",
            &mapping,
        ],
    )
    .ok("validate");
    assert!(
        validated.stdout.contains(&format!(
            "{failed} rows failed in all; --json lists the first 1000"
        )),
        "{}",
        validated.stdout
    );

    // Over an error budget the last phase is the undo.
    let run = import(&["--strategy", "create", "--max-errors", "30"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let events = progress_events(&run.stderr);
    assert_eq!(events.last().unwrap()["phase"], "undoing", "{events:?}");
}
both!(progress, progress_tells_the_truth);

/// The names in a directory (none when it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn working_files_in_one_data_directory(db: TestDb) {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    // The documented defaults: beside a SQLite file; under the data home for PostgreSQL.
    let expected = match db.url.strip_prefix("sqlite://") {
        Some(path) => Path::new(path).with_file_name("test-data"),
        None => {
            let database = db.url.rsplit('/').next().unwrap();
            let database = database.split('?').next().unwrap();
            home.path().join(".local/share/recordport").join(database)
        }
    };
    let export = |extra: &[&str]| {
        let mut cmd = recordport_process();
        cmd.current_dir(cwd.path())
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("RECORDPORT_DATA_DIR")
            .args([
                "--db", &db.url, "export", "--module", "contacts", "--format", "csv",
            ])
            .args(["--job", "-o", "mine.csv"])
            .args(extra);
        let out = tokio::task::block_in_place(|| cmd.output()).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    export(&[]);
    let exports = names_in(&expected.join("exports"));
    assert_eq!(exports.len(), 1, "{}: {exports:?}", expected.display());
    assert!(exports[0].starts_with("exp_"), "{exports:?}");
    assert_eq!(
        names_in(cwd.path()),
        ["mine.csv"],
        "only the asked-for output is here"
    );

    let given = home.path().join("given");
    export(&["--data-dir", &given.display().to_string()]);
    assert_eq!(names_in(&given.join("exports")).len(), 1);
    let own = home.path().join("own-exports");
    export(&["--export-dir", &own.display().to_string()]);
    assert_eq!(names_in(&own).len(), 1);

    // The server's uploads go there too, not into the directory it was started from.
    if db.url.starts_with("sqlite://") {
        let started_in = tempfile::tempdir().unwrap();
        let server = crate::http_support::Server::start_in(&db, started_in.path(), &[]).await;
        let bytes = std::fs::read(sample("contacts.csv")).unwrap();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("contacts.csv"),
        );
        let response = server
            .request(reqwest::Method::POST, "/v1/modules/contacts/import/parse")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        assert!(!names_in(&expected.join("uploads")).is_empty());
        assert!(
            names_in(started_in.path()).is_empty(),
            "{:?}",
            names_in(started_in.path())
        );
    }
}
both!(data_directory, working_files_in_one_data_directory);

async fn rollback_report_explains_itself(db: TestDb) {
    on_db(
        &db,
        &[
            "import",
            "run",
            &sample("contacts.csv"),
            "--module",
            "contacts",
        ],
    )
    .ok("contacts");
    let run = run_contacts(
        &db,
        &sample("contacts-duplicates.csv"),
        &["--strategy", "update", "--merge", "prefer_import"],
    )
    .ok("duplicates");
    let data = run.json()["data"].clone();
    assert_eq!(
        (data["createdRows"].clone(), data["updatedRows"].clone()),
        (json!(10), json!(10))
    );
    let job_id = data["importJobId"].as_str().unwrap().to_string();
    let text = on_db(
        &db,
        &["import", "rollback", &job_id, "--module", "contacts"],
    )
    .ok("rollback")
    .stdout;
    // sample-data/import/README.md: 4 rows update contacts.csv's records, 6 repeat rows of the
    // same file.
    assert!(
        text.contains(&format!(
            "rolled back {job_id}: 10 created records deleted, 4 updated records restored\n  \
             the job had 10 created and 10 updated rows: 4 of the updated rows changed records \
             that existed before it (restored); the other 6 changed records this import had \
             created (counted as created: deleted)"
        )),
        "{text}"
    );
}
both!(rollback_report, rollback_report_explains_itself);

/// `pdfinfo` and `pdftotext -layout` of a PDF file.
fn pdf_info_and_text(path: &Path) -> (String, String) {
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("poppler tool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let info = run(std::process::Command::new("pdfinfo").arg(path));
    let text = run(std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(path)
        .arg("-"));
    (info, text)
}

async fn pdf_columns_sized_from_content(db: TestDb) {
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let note: Vec<String> = (0..90).map(|i| format!("word{i:02}")).collect();
    let records: Vec<Value> = (0..12)
        .map(|i| {
            json!({"fields": {
                "first_name": format!("Alexandra{i}"),
                "last_name": "Konstantinopoulou",
                "email": format!("alexandra.konstantinopoulou{i}@enterprise-solutions.example.com"),
                "phone": [{"value": format!("+1 212 555 01{i:02}"), "type": "Work"}],
                "job_title": "Head of International Partnerships",
                "company": "Konstantinopoulou Enterprise Solutions",
                "notes": note.join(" "),
            }})
        })
        .collect();
    on_db(
        &db,
        &[
            "records",
            "bulk-create",
            "--module",
            "contacts",
            "--data",
            &json!(records).to_string(),
        ],
    )
    .ok("bulk-create");
    let export = |columns: &str, name: &str| -> PathBuf {
        let path = dir.path().join(name);
        on_db(
            &db,
            &[
                "export",
                "--module",
                "contacts",
                "--format",
                "pdf",
                "--columns",
                columns,
                "-o",
                &path.display().to_string(),
            ],
        )
        .ok("export pdf");
        path
    };
    // Emails and phones whole, as a CSV export writes them; the long note wrapped, not cut at
    // its first words; a wide table on landscape pages.
    let wide = "displayName,email,phone,company,job_title,notes";
    let (info, text) = pdf_info_and_text(&export(wide, "wide.pdf"));
    assert!(info.contains("841.89 x 595.28"), "landscape: {info}");
    let csv_path = dir.path().join("same.csv");
    on_db(
        &db,
        &[
            "export",
            "--module",
            "contacts",
            "--format",
            "csv",
            "--columns",
            "email,phone",
            "-o",
            &csv_path.display().to_string(),
        ],
    )
    .ok("export csv");
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        for value in row.iter() {
            assert!(text.contains(value), "{value} is cut in: {text}");
        }
    }
    let continued = |word: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(word) && !l.contains("Alexandra"))
    };
    assert!(
        continued("word"),
        "the note continues on the record's next line: {text}"
    );
    assert!(
        text.contains('…'),
        "the rest of a very long note is cut: {text}"
    );

    // A narrow table stays on portrait pages.
    let (info, text) = pdf_info_and_text(&export("displayName,email", "narrow.pdf"));
    assert!(info.contains("595.28 x 841.89"), "portrait: {info}");
    assert!(
        text.contains("alexandra.konstantinopoulou11@enterprise-solutions.example.com"),
        "{text}"
    );
}
both!(pdf_columns, pdf_columns_sized_from_content);
