//! The job queue and `recordport worker` as processes, on both stores: background imports and
//! exports, cancel, graceful shutdown, several workers on one queue, and crash-resume under
//! `SIGKILL` (the final store, counters, errors and ledger are those of an uninterrupted run).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngExt;
use recordport::import::{ImportJob, JobStatus, get_job};
use serde_json::Value;

use crate::both;
use crate::common::{TestDb, recordport_process, scalar};

/// The binary on `db`.
fn recordport(db: &TestDb) -> Command {
    let mut cmd = recordport_process();
    cmd.arg("--db").arg(&db.url);
    cmd
}

/// Runs a command to its end; panics with its output unless it exits 0. Returns stdout.
fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("run recordport");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A generated contacts file (duplicates in it, and invalid values).
fn generated(dir: &Path, rows: u64, seed: u64) -> PathBuf {
    let path = dir.join(format!("contacts-{rows}-{seed}.csv"));
    let mut cmd = recordport_process();
    cmd.args(["bench", "gen", "--rows", &rows.to_string(), "--seed"])
        .arg(seed.to_string())
        .arg("-o")
        .arg(&path);
    run_ok(cmd);
    path
}

/// Queues `file` for the contacts module (`import run --background`); returns the job id.
fn enqueue(db: &TestDb, file: &Path, extra: &[&str]) -> String {
    let mut cmd = recordport(db);
    cmd.args(["--json", "import", "run"])
        .arg(file)
        .args(["-m", "contacts", "--background", "--max-file-mb", "500"])
        .args(extra);
    let out: Value = serde_json::from_str(&run_ok(cmd)).expect("JSON");
    assert_eq!(out["data"]["status"], "pending", "{out}");
    out["data"]["importJobId"]
        .as_str()
        .expect("job id")
        .to_string()
}

/// A worker with a short lease (1 s, for the crash tests) unless `args` sets one.
fn worker_command(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = recordport(db);
    cmd.args(["worker", "--poll-ms", "50"]);
    if !args.contains(&"--lease-secs") {
        cmd.args(["--lease-secs", "1"]);
    }
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn spawn_worker(db: &TestDb, args: &[&str]) -> Child {
    worker_command(db, args).spawn().expect("start worker")
}

/// Runs a worker until the queue is empty. The lease of a killed worker must have run out first,
/// or the queue looks empty.
fn drain(db: &TestDb, args: &[&str]) {
    let mut cmd = worker_command(db, args);
    cmd.arg("--exit-when-idle");
    let status = cmd.status().expect("run worker");
    assert!(status.success(), "worker exited with {status}");
}

async fn job(db: &TestDb, id: &str) -> ImportJob {
    get_job(db.service.store(), db.service.modules(), "contacts", id)
        .await
        .expect("job")
}

/// Polls the job until `done` holds (or panics after `limit`).
async fn wait_for(db: &TestDb, id: &str, limit: Duration, done: impl Fn(&ImportJob) -> bool) {
    let start = Instant::now();
    loop {
        let job = job(db, id).await;
        if done(&job) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "job {id} did not get there in {limit:?}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The contacts as an export shows them, sorted by email, without ids and times (which differ
/// between two stores).
fn contacts_table(db: &TestDb, dir: &Path, name: &str) -> Vec<Vec<String>> {
    let out = dir.join(format!("{name}.csv"));
    let mut cmd = recordport(db);
    cmd.args([
        "export",
        "-m",
        "contacts",
        "-f",
        "csv",
        "--sort",
        "email:asc",
    ])
    .arg("--export-dir")
    .arg(dir.join("exports"))
    .arg("-o")
    .arg(&out);
    run_ok(cmd);
    let mut reader = csv::Reader::from_path(&out).expect("read export");
    let headers = reader.headers().expect("headers").clone();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !matches!(*h, "Created" | "Updated" | "Record owner"))
        .map(|(i, _)| i)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            keep.iter().map(|&i| r[i].to_string()).collect()
        })
        .collect()
}

/// Email keys held by more than one live record: must be none.
async fn duplicate_emails(db: &TestDb) -> i64 {
    let sql = "SELECT COUNT(*) FROM (SELECT k.key FROM record_keys k JOIN key_spaces s ON \
               s.id = k.space JOIN records r ON r.id = k.record_id WHERE s.field_slug = 'email' \
               AND r.deleted_at IS NULL GROUP BY k.key HAVING COUNT(*) > 1) d";
    scalar(db, sql).await
}

