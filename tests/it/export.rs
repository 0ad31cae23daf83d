//! The export pipeline through the library API, on both stores: CSV content, PDF checked with
//! poppler's `pdftotext`/`pdfinfo`, Parquet read by DuckDB, the snapshot property and jobs.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::Not;
use std::process::Command;
use std::sync::{Arc, Mutex};

use recordport::export::{
    self, ExportFormat, ExportRequest, ExportSettings, JobStatus, columns::default_keys,
};
use recordport::import::mapping::suggest;
use recordport::records::RecordInput;
use recordport::schema::{Module, ModuleDef};
use recordport::worker::{Tick, Worker, WorkerOptions};
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, actor, sample_dir, sample_modules};

/// An in-memory output the export can own.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

async fn load_samples(db: &TestDb) {
    for module in ["accounts", "contacts"] {
        let path = sample_dir().join("records").join(format!("{module}.json"));
        let items: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let inputs = items
            .into_iter()
            .map(|v| RecordInput::from_json(v, "sample").unwrap())
            .collect();
        db.service
            .bulk_create(module, inputs, &actor())
            .await
            .expect("load sample records");
    }
}

async fn create(db: &TestDb, module: &str, body: Value) -> String {
    db.service
        .create(
            module,
            RecordInput::from_json(body, "test").unwrap(),
            &actor(),
        )
        .await
        .expect("create record")
        .id
}

pub(crate) fn request(format: ExportFormat, config: Value) -> ExportRequest {
    ExportRequest::from_json(json!({ "format": format, "config": config }), "test").unwrap()
}

async fn export_bytes(db: &TestDb, module: &str, request: &ExportRequest) -> Vec<u8> {
    let out = Buffer::default();
    export::run(
        db.service.store(),
        module,
        request,
        Box::new(out.clone()),
        "memory",
        |_, _| {},
    )
    .await
    .expect("export");
    out.bytes()
}

/// The CSV of an export as rows of strings (header first when there is one).
async fn csv_rows(db: &TestDb, module: &str, config: Value) -> Vec<Vec<String>> {
    let bytes = export_bytes(db, module, &request(ExportFormat::Csv, config)).await;
    let text = String::from_utf8(bytes).expect("UTF-8 CSV");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.expect("valid CSV").iter().map(String::from).collect())
        .collect()
}

