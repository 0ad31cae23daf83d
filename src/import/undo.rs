//! Undoing a failed or cancelled import job so that no crash can cut the undo short.
//!
//! In: a job whose run failed or was cancelled, and the lease its runner holds. Out: the job
//! `failed` (with why) or `cancelled` (with the rollback outcome), written only once nothing of
//! it is left to undo. Guarantees: until then the job stays
//! `processing` with `undo_pending` set, so a runner killed during the undo leaves a job whose
//! lease runs out and which the next worker claims and finishes from what is left: the records
//! that name the job as their creator and its ledger lines ([`rollback::undo_ledger`] deletes
//! each page of records, or removes each page of restores from the ledger, in the page's
//! transaction).
//!
//! ```text
//! run fails / cancel seen ─> begin: processing + undo_pending = failed|cancelled
//!        ─> undo_ledger (heartbeat keeps the lease) ─> finish: failed|cancelled, undo_pending NULL
//!  killed anywhere in between: lease runs out ─> a worker claims it ─> finish_pending again
//! ```

use serde_json::json;

use crate::error::{Error, Result};
use crate::import::job::JobStatus;
use crate::import::report::{ReferenceWarning, RowError};
use crate::import::rollback::{self, RollbackOutcome};
use crate::jobs::{self, JobTable, Lease};
use crate::records::Actor;
use crate::schema::registry::ModuleRegistry;
use crate::store::{Sql, Store, now_micros};

/// How a job whose undo is starting ends once the undo is done.
pub(crate) enum Ending<'a> {
    Failed {
        failure: String,
        errors: &'a [RowError],
        reference_warnings: &'a [ReferenceWarning],
    },
    Cancelled,
}

/// Marks the job as being undone, then undoes it (see the module note). `lease` is the one the
/// caller holds on the job; `None` for a rollback of a job whose runner is gone. Returns the
/// undo's outcome, or `None` when the job is no longer the caller's (another runner holds it and
/// finishes the undo).
pub(crate) async fn undo_job(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    ending: Ending<'_>,
    actor: &Actor,
    lease: Option<&Lease>,
) -> Result<Option<RollbackOutcome>> {
    if !begin(store, job_id, &ending, lease).await? {
        return Ok(None);
    }
    finish_pending(store, modules, job_id, actor, lease).await
}

/// `processing` with `undo_pending` set, and for a failure its message and report.
async fn begin(
    store: &Store,
    job_id: &str,
    ending: &Ending<'_>,
    lease: Option<&Lease>,
) -> Result<bool> {
    let dialect = store.dialect();
    let mut sql = Sql::new("UPDATE import_jobs SET status = ");
    sql.bind(JobStatus::Processing.as_str())
        .push(", undo_pending = ");
    match ending {
        Ending::Failed {
            failure,
            errors,
            reference_warnings,
        } => {
            sql.bind(JobStatus::Failed.as_str())
                .push(", failure = ")
                .bind(failure.clone());
            for (column, value) in [
                ("errors", json!(errors)),
                ("reference_warnings", json!(reference_warnings)),
            ] {
                let p = sql.arg(value.to_string());
                sql.push(&format!(", {column} = {}", dialect.json_param(&p)));
            }
        }
        Ending::Cancelled => {
            sql.bind(JobStatus::Cancelled.as_str());
        }
    }
    sql.push(" WHERE id = ").bind(job_id);
    if let Some(lease) = lease {
        lease.fence(&mut sql);
    }
    Ok(store.execute(sql).await? > 0)
}

/// Finishes the undo of a job marked as being undone: what is left of its ledger is undone
/// (the lease renewed meanwhile), then the job takes the status it was to end in. A failed undo
/// leaves the job pending for the next worker and returns the error.
pub(crate) async fn finish_pending(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    actor: &Actor,
    lease: Option<&Lease>,
) -> Result<Option<RollbackOutcome>> {
    let mut sql = Sql::new("SELECT undo_pending FROM import_jobs WHERE id = ");
    sql.bind(job_id);
    let row = store
        .fetch_optional(sql)
        .await?
        .ok_or_else(|| Error::not_found("import job", job_id))?;
    let Some(ending) = row.opt_text("undo_pending")? else {
        return Ok(None);
    };
    let ending = JobStatus::parse(&ending)?;
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heartbeat = lease.map(|lease| {
        jobs::spawn_heartbeat(
            store.clone(),
            JobTable::Import,
            job_id.to_string(),
            lease.clone(),
            std::sync::Arc::clone(&lost),
        )
    });
    let undone = rollback::undo_ledger(store, modules, job_id, actor).await;
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    let outcome = match undone {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(
                job_id,
                "undoing the job stopped ({error}); a worker goes on with it once its lease runs \
                 out"
            );
            return Err(error);
        }
    };
    let mut sql = Sql::new("UPDATE import_jobs SET status = ");
    sql.bind(ending.as_str())
        .push(", undo_pending = NULL, completed_at = ")
        .bind(now_micros());
    if ending == JobStatus::Cancelled {
        sql.push(", rollback = ").bind(
            serde_json::to_string(&outcome)
                .map_err(|e| Error::internal(format!("rollback outcome as JSON: {e}")))?,
        );
    }
    sql.push(" WHERE id = ")
        .bind(job_id)
        .push(" AND undo_pending IS NOT NULL");
    if let Some(lease) = lease {
        lease.fence(&mut sql);
    }
    if store.execute(sql).await? == 0 {
        // Another runner took the job over (this one stalled past its lease) and ends it.
        return Ok(None);
    }
    Ok(Some(outcome))
}
