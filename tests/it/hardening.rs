//! Issue 17's findings, each through the CLI on both stores: what hostile or odd input does.

use std::path::Path;

use recordport::records::ListQuery;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, recordport_process};

/// `recordport --db URL --json ARGS…`: exit code and the JSON printed.
fn run_json(db: &TestDb, args: &[&str]) -> (i32, Value) {
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url, "--json"]).args(args);
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let body = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), body)
}

/// The contacts' (first name, job title) pairs, sorted.
async fn names_and_titles(db: &TestDb) -> Vec<(String, String)> {
    let query = ListQuery {
        page_size: Some(100),
        ..ListQuery::default()
    };
    let records = db
        .service
        .list("contacts", &query)
        .await
        .expect("list")
        .records;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let mut pairs: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                text(r.fields.get("first_name")),
                text(r.fields.get("job_title")),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path.display().to_string()
}

both!(cr_lf_and_crlf_each_end_a_row_in_one_file, line_ends);
/// Finding: a lone CR inside an LF file merged two rows. Python's csv and spreadsheets read CR,
/// LF and CRLF outside quotes as row ends, and keep them inside quoted cells.
async fn line_ends(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "mixed.csv",
        b"First Name,Email,Job Title\n\
          Ann,ann@example.com,CEO\rBen,ben@example.com,CTO\r\n\
          Cy,cy@example.com,\"Head\rof\r\nSales\"\r\
          Di,di@example.com,COO\n",
    );
    let (code, parsed) = run_json(&db, &["import", "parse", &file]);
    assert_eq!(code, 0, "{parsed}");
    assert_eq!(parsed["data"]["totalRows"], json!(4), "{parsed}");
    let (code, run) = run_json(&db, &["import", "run", &file, "-m", "contacts"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["data"]["createdRows"], json!(4), "{run}");
    assert_eq!(
        names_and_titles(&db).await,
        [
            ("Ann", "CEO"),
            ("Ben", "CTO"),
            ("Cy", "Head\rof\r\nSales"),
            ("Di", "COO")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}
