//! `recordport bench run` end to end on a tiny file: every step runs as a child process and the
//! results land in valid JSON and Markdown, on SQLite and (when a server is given) PostgreSQL.

use std::path::Path;

use serde_json::Value;

use crate::common::POSTGRES_URL_VAR;

const ROWS: u64 = 2_000;

fn bench_run(out_dir: &Path, extra: &[&str]) -> Value {
    let output = assert_cmd::Command::cargo_bin("recordport")
        .expect("recordport binary")
        .args(["bench", "run", "--rows", &ROWS.to_string(), "--out-dir"])
        .arg(out_dir)
        .args(extra)
        .output()
        .expect("run bench");
    assert!(
        output.status.success(),
        "bench run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("import_sqlite"),
        "table on stdout: {stdout}"
    );
    let text = std::fs::read_to_string(out_dir.join("bench-results.json")).expect("JSON written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn steps(report: &Value) -> Vec<&str> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().expect("step name"))
        .collect()
}

fn step<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

/// Our steps in order, each measured (time, rate and a peak RSS of its own process).
fn check_our_steps(report: &Value, expected: &[&str]) {
    assert_eq!(report["rows"], ROWS);
    let names = steps(report);
    let ours: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| step(report, n)["side"] != "alternative")
        .collect();
    assert_eq!(ours, expected);
    for name in expected {
        let s = step(report, name);
        assert!(s["wall_seconds"].as_f64().unwrap() > 0.0, "{name}");
        assert!(s["rows_per_second"].as_f64().unwrap() > 0.0, "{name}");
        // A real process: at least a few MiB resident, and far from the whole machine.
        let rss = s["peak_rss_mib"].as_f64().unwrap();
        assert!((2.0..4_000.0).contains(&rss), "{name}: {rss} MiB");
        assert!(!s["command"].as_str().unwrap().is_empty());
    }
    // The upsert half-overlaps the first file, so its rollback touches about N rows.
    let rolled_back = step(report, "rollback_sqlite")["rows"].as_u64().unwrap();
    assert!((1_000..=ROWS).contains(&rolled_back), "{rolled_back}");
    // The export counts are the records the import created: fewer than the rows (duplicates
    // skipped, invalid rows failed), and the CSV export holds exactly that many.
    let exported = step(report, "export_csv")["rows"].as_u64().unwrap();
    assert!((1_800..ROWS).contains(&exported), "{exported}");
    assert_eq!(
        step(report, "export_pdf")["rows"].as_u64().unwrap(),
        exported
    );
}

fn csv_records(path: &Path) -> u64 {
    let mut reader = csv::Reader::from_path(path).expect("exported CSV");
    let mut count = 0;
    for record in reader.records() {
        record.expect("CSV record");
        count += 1;
    }
    count
}

#[test]
fn sqlite_steps_and_alternatives() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench_run(dir.path(), &[]);
    check_our_steps(
        &report,
        &[
            "generate",
            "generate_update",
            "import_sqlite",
            "upsert_sqlite",
            "rollback_sqlite",
            "export_csv",
            "export_parquet",
            "export_pdf",
        ],
    );
    assert_eq!(
        csv_records(&dir.path().join("ours.csv")),
        step(&report, "export_csv")["rows"].as_u64().unwrap()
    );
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(skipped.iter().any(|s| s.contains("--postgres-url")));
    // Each alternative either ran or is listed as skipped with the tool it needs.
    let names = steps(&report);
    for alternative in [
        "sqlite3_import_plain",
        "sqlite3_import_unique",
        "sqlite3_export_csv",
        "sqlite3_upsert",
        "duckdb_read_csv",
        "duckdb_copy_csv",
        "duckdb_copy_parquet",
    ] {
        assert!(
            names.contains(&alternative) || skipped.iter().any(|s| s.contains(alternative)),
            "{alternative} neither ran nor was skipped"
        );
    }
    if names.contains(&"sqlite3_export_csv") {
        // The UNIQUE email (case-insensitive) table kept fewer rows than the file has, and its
        // export holds exactly those.
        let kept = step(&report, "sqlite3_export_csv")["rows"]
            .as_u64()
            .unwrap();
        assert!(kept < ROWS, "{kept}");
        assert_eq!(csv_records(&dir.path().join("alt-sqlite3.csv")), kept);
        let comparison = report["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["ours"] == "import_sqlite" && c["alternative"] == "sqlite3_import_unique")
            .expect("comparison with sqlite3");
        assert!(comparison["ratio"].as_f64().unwrap() > 0.0);
        assert_eq!(comparison["target_max_ratio"], 1.0);
        assert!(comparison["met"].is_boolean());
    }
    let markdown = std::fs::read_to_string(dir.path().join("bench-results.md")).unwrap();
    assert!(markdown.contains("| import_sqlite | ours |"), "{markdown}");
}

#[test]
fn postgres_steps() {
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{POSTGRES_URL_VAR} must be set under CI"
        );
        eprintln!("skipping: set {POSTGRES_URL_VAR} to run the PostgreSQL tests");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = bench_run(dir.path(), &["--postgres-url", &url, "--skip-alternatives"]);
    check_our_steps(
        &report,
        &[
            "generate",
            "generate_update",
            "import_sqlite",
            "import_postgres",
            "upsert_postgres",
            "upsert_sqlite",
            "rollback_sqlite",
            "export_csv",
            "export_parquet",
            "export_pdf",
        ],
    );
    assert_eq!(step(&report, "import_postgres")["rows"], ROWS);
    assert_eq!(step(&report, "upsert_postgres")["rows"], ROWS);
    assert!(
        report["comparisons"].as_array().unwrap().is_empty(),
        "no alternatives ran"
    );
}