/// What an undo of the job has left to do: its ledger lines (records it updated) and the records
/// that name it as their creator.
async fn ledger_rows(db: &TestDb, job_id: &str) -> i64 {
    scalar(
        db,
        &format!(
            "(SELECT COUNT(*) FROM import_ledger WHERE job_id = '{job_id}') + \
             (SELECT COUNT(*) FROM records WHERE created_by_job = '{job_id}')"
        ),
    )
    .await
}

fn counts(job: &ImportJob) -> [u64; 7] {
    [
        job.total_rows,
        job.processed_rows,
        job.created_rows,
        job.updated_rows,
        job.unchanged_rows,
        job.skipped_rows,
        job.error_rows,
    ]
}

fn assert_reconciles(job: &ImportJob) {
    assert_eq!(job.processed_rows, job.total_rows, "{job:?}");
    assert_eq!(
        job.processed_rows,
        job.created_rows
            + job.updated_rows
            + job.unchanged_rows
            + job.skipped_rows
            + job.error_rows,
        "{job:?}"
    );
}

/// An uninterrupted foreground import of `file` into a fresh store of the same kind as `like`.
async fn reference_run(like: &TestDb, file: &Path, dir: &Path) -> (ImportJob, Vec<Vec<String>>) {
    let reference = if like.url.starts_with("postgres") {
        TestDb::postgres().await.expect("PostgreSQL")
    } else {
        TestDb::sqlite().await
    };
    let mut cmd = recordport(&reference);
    cmd.args(["--json", "import", "run"]).arg(file).args([
        "-m",
        "contacts",
        "--max-file-mb",
        "500",
    ]);
    let out: Value = serde_json::from_str(&run_ok(cmd)).expect("JSON");
    let id = out["data"]["importJobId"].as_str().expect("job id");
    let job = job(&reference, id).await;
    let table = contacts_table(&reference, dir, "reference");
    (job, table)
}

both!(background_import_runs_on_a_worker, background_import);
async fn background_import(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), 3_000, 11);
    let jobs_dir = dir.path().join("jobs");
    let id = enqueue(&db, &file, &["--jobs-dir", jobs_dir.to_str().unwrap()]);
    // The job holds its own copy of the file: the caller's may go away.
    std::fs::remove_file(&file).unwrap();
    let queued = job(&db, &id).await;
    assert_eq!(queued.status, JobStatus::Pending);
    // Counted when queued: the size and mode show before a worker starts.
    assert_eq!(queued.total_rows, 3_000);
    assert_eq!(queued.processing_mode.as_str(), "sync");
    drain(&db, &["--chunk-rows", "700"]);
    let done = job(&db, &id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.total_rows, 3_000);
    assert_eq!(done.attempts, 1);
    assert!(done.worker_id.is_some());
    assert!(done.rows_per_second.unwrap_or(0.0) > 0.0, "{done:?}");
    assert_reconciles(&done);
    assert!(done.error_rows > 0 && !done.errors.is_empty(), "{done:?}");
    // The copy is removed once the job is over.
    assert_eq!(std::fs::read_dir(&jobs_dir).unwrap().count(), 0);

    // Same file, same outcome as a foreground import.
    let file = generated(dir.path(), 3_000, 11);
    let (reference, reference_table) = reference_run(&db, &file, dir.path()).await;
    assert_eq!(counts(&done), counts(&reference));
    assert_eq!(done.errors, reference.errors);
    assert_eq!(contacts_table(&db, dir.path(), "queued"), reference_table);
}

