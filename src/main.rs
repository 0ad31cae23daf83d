use clap::Parser;

// The import pipeline allocates many small strings and JSON maps across threads; mimalloc's
// thread-local free lists make that markedly cheaper than glibc's malloc (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use recordport::cli::{Cli, Command, PROGRESS_TARGET, run};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    // Long-running services log what they do by default; one-shot commands only warnings.
    let service = matches!(cli.command, Command::Worker(_) | Command::Serve(_));
    let default_level = match cli.verbose {
        0 if service => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let filter = EnvFilter::new(default_level);
        // Log collectors get the progress of long runs with the rest (RUST_LOG decides alone).
        match format!("{PROGRESS_TARGET}=info").parse() {
            Ok(progress) if cli.log_json => filter.add_directive(progress),
            _ => filter,
        }
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(cli));
    std::process::exit(code);
}
