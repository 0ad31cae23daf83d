//! The end-to-end benchmark harness (`recordport bench run`).
//!
//! In: a row count, an output directory, optionally a PostgreSQL URL. Out: `bench-results.json`
//! and `bench-results.md` in that directory, and the same table on stdout.
//!
//! Every step runs as a child process (our own binary for our steps, `sqlite3`, `python3 -c
//! 'import duckdb…'` and `psql` for the alternatives), reaped with `wait4`, so each step's wall
//! time and peak resident set size (`ru_maxrss`) are that step's alone. Our figures are compared
//! with the alternatives as ratios of time per row (below 1: we are faster), checked against the
//! targets of issue 6. A missing tool skips its rows and says which tool; a failing step of ours
//! stops the run, naming the step and the end of its error output.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::bench::generate::{COLUMNS, GenerateOptions, OutputFormat, write_file};
use crate::bench::process::{Redirect, Usage, run_child, tool_available};
pub use crate::bench::report::{
    AbsoluteCheck, Comparison, Machine, Measurement, Report, Side, markdown,
};
use crate::bench::report::{absolute_checks, comparisons, cpu_model, load_average, memory_gib};
use crate::error::{Error, Result};

/// The sample modules, embedded so the harness runs from any directory.
const MODULES: [(&str, &str); 3] = [
    (
        "accounts.json",
        include_str!("../../sample-data/modules/accounts.json"),
    ),
    (
        "contacts.json",
        include_str!("../../sample-data/modules/contacts.json"),
    ),
    (
        "deals.json",
        include_str!("../../sample-data/modules/deals.json"),
    ),
];

/// Seeds of the first file and of the update file that half-overlaps it.
const FIRST_SEED: u64 = 42;
const UPDATE_SEED: u64 = 43;
/// Records exported to PDF (issue 6: "export of 100k rows to PDF").
const PDF_RECORDS: u64 = 100_000;
const MIB: f64 = 1024.0 * 1024.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    pub rows: u64,
    /// Run the PostgreSQL steps in fresh schemas of this database (dropped afterwards).
    pub postgres_url: Option<String>,
    pub out_dir: PathBuf,
    pub skip_alternatives: bool,
    /// The `recordport` executable our steps run (normally `std::env::current_exe()`).
    pub binary: PathBuf,
}

/// Why the harness stopped.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("step '{step}' failed ({status}): {stderr_tail}")]
    StepFailed {
        step: String,
        status: String,
        stderr_tail: String,
    },
    #[error("cannot start '{program}': {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("step '{step}': unexpected output: {message}")]
    Output { step: String, message: String },
    #[error("PostgreSQL at the given URL: {0}")]
    Postgres(#[source] sqlx::Error),
}

impl From<HarnessError> for Error {
    fn from(error: HarnessError) -> Error {
        Error::internal(format!("bench run: {error}"))
    }
}

/// Runs every step and writes `bench-results.json` and `bench-results.md` into the output
/// directory.
pub fn run(options: &HarnessOptions) -> Result<Report> {
    let out = options.out_dir.clone();
    std::fs::create_dir_all(&out).map_err(|e| io(&out, e))?;
    let mut harness = Harness {
        options: options.clone(),
        logs: out.join("logs"),
        out,
        steps: Vec::new(),
        skipped: Vec::new(),
        pg_schemas: Vec::new(),
    };
    std::fs::create_dir_all(&harness.logs).map_err(|e| io(&harness.logs, e))?;
    let load_at_start = load_average();
    let outcome = harness.run_all();
    // The PostgreSQL schemas go whatever happened, so failed runs do not fill the server.
    harness.drop_pg_schemas();
    outcome?;
    let report = Report {
        rows: options.rows,
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: memory_gib(),
            cpu: cpu_model(),
            load_at_start,
            load_at_end: load_average(),
        },
        comparisons: comparisons(&harness.steps),
        absolute: absolute_checks(&harness.steps),
        steps: harness.steps,
        skipped: harness.skipped,
    };
    let json_path = options.out_dir.join("bench-results.json");
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::internal(format!("bench report as JSON: {e}")))?;
    std::fs::write(&json_path, json).map_err(|e| io(&json_path, e))?;
    let md_path = options.out_dir.join("bench-results.md");
    std::fs::write(&md_path, markdown(&report)).map_err(|e| io(&md_path, e))?;
    Ok(report)
}