both!(pending_and_running_jobs_cancel, cancel_jobs);
async fn cancel_jobs(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), 8_000, 12);
    // Pending: cancelled at once, and no worker runs it.
    let pending = enqueue(&db, &file, &[]);
    let mut cmd = recordport(&db);
    cmd.args(["--json", "import", "cancel", "-m", "contacts", &pending]);
    let out: Value = serde_json::from_str(&run_ok(cmd)).unwrap();
    assert_eq!(out["data"]["status"], "cancelled");
    drain(&db, &[]);
    assert_eq!(job(&db, &pending).await.status, JobStatus::Cancelled);
    assert_eq!(job(&db, &pending).await.processed_rows, 0);

    // Running: stops at its next batch and is rolled back.
    let running = enqueue(&db, &file, &[]);
    let mut worker = spawn_worker(&db, &["--chunk-rows", "100", "--commit-rows", "100"]);
    wait_for(&db, &running, Duration::from_secs(120), |j| {
        j.processed_rows > 0
    })
    .await;
    let mut cmd = recordport(&db);
    cmd.args(["import", "cancel", "-m", "contacts", &running]);
    run_ok(cmd);
    wait_for(&db, &running, Duration::from_secs(120), |j| {
        j.status == JobStatus::Cancelled
    })
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let cancelled = job(&db, &running).await;
    assert!(cancelled.processed_rows < 8_000, "{cancelled:?}");
    assert_eq!(
        cancelled.rollback.as_ref().map(|r| r.deleted_count),
        Some(cancelled.created_rows)
    );
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM records").await, 0);
    assert_eq!(ledger_rows(&db, &running).await, 0);
    // A finished job cannot be cancelled (it is rolled back instead): exit code 4, conflict.
    let mut cmd = recordport(&db);
    cmd.args(["import", "cancel", "-m", "contacts", &running]);
    assert_eq!(cmd.output().unwrap().status.code(), Some(4));
}

both!(sigterm_checkpoints_and_releases_the_job, graceful_shutdown);
async fn graceful_shutdown(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), 6_000, 13);
    let id = enqueue(&db, &file, &[]);
    let mut worker = spawn_worker(
        &db,
        &[
            "--chunk-rows",
            "200",
            "--commit-rows",
            "200",
            "--lease-secs",
            "600",
        ],
    );
    wait_for(&db, &id, Duration::from_secs(120), |j| j.processed_rows > 0).await;
    let status = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = worker.wait().unwrap();
    assert!(exit.success(), "worker exited with {exit} on SIGTERM");
    let stopped = job(&db, &id).await;
    assert_eq!(stopped.status, JobStatus::Processing, "{stopped:?}");
    assert!(stopped.processed_rows < 6_000, "{stopped:?}");
    // The lease (600 s) was given back: the next worker takes over at once and finishes.
    drain(&db, &["--chunk-rows", "200"]);
    let done = job(&db, &id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.attempts, 2);
    assert_reconciles(&done);
    let (reference, reference_table) = reference_run(&db, &file, dir.path()).await;
    assert_eq!(counts(&done), counts(&reference));
    assert_eq!(done.errors, reference.errors);
    assert_eq!(contacts_table(&db, dir.path(), "resumed"), reference_table);
}

