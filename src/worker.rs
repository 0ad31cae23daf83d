//! The worker service: claims queued import and export jobs from the database and runs them.
//!
//! [`Worker::tick`] claims one job (imports first, then exports, oldest first) under a lease and
//! runs it; [`Worker::run`] ticks in `concurrency` slots until the shutdown future resolves. On
//! shutdown each slot finishes the batch it is writing, commits its checkpoint, gives the job's
//! lease back and returns, so another worker resumes the job at once. Many workers, on one
//! machine or many, can share one database: a job is only ever held by one lease (see
//! [`crate::jobs`] for how each store makes the claim atomic). Slot 0 also deletes the files of
//! expired export jobs once a minute. Beside the slots, a dispatcher makes the due webhook
//! deliveries ([`crate::webhooks::dispatch`]), claimed under leases of their own.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::export::{self, ExportJob, ExportSettings};
use crate::import::ImportJob;
use crate::import::pipeline::PipelineOptions;
use crate::import::queue::{self, RunSettings};
use crate::jobs::{self, JobTable, Lease};
use crate::records::RecordService;
use crate::webhooks::{DispatchOptions, Dispatcher};

/// How often a worker deletes the files of expired export jobs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Unique per process (default `worker-host-pid-random`); each slot's lease adds `/N`.
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// A job whose worker sends no heartbeat for this long is claimed again by another worker.
    pub lease: Duration,
    /// How long an idle slot waits before it looks at the queue again.
    pub poll_interval: Duration,
    pub pipeline: PipelineOptions,
    pub exports: ExportSettings,
    /// A job claimed more often than this (it keeps crashing its worker) is failed.
    pub max_attempts: i64,
    /// Return from [`Worker::run`] once the queue is empty (and no webhook delivery is due)
    /// instead of waiting for more jobs.
    pub exit_when_idle: bool,
    /// How webhook deliveries are made (SSRF guard, retries, timeout).
    pub webhooks: DispatchOptions,
}

impl WorkerOptions {
    pub fn new(exports: ExportSettings) -> WorkerOptions {
        let worker_id = jobs::process_lease_id("worker");
        WorkerOptions {
            webhooks: DispatchOptions::new(format!("{worker_id}/webhooks")),
            worker_id,
            concurrency: 1,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            pipeline: PipelineOptions::default(),
            exports,
            max_attempts: 5,
            exit_when_idle: false,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone)]
pub enum Tick {
    /// Ran (or went on with) an import job; the job as it is now.
    Import(Box<ImportJob>),
    Export(Box<ExportJob>),
    /// The queue had nothing to claim.
    Idle,
}

pub struct Worker {
    service: RecordService,
    options: WorkerOptions,
    shutdown: AtomicBool,
}

impl Worker {
    pub fn new(service: RecordService, options: WorkerOptions) -> Worker {
        Worker {
            service,
            options,
            shutdown: AtomicBool::new(false),
        }
    }

    pub fn options(&self) -> &WorkerOptions {
        &self.options
    }

    /// The lease of slot `slot`.
    fn lease(&self, slot: usize) -> Lease {
        Lease::new(
            format!("{}/{slot}", self.options.worker_id),
            self.options.lease,
        )
    }