fn column<'a>(rows: &'a [Vec<String>], label: &str) -> Vec<&'a str> {
    let i = rows[0]
        .iter()
        .position(|h| h == label)
        .unwrap_or_else(|| panic!("no column {label} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[i].as_str()).collect()
}

async fn csv_content_and_escaping(db: TestDb) {
    load_samples(&db).await;
    create(
        &db,
        "contacts",
        json!({"fields": {
            "first_name": "Zoë", "last_name": "O'Brien, \"Jr\"", "email": "zoe@example.com",
            "phone": [{"number": "+44 20 7946 0958", "type": "Mobile"}, {"number": "+1 212 555 0100", "type": "Work"}, {"number": "+1 212 555 0101", "type": "Mobile"}],
            "company": "@acme", "job_title": "=HYPERLINK(\"http://x\")", "notes": "line one\nline two",
            "source": "-10+20", "deal_value": "-1500.5",
            "address": {"street": "1 Main St", "street2": "Apt 2", "city": "Zürich", "zip": "8001", "country": "Switzerland"}
        }}),
    )
    .await;
    let rows = csv_rows(
        &db,
        "contacts",
        json!({"sortField": "displayName", "sortDirection": "asc"}),
    )
    .await;
    let header = &rows[0];
    // Default columns: the name, every field (addresses by part, phones by type), owner, dates.
    for label in [
        "Name",
        "First name",
        "Email",
        "Phone (Mobile)",
        "Phone (Work)",
        "Phone (Home)",
        "Phone (Other)",
        "Address Street",
        "Address Street 2",
        "Address City",
        "Address State",
        "Address Zip",
        "Address Country",
        "Deal value",
        "Account",
        "Record owner",
        "Created",
        "Updated",
    ] {
        assert!(header.iter().any(|h| h == label), "{label} in {header:?}");
    }
    assert_eq!(rows.len(), 1 + 7);
    let names = column(&rows, "Name");
    assert_eq!(names[0], "Ada Lovelace");
    let zoe = names.iter().position(|n| n.starts_with("Zoë")).unwrap() + 1;
    let get = |label: &str| column(&rows, label)[zoe - 1].to_string();
    assert_eq!(get("Name"), "Zoë O'Brien, \"Jr\"");
    // Phone numbers are signed numbers, not formulas: they stay as the import reads them.
    assert_eq!(get("Phone (Mobile)"), "+442079460958; +12125550101");
    assert_eq!(get("Phone (Work)"), "+12125550100");
    assert_eq!(get("Company"), "'@acme");
    assert_eq!(get("Job title"), "'=HYPERLINK(\"http://x\")");
    assert_eq!(get("Source"), "'-10+20");
    assert_eq!(get("Notes"), "line one\nline two");
    // Numbers are ours, not formulas: a negative amount stays a number.
    assert_eq!(get("Deal value"), "-1500.5");
    assert_eq!(get("Address Street 2"), "Apt 2");
    assert_eq!(get("Address City"), "Zürich");
    assert_eq!(get("Address State"), "");
    assert_eq!(get("Record owner"), "Test User");
    assert!(get("Created").ends_with('Z'), "{}", get("Created"));
    // References show the referenced record's name.
    let ada = &rows[1];
    let account = header.iter().position(|h| h == "Account").unwrap();
    assert_eq!(ada[account], "Acme Corporation");

    // RFC 4180 on the wire: CRLF line ends, quotes doubled, no BOM.
    let raw = String::from_utf8(
        export_bytes(&db, "contacts", &request(ExportFormat::Csv, json!({"columns": ["displayName", "notes"], "filter": {"email": "zoe@example.com"}}))).await,
    )
    .unwrap();
    assert_eq!(
        raw,
        "Name,Notes\r\n\"Zoë O'Brien, \"\"Jr\"\"\",\"line one\nline two\"\r\n"
    );
}
both!(csv_content_and_escaping, csv_content_and_escaping);

async fn csv_options(db: TestDb) {
    load_samples(&db).await;
    // Columns, labels, parts and reference ids.
    let rows = csv_rows(
        &db,
        "contacts",
        json!({
            "columns": ["email", "address.city", "account", "account.id", "last_contacted", "deal_value"],
            "columnLabels": {"email": "E-mail", "account.id": "Account key"},
            "sortField": "deal_value", "sortDirection": "desc", "limit": 3,
            "dateFormat": "%d/%m/%Y"
        }),
    )
    .await;
    assert_eq!(
        rows[0],
        [
            "E-mail",
            "Address City",
            "Account",
            "Account key",
            "Last contacted",
            "Deal value"
        ]
    );
    assert_eq!(column(&rows, "Deal value"), ["120000", "75000", "55000"]);
    assert_eq!(
        column(&rows, "Last contacted"),
        ["15/02/2024", "15/01/2024", ""]
    );
    assert_eq!(column(&rows, "Address City"), ["München", "", ""]);
    let accounts = db
        .service
        .list("accounts", &Default::default())
        .await
        .unwrap()
        .records;
    let acme = accounts
        .iter()
        .find(|a| a.display_name == "Acme Corporation")
        .unwrap();
    assert_eq!(column(&rows, "Account")[1], "Acme Corporation");
    assert_eq!(column(&rows, "Account key")[1], acme.id);

    // No header row; filters as the list takes them; search.
    let rows = csv_rows(
        &db,
        "contacts",
        json!({"columns": ["email"], "includeHeaders": false, "filter": {"status": "lead,active"}, "sortField": "email", "sortDirection": "asc"}),
    )
    .await;
    assert_eq!(
        rows,
        [
            ["ada.lovelace@acme.com"],
            ["alan@initech.com"],
            ["kj@acme.com"],
            ["linus@globex.de"]
        ]
    );
    let rows = csv_rows(
        &db,
        "contacts",
        json!({"columns": ["email"], "includeHeaders": false, "advancedFilter": {"conjunction": "AND", "conditions": [{"fieldSlug": "deal_value", "operator": "gte", "value": 50000}]}, "search": "acme"}),
    )
    .await;
    assert_eq!(rows, [["ada.lovelace@acme.com"]]);

    // Direct or job: six records are direct unless a job is asked for; counts honour the limit.
    let store = db.service.store();
    let prepared = export::prepare(
        store,
        "contacts",
        &request(ExportFormat::Csv, json!({"limit": 4})),
    )
    .await
    .unwrap();
    assert_eq!(prepared.count(store).await.unwrap(), 4);
    assert_eq!(
        prepared.delivery(store, false).await.unwrap(),
        export::Delivery::Direct
    );
    assert_eq!(
        prepared.delivery(store, true).await.unwrap(),
        export::Delivery::Job
    );

    // Bad requests are validation errors before anything runs.
    for config in [
        json!({"columns": ["nope"]}),
        json!({"columns": ["address.planet"]}),
        json!({"columns": []}),
        json!({"columnLabels": {"nope": "X"}}),
        json!({"dateFormat": "%Q"}),
        json!({"sortField": "nope"}),
        json!({"filter": {"nope": "x"}}),
    ] {
        let err = export::prepare(
            db.service.store(),
            "contacts",
            &request(ExportFormat::Csv, config.clone()),
        )
        .await
        .expect_err("invalid request");
        assert_eq!(err.code(), "validation_error", "{config}: {err}");
    }
    let err = export::prepare(
        db.service.store(),
        "nope",
        &request(ExportFormat::Csv, json!({})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_found");
}
both!(csv_options, csv_options);

/// What a suggestion maps a column to: field, phone type, address part.
type Target<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

/// The headers of a default CSV export map back to the fields they came from when the file is
/// imported (the import's suggestions), so that the round trip can work.
#[test]
fn default_headers_map_back_on_import() {
    for def in sample_modules() {
        let module = Module::unsaved(format!("mod_{}", def.slug), def.clone());
        let columns = export::ColumnSet::resolve(
            &module,
            Some(&default_keys(&module)),
            &BTreeMap::new(),
            export::Layout::Flat,
        )
        .unwrap();
        let headers: Vec<String> = columns.columns.iter().map(|c| c.label.clone()).collect();
        let result = suggest(&module, &headers, &[], &[], &Default::default());
        let mapped: HashMap<&str, Target> = result
            .suggestions
            .iter()
            .map(|s| {
                (
                    s.source_column.as_str(),
                    (
                        s.target_field_slug.as_deref(),
                        s.value_type.as_deref(),
                        s.address_part.as_deref(),
                    ),
                )
            })
            .collect();
        for column in &columns.columns {
            let (base, part) = match column.key.split_once('.') {
                Some((b, p)) => (b, Some(p)),
                None => (column.key.as_str(), None),
            };
            let got = mapped[column.label.as_str()];
            match def.fields.iter().find(|f| f.slug == base) {
                Some(field) => {
                    assert_eq!(
                        got.0,
                        Some(base),
                        "{}: {} maps to {got:?}",
                        def.slug,
                        column.label
                    );
                    if field.field_type == recordport::schema::FieldType::Address {
                        assert_eq!(got.2, part, "{}", column.label);
                    }
                    if field.field_type == recordport::schema::FieldType::Phone
                        && part != Some("other")
                    {
                        assert_eq!(
                            got.1.map(str::to_lowercase).as_deref(),
                            part,
                            "{}",
                            column.label
                        );
                    }
                }
                None if column.key == "displayName" => {
                    assert_eq!(got.0, Some("displayName"), "{}", column.label)
                }
                // Owner and dates are the store's own: never mistaken for a field.
                None => assert_eq!(
                    got.0, None,
                    "{}: {} maps to {got:?}",
                    def.slug, column.label
                ),
            }
        }
    }
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} must be installed under CI (.ci/run installs it)"
        );
        eprintln!("skipping: {name} is not installed");
    }
    found
}