both!(
    workers_share_a_queue_without_running_a_job_twice,
    shared_queue
);
async fn shared_queue(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // Nine files with no email in common: this test is about claims (overlapping jobs side by
    // side are `import_concurrent`'s).
    let ids: Vec<String> = split_file(dir.path(), 1_350, 9)
        .iter()
        .map(|file| enqueue(&db, file, &["--strategy", "create"]))
        .collect();
    let mut cmd = recordport(&db);
    cmd.args([
        "--json",
        "export",
        "-m",
        "contacts",
        "-f",
        "csv",
        "--background",
    ]);
    let export: Value = serde_json::from_str(&run_ok(cmd)).unwrap();
    let export_id = export["data"]["exportJobId"].as_str().unwrap().to_string();
    let export_dir = dir.path().join("exports");
    let workers: Vec<Child> = (0..3)
        .map(|_| {
            let mut cmd = worker_command(
                &db,
                &[
                    "--exit-when-idle",
                    "--concurrency",
                    "2",
                    "--chunk-rows",
                    "50",
                    // Long enough that no lease runs out while six slots queue for SQLite's
                    // write lock: a second claim here could only mean a double claim.
                    "--lease-secs",
                    "60",
                ],
            );
            cmd.arg("--export-dir").arg(&export_dir);
            cmd.spawn().unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success());
    }
    let mut created = 0;
    for id in &ids {
        let job = job(&db, id).await;
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(job.attempts, 1, "job {id} was claimed twice: {job:?}");
        assert_reconciles(&job);
        assert_eq!(ledger_rows(&db, id).await, job.created_rows as i64);
        created += job.created_rows as i64;
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM records").await, created);
    let export = recordport::export::get_job(db.service.store(), &export_id)
        .await
        .unwrap();
    assert_eq!(export.status.as_str(), "completed", "{export:?}");
    let path = PathBuf::from(export.file_path.expect("export file"));
    assert!(path.starts_with(std::path::absolute(&export_dir).unwrap()));
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
}

both!(kill_9_at_random_points_resumes_exactly_once, crash_resume);
async fn crash_resume(db: TestDb) {
    const ROWS: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), ROWS, 14);
    let id = enqueue(&db, &file, &[]);
    let seed: u64 = rand::rng().random();
    eprintln!("kill schedule seed: {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut kills = 0;
    // Kill the worker a little after it passes each of these shares of the file.
    for share in [0.1, 0.35, 0.6, 0.85] {
        let threshold = (ROWS as f64 * share) as u64;
        let mut worker = spawn_worker(&db, &["--chunk-rows", "500"]);
        wait_for(&db, &id, Duration::from_secs(300), |j| {
            j.processed_rows >= threshold
                || j.status != JobStatus::Processing && j.status != JobStatus::Pending
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        if job(&db, &id).await.status == JobStatus::Processing {
            kills += 1;
        }
        // Let the dead worker's lease run out.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    assert!(kills >= 3, "only {kills} kills hit the running job");
    drain(&db, &["--chunk-rows", "500"]);
    let done = job(&db, &id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert!(done.attempts as usize > kills, "{done:?}");
    assert_reconciles(&done);
    assert_eq!(duplicate_emails(&db).await, 0);
    assert_eq!(
        ledger_rows(&db, &id).await,
        (done.created_rows + done.updated_rows) as i64
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM records").await,
        done.created_rows as i64
    );
    let (reference, reference_table) = reference_run(&db, &file, dir.path()).await;
    assert_eq!(counts(&done), counts(&reference));
    assert_eq!(done.errors, reference.errors);
    assert_eq!(contacts_table(&db, dir.path(), "resumed"), reference_table);
}

both!(a_killed_foreground_import_is_undone, abandoned_foreground);
async fn abandoned_foreground(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), 8_000, 15);
    let start = |db: &TestDb| {
        let mut cmd = recordport(db);
        cmd.args(["import", "run"])
            .arg(&file)
            .args([
                "-m",
                "contacts",
                "--chunk-rows",
                "200",
                "--commit-rows",
                "200",
            ])
            .args(["--lease-secs", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.spawn().expect("start import")
    };
    // Killed, then rolled back: refused while its lease runs, done once it ran out.
    let mut import = start(&db);
    let id = running_job(&db, None).await;
    import.kill().unwrap();
    import.wait().unwrap();
    assert_eq!(job(&db, &id).await.status, JobStatus::Processing);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut cmd = recordport(&db);
    cmd.args(["--json", "import", "rollback", "-m", "contacts", &id]);
    run_ok(cmd);
    let undone = job(&db, &id).await;
    assert_eq!(undone.status, JobStatus::Cancelled, "{undone:?}");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM records").await, 0);

    // Killed, then found by a worker: failed and undone.
    let mut import = start(&db);
    let second = running_job(&db, Some(&id)).await;
    import.kill().unwrap();
    import.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    drain(&db, &[]);
    let failed = job(&db, &second).await;
    assert_eq!(failed.status, JobStatus::Failed, "{failed:?}");
    assert!(
        failed
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("stopped before the end"),
        "{failed:?}"
    );
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM records").await, 0);
    assert_eq!(ledger_rows(&db, &second).await, 0);
}

/// The newest job (other than `not`) that has committed a batch.
async fn running_job(db: &TestDb, not: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        let jobs = recordport::import::list_jobs(
            db.service.store(),
            db.service.modules(),
            "contacts",
            Some(1),
        )
        .await
        .unwrap();
        if let Some(job) = jobs
            .into_iter()
            .find(|j| j.processed_rows > 0 && Some(j.import_job_id.as_str()) != not)
        {
            return job.import_job_id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no import started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both!(log_json_writes_one_object_per_event, json_logs);
async fn json_logs(db: TestDb) {
    let mut cmd = recordport(&db);
    cmd.args(["--log-json", "worker", "--exit-when-idle"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let events: Vec<Value> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each log line is a JSON object"))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "worker started" && e["level"] == "INFO"),
        "{events:?}"
    );
}

/// A generated file without repeated emails, cut into `parts` files of equal size.
fn split_file(dir: &Path, rows: u64, parts: u64) -> Vec<PathBuf> {
    let whole = dir.join("whole.csv");
    let mut cmd = recordport_process();
    cmd.args(["bench", "gen", "--rows", &rows.to_string(), "--seed", "100"])
        .args(["--duplicate-rate", "0", "-o"])
        .arg(&whole);
    run_ok(cmd);
    let mut reader = csv::Reader::from_path(&whole).unwrap();
    let headers = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    records
        .chunks((rows / parts) as usize)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("part-{i}.csv"));
            let mut writer = csv::Writer::from_path(&path).unwrap();
            writer.write_record(&headers).unwrap();
            for record in chunk {
                writer.write_record(record).unwrap();
            }
            writer.flush().unwrap();
            path
        })
        .collect()
}

both!(kill_9_during_an_undo_leaves_the_store_as_before, crash_undo);
/// Issue 17: an import that updates and creates records fails on a worker (`--max-attempts 1`
/// after a crash), and the workers undoing it are killed at random points of the undo. The job
/// stays claimable with its undo pending until its ledger is empty, says it was undone only then,
/// and the store ends exactly as it was before the import.
async fn crash_undo(db: TestDb) {
    const ROWS: u64 = 40_000;
    let dir = tempfile::tempdir().unwrap();
    // The store before: the first half of a file's contacts.
    let parts = split_file(dir.path(), ROWS, 2);
    let mut cmd = recordport(&db);
    cmd.args(["import", "run"])
        .arg(&parts[0])
        .args(["-m", "contacts", "--max-file-mb", "500"]);
    run_ok(cmd);
    let before = contacts_table(&db, dir.path(), "before");
    let live = "SELECT COUNT(*) FROM records WHERE deleted_at IS NULL";
    let live_before = scalar(&db, live).await;
    // The import: every contact, with another job title: half of it updates, half creates.
    let changed = dir.path().join("changed.csv");
    let mut reader = csv::Reader::from_path(dir.path().join("whole.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let title = headers
        .iter()
        .position(|h| h == "Job Title")
        .expect("Job Title column");
    let mut writer = csv::Writer::from_path(&changed).unwrap();
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        row[title] = format!("{} (changed)", row[title]);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    drop(writer);
    let id = enqueue(
        &db,
        &changed,
        &["--strategy", "update", "--merge", "overwrite"],
    );
    let worker_args = ["--chunk-rows", "500", "--max-attempts", "1"];
    // Killed while importing; the next claim is past --max-attempts, so the job fails and is
    // undone.
    let mut worker = spawn_worker(&db, &worker_args);
    wait_for(&db, &id, Duration::from_secs(300), |j| {
        j.processed_rows >= ROWS * 9 / 10
            || j.status != JobStatus::Processing && j.status != JobStatus::Pending
    })
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let written = ledger_rows(&db, &id).await;
    assert!(written > 0 && job(&db, &id).await.status == JobStatus::Processing);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let seed: u64 = rand::rng().random();
    eprintln!("kill schedule seed: {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut kills = 0;
    let mut left = written;
    for _ in 0..8 {
        let mut worker = spawn_worker(&db, &worker_args);
        // Wait for the undo to make progress, then kill it a random moment later.
        let start = Instant::now();
        loop {
            let now = ledger_rows(&db, &id).await;
            let undone = job(&db, &id).await.status != JobStatus::Processing;
            if now < left || undone || start.elapsed() > Duration::from_secs(120) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        let now = job(&db, &id).await;
        left = ledger_rows(&db, &id).await;
        if now.status != JobStatus::Processing {
            break;
        }
        // Killed during the undo: the job says so, and is not called undone.
        assert!(now.undo_pending, "{now:?}");
        kills += 1;
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    assert!(kills >= 2, "only {kills} kills hit the undo");
    drain(&db, &worker_args);
    let failed = job(&db, &id).await;
    assert_eq!(failed.status, JobStatus::Failed, "{failed:?}");
    assert!(!failed.undo_pending, "{failed:?}");
    assert!(
        failed
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("interrupted 1 times"),
        "{failed:?}"
    );
    assert_eq!(ledger_rows(&db, &id).await, 0);
    assert_eq!(duplicate_emails(&db).await, 0);
    assert_eq!(scalar(&db, live).await, live_before);
    assert_eq!(contacts_table(&db, dir.path(), "after"), before);
}
