//! Export jobs and their runners, on both stores: a runner whose lease went to another stops
//! and keeps nothing; a job whose runner was killed is taken over, or failed once it has been
//! interrupted too often, and its killed claims leave no files behind.

use recordport::export::{self, ExportFormat, ExportSettings, JobStatus};
use recordport::records::RecordInput;
use recordport::worker::{Tick, Worker, WorkerOptions};
use serde_json::json;

use crate::both;
use crate::common::{TestDb, actor};
use crate::export::request;

/// Another runner takes the job over, as a worker does once this runner's lease ran out.
async fn take_over(db: &TestDb, id: &str) {
    let mut sql = recordport::store::Sql::new(
        "UPDATE export_jobs SET worker_id = 'worker-b', lease_expires_at = ",
    );
    sql.bind(recordport::store::now_micros() + 3_600_000_000)
        .push(" WHERE id = ")
        .bind(id);
    assert_eq!(db.service.store().execute(sql).await.unwrap(), 1);
}

/// Blocks the runner (it is inside a progress callback) while `work` runs.
fn stall(work: impl std::future::Future<Output = ()>, pause: std::time::Duration) {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(work);
        std::thread::sleep(pause);
    });
}

/// An export whose lease went to another runner stops writing at its next page, removes its
/// file and neither completes nor fails the job: the other runner owns it. That holds when the
/// heartbeat finds out between pages and when only the completing write is left to find out.
async fn lost_lease(db: TestDb) {
    for chunk in [1_000, 1_000, 500] {
        let inputs = (0..chunk)
            .map(|i| {
                let body = json!({"fields": {"name": format!("Account {chunk}-{i:04}")}});
                RecordInput::from_json(body, "test").unwrap()
            })
            .collect();
        db.service
            .bulk_create("accounts", inputs, &actor())
            .await
            .unwrap();
    }
    let store = db.service.store();
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let mut settings = ExportSettings::new(&exports);
    // A heartbeat every 100 ms.
    settings.lease = std::time::Duration::from_millis(300);
    let req = request(ExportFormat::Csv, json!({"columns": ["name"]}));
    // Taken over after its first page (of 1,000 records), while it stalls for four heartbeats.
    // Taken over during its last page: the heartbeat has not run, the completion is fenced.
    for (take_over_at, pause_ms) in [(1_000, 400), (2_500, 0)] {
        let job = export::create_job(store, "accounts", &req, None)
            .await
            .unwrap();
        let id = job.export_job_id.clone();
        let mut reported = Vec::new();
        let outcome = export::run_job(store, &settings, &id, |done, total| {
            reported.push((done, total));
            if done == take_over_at {
                stall(
                    take_over(&db, &id),
                    std::time::Duration::from_millis(pause_ms),
                );
            }
        })
        .await;
        let error = outcome.unwrap_err();
        assert!(
            matches!(error, recordport::Error::LeaseLost { .. }),
            "{error}"
        );
        assert_eq!(error.code(), "conflict");
        // Not a page more after it learned of the takeover.
        assert_eq!(
            reported.last(),
            Some(&(take_over_at, 2_500)),
            "{reported:?}"
        );
        let after = export::get_job(store, &id).await.unwrap();
        assert_eq!(after.status, JobStatus::Processing, "{after:?}");
        assert_eq!(after.file_path, None);
        assert_eq!(after.completed_date_time, None);
        assert_eq!(after.error, None);
        assert!(after.processed_records <= take_over_at, "{after:?}");
        let files: Vec<_> = std::fs::read_dir(&exports)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(files.is_empty(), "{files:?}");
    }
}
both!(lost_lease, lost_lease);

/// Leaves job `id` as a runner killed during claim `attempt` leaves it: processing under a
/// lease that has run out, and its partial file (`ID-ATTEMPT.csv.part`) in the exports
/// directory.
async fn crashed_claim(db: &TestDb, exports: &std::path::Path, id: &str, attempt: i64) {
    let mut sql = recordport::store::Sql::new(
        "UPDATE export_jobs SET status = 'processing', worker_id = 'killed', attempts = ",
    );
    sql.bind(attempt)
        .push(", lease_expires_at = ")
        .bind(recordport::store::now_micros() - 1_000_000)
        .push(" WHERE id = ")
        .bind(id);
    assert_eq!(db.service.store().execute(sql).await.unwrap(), 1);
    std::fs::create_dir_all(exports).unwrap();
    std::fs::write(
        exports.join(format!("{id}-{attempt}.csv.part")),
        b"name\nAcc",
    )
    .unwrap();
}

/// A worker takes over an export job whose runner was killed and removes the partial files of
/// the killed claims when the job ends; a job interrupted more than `max_attempts` times is
/// failed instead of run again.
async fn interrupted_jobs(db: TestDb) {
    let store = db.service.store();
    let body = json!({"fields": {"name": "Acme"}});
    let inputs = vec![RecordInput::from_json(body, "test").unwrap()];
    db.service
        .bulk_create("accounts", inputs, &actor())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let mut options = WorkerOptions::new(ExportSettings::new(&exports));
    options.max_attempts = 2;
    let worker = Worker::new(db.service.clone(), options);
    let req = request(ExportFormat::Csv, json!({"columns": ["name"]}));
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(&exports)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // Killed once: the next claim (the second) runs it, and the first claim's file goes.
    let job = export::create_job(store, "accounts", &req, None)
        .await
        .unwrap();
    let id = job.export_job_id.clone();
    crashed_claim(&db, &exports, &id, 1).await;
    let Tick::Export(done) = worker.tick(0).await.unwrap() else {
        panic!("the worker did not take the export job over");
    };
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(files(), vec![format!("{id}-2.csv")]);
    let kept = std::fs::read_to_string(done.file_path.as_deref().unwrap()).unwrap();
    assert!(kept.contains("Acme"), "{kept}");

    // Killed twice with at most 2 claims: the third claim fails it and removes both files.
    let job = export::create_job(store, "accounts", &req, None)
        .await
        .unwrap();
    let again = job.export_job_id.clone();
    crashed_claim(&db, &exports, &again, 1).await;
    crashed_claim(&db, &exports, &again, 2).await;
    let Tick::Export(failed) = worker.tick(0).await.unwrap() else {
        panic!("the worker did not claim the export job");
    };
    assert_eq!(failed.status, JobStatus::Failed, "{failed:?}");
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(error.contains("was interrupted 2 times"), "{error}");
    assert_eq!(failed.file_path, None);
    assert_eq!(files(), vec![format!("{id}-2.csv")]);
    assert!(matches!(worker.tick(0).await.unwrap(), Tick::Idle));
}
both!(
    interrupted_export_jobs_end_and_leave_no_files,
    interrupted_jobs
);
