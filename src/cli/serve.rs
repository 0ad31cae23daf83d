//! `recordport serve`: the HTTP API on a socket, with a worker for the queued jobs in the same
//! process (unless `--no-worker`), until SIGINT or SIGTERM: the server finishes the requests in
//! flight and the worker its current batches.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use crate::api::{self, ApiSettings, limits};
use crate::error::{Error, Result};
use crate::export::ExportSettings;
use crate::records::RecordService;
use crate::store::data_dir;
use crate::worker::{Worker, WorkerOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    scope: super::scope::ServiceScope,
    /// Address to listen on; port 0 picks a free port (the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Largest upload (and request body), in MB.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_UPLOAD_MB)]
    pub max_upload_mb: u64,
    /// Most cells an uploaded workbook (XLSX, XLS, ODS) may hold; a sheet is held whole while
    /// it is read, about 64 bytes a cell. XLS and ODS count the rectangle a sheet's cells span.
    #[arg(long, value_name = "N", default_value_t = crate::import::SourceLimits::default().max_cells)]
    pub max_cells: u64,
    /// Requests per minute per API key (0: no limit).
    #[arg(long, default_value_t = limits::DEFAULT_RATE_LIMIT_PER_MINUTE)]
    pub rate_limit_per_minute: u32,
    /// Failed authentications per minute per client address, then 429 until one is back
    /// (0: no limit).
    #[arg(long, default_value_t = limits::DEFAULT_FAILED_AUTH_PER_MINUTE)]
    pub failed_auth_per_minute: u32,
    #[command(flatten)]
    pub data: super::DataDirArgs,
    /// Where uploaded files wait between the import steps [default: DATA_DIR/uploads].
    #[arg(long, env = "RECORDPORT_UPLOADS_DIR", value_name = "DIR")]
    pub uploads_dir: Option<PathBuf>,
    /// Where export jobs keep their files [default: DATA_DIR/exports].
    #[arg(long, env = "RECORDPORT_EXPORT_DIR", value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// Where background imports keep their copy of the file until a worker has run them
    /// [default: DATA_DIR/jobs].
    #[arg(long, value_name = "DIR")]
    pub jobs_dir: Option<PathBuf>,
    /// Run no worker in this process: queued jobs wait for `recordport worker` processes.
    #[arg(long)]
    pub no_worker: bool,
    /// Jobs the embedded worker runs at once.
    #[arg(long, default_value_t = 1)]
    pub worker_concurrency: usize,
    /// Milliseconds the idle embedded worker waits before it looks at the queue again.
    #[arg(long, default_value_t = 1000)]
    pub worker_poll_ms: u64,
    /// The absolute URL clients reach this server at (behind a proxy, or with TLS), e.g.
    /// https://records.example.com; links in answers (an export job's fileUrl) start with it
    /// [default: http:// and the request's Host].
    #[arg(long, env = "RECORDPORT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Webhook URLs allowed at creation, and how the embedded worker delivers.
    #[command(flatten)]
    pub webhooks: super::worker::WebhookArgs,
}

pub async fn run(service: &RecordService, args: ServeArgs, database_url: &str) -> Result<()> {
    let folder = |given: &Option<PathBuf>, name: &str| match given {
        Some(dir) => Ok(dir.clone()),
        None => args.data.folder(database_url, name),
    };
    let uploads_dir = folder(&args.uploads_dir, data_dir::UPLOADS)?;
    let export_dir = folder(&args.export_dir, data_dir::EXPORTS)?;
    let jobs_dir = folder(&args.jobs_dir, data_dir::JOBS)?;
    let io = |source: std::io::Error| Error::Io {
        path: args.bind.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(io)?;
    let address = listener.local_addr().map_err(io)?;
    let settings = ApiSettings {
        max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
        max_cells: args.max_cells,
        rate_limit_per_minute: args.rate_limit_per_minute,
        failed_auth_per_minute: args.failed_auth_per_minute,
        uploads_dir,
        jobs_dir,
        allow_private_webhooks: args.webhooks.allow_private_webhooks,
        public_url: args.public_url.as_deref().map(public_url).transpose()?,
    };
    // The first line on stdout is the address, for scripts and tests that asked for port 0.
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")
            .and_then(|()| stdout.flush())
            .map_err(|source| Error::Io {
                path: "stdout".into(),
                source,
            })?;
    }
    // One signal stops both the server and the embedded worker.
    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        super::worker::shutdown_signal().await;
        tracing::info!("stopping: finishing the requests in flight and the current batches");
        let _ = stop_sender.send(true);
    });
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which also means: stop.
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let mut options = WorkerOptions::new(ExportSettings::new(export_dir.clone()));
    options.concurrency = args.worker_concurrency.max(1);
    options.poll_interval = Duration::from_millis(args.worker_poll_ms);
    args.webhooks.apply(&mut options.webhooks)?;
    let worker = (!args.no_worker).then(|| {
        let worker = Worker::new(service.clone(), options);
        tracing::info!(worker = %worker.options().worker_id, "embedded worker started");
        let stop = stop.clone();
        tokio::spawn(async move { worker.run(stopped(stop)).await })
    });
    tracing::info!(%address, "serving the HTTP API");
    api::serve(
        listener,
        api::router(service.clone(), settings),
        stopped(stop),
    )
    .await
    .map_err(io)?;
    if let Some(worker) = worker {
        match worker.await {
            Ok(result) => result?,
            Err(e) => tracing::error!("the embedded worker stopped abnormally: {e}"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// `--public-url` checked: an absolute http(s) URL, kept without its trailing slash so paths
/// append to it.
fn public_url(text: &str) -> Result<String> {
    let invalid = |why: &str| Error::invalid_field("--public-url", why, Some(text.into()));
    let url = url::Url::parse(text).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an http:// or https:// URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
