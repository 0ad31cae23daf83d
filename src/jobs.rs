//! What import and export jobs share: the statuses of spec 002, and the queue workers claim them
//! from (claims under a lease, heartbeats, release).
//!
//! In: a job table and a [`Lease`]. Out: [`Claimed`] jobs. Guarantees: a job is held by one lease
//! at a time: every claim ([`claim_next`] for the oldest claimable job, [`claim`] for a given
//! pending one) is one conditional `UPDATE`, and a runner whose lease went to another runner
//! learns it from its next heartbeat or its next fenced write (`WHERE worker_id = …`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Dialect, Sql, Store, now_micros};

/// Spec 002's job statuses, for import and export jobs alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Created, waiting to start.
    Pending,
    Processing,
    Completed,
    /// Could not finish; the job row says why.
    Failed,
    /// Rolled back (imports) or cancelled before the end (exports).
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a status stored in a job table.
    pub(crate) fn parse(text: &str) -> Result<JobStatus> {
        Ok(match text {
            "pending" => JobStatus::Pending,
            "processing" => JobStatus::Processing,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            other => {
                return Err(Error::corrupt(format!(
                    "a stored job has an unknown status '{other}'"
                )));
            }
        })
    }
}

/// A worker's hold on a job: who holds it, and how long it lasts without a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Unique per worker process (and per slot of a worker running several jobs).
    pub worker_id: String,
    pub duration: Duration,
}

impl Lease {
    pub fn new(worker_id: impl Into<String>, duration: Duration) -> Lease {
        Lease {
            worker_id: worker_id.into(),
            duration,
        }
    }

    /// When a lease taken or renewed at `now` runs out.
    pub(crate) fn expiry(&self, now: i64) -> i64 {
        now.saturating_add(i64::try_from(self.duration.as_micros()).unwrap_or(i64::MAX))
    }

    /// Appends the fence of a write to a job row: ` AND worker_id = … AND status =
    /// 'processing'`, so that it changes nothing once another runner holds the job (or the job
    /// was cancelled).
    pub(crate) fn fence(&self, sql: &mut Sql) {
        sql.push(" AND worker_id = ")
            .bind(self.worker_id.clone())
            .push(" AND status = 'processing'");
    }
}

/// The two job tables the queue serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobTable {
    Import,
    Export,
}

impl JobTable {
    fn name(self) -> &'static str {
        match self {
            JobTable::Import => "import_jobs",
            JobTable::Export => "export_jobs",
        }
    }

    /// The column that orders the queue: oldest job first.
    fn queued_at(self) -> &'static str {
        match self {
            JobTable::Import => "created_at",
            JobTable::Export => "requested_at",
        }
    }
}

/// A job a worker has just claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub id: String,
    /// How many times the job has been claimed, this claim included.
    pub attempts: i64,
}

/// Claims the oldest job that is pending, or processing under a lease that ran out (its worker
/// died), for `lease`. Jobs run in the foreground have no lease and are never claimed.
///
/// On PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so concurrent workers
/// each take a different job without waiting for each other. SQLite has one writer at a time:
/// the single `UPDATE … RETURNING` statement is atomic, so two workers never claim one job.
pub(crate) async fn claim_next(
    store: &Store,
    table: JobTable,
    lease: &Lease,
) -> Result<Option<Claimed>> {
    let now = now_micros();
    let name = table.name();
    let queued_at = table.queued_at();
    let skip_locked = match store.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let mut sql = claim_update(table, lease, now);
    sql.push(&format!(
        " WHERE id = (SELECT id FROM {name} WHERE status = 'pending' OR (status = \
         'processing' AND lease_expires_at < "
    ))
    .bind(now)
    .push(&format!(
        ") ORDER BY {queued_at}, id LIMIT 1{skip_locked}) RETURNING id, attempts"
    ));
    claimed(store, sql).await
}

/// Claims the job `id` for `lease` if it is pending: the same claim as [`claim_next`], for a
/// runner that was handed one job (`export::run_job`). `None` when the job is not pending (or
/// does not exist).
pub(crate) async fn claim(
    store: &Store,
    table: JobTable,
    id: &str,
    lease: &Lease,
) -> Result<Option<Claimed>> {
    let mut sql = claim_update(table, lease, now_micros());
    sql.push(" WHERE id = ")
        .bind(id)
        .push(" AND status = 'pending' RETURNING id, attempts");
    claimed(store, sql).await
}

/// `UPDATE … SET` of a claim: the job becomes `processing` under `lease`, one attempt more.
fn claim_update(table: JobTable, lease: &Lease, now: i64) -> Sql {
    let mut sql = Sql::new(format!(
        "UPDATE {} SET status = 'processing', worker_id = ",
        table.name()
    ));
    sql.bind(lease.worker_id.clone())
        .push(", lease_expires_at = ")
        .bind(lease.expiry(now))
        .push(", heartbeat_at = ")
        .bind(now)
        .push(", attempts = attempts + 1, started_at = COALESCE(started_at, ")
        .bind(now)
        .push(")");
    sql
}

async fn claimed(store: &Store, sql: Sql) -> Result<Option<Claimed>> {
    let Some(row) = store.write_returning(sql).await?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(Claimed {
        id: row.text("id")?,
        attempts: row.int("attempts")?,
    }))
}

/// Renews the lease; `false` when this worker no longer holds the job (another worker claimed it
/// after the lease ran out, or it is no longer processing).
pub(crate) async fn heartbeat(
    store: &Store,
    table: JobTable,
    id: &str,
    lease: &Lease,
) -> Result<bool> {
    let now = now_micros();
    let mut sql = Sql::new(format!("UPDATE {} SET heartbeat_at = ", table.name()));
    sql.bind(now)
        .push(", lease_expires_at = ")
        .bind(lease.expiry(now))
        .push(" WHERE id = ")
        .bind(id);
    lease.fence(&mut sql);
    Ok(store.execute(sql).await? > 0)
}

/// Gives a job back to the queue at once (a worker shutting down between two batches): the next
/// worker claims it and goes on from its checkpoint.
pub(crate) async fn release(store: &Store, table: JobTable, id: &str, lease: &Lease) -> Result<()> {
    let mut sql = Sql::new(format!(
        "UPDATE {} SET lease_expires_at = 0 WHERE id = ",
        table.name()
    ));
    sql.bind(id);
    lease.fence(&mut sql);
    store.execute(sql).await?;
    Ok(())
}

/// Renews a job's lease every third of its duration until aborted; sets `lost` when the lease
/// went to another worker.
pub(crate) fn spawn_heartbeat(
    store: Store,
    table: JobTable,
    job_id: String,
    lease: Lease,
    lost: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = (lease.duration / 3).max(std::time::Duration::from_millis(50));
        let mut ticks = tokio::time::interval(period);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match heartbeat(&store, table, &job_id, &lease).await {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                // A database hiccup: the next beat tries again; the lease has room for it.
                Err(e) => tracing::warn!(job_id, "heartbeat failed: {e}"),
            }
        }
    })
}

/// `PREFIX-host-pid-random`: readable in a job row, and never reused by a restarted process.
pub fn process_lease_id(prefix: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{prefix}-{host}-{}-{}",
        std::process::id(),
        &random[random.len() - 6..]
    )
}
