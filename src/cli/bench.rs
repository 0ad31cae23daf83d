//! `recordport bench …`: helpers for the benchmark harness.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use crate::bench::generate::{GenerateOptions, write_csv};
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write N generated contacts rows as CSV (seeded: the same arguments give the same bytes).
    Gen {
        /// Number of data rows.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of rows repeating an earlier row's email (half in other letter case).
        #[arg(long, default_value_t = 0.02)]
        duplicate_rate: f64,
        /// Share of rows with one invalid value.
        #[arg(long, default_value_t = 0.01)]
        invalid_rate: f64,
        /// Make an update file: every other row reuses the email of the file generated with this
        /// seed (same row count).
        #[arg(long, value_name = "SEED")]
        update_of: Option<u64>,
        /// Output file (`-` for stdout).
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Gen {
            rows,
            seed,
            duplicate_rate,
            invalid_rate,
            update_of,
            output,
        } => {
            let options = GenerateOptions {
                rows,
                seed,
                duplicate_rate,
                invalid_rate,
                update_of,
            };
            let io = |e| Error::Io {
                path: output.display().to_string(),
                source: e,
            };
            if output.as_os_str() == "-" {
                write_csv(std::io::stdout().lock(), &options)
            } else {
                let file = std::fs::File::create(&output).map_err(io)?;
                let mut buffered = std::io::BufWriter::with_capacity(1 << 20, file);
                write_csv(&mut buffered, &options)?;
                buffered.flush().map_err(io)
            }
        }
    }
}