fn write_temp(bytes: &[u8], ext: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("out.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn run(cmd: &mut Command) -> String {
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run tool");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 tool output")
}

async fn pdf_report(db: TestDb) {
    if !tool("pdftotext") {
        return;
    }
    // Names in several scripts, and enough of them for several pages.
    let names = [
        "Émilie Châtelet",
        "Σοφία Παπαδοπούλου",
        "Дмитрий Иванов",
        "Zoë Åström",
    ];
    let mut inputs = Vec::new();
    for i in 0..130 {
        let name = format!("{} {i:03}", names[i % names.len()]);
        let (first, last) = name.split_once(' ').unwrap();
        inputs.push(
            RecordInput::from_json(
                json!({"fields": {"first_name": first, "last_name": last, "deal_value": i * 100, "notes": "a long note ".repeat(30)}}),
                "test",
            )
            .unwrap(),
        );
    }
    db.service
        .bulk_create("contacts", inputs, &actor())
        .await
        .unwrap();
    let bytes = export_bytes(
        &db,
        "contacts",
        &request(
            ExportFormat::Pdf,
            json!({
                "columns": ["displayName", "deal_value", "notes", "createdDateTime"],
                "columnLabels": {"deal_value": "Wert"},
                "title": "Kontakte — Übersicht", "description": "Quarterly review; Ελληνικά and кириллица too.",
                "sortField": "deal_value", "sortDirection": "asc"
            }),
        ),
    )
    .await;
    let (_dir, path) = write_temp(&bytes, "pdf");
    let info = run(Command::new("pdfinfo").arg(&path));
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("page count");
    assert!(pages >= 3, "{info}");
    assert!(
        info.contains("Kontakte — Übersicht"),
        "title in the metadata: {info}"
    );
    let mut seen = Vec::new();
    for page in 1..=pages {
        let text = run(Command::new("pdftotext")
            .args([
                "-layout",
                "-enc",
                "UTF-8",
                "-f",
                &page.to_string(),
                "-l",
                &page.to_string(),
            ])
            .arg(&path)
            .arg("-"));
        // The header on every page, and the page number.
        assert!(
            text.contains("Name") && text.contains("Wert") && text.contains("Notes"),
            "page {page}: {text}"
        );
        assert!(
            text.contains(&format!("Page {page} of {pages}")),
            "page {page}: {text}"
        );
        if page == 1 {
            assert!(text.contains("Kontakte — Übersicht"), "{text}");
            assert!(text.contains("Ελληνικά and кириллица"), "{text}");
        }
        // Long notes wrap onto the record's next lines (up to three, then cut with an ellipsis).
        assert!(
            text.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with("a long") || line.starts_with("long") || line.starts_with("note")
            }),
            "page {page}: {text}"
        );
        for line in text.lines() {
            for prefix in names {
                if let Some(pos) = line.find(prefix) {
                    let rest = &line[pos + prefix.len()..];
                    let n: String = rest.trim_start().chars().take(3).collect();
                    seen.push(format!("{prefix} {n}"));
                }
            }
        }
    }
    // Every record once, in order (deal_value ascending = creation order here).
    let expected: Vec<String> = (0..130)
        .map(|i| format!("{} {i:03}", names[i % names.len()]))
        .collect();
    assert_eq!(seen, expected);

    // An empty export is still a valid one-page PDF that says so.
    let bytes = export_bytes(
        &db,
        "deals",
        &request(ExportFormat::Pdf, json!({"title": "Deals"})),
    )
    .await;
    let (_dir, path) = write_temp(&bytes, "pdf");
    let text = run(Command::new("pdftotext").arg(&path).arg("-"));
    assert!(text.contains("No records"), "{text}");
    assert!(run(Command::new("pdfinfo").arg(&path)).contains("Pages:           1"));
}
both!(pdf_report, pdf_report);

