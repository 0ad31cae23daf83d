//! `recordport worker`: runs queued import and export jobs, and makes due webhook deliveries,
//! until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::import::PipelineArgs;
use crate::error::Result;
use crate::export::ExportSettings;
use crate::records::RecordService;
use crate::store::data_dir;
use crate::webhooks::DispatchOptions;
use crate::worker::{Worker, WorkerOptions};

/// How webhooks are delivered (`worker` and `serve`).
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Allow webhook URLs that reach loopback, private, link-local or unspecified addresses
    /// (refused by default: SSRF).
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// Milliseconds before the second try of a failed delivery; each further try waits twice as
    /// long.
    #[arg(long, default_value_t = DispatchOptions::DEFAULT_RETRY_BASE.as_millis() as u64)]
    pub webhook_retry_base_ms: u64,
    /// Tries of a delivery before it is marked failed.
    #[arg(long, default_value_t = DispatchOptions::DEFAULT_MAX_ATTEMPTS)]
    pub webhook_max_attempts: i64,
    /// Seconds one delivery's POST may take.
    #[arg(long, default_value_t = DispatchOptions::DEFAULT_TIMEOUT.as_secs_f64())]
    pub webhook_timeout_secs: f64,
}

impl WebhookArgs {
    /// Sets the worker's delivery options from these flags.
    pub fn apply(&self, options: &mut DispatchOptions) -> Result<()> {
        if self.webhook_max_attempts < 1 {
            return Err(crate::error::Error::validation(
                "--webhook-max-attempts must be at least 1",
            ));
        }
        options.allow_private = self.allow_private_webhooks;
        options.retry_base = Duration::from_millis(self.webhook_retry_base_ms.max(1));
        options.max_attempts = self.webhook_max_attempts;
        options.timeout = super::seconds_arg("--webhook-timeout-secs", self.webhook_timeout_secs)?;
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    scope: super::scope::ServiceScope,
    /// Jobs run at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seconds without a heartbeat after which another worker takes a job over.
    #[arg(long, default_value_t = 30.0)]
    pub lease_secs: f64,
    /// Milliseconds an idle worker waits before it looks at the queue again.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// How import jobs are chunked, mapped and committed.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub data: super::DataDirArgs,
    /// Where export jobs keep their files [default: DATA_DIR/exports].
    #[arg(long, env = "RECORDPORT_EXPORT_DIR", value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// A job claimed more often than this (it keeps crashing its worker) is failed.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: i64,
    /// Exit once the queue is empty instead of waiting for more jobs.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Name of this worker in the job rows (default: host-pid-random).
    #[arg(long)]
    pub worker_id: Option<String>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

pub async fn run(service: &RecordService, args: WorkerArgs, database_url: &str) -> Result<()> {
    let export_dir = match args.export_dir {
        Some(dir) => dir,
        None => args.data.folder(database_url, data_dir::EXPORTS)?,
    };
    let mut options = WorkerOptions::new(ExportSettings::new(export_dir));
    options.concurrency = args.concurrency.max(1);
    options.lease = super::seconds_arg("--lease-secs", args.lease_secs)?;
    options.poll_interval = Duration::from_millis(args.poll_ms);
    options.pipeline = args.pipeline.options();
    options.max_attempts = args.max_attempts;
    options.exit_when_idle = args.exit_when_idle;
    args.webhooks.apply(&mut options.webhooks)?;
    if let Some(id) = args.worker_id {
        options.worker_id = id;
    }
    let worker = Worker::new(service.clone(), options);
    tracing::info!(
        worker = %worker.options().worker_id,
        concurrency = worker.options().concurrency,
        "worker started"
    );
    worker.run(shutdown_signal()).await?;
    tracing::info!("worker stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the worker");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
