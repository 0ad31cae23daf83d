//! `recordport bench …`: the generator and the end-to-end harness.

use std::path::PathBuf;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use clap::{Args, Subcommand};

use super::examples;
use crate::bench::generate::{GenerateOptions, OutputFormat, write_csv};
use crate::bench::harness::{self, HarnessOptions, Report};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    scope: super::scope::NoStoreScope,
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write N generated contacts rows as CSV, XLSX or Parquet (seeded: the same arguments give
    /// the same file).
    #[command(
        after_help = examples(&["bench gen --rows 1000000 -o contacts-1m.csv", "bench gen --rows 100000 --update-of 42 --seed 7 -o update.xlsx"])
    )]
    Gen {
        /// Number of data rows.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Seed of the generator: the same seed and options give the same file.
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
        /// csv, xlsx or parquet (default: from the output's extension, else csv).
        #[arg(long)]
        format: Option<String>,
        /// Output file (`-` for stdout, CSV only).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Time every import and export step and the alternatives (sqlite3, DuckDB, psql) on the
    /// same generated file; print the table and write bench-results.{md,json}.
    #[command(
        after_help = examples(&["bench run --rows 1000000", "bench run --rows 100000 --postgres-url postgres://localhost/bench --out-dir /tmp/bench"])
    )]
    Run {
        /// Rows of the generated file.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Also import into PostgreSQL and time psql (fresh schemas, dropped afterwards).
        #[arg(long, value_name = "URL")]
        postgres_url: Option<String>,
        /// Where the files, stores, logs and results go.
        #[arg(long, default_value = "bench-out")]
        out_dir: PathBuf,
        /// Time only our own steps.
        #[arg(long)]
        skip_alternatives: bool,
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
            format,
            output,
        } => {
            let options = GenerateOptions {
                rows,
                seed,
                duplicate_rate,
                invalid_rate,
                update_of,
            };
            let format = format.as_deref().map(OutputFormat::parse).transpose()?;
            if output.as_os_str() == "-" {
                if format.is_some_and(|f| f != OutputFormat::Csv) {
                    return Err(Error::invalid_field(
                        "output",
                        "only CSV can be written to stdout: give a file name",
                        None,
                    ));
                }
                return write_csv(std::io::stdout().lock(), &options);
            }
            harness::generate(&output, format, &options)?;
            // Say what was written: a silent success leaves the user to go and look.
            let bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote {rows} contacts rows ({}, seed {seed}) to {}",
                crate::import::source::human_bytes(bytes),
                output.display()
            );
            Ok(())
        }
        BenchCommand::Run {
            rows,
            postgres_url,
            out_dir,
            skip_alternatives,
        } => {
            let binary = std::env::current_exe().map_err(|e| Error::Io {
                path: "<current executable>".into(),
                source: e,
            })?;
            let report = harness::run(&HarnessOptions {
                rows,
                postgres_url,
                out_dir: out_dir.clone(),
                skip_alternatives,
                binary,
            })?;
            print_report(&report);
            println!(
                "\nWritten: {} and {}",
                out_dir.join("bench-results.md").display(),
                out_dir.join("bench-results.json").display()
            );
            Ok(())
        }
    }
}

fn print_report(report: &Report) {
    let mut steps = Table::new();
    steps
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["step", "rows", "wall s", "rows/s", "peak RSS MiB"]);
    for s in &report.steps {
        steps.add_row([
            s.step.clone(),
            s.rows.to_string(),
            format!("{:.2}", s.wall_seconds),
            format!("{:.0}", s.rows_per_second),
            format!("{:.0}", s.peak_rss_mib),
        ]);
    }
    println!("{steps}");
    let mut ratios = Table::new();
    ratios
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "ours",
            "alternative",
            "ratio (time/row)",
            "target",
            "verdict",
        ]);
    for c in &report.comparisons {
        ratios.add_row([
            c.ours.clone(),
            c.alternative.clone(),
            format!("{:.3}", c.ratio),
            c.target_max_ratio.map_or("—".into(), |t| format!("≤ {t}")),
            match c.met {
                Some(true) => "met".into(),
                Some(false) => "MISSED".into(),
                None => "—".to_string(),
            },
        ]);
    }
    for a in &report.absolute {
        ratios.add_row([
            a.step.clone(),
            a.what.clone(),
            format!("{:.1}", a.value),
            format!("≤ {}", a.limit),
            if a.met { "met" } else { "MISSED" }.to_string(),
        ]);
    }
    println!("{ratios}");
    for s in &report.skipped {
        println!("skipped: {s}");
    }
}