const GADGETS: &str = r#"{
  "slug": "gadgets", "name": "Gadgets", "displayName": ["{name}"],
  "fields": [
    {"slug": "name", "label": "Name", "type": "text"},
    {"slug": "price", "label": "Price", "type": "currency"},
    {"slug": "weight", "label": "Weight", "type": "number"},
    {"slug": "in_stock", "label": "In stock", "type": "boolean"},
    {"slug": "released", "label": "Released", "type": "date"},
    {"slug": "checked_at", "label": "Checked at", "type": "datetime"},
    {"slug": "tags", "label": "Tags", "type": "multi_select", "options": ["new", "sale"]},
    {"slug": "address", "label": "Address", "type": "address"}
  ]
}"#;

async fn parquet_typed(db: TestDb) {
    let def = ModuleDef::from_json(GADGETS, "gadgets").unwrap();
    db.service.modules().apply(&def).await.unwrap();
    create(&db, "gadgets", json!({"fields": {"name": "Widget", "price": "$1,234.50", "weight": 3, "in_stock": true, "released": "2024-01-15", "checked_at": "2024-01-15T10:30:00Z", "tags": ["new", "sale"], "address": {"city": "Zürich"}}})).await;
    create(
        &db,
        "gadgets",
        json!({"fields": {"name": "Gizmo", "in_stock": false}}),
    )
    .await;
    let bytes = export_bytes(
        &db,
        "gadgets",
        &request(
            ExportFormat::Parquet,
            json!({"sortField": "name", "sortDirection": "desc", "dateFormat": "%d/%m/%Y"}),
        ),
    )
    .await;
    assert_eq!(&bytes[..4], b"PAR1");
    if Command::new("python3")
        .arg("-c")
        .arg("import duckdb")
        .output()
        .is_ok_and(|o| o.status.success())
        .not()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "DuckDB (pip) must be installed under CI"
        );
        eprintln!("skipping: the duckdb Python package is not installed");
        return;
    }
    let (_dir, path) = write_temp(&bytes, "parquet");
    // Types as DuckDB reads them; values cast to text in SQL, in UTC.
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
con.sql("SET TimeZone = 'UTC'")
source = f"read_parquet('{sys.argv[1]}')"
rel = con.sql(f"SELECT * FROM {source}")
rows = con.sql(f"SELECT COLUMNS(*)::VARCHAR FROM {source}").fetchall()
print(json.dumps({"columns": rel.columns, "types": [str(t) for t in rel.types], "rows": rows}))
"#;
    let out = run(Command::new("python3").args(["-c", script]).arg(&path));
    let got: Value = serde_json::from_str(&out).unwrap();
    let columns: Vec<&str> = got["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let types: HashMap<&str, &str> = columns
        .iter()
        .copied()
        .zip(
            got["types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap()),
        )
        .collect();
    assert_eq!(types["Name"], "VARCHAR");
    assert_eq!(types["Price"], "DOUBLE");
    assert_eq!(types["Weight"], "DOUBLE");
    assert_eq!(types["In stock"], "BOOLEAN");
    assert_eq!(types["Released"], "DATE");
    assert_eq!(types["Checked at"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["Created"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["Address City"], "VARCHAR");
    let row = |i: usize, name: &str| {
        got["rows"][i][columns.iter().position(|c| *c == name).unwrap()].clone()
    };
    assert_eq!(row(0, "Name"), "Widget");
    assert_eq!(row(0, "Price"), "1234.5");
    assert_eq!(row(0, "Weight"), "3.0");
    assert_eq!(row(0, "In stock"), "true");
    // dateFormat is for text formats: Parquet keeps the date a date.
    assert_eq!(row(0, "Released"), "2024-01-15");
    assert_eq!(row(0, "Checked at"), "2024-01-15 10:30:00+00");
    assert_eq!(row(0, "Tags"), "new; sale");
    assert_eq!(row(0, "Address City"), "Zürich");
    assert_eq!(row(1, "Name"), "Gizmo");
    assert_eq!(row(1, "In stock"), "false");
    assert_eq!(row(1, "Price"), Value::Null);
    assert_eq!(row(1, "Released"), Value::Null);
}
both!(parquet_typed, parquet_typed);

/// Pages are keyset ranges read in one snapshot: records renamed across the page boundary,
/// created, or deleted while the export runs neither show up twice nor go missing.
async fn snapshot_walk(db: TestDb) {
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            create(
                &db,
                "accounts",
                json!({"fields": {"name": format!("Rec {i:03}")}}),
            )
            .await,
        );
    }
    let store = db.service.store();
    let prepared = export::prepare(
        store,
        "accounts",
        &request(ExportFormat::Csv, json!({"columns": ["id", "name"], "sortField": "name", "sortDirection": "asc", "includeHeaders": false})),
    )
    .await
    .unwrap();
    let out = Buffer::default();
    let mut run = prepared
        .start(store, Box::new(out.clone()), "memory", 10)
        .await
        .unwrap();
    assert_eq!(run.total(), 40);
    assert!(run.step().await.unwrap());
    assert_eq!(run.processed(), 10);
    let rename = |id: String, name: &str| {
        let body = RecordInput::from_json(json!({"fields": {"name": name}}), "t").unwrap();
        let service = db.service.clone();
        async move {
            service
                .update("accounts", &id, body, &actor())
                .await
                .unwrap()
        }
    };
    // Not yet exported, moved before the cursor: a live walk would skip it.
    rename(ids[30].clone(), "Aaa moved back").await;
    // Already exported, moved after the cursor: a live walk would repeat it.
    rename(ids[5].clone(), "Zzz moved ahead").await;
    // New after the cursor, and one not yet exported deleted.
    create(&db, "accounts", json!({"fields": {"name": "Rec 015 new"}})).await;
    db.service
        .delete("accounts", &ids[20], &actor())
        .await
        .unwrap();
    let summary = run.finish().await.unwrap();
    assert_eq!(summary.record_count, 40);
    let text = String::from_utf8(out.bytes()).unwrap();
    let exported: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let (id, name) = l.split_once(',').unwrap();
            (id.to_string(), name.to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("Rec {i:03}")))
        .collect();
    assert_eq!(exported, expected);
}
both!(snapshot_walk, snapshot_walk);