    /// Claims one job and runs it in slot `slot` (imports before exports).
    pub async fn tick(&self, slot: usize) -> Result<Tick> {
        let store = self.service.store();
        let lease = self.lease(slot);
        if let Some(claimed) = jobs::claim_next(store, JobTable::Import, &lease).await? {
            tracing::info!(job_id = %claimed.id, attempt = claimed.attempts, worker = %lease.worker_id, "import job claimed");
            let settings = RunSettings {
                lease: &lease,
                pipeline: self.options.pipeline,
                max_attempts: self.options.max_attempts,
                shutdown: &self.shutdown,
            };
            let job = queue::run_claimed(&self.service, &claimed, &settings).await?;
            tracing::info!(
                job_id = %job.import_job_id,
                status = job.status.as_str(),
                processed_rows = job.processed_rows,
                "import job left"
            );
            return Ok(Tick::Import(Box::new(job)));
        }
        if let Some(claimed) = jobs::claim_next(store, JobTable::Export, &lease).await? {
            tracing::info!(job_id = %claimed.id, worker = %lease.worker_id, "export job claimed");
            // An export is written to a file of its own claim and renamed when complete, so
            // running it again after a crash starts it over; it is not cut short by shutdown.
            let outcome = export::process_job(
                store,
                &self.options.exports,
                &claimed,
                &lease,
                self.options.max_attempts,
                |_, _| {},
            )
            .await;
            let job = match outcome {
                Ok(job) => job,
                Err(Error::LeaseLost { .. }) => {
                    tracing::warn!(
                        job_id = %claimed.id,
                        "lost the lease on the export job; another worker runs it"
                    );
                    export::get_job(store, &claimed.id).await?
                }
                // The job row says why; the worker goes on with the next one.
                Err(e) => {
                    tracing::error!(job_id = %claimed.id, "export job failed: {e}");
                    export::get_job(store, &claimed.id).await?
                }
            };
            return Ok(Tick::Export(Box::new(job)));
        }
        Ok(Tick::Idle)
    }

    /// Runs jobs in `concurrency` slots until `shutdown` resolves (or, with `exit_when_idle`,
    /// until the queue is empty); then lets each slot reach a checkpoint and returns.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut webhook_options = self.options.webhooks.clone();
        webhook_options.worker_id = format!("{}/webhooks", self.options.worker_id);
        let dispatcher = Dispatcher::new(self.service.store().clone(), webhook_options)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let deliveries = {
            let mut stop_rx = stop_rx.clone();
            let dispatcher = &dispatcher;
            async move {
                loop {
                    if self.shutdown.load(Ordering::Relaxed) {
                        return;
                    }
                    let busy = match dispatcher.dispatch_due().await {
                        Ok(round) => round.claimed() > 0,
                        Err(e) => {
                            tracing::error!("webhook dispatch failed: {e}");
                            false
                        }
                    };
                    if busy {
                        continue;
                    }
                    if self.options.exit_when_idle {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.options.poll_interval) => {}
                        _ = stop_rx.changed() => {}
                    }
                }
            }
        };
        let slots = (0..self.options.concurrency.max(1)).map(|slot| {
            let mut stop_rx = stop_rx.clone();
            async move {
                let mut last_sweep: Option<Instant> = None;
                loop {
                    if self.shutdown.load(Ordering::Relaxed) {
                        return;
                    }
                    // One slot deletes the files of expired export jobs now and then.
                    if slot == 0 && last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_INTERVAL) {
                        last_sweep = Some(Instant::now());
                        let store = self.service.store();
                        match export::sweep_expired(store, crate::store::now_micros()).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(files = n, "expired export files removed"),
                            Err(e) => tracing::warn!("export expiry sweep failed: {e}"),
                        }
                    }
                    let idle = match self.tick(slot).await {
                        Ok(Tick::Idle) => true,
                        Ok(_) => false,
                        Err(e) => {
                            tracing::error!(slot, "worker tick failed: {e}");
                            true
                        }
                    };
                    if idle {
                        if self.options.exit_when_idle {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(self.options.poll_interval) => {}
                            _ = stop_rx.changed() => {}
                        }
                    }
                }
            }
        });
        let slots = futures_util::future::join_all(slots);
        let all = async {
            if self.options.exit_when_idle {
                // The jobs' own events (an import's batches, its completion) go out too.
                slots.await;
                deliveries.await;
            } else {
                futures_util::future::join(slots, deliveries).await;
            }
        };
        tokio::pin!(all);
        tokio::select! {
            _ = &mut all => return Ok(()),
            _ = shutdown => {}
        }
        tracing::info!("shutting down: finishing the current batches");
        self.shutdown.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        all.await;
        Ok(())
    }
}
