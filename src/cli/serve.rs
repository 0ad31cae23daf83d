//! `recordport serve`: the HTTP API on a socket until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::api::{self, ApiSettings, limits};
use crate::error::{Error, Result};
use crate::export::{ExportSettings, job::DEFAULT_EXPORT_DIR};
use crate::records::RecordService;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Largest upload (and request body), in MB.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_UPLOAD_MB)]
    pub max_upload_mb: u64,
    /// Requests per minute per API key (0: no limit).
    #[arg(long, default_value_t = limits::DEFAULT_RATE_LIMIT_PER_MINUTE)]
    pub rate_limit_per_minute: u32,
    /// Where uploaded files wait between the import steps.
    #[arg(long, env = "RECORDPORT_UPLOADS_DIR", default_value = "uploads")]
    pub uploads_dir: PathBuf,
    /// Where export jobs keep their files.
    #[arg(long, env = "RECORDPORT_EXPORT_DIR", default_value = DEFAULT_EXPORT_DIR)]
    pub export_dir: PathBuf,
}

pub async fn run(service: &RecordService, args: ServeArgs) -> Result<()> {
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
        rate_limit_per_minute: args.rate_limit_per_minute,
        uploads_dir: args.uploads_dir.clone(),
        export: ExportSettings::new(args.export_dir.clone()),
        run_export_jobs_in_process: true,
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
    tracing::info!(%address, "serving the HTTP API");
    api::serve(
        listener,
        api::router(service.clone(), settings),
        shutdown_signal(),
    )
    .await
    .map_err(io)?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: finishing the requests in flight"),
        () = terminate => tracing::info!("SIGTERM: finishing the requests in flight"),
    }
}
