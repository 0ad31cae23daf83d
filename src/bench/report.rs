//! The harness's report: every step's figures, our steps against the alternatives as ratios of
//! time per row, the absolute targets (peak memory, PDF time), and the machine they ran on —
//! as JSON and as Markdown.
//!
//! In: the measurements of one run. Out: a [`Report`] and its Markdown. The targets are those of
//! the storage-engine issue (14): ratios measured in one run, so a loaded machine moves both
//! sides alike.

use std::fmt::Write as _;

use serde::Serialize;

/// Issue 14's targets that are not ratios: every step's peak RSS…
const MAX_PEAK_RSS_MIB: f64 = 256.0;
/// …and the PDF of 100,000 records.
const MAX_PDF_SECONDS: f64 = 3.0;

/// Who a step's figure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Making the input files (not compared).
    Setup,
    Ours,
    Alternative,
}

/// One timed child process.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub step: String,
    pub side: Side,
    pub description: String,
    pub command: String,
    /// Rows (or records) the step handled, for rows/s.
    pub rows: u64,
    pub wall_seconds: f64,
    pub rows_per_second: f64,
    pub peak_rss_mib: f64,
    pub user_seconds: f64,
    pub system_seconds: f64,
}

/// Our step against an alternative: `ratio` is our time per row divided by theirs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub ours: String,
    pub alternative: String,
    pub ratio: f64,
    /// Issue 6's bound on the ratio, when it sets one for this pair.
    pub target_max_ratio: Option<f64>,
    pub met: Option<bool>,
}

/// A target that is a bound on one of our figures rather than a ratio.
#[derive(Debug, Clone, Serialize)]
pub struct AbsoluteCheck {
    pub step: String,
    pub what: String,
    pub value: f64,
    pub limit: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu: String,
    /// 1-minute load average when the run started and when it ended.
    pub load_at_start: f64,
    pub load_at_end: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rows: u64,
    pub machine: Machine,
    pub steps: Vec<Measurement>,
    pub comparisons: Vec<Comparison>,
    pub absolute: Vec<AbsoluteCheck>,
    /// Rows left out, and why (a tool missing, no PostgreSQL URL, `--skip-alternatives`).
    pub skipped: Vec<String>,
}

impl Report {
    pub fn step(&self, name: &str) -> Option<&Measurement> {
        self.steps.iter().find(|s| s.step == name)
    }
}

/// Issue 14's ratio targets: (ours, alternative, bound). Pairs with no bound are shown for
/// context.
const PAIRS: [(&str, &str, Option<f64>); 10] = [
    ("import_sqlite", "duckdb_read_csv", Some(2.5)),
    ("import_sqlite", "sqlite3_import_unique", Some(1.0)),
    ("import_sqlite", "sqlite3_import_plain", None),
    ("import_postgres", "psql_copy", Some(2.0)),
    ("upsert_postgres", "pg_upsert", Some(1.0)),
    ("upsert_sqlite", "sqlite3_upsert", Some(1.0)),
    ("upsert_sqlite", "pg_upsert", None),
    ("export_csv", "sqlite3_export_csv", Some(1.0)),
    ("export_csv", "duckdb_copy_csv", None),
    ("export_parquet", "duckdb_copy_parquet", Some(1.5)),
];

pub(crate) fn comparisons(steps: &[Measurement]) -> Vec<Comparison> {
    let find = |name: &str| steps.iter().find(|s| s.step == name);
    PAIRS
        .iter()
        .filter_map(|(ours, alternative, bound)| {
            let (o, a) = (find(ours)?, find(alternative)?);
            let per_row = |m: &Measurement| m.wall_seconds / m.rows.max(1) as f64;
            let ratio = per_row(o) / per_row(a).max(f64::MIN_POSITIVE);
            Some(Comparison {
                ours: ours.to_string(),
                alternative: alternative.to_string(),
                ratio,
                target_max_ratio: *bound,
                met: bound.map(|b| ratio <= b),
            })
        })
        .collect()
}

pub(crate) fn absolute_checks(steps: &[Measurement]) -> Vec<AbsoluteCheck> {
    let mut checks: Vec<AbsoluteCheck> = steps
        .iter()
        .filter(|s| s.side == Side::Ours)
        .map(|s| AbsoluteCheck {
            step: s.step.clone(),
            what: "peak RSS (MiB)".into(),
            value: s.peak_rss_mib,
            limit: MAX_PEAK_RSS_MIB,
            met: s.peak_rss_mib <= MAX_PEAK_RSS_MIB,
        })
        .collect();
    if let Some(pdf) = steps.iter().find(|s| s.step == "export_pdf") {
        checks.push(AbsoluteCheck {
            step: pdf.step.clone(),
            what: format!("wall seconds for {} records", pdf.rows),
            value: pdf.wall_seconds,
            limit: MAX_PDF_SECONDS,
            met: pdf.wall_seconds <= MAX_PDF_SECONDS,
        });
    }
    checks
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "—",
    }
}

/// The report as Markdown: the steps, the comparisons, the absolute targets, what was skipped.
pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# recordport bench run: {} rows\n\nMachine: {} cores ({}), {:.1} GiB RAM; load average \
         {:.2} at the start, {:.2} at the end.\n",
        report.rows, m.cores, m.cpu, m.memory_gib, m.load_at_start, m.load_at_end
    );
    out.push_str(
        "| step | side | what | rows | wall s | rows/s | peak RSS MiB | user s | sys s |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in &report.steps {
        let side = match s.side {
            Side::Setup => "setup",
            Side::Ours => "ours",
            Side::Alternative => "alternative",
        };
        let _ = writeln!(
            out,
            "| {} | {side} | {} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {:.1} |",
            s.step,
            s.description,
            s.rows,
            s.wall_seconds,
            s.rows_per_second,
            s.peak_rss_mib,
            s.user_seconds,
            s.system_seconds
        );
    }
    out.push_str(
        "\nRatio: our time per row ÷ the alternative's (below 1: we are faster).\n\n\
         | ours | alternative | our rows/s | their rows/s | ratio | target | verdict |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for c in &report.comparisons {
        let rate = |name: &str| report.step(name).map_or(0.0, |s| s.rows_per_second);
        let target = c
            .target_max_ratio
            .map_or("—".to_string(), |t| format!("≤ {t}"));
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.3} | {target} | {} |",
            c.ours,
            c.alternative,
            rate(&c.ours),
            rate(&c.alternative),
            c.ratio,
            verdict(c.met)
        );
    }
    out.push_str("\n| step | target | value | limit | verdict |\n|---|---|---:|---:|---|\n");
    for a in &report.absolute {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {} |",
            a.step,
            a.what,
            a.value,
            a.limit,
            verdict(Some(a.met))
        );
    }
    if !report.skipped.is_empty() {
        out.push_str("\nSkipped:\n");
        for s in &report.skipped {
            let _ = writeln!(out, "- {s}");
        }
    }
    out.push_str("\nCommands:\n\n```sh\n");
    for s in &report.steps {
        let _ = writeln!(out, "{}", s.command);
    }
    out.push_str("```\n");
    out
}

pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

pub(crate) fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0))
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