async fn jobs(db: TestDb) {
    load_samples(&db).await;
    let store = db.service.store();
    let dir = tempfile::tempdir().unwrap();
    let settings = ExportSettings::new(dir.path().join("exports"));
    let req = request(
        ExportFormat::Csv,
        json!({"columns": ["email"], "sortField": "email", "sortDirection": "asc"}),
    );

    // A bad request never becomes a job.
    let bad = request(ExportFormat::Csv, json!({"columns": ["nope"]}));
    assert_eq!(
        export::create_job(store, "contacts", &bad, None)
            .await
            .unwrap_err()
            .code(),
        "validation_error"
    );
    assert!(export::list_jobs(store, 25).await.unwrap().is_empty());

    let job = export::create_job(store, "contacts", &req, Some("usr_test"))
        .await
        .unwrap();
    assert!(job.export_job_id.starts_with("exp_"));
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.progress, 0);
    assert!(job.file_name.starts_with("contacts-export-") && job.file_name.ends_with(".csv"));
    let shape = serde_json::to_value(&job).unwrap();
    for key in [
        "exportJobId",
        "sourceId",
        "sourceType",
        "format",
        "status",
        "progress",
        "fileName",
        "fileSizeBytes",
        "contentType",
        "requestedDateTime",
        "completedDateTime",
        "expiresDateTime",
    ] {
        assert!(shape.get(key).is_some(), "{key} in {shape}");
    }
    assert_eq!(shape["sourceType"], "module");
    assert_eq!(shape["contentType"], "text/csv");

    let mut reported = Vec::new();
    let done = export::run_job(store, &settings, &job.export_job_id, |d, t| {
        reported.push((d, t))
    })
    .await
    .unwrap();
    assert_eq!(reported.last(), Some(&(6, 6)));
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.total_records, Some(6));
    assert_eq!(done.processed_records, 6);
    let path = std::path::PathBuf::from(done.file_path.clone().unwrap());
    assert!(path.is_absolute() && path.starts_with(dir.path()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("Email\r\nada.lovelace@acme.com\r\n"),
        "{text}"
    );
    assert_eq!(done.file_size_bytes, Some(text.len() as u64));
    let completed =
        chrono::DateTime::parse_from_rfc3339(done.completed_date_time.as_deref().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(done.expires_date_time.as_deref().unwrap()).unwrap();
    assert_eq!(expires - completed, chrono::Duration::hours(24));
    assert_eq!(
        export::get_job(store, &done.export_job_id).await.unwrap(),
        done
    );
    assert_eq!(
        export::job_file(store, &done.export_job_id)
            .await
            .unwrap()
            .1,
        path
    );

    // A job runs once.
    let again = export::run_job(store, &settings, &done.export_job_id, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(again.code(), "conflict");

    // Pending jobs can be cancelled and are then never run; workers take the oldest pending job.
    let second = export::create_job(
        store,
        "contacts",
        &request(ExportFormat::Parquet, json!({})),
        None,
    )
    .await
    .unwrap();
    let third = export::create_job(
        store,
        "accounts",
        &request(ExportFormat::Pdf, json!({})),
        None,
    )
    .await
    .unwrap();
    let cancelled = export::cancel_job(store, &second.export_job_id)
        .await
        .unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(
        export::cancel_job(store, &second.export_job_id)
            .await
            .unwrap_err()
            .code(),
        "conflict"
    );
    let worker = Worker::new(db.service.clone(), WorkerOptions::new(settings.clone()));
    let Tick::Export(pdf) = worker.tick(0).await.unwrap() else {
        panic!("the worker did not run the export job");
    };
    assert_eq!(pdf.export_job_id, third.export_job_id);
    assert_eq!(pdf.status, JobStatus::Completed);
    assert!(matches!(worker.tick(0).await.unwrap(), Tick::Idle));
    assert!(
        std::fs::read(pdf.file_path.as_deref().unwrap())
            .unwrap()
            .starts_with(b"%PDF")
    );

    let listed = export::list_jobs(store, 25).await.unwrap();
    let order: Vec<&str> = listed.iter().map(|j| j.export_job_id.as_str()).collect();
    assert_eq!(
        order,
        [
            third.export_job_id.as_str(),
            second.export_job_id.as_str(),
            done.export_job_id.as_str()
        ]
    );
    assert_eq!(export::list_jobs(store, 1).await.unwrap().len(), 1);

    // A day later the files are gone; the rows stay.
    let later = recordport::store::now_micros() + 25 * 3600 * 1_000_000;
    assert_eq!(export::sweep_expired(store, later).await.unwrap(), 2);
    assert!(!path.exists());
    let expired = export::get_job(store, &done.export_job_id).await.unwrap();
    assert_eq!(expired.status, JobStatus::Completed);
    assert_eq!(expired.file_path, None);
    assert_eq!(
        export::job_file(store, &done.export_job_id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        export::get_job(store, "exp_nope").await.unwrap_err().code(),
        "not_found"
    );
}
both!(jobs, jobs);

/// A job whose export fails is marked failed with the reason and keeps no file.
async fn failed_job(db: TestDb) {
    load_samples(&db).await;
    let store = db.service.store();
    // The exports "directory" is a file: the job cannot write there.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("exports");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let settings = ExportSettings::new(&blocker);
    let job = export::create_job(
        store,
        "contacts",
        &request(ExportFormat::Csv, json!({})),
        None,
    )
    .await
    .unwrap();
    let err = export::run_job(store, &settings, &job.export_job_id, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "internal_error");
    let failed = export::get_job(store, &job.export_job_id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("exports"),
        "{failed:?}"
    );
    assert_eq!(failed.file_path, None);
}
both!(failed_job, failed_job);