struct Harness {
    options: HarnessOptions,
    out: PathBuf,
    logs: PathBuf,
    steps: Vec<Measurement>,
    skipped: Vec<String>,
    /// (URL, schema) pairs to drop at the end.
    pg_schemas: Vec<(String, String)>,
}

/// What a child process left behind.
struct Finished {
    stdout: PathBuf,
}

impl Harness {
    fn run_all(&mut self) -> Result<()> {
        let rows = self.options.rows;
        let first = self.out.join("contacts.csv");
        let update = self.out.join("contacts-update.csv");
        let bin = self.options.binary.display().to_string();
        for (path, seed, update_of, step) in [
            (&first, FIRST_SEED, None, "generate"),
            (&update, UPDATE_SEED, Some(FIRST_SEED), "generate_update"),
        ] {
            let mut args = vec![
                "bench".to_string(),
                "gen".into(),
                "--rows".into(),
                rows.to_string(),
                "--seed".into(),
                seed.to_string(),
                "-o".into(),
                path.display().to_string(),
            ];
            if let Some(base) = update_of {
                args.extend(["--update-of".into(), base.to_string()]);
            }
            let description = match update_of {
                None => format!("generate {rows} contacts rows (CSV, seed {seed})"),
                Some(_) => {
                    format!("generate the update file (seed {seed}, half its emails in the first)")
                }
            };
            self.measure(step, Side::Setup, &description, rows, &bin, &args, None)?;
        }
        let max_file_mb =
            (std::fs::metadata(&first).map_err(|e| io(&first, e))?.len() / (1024 * 1024) + 2)
                .to_string();

        // Our SQLite store: import, upsert of the update file, rollback of that upsert, exports.
        let sqlite_db = self.out.join("recordport.db");
        remove_database(&sqlite_db)?;
        let sqlite_url = format!("sqlite://{}", sqlite_db.display());
        self.apply_modules(&sqlite_url)?;
        let import_args = |db: &str, file: &Path, strategy: &str| -> Vec<String> {
            let mut args: Vec<String> = [
                "--db",
                db,
                "--json",
                "import",
                "run",
                &file.display().to_string(),
                "--module",
                "contacts",
                "--strategy",
                strategy,
                "--match",
                "email",
                "--max-file-mb",
                &max_file_mb,
            ]
            .map(String::from)
            .to_vec();
            if strategy == "update" {
                args.extend(["--merge".into(), "prefer_import".into()]);
            }
            args
        };
        let imported = self.measure(
            "import_sqlite",
            Side::Ours,
            "import into a fresh SQLite store (strategy skip, email dedupe)",
            rows,
            &bin,
            &import_args(&sqlite_url, &first, "skip"),
            None,
        )?;
        let imported = import_result(&imported, "import_sqlite")?;
        let stored_records = counter(&imported, "createdRows", "import_sqlite")?;

        if let Some(base) = self.options.postgres_url.clone() {
            let url = self.pg_schema(&base, "ours")?;
            self.apply_modules(&url)?;
            self.measure(
                "import_postgres",
                Side::Ours,
                "import into PostgreSQL (fresh schema, strategy skip, email dedupe)",
                rows,
                &bin,
                &import_args(&url, &first, "skip"),
                None,
            )?;
            self.measure(
                "upsert_postgres",
                Side::Ours,
                "upsert the update file into the PostgreSQL store holding the first (strategy \
                 update, prefer_import)",
                rows,
                &bin,
                &import_args(&url, &update, "update"),
                None,
            )?;
        } else {
            self.skipped.push(
                "import_postgres, upsert_postgres, psql_copy, pg_upsert: no --postgres-url".into(),
            );
        }

        let upserted = self.measure(
            "upsert_sqlite",
            Side::Ours,
            "upsert the update file into the store holding the first (strategy update, prefer_import)",
            rows,
            &bin,
            &import_args(&sqlite_url, &update, "update"),
            None,
        )?;
        let upserted = import_result(&upserted, "upsert_sqlite")?;
        let upsert_job = upserted
            .get("importJobId")
            .and_then(Value::as_str)
            .ok_or_else(|| HarnessError::Output {
                step: "upsert_sqlite".into(),
                message: "no importJobId in the result".into(),
            })?
            .to_string();
        let touched = counter(&upserted, "createdRows", "upsert_sqlite")?
            + counter(&upserted, "updatedRows", "upsert_sqlite")?;
        self.measure(
            "rollback_sqlite",
            Side::Ours,
            "roll the upsert back (delete its created records, restore its updated ones)",
            touched,
            &bin,
            &[
                "--db",
                &sqlite_url,
                "--json",
                "import",
                "rollback",
                "--module",
                "contacts",
                &upsert_job,
            ]
            .map(String::from),
            None,
        )?;

        let exports = self.out.join("exports");
        for (step, format, limit, records) in [
            ("export_csv", "csv", None, stored_records),
            ("export_parquet", "parquet", None, stored_records),
            (
                "export_pdf",
                "pdf",
                Some(PDF_RECORDS),
                stored_records.min(PDF_RECORDS),
            ),
        ] {
            let target = self.out.join(format!("ours.{format}"));
            let mut args: Vec<String> = [
                "--db",
                &sqlite_url,
                "export",
                "-m",
                "contacts",
                "-f",
                format,
                "-o",
                &target.display().to_string(),
                "--export-dir",
                &exports.display().to_string(),
            ]
            .map(String::from)
            .to_vec();
            if let Some(limit) = limit {
                args.extend(["--limit".into(), limit.to_string()]);
            }
            let description = format!("export {records} records to {}", format.to_uppercase());
            self.measure(step, Side::Ours, &description, records, &bin, &args, None)?;
        }

        if self.options.skip_alternatives {
            self.skipped
                .push("every alternative: --skip-alternatives".into());
            return Ok(());
        }
        self.sqlite3_alternatives(&first, &update)?;
        self.duckdb_alternatives(&first)?;
        if let Some(base) = self.options.postgres_url.clone() {
            self.psql_alternatives(&base, &first, &update)?;
        }
        Ok(())
    }

    fn apply_modules(&mut self, db: &str) -> Result<()> {
        let dir = self.out.join("modules");
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let mut args = vec![
            "--db".to_string(),
            db.to_string(),
            "module".into(),
            "apply".into(),
        ];
        for (name, text) in MODULES {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| io(&path, e))?;
            args.push(path.display().to_string());
        }
        let bin = self.options.binary.display().to_string();
        self.execute("module_apply", &bin, &args, None)?;
        Ok(())
    }

    /// `sqlite3` CLI: plain `.import`; `.import` into a staging table and `INSERT OR IGNORE` into
    /// a table with a UNIQUE (case-insensitive) email, since `.import` straight into it stops
    /// at or skips noisily over each duplicate; CSV export of that table; SQL upsert of the
    /// update file from a staging table.
    fn sqlite3_alternatives(&mut self, first: &Path, update: &Path) -> Result<()> {
        if !tool_available("sqlite3", &["-version"]) {
            self.skipped.push(
                "sqlite3_import_plain, sqlite3_import_unique, sqlite3_export_csv, sqlite3_upsert: \
                 the sqlite3 CLI is not installed (Debian: apt-get install sqlite3)"
                    .into(),
            );
            return Ok(());
        }
        let rows = self.options.rows;
        let plain_db = self.out.join("alt-sqlite3-plain.db");
        let unique_db = self.out.join("alt-sqlite3-unique.db");
        remove_database(&plain_db)?;
        remove_database(&unique_db)?;
        let columns = quoted_columns();
        let plain_script = format!(".mode csv\n.import {} contacts\n", sql_text(first));
        self.sqlite3_step(
            "sqlite3_import_plain",
            "sqlite3 CLI .import into a plain table",
            rows,
            &plain_db,
            &plain_script,
        )?;
        let definitions = COLUMNS
            .iter()
            .map(|c| match *c {
                "Email" => "\"Email\" TEXT UNIQUE COLLATE NOCASE".to_string(),
                other => format!("\"{other}\" TEXT"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let staging = COLUMNS
            .iter()
            .map(|c| format!("\"{c}\" TEXT"))
            .collect::<Vec<_>>()
            .join(", ");
        let unique_script = format!(
            "CREATE TABLE contacts ({definitions});\n\
             CREATE TEMP TABLE staging ({staging});\n\
             .import --csv --skip 1 --schema temp {file} staging\n\
             INSERT OR IGNORE INTO contacts ({columns}) SELECT {columns} FROM temp.staging;\n",
            file = sql_text(first)
        );
        self.sqlite3_step(
            "sqlite3_import_unique",
            "sqlite3 CLI .import into staging, INSERT OR IGNORE into a table with a UNIQUE email",
            rows,
            &unique_db,
            &unique_script,
        )?;
        let kept = sqlite3_count(&unique_db)?;
        let export_target = self.out.join("alt-sqlite3.csv");
        let stdout = File::create(&export_target).map_err(|e| io(&export_target, e))?;
        self.measure(
            "sqlite3_export_csv",
            Side::Alternative,
            "sqlite3 CLI CSV export of the UNIQUE-email table",
            kept,
            "sqlite3",
            &[
                "-csv".to_string(),
                "-header".into(),
                unique_db.display().to_string(),
                "SELECT * FROM contacts".into(),
            ],
            Some(Redirect::Stdout(stdout)),
        )?;
        let assignments = COLUMNS
            .iter()
            .filter(|c| **c != "Email")
            .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let upsert_script = format!(
            "CREATE TEMP TABLE staging ({staging});\n\
             .import --csv --skip 1 --schema temp {file} staging\n\
             INSERT INTO contacts ({columns}) SELECT {columns} FROM temp.staging WHERE true \
             ON CONFLICT (\"Email\") DO UPDATE SET {assignments};\n",
            file = sql_text(update)
        );
        self.sqlite3_step(
            "sqlite3_upsert",
            "sqlite3 CLI .import of the update file into staging, INSERT … ON CONFLICT DO UPDATE",
            rows,
            &unique_db,
            &upsert_script,
        )?;
        Ok(())
    }

    fn sqlite3_step(
        &mut self,
        step: &str,
        description: &str,
        rows: u64,
        db: &Path,
        script: &str,
    ) -> Result<()> {
        let script_path = self.logs.join(format!("{step}.sql"));
        std::fs::write(&script_path, script).map_err(|e| io(&script_path, e))?;
        let stdin = File::open(&script_path).map_err(|e| io(&script_path, e))?;
        self.measure(
            step,
            Side::Alternative,
            description,
            rows,
            "sqlite3",
            &["-bail".to_string(), db.display().to_string()],
            Some(Redirect::Stdin(stdin)),
        )?;
        Ok(())
    }

    /// DuckDB through its Python package: `read_csv` into a file database, then `COPY … TO`
    /// CSV and Parquet (zstd, as our Parquet sink writes).
    fn duckdb_alternatives(&mut self, first: &Path) -> Result<()> {
        if !tool_available("python3", &["-c", "import duckdb"]) {
            self.skipped.push(
                "duckdb_read_csv, duckdb_copy_csv, duckdb_copy_parquet: python3 with the duckdb \
                 package is not installed (python3 -m pip install duckdb)"
                    .into(),
            );
            return Ok(());
        }
        let rows = self.options.rows;
        let db = self.out.join("alt-duckdb.duckdb");
        remove_database(&db)?;
        let csv_out = self.out.join("alt-duckdb.csv");
        let parquet_out = self.out.join("alt-duckdb.parquet");
        let steps = [
            (
                "duckdb_read_csv",
                "DuckDB read_csv into a file database",
                format!(
                    "CREATE TABLE contacts AS SELECT * FROM read_csv({}, header = true)",
                    sql_text(first)
                ),
            ),
            (
                "duckdb_copy_csv",
                "DuckDB COPY … TO CSV",
                format!("COPY contacts TO {} (HEADER)", sql_text(&csv_out)),
            ),
            (
                "duckdb_copy_parquet",
                "DuckDB COPY … TO Parquet (zstd)",
                format!(
                    "COPY contacts TO {} (FORMAT parquet, COMPRESSION zstd)",
                    sql_text(&parquet_out)
                ),
            ),
        ];
        for (step, description, sql) in steps {
            let program = "import duckdb, sys\n\
                           con = duckdb.connect(sys.argv[1])\n\
                           con.execute(sys.argv[2])\n\
                           con.close()\n";
            self.measure(
                step,
                Side::Alternative,
                description,
                rows,
                "python3",
                &[
                    "-c".to_string(),
                    program.into(),
                    db.display().to_string(),
                    sql,
                ],
                None,
            )?;
        }
        Ok(())
    }

    /// PostgreSQL through `psql`: `\copy` of the raw file into a logged table; an upsert of the
    /// update file (`\copy` into a staging table, `INSERT … ON CONFLICT DO UPDATE`, the last row
    /// of each email winning as in a sequential import) into a table holding the first file
    /// with a unique index on the lower-cased email.
    fn psql_alternatives(&mut self, base: &str, first: &Path, update: &Path) -> Result<()> {
        if !tool_available("psql", &["--version"]) {
            self.skipped.push(
                "psql_copy, pg_upsert: psql is not installed (Debian: apt-get install \
                 postgresql-client)"
                    .into(),
            );
            return Ok(());
        }
        let rows = self.options.rows;
        let schema = self.pg_schema_name("alt");
        self.pg_create_schema(base, &schema)?;
        let columns = quoted_columns();
        let text_columns = COLUMNS
            .iter()
            .map(|c| format!("\"{c}\" text"))
            .collect::<Vec<_>>()
            .join(", ");
        let psql = |commands: &[String]| -> Vec<String> {
            let mut args = vec![
                "-X".to_string(),
                "-q".into(),
                "-v".into(),
                "ON_ERROR_STOP=1".into(),
                "-d".into(),
                base.to_string(),
            ];
            for command in commands {
                args.extend(["-c".into(), command.clone()]);
            }
            args
        };
        self.execute(
            "psql_setup",
            "psql",
            &psql(&[format!(
                "CREATE TABLE {schema}.contacts ({text_columns}); \
                 CREATE TABLE {schema}.contacts_unique ({text_columns}); \
                 CREATE UNIQUE INDEX ON {schema}.contacts_unique (lower(\"Email\"))"
            )]),
            None,
        )?;
        self.measure(
            "psql_copy",
            Side::Alternative,
            "psql \\copy of the raw file into a logged table",
            rows,
            "psql",
            &psql(&[format!(
                "\\copy {schema}.contacts ({columns}) FROM {} WITH (FORMAT csv, HEADER true)",
                sql_text(first)
            )]),
            None,
        )?;
        let staging = |file: &Path| -> [String; 2] {
            [
                format!("CREATE TEMP TABLE staging (n bigserial, {text_columns})"),
                format!(
                    "\\copy staging ({columns}) FROM {} WITH (FORMAT csv, HEADER true)",
                    sql_text(file)
                ),
            ]
        };
        let latest_per_email = format!(
            "SELECT DISTINCT ON (lower(\"Email\")) {columns} FROM staging \
             ORDER BY lower(\"Email\"), n DESC"
        );
        let mut load = staging(first).to_vec();
        load.push(format!(
            "INSERT INTO {schema}.contacts_unique ({columns}) {latest_per_email} \
             ON CONFLICT (lower(\"Email\")) DO NOTHING"
        ));
        self.execute("pg_upsert_load_first", "psql", &psql(&load), None)?;
        let assignments = COLUMNS
            .iter()
            .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut upsert = staging(update).to_vec();
        upsert.push(format!(
            "INSERT INTO {schema}.contacts_unique ({columns}) {latest_per_email} \
             ON CONFLICT (lower(\"Email\")) DO UPDATE SET {assignments}"
        ));
        self.measure(
            "pg_upsert",
            Side::Alternative,
            "psql \\copy of the update file into staging, INSERT … ON CONFLICT DO UPDATE",
            rows,
            "psql",
            &psql(&upsert),
            None,
        )?;
        Ok(())
    }

    fn pg_schema_name(&self, role: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("bench_{role}_{}_{nanos}", std::process::id())
    }

    /// A fresh schema for our own PostgreSQL store; returns the URL that selects it.
    fn pg_schema(&mut self, base: &str, role: &str) -> Result<String> {
        let schema = self.pg_schema_name(role);
        self.pg_create_schema(base, &schema)?;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(format!("{base}{separator}options[search_path]={schema}"))
    }

    fn pg_create_schema(&mut self, base: &str, schema: &str) -> Result<()> {
        pg_execute(base, &format!("CREATE SCHEMA {schema}"))?;
        self.pg_schemas.push((base.to_string(), schema.to_string()));
        Ok(())
    }

    fn drop_pg_schemas(&mut self) {
        for (base, schema) in std::mem::take(&mut self.pg_schemas) {
            if let Err(e) = pg_execute(&base, &format!("DROP SCHEMA {schema} CASCADE")) {
                tracing::warn!("cannot drop the benchmark schema {schema}: {e}");
            }
        }
    }

    /// Runs one step as a child process and records its measurement.
    #[allow(clippy::too_many_arguments)]
    fn measure(
        &mut self,
        step: &str,
        side: Side,
        description: &str,
        rows: u64,
        program: &str,
        args: &[String],
        redirect: Option<Redirect>,
    ) -> Result<Finished> {
        let command = shell_words(program, args);
        eprintln!("bench: {step}: {description}");
        let (finished, usage) = self.execute_measured(step, program, args, redirect)?;
        let seconds = usage.wall_seconds;
        let measurement = Measurement {
            step: step.to_string(),
            side,
            description: description.to_string(),
            command,
            rows,
            wall_seconds: seconds,
            rows_per_second: if seconds > 0.0 {
                rows as f64 / seconds
            } else {
                0.0
            },
            peak_rss_mib: usage.peak_rss_bytes as f64 / MIB,
            user_seconds: usage.user_seconds,
            system_seconds: usage.system_seconds,
        };
        eprintln!(
            "bench: {step}: {:.2} s, {:.0} rows/s, {:.0} MiB peak",
            measurement.wall_seconds, measurement.rows_per_second, measurement.peak_rss_mib
        );
        self.steps.push(measurement);
        Ok(finished)
    }

    /// Runs a child process that is not measured (setup).
    fn execute(
        &mut self,
        step: &str,
        program: &str,
        args: &[String],
        redirect: Option<Redirect>,
    ) -> Result<Finished> {
        Ok(self.execute_measured(step, program, args, redirect)?.0)
    }

    fn execute_measured(
        &mut self,
        step: &str,
        program: &str,
        args: &[String],
        redirect: Option<Redirect>,
    ) -> Result<(Finished, Usage)> {
        let stdout_path = self.logs.join(format!("{step}.stdout"));
        let stderr_path = self.logs.join(format!("{step}.stderr"));
        let mut command = Command::new(program);
        command
            .args(args)
            .stderr(File::create(&stderr_path).map_err(|e| io(&stderr_path, e))?);
        match redirect {
            Some(Redirect::Stdin(file)) => {
                command
                    .stdin(file)
                    .stdout(File::create(&stdout_path).map_err(|e| io(&stdout_path, e))?);
            }
            Some(Redirect::Stdout(file)) => {
                command.stdin(Stdio::null()).stdout(file);
            }
            None => {
                command
                    .stdin(Stdio::null())
                    .stdout(File::create(&stdout_path).map_err(|e| io(&stdout_path, e))?);
            }
        }
        let usage = run_child(&mut command, program)?;
        if !usage.success {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            return Err(HarnessError::StepFailed {
                step: step.to_string(),
                status: usage.status.clone(),
                stderr_tail: tail,
            }
            .into());
        }
        Ok((
            Finished {
                stdout: stdout_path,
            },
            usage,
        ))
    }
}

/// Runs one statement on PostgreSQL, on a thread of its own with its own runtime: the harness
/// is synchronous and may be called from inside the CLI's runtime.
fn pg_execute(url: &str, statement: &str) -> Result<()> {
    let url = url.to_string();
    let statement = statement.to_string();
    let outcome = std::thread::spawn(move || -> Result<(), sqlx::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&url).await?;
            let result = sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await;
            pool.close().await;
            result.map(|_| ())
        })
    })
    .join()
    .map_err(|_| {
        HarnessError::Postgres(sqlx::Error::Protocol(
            "the PostgreSQL thread panicked".into(),
        ))
    })?;
    outcome.map_err(|e| HarnessError::Postgres(e).into())
}

fn sqlite3_count(db: &Path) -> Result<u64> {
    let output = Command::new("sqlite3")
        .arg(db)
        .arg("SELECT count(*) FROM contacts")
        .output()
        .map_err(|source| HarnessError::Spawn {
            program: "sqlite3".into(),
            source,
        })?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            HarnessError::Output {
                step: "sqlite3_import_unique".into(),
                message: format!(
                    "count(*) gave '{}'",
                    String::from_utf8_lossy(&output.stdout).trim()
                ),
            }
            .into()
        })
}

/// The `data` of an `import run --json` result.
fn import_result(finished: &Finished, step: &str) -> Result<Value> {
    let text = std::fs::read_to_string(&finished.stdout).map_err(|e| io(&finished.stdout, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| HarnessError::Output {
        step: step.into(),
        message: format!("not JSON ({e})"),
    })?;
    value.get("data").cloned().ok_or_else(|| {
        HarnessError::Output {
            step: step.into(),
            message: "no data in the result".into(),
        }
        .into()
    })
}

fn counter(result: &Value, name: &str, step: &str) -> Result<u64> {
    result.get(name).and_then(Value::as_u64).ok_or_else(|| {
        HarnessError::Output {
            step: step.into(),
            message: format!("no {name} in the result"),
        }
        .into()
    })
}

/// The generated columns as a quoted SQL column list.
fn quoted_columns() -> String {
    COLUMNS
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path as a single-quoted SQL string literal.
fn sql_text(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// A command line to show (and paste into a shell).
fn shell_words(program: &str, args: &[String]) -> String {
    let quote = |word: &str| {
        if !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
        {
            word.to_string()
        } else {
            format!("'{}'", word.replace('\'', "'\\''"))
        }
    };
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn remove_database(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&file, e)),
        }
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The generator entry point the CLI shares with the harness: the format from `format` or the
/// file's extension (CSV when neither says).
pub fn generate(
    path: &Path,
    format: Option<OutputFormat>,
    options: &GenerateOptions,
) -> Result<()> {
    let format = format
        .or_else(|| OutputFormat::from_path(path))
        .unwrap_or(OutputFormat::Csv);
    write_file(path, format, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(step: &str, side: Side, rows: u64, seconds: f64, rss: f64) -> Measurement {
        Measurement {
            step: step.into(),
            side,
            description: String::new(),
            command: String::new(),
            rows,
            wall_seconds: seconds,
            rows_per_second: rows as f64 / seconds,
            peak_rss_mib: rss,
            user_seconds: 0.0,
            system_seconds: 0.0,
        }
    }

    #[test]
    fn ratios_are_time_per_row_and_checked_against_targets() {
        let steps = vec![
            measurement("import_sqlite", Side::Ours, 1_000, 10.0, 150.0),
            measurement("duckdb_read_csv", Side::Alternative, 1_000, 2.0, 90.0),
            measurement("export_csv", Side::Ours, 900, 9.0, 300.0),
            measurement("sqlite3_export_csv", Side::Alternative, 1_000, 20.0, 5.0),
        ];
        let found = comparisons(&steps);
        assert_eq!(found.len(), 2, "pairs without both sides are left out");
        assert_eq!(found[0].ratio, 5.0);
        assert_eq!(found[0].met, Some(false));
        // 0.01 s per row against 0.02 s per row.
        assert!((found[1].ratio - 0.5).abs() < 1e-12);
        assert_eq!(found[1].met, Some(true));
        let checks = absolute_checks(&steps);
        assert_eq!(checks.len(), 2, "RSS of our two steps only");
        assert!(checks[0].met && !checks[1].met);
    }

    #[test]
    fn child_usage_is_its_own() {
        // A child that allocates and touches 64 MiB reports at least that as its peak.
        let mut command = Command::new("python3");
        command
            .args(["-c", "b = bytearray(64 * 1024 * 1024)"])
            .stdout(Stdio::null());
        let usage = run_child(&mut command, "python3").unwrap();
        assert!(usage.success, "{}", usage.status);
        assert!(usage.peak_rss_bytes >= 64 * 1024 * 1024);
        let mut failing = Command::new("sh");
        failing.args(["-c", "exit 3"]);
        let usage = run_child(&mut failing, "sh").unwrap();
        assert!(!usage.success);
        assert_eq!(usage.status, "exit status 3");
    }

    #[test]
    fn shell_words_quote_what_needs_it() {
        assert_eq!(
            shell_words("sqlite3", &["-bail".into(), "a b.db".into(), "it's".into()]),
            "sqlite3 -bail 'a b.db' 'it'\\''s'"
        );
    }
}
