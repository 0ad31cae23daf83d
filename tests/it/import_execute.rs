//! Step 4 of spec 002 (execute), jobs and rollback through the library API, on both stores:
//! strategies, merge modes, in-file duplicates, match fields, multi-value and address mappings,
//! static values, references, skipValidation, required fields, the validate report, malformed
//! files, dry runs, the errors CSV and the job ledger.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use recordport::Error;
use recordport::import::mapping::ColumnMapping;
use recordport::import::{
    DuplicateStrategy, ImportRequest, ImportResult, JobStatus, MergeMode, PipelineOptions,
    ProcessingMode, RowError, RowErrorCode, RunOptions, SourceLimits, SourceOptions, execute_file,
    get_job, list_jobs, rollback, validate_file,
};
use recordport::records::{ListQuery, Record, RecordInput};
use serde_json::{Map, Value, json};

use crate::both;
use crate::common::{TestDb, actor, pipeline, sample_dir};

// ---------------------------------------------------------------------------------------------
// Helpers

fn col(source: &str, target: &str) -> ColumnMapping {
    ColumnMapping {
        value_map: None,
        source_column: source.to_string(),
        target_field_slug: Some(target.to_string()),
        ignored: false,
        value_type: None,
        address_part: None,
    }
}

fn phone_col(source: &str, value_type: &str) -> ColumnMapping {
    ColumnMapping {
        value_type: Some(value_type.to_string()),
        ..col(source, "phone")
    }
}

fn address_col(source: &str, part: &str) -> ColumnMapping {
    ColumnMapping {
        address_part: Some(part.to_string()),
        ..col(source, "address")
    }
}

/// A mapping where every pair is (column, field).
fn cols(pairs: &[(&str, &str)]) -> Vec<ColumnMapping> {
    pairs.iter().map(|(c, f)| col(c, f)).collect()
}

/// The mapping of `sample-data/import/contacts.csv`.
fn contacts_mapping() -> Vec<ColumnMapping> {
    let mut mapping = cols(&[
        ("First Name", "first_name"),
        ("Last Name", "last_name"),
        ("Email", "email"),
        ("Phone", "phone"),
        ("Company", "company"),
        ("Job Title", "job_title"),
        ("Deal Value", "deal_value"),
        ("Status", "status"),
        ("Last Contacted", "last_contacted"),
    ]);
    mapping.push(address_col("City", "city"));
    mapping.push(address_col("Country", "country"));
    mapping.push(col("Notes", "notes"));
    mapping
}

fn request(mapping: Vec<ColumnMapping>) -> ImportRequest {
    ImportRequest {
        column_mapping: mapping,
        ..ImportRequest::default()
    }
}

fn with_strategy(mapping: Vec<ColumnMapping>, strategy: DuplicateStrategy) -> ImportRequest {
    ImportRequest {
        duplicate_strategy: strategy,
        ..request(mapping)
    }
}

/// An `update` import with prefer_import that matches on the phone alone.
fn update_by_phone(mapping: Vec<ColumnMapping>) -> ImportRequest {
    ImportRequest {
        duplicate_match_fields: vec!["phone".into()],
        ..update(mapping, MergeMode::PreferImport)
    }
}

fn update(mapping: Vec<ColumnMapping>, mode: MergeMode) -> ImportRequest {
    ImportRequest {
        merge_mode: mode,
        ..with_strategy(mapping, DuplicateStrategy::Update)
    }
}

fn options() -> RunOptions {
    RunOptions::new(actor())
}

/// One chunk per transaction, so that tests can watch each chunk commit.
fn chunked(chunk_rows: usize, threads: usize) -> RunOptions {
    let mut options = options();
    options.pipeline = pipeline(chunk_rows, chunk_rows, threads);
    options
}

fn sample(name: &str) -> PathBuf {
    sample_dir().join("import").join(name)
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The counts of a result always reconcile.
fn check_counts(r: &ImportResult) {
    assert_eq!(
        r.total_rows,
        r.created_rows + r.updated_rows + r.unchanged_rows + r.skipped_rows + r.error_rows,
        "counts do not reconcile: {r:?}"
    );
    assert_eq!(
        r.success_rows,
        r.created_rows + r.updated_rows + r.unchanged_rows,
        "successRows: {r:?}"
    );
    assert_eq!(r.created_record_ids.len() as u64, r.created_rows, "{r:?}");
}

/// (total, created, updated, unchanged, skipped, failed)
fn counts(r: &ImportResult) -> (u64, u64, u64, u64, u64, u64) {
    (
        r.total_rows,
        r.created_rows,
        r.updated_rows,
        r.unchanged_rows,
        r.skipped_rows,
        r.error_rows,
    )
}

async fn import_with(
    db: &TestDb,
    module: &str,
    path: &Path,
    request: &ImportRequest,
    options: &RunOptions,
) -> ImportResult {
    let result = execute_file(&db.service, module, path, request, options)
        .await
        .unwrap_or_else(|e| panic!("import of {} failed: {e:?}", path.display()));
    check_counts(&result);
    result
}

async fn import(db: &TestDb, module: &str, path: &Path, request: &ImportRequest) -> ImportResult {
    import_with(db, module, path, request, &options()).await
}

async fn import_err(db: &TestDb, module: &str, path: &Path, request: &ImportRequest) -> Error {
    import_err_with(db, module, path, request, &options()).await
}

async fn import_err_with(
    db: &TestDb,
    module: &str,
    path: &Path,
    request: &ImportRequest,
    options: &RunOptions,
) -> Error {
    match execute_file(&db.service, module, path, request, options).await {
        Ok(result) => panic!("import should have failed: {result:?}"),
        Err(e) => e,
    }
}

/// Every live record of a module, by id.
async fn records(db: &TestDb, module: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for page in 1.. {
        let query = ListQuery {
            page: Some(page),
            page_size: Some(100),
            ..ListQuery::default()
        };
        let result = db.service.list(module, &query).await.expect("list");
        let n = result.records.len();
        out.extend(result.records);
        if n < 100 {
            break;
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Live records keyed by their email field.
async fn by_email(db: &TestDb) -> BTreeMap<String, Record> {
    records(db, "contacts")
        .await
        .into_iter()
        .map(|r| {
            let email = r.fields.get("email").and_then(Value::as_str);
            (email.unwrap_or("<none>").to_string(), r)
        })
        .collect()
}

async fn create(db: &TestDb, module: &str, body: Value) -> Record {
    let input = RecordInput::from_json(body, "test body").expect("valid body");
    db.service
        .create(module, input, &actor())
        .await
        .expect("create record")
}

async fn contact(db: &TestDb, fields: Value) -> Record {
    create(db, "contacts", json!({ "fields": fields })).await
}

async fn jobs(db: &TestDb, module: &str) -> usize {
    list_jobs(db.service.store(), db.service.modules(), module, None)
        .await
        .expect("list jobs")
        .len()
}

/// A record as rollback must give it back: everything but the bookkeeping of the change that
/// restores it (version, update time and author).
fn restorable(record: &Record) -> Value {
    let mut v = serde_json::to_value(record).expect("record json");
    let map = v.as_object_mut().expect("record object");
    for key in [
        "version",
        "updatedDateTime",
        "updatedByUserId",
        "updatedByDisplayName",
    ] {
        map.remove(key);
    }
    v
}

fn dump(records: &[Record]) -> Vec<Value> {
    records.iter().map(restorable).collect()
}

fn row_error(
    row: u64,
    code: RowErrorCode,
    field: &str,
    column: &str,
    value: &str,
    error: &str,
) -> RowError {
    RowError {
        row,
        code,
        field: Some(field.to_string()),
        column: Some(column.to_string()),
        value: Some(value.to_string()),
        error: error.to_string(),
    }
}

fn defect(row: u64, error: &str) -> RowError {
    RowError {
        row,
        code: RowErrorCode::MalformedRow,
        field: None,
        column: None,
        value: None,
        error: error.to_string(),
    }
}

fn duplicate(row: u64, field: &str, value: &str, holder: &str) -> RowError {
    RowError {
        row,
        code: RowErrorCode::DuplicateUniqueValue,
        field: Some(field.to_string()),
        column: None,
        value: Some(value.to_string()),
        error: format!("Duplicate {field} found: '{value}' is already used by record {holder}"),
    }
}

fn validation_fields(error: &Error) -> Vec<String> {
    match error {
        Error::Validation { fields, .. } => fields.iter().map(|f| f.field.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Create, skip, typed values

async fn creates_typed_records(db: TestDb) {
    let result = import(
        &db,
        "contacts",
        &sample("contacts.csv"),
        &request(contacts_mapping()),
    )
    .await;
    assert_eq!(counts(&result), (52, 52, 0, 0, 0, 0));
    assert_eq!(result.success_rows, 52);
    assert_eq!(result.status, JobStatus::Completed);
    assert_eq!(result.processing_mode, ProcessingMode::Sync);
    assert!(result.errors.is_empty() && result.reference_warnings.is_empty());
    assert!(result.warnings.is_empty());
    assert!(!result.dry_run);
    assert!(result.import_job_id.as_deref().unwrap().starts_with("job_"));

    let stored = records(&db, "contacts").await;
    let mut ids: Vec<&str> = stored.iter().map(|r| r.id.as_str()).collect();
    let mut created: Vec<&str> = result
        .created_record_ids
        .iter()
        .map(String::as_str)
        .collect();
    ids.sort_unstable();
    created.sort_unstable();
    assert_eq!(ids, created);

    let all = by_email(&db).await;
    assert_eq!(all.len(), 52);
    let ada = &all["ada.lovelace@acme.com"];
    assert_eq!(ada.display_name, "Ada Lovelace");
    assert_eq!(ada.version, 1);
    assert_eq!(
        ada.fields,
        obj(json!({
            "first_name": "Ada", "last_name": "Lovelace", "email": "ada.lovelace@acme.com",
            "phone": [{"number": "+12125550100", "type": "Other"}],
            "company": "Acme Corporation", "job_title": "VP of Engineering", "deal_value": 500,
            "status": "lead", "last_contacted": "2024-01-01",
            "address": {"city": "New York", "country": "United States"}
        }))
    );
    // `119.500,00 €` is a number; a German number keeps its country code.
    let grace = &all["grace.hopper@globex.de"];
    assert_eq!(grace.fields["deal_value"], json!(119500));
    assert_eq!(
        grace.fields["phone"],
        json!([{"number": "+49891234501", "type": "Other"}])
    );
    assert_eq!(
        grace.fields["address"],
        json!({"city": "München", "country": "Germany"})
    );
    // A day-first date becomes ISO; a note spanning lines stays whole.
    let jose = &all["jose.garcia@societe.com"];
    assert_eq!(jose.display_name, "José García");
    assert_eq!(jose.fields["last_contacted"], json!("2024-05-21"));
    assert_eq!(
        jose.fields["notes"],
        json!("Prefers email, not calls.\nAsk about the Madrid office, budget approved in March.")
    );
    assert_eq!(jose.fields["deal_value"], json!(26500));
    // A national number takes the default region; an empty date cell is no field at all.
    let katherine = &all["katherine.johnson@umbrella.io"];
    assert_eq!(
        katherine.fields["phone"],
        json!([{"number": "+13125550193", "type": "Other"}])
    );
    assert_eq!(katherine.fields["deal_value"], json!(57500));
    assert!(
        !all["jurgen.muller@hooli.fr"]
            .fields
            .contains_key("last_contacted")
    );
}
both!(creates_typed_records, creates_typed_records);

async fn skip_strategy_skips_a_second_import(db: TestDb) {
    let file = sample("contacts.csv");
    let req = request(contacts_mapping());
    assert_eq!(req.duplicate_strategy, DuplicateStrategy::Skip);
    import(&db, "contacts", &file, &req).await;
    let before = records(&db, "contacts").await;
    let again = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&again), (52, 0, 0, 0, 52, 0));
    assert_eq!(again.success_rows, 0);
    assert_eq!(again.skipped_rows, 52);
    assert!(again.created_record_ids.is_empty() && again.errors.is_empty());
    assert_eq!(records(&db, "contacts").await, before);
}
both!(
    skip_strategy_skips_a_second_import,
    skip_strategy_skips_a_second_import
);

// ---------------------------------------------------------------------------------------------
// Update and merge modes

const MERGE_FILE: &str = "\
Email,Last Name,Company,Job Title,Status,Deal Value
ann@example.com,New,,Engineer,customer,
BOB@example.com,Same,SameCo,Dev,active,
cara@example.com,Cara,,,lead,100
";

fn merge_mapping() -> Vec<ColumnMapping> {
    cols(&[
        ("Email", "email"),
        ("Last Name", "last_name"),
        ("Company", "company"),
        ("Job Title", "job_title"),
        ("Status", "status"),
        ("Deal Value", "deal_value"),
    ])
}

/// Seeds Ann (to change) and Bob (identical to his row), imports MERGE_FILE with `mode` and
/// returns the result and the records by email.
async fn merge_case(
    db: &TestDb,
    mode: MergeMode,
) -> (ImportResult, BTreeMap<String, Record>, Record, Record) {
    let ann = contact(
        db,
        json!({"first_name": "Ann", "last_name": "Old", "email": "ann@example.com",
               "company": "OldCo", "status": "lead"}),
    )
    .await;
    let bob = contact(
        db,
        json!({"first_name": "Bob", "last_name": "Same", "email": "bob@example.com",
               "company": "SameCo", "job_title": "Dev", "status": "active"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "merge.csv", MERGE_FILE);
    let result = import(db, "contacts", &file, &update(merge_mapping(), mode)).await;
    assert_eq!(counts(&result), (3, 1, 1, 1, 0, 0), "{mode:?}");
    let all = by_email(db).await;
    assert_eq!(all.len(), 3);
    // Bob's row says what his record says: unchanged, not a new version.
    assert_eq!(all["bob@example.com"], bob);
    let cara = &all["cara@example.com"];
    assert_eq!(cara.display_name, "Cara");
    assert_eq!(
        cara.fields,
        obj(
            json!({"email": "cara@example.com", "last_name": "Cara", "status": "lead",
                   "deal_value": 100})
        )
    );
    assert_eq!(result.created_record_ids, vec![cara.id.clone()]);
    (result, all, ann, bob)
}

async fn update_fill_empty(db: TestDb) {
    let (_, all, ann, _) = merge_case(&db, MergeMode::FillEmpty).await;
    let got = &all["ann@example.com"];
    assert_eq!(got.id, ann.id);
    assert_eq!(got.version, 2);
    // Only the empty job title takes the file's value.
    assert_eq!(
        got.fields,
        obj(
            json!({"first_name": "Ann", "last_name": "Old", "email": "ann@example.com",
                   "company": "OldCo", "status": "lead", "job_title": "Engineer"})
        )
    );
    assert_eq!(got.display_name, "Ann Old");
}
both!(update_fill_empty, update_fill_empty);

async fn update_overwrite(db: TestDb) {
    let (_, all, ann, _) = merge_case(&db, MergeMode::Overwrite).await;
    let got = &all["ann@example.com"];
    assert_eq!(got.id, ann.id);
    assert_eq!(got.version, 2);
    // Every mapped field takes the file's value; the empty company cell clears the company;
    // the unmapped first name stays.
    assert_eq!(
        got.fields,
        obj(
            json!({"first_name": "Ann", "last_name": "New", "email": "ann@example.com",
                   "status": "customer", "job_title": "Engineer"})
        )
    );
    assert_eq!(got.display_name, "Ann New");
}
both!(update_overwrite, update_overwrite);

async fn update_prefer_import(db: TestDb) {
    let (_, all, ann, _) = merge_case(&db, MergeMode::PreferImport).await;
    let got = &all["ann@example.com"];
    assert_eq!(got.id, ann.id);
    assert_eq!(got.version, 2);
    // File values win, the empty company cell keeps the record's company.
    assert_eq!(
        got.fields,
        obj(
            json!({"first_name": "Ann", "last_name": "New", "email": "ann@example.com",
                   "company": "OldCo", "status": "customer", "job_title": "Engineer"})
        )
    );
    assert_eq!(got.display_name, "Ann New");
}
both!(update_prefer_import, update_prefer_import);

// ---------------------------------------------------------------------------------------------
// Duplicates: create strategy, in-file duplicates, match fields

async fn create_strategy_refuses_a_taken_email(db: TestDb) {
    let taken = contact(
        &db,
        json!({"first_name": "Taken", "email": "taken@example.com"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "create.csv",
        "First Name,Email\nNew,new@example.com\nDup,Taken@Example.com\nAgain, NEW@example.com \n",
    );
    let result = import(
        &db,
        "contacts",
        &file,
        &with_strategy(
            cols(&[("First Name", "first_name"), ("Email", "email")]),
            DuplicateStrategy::Create,
        ),
    )
    .await;
    assert_eq!(counts(&result), (3, 1, 0, 0, 0, 2));
    let new_id = &result.created_record_ids[0];
    assert_eq!(
        result.errors,
        vec![
            duplicate(3, "email", "taken@example.com", &taken.id),
            duplicate(4, "email", "new@example.com", new_id),
        ]
    );
    assert!(result.errors[0].error.starts_with("Duplicate email found"));
    let all = by_email(&db).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all["taken@example.com"], taken);
    assert_eq!(all["new@example.com"].fields["first_name"], "New");
}
both!(
    create_strategy_refuses_a_taken_email,
    create_strategy_refuses_a_taken_email
);

/// Two rows with the same email (the second in other letter case, with spaces around it).
fn in_file_duplicates(dir: &Path, tag: &str) -> PathBuf {
    write_file(
        dir,
        &format!("{tag}.csv"),
        &format!(
            "First Name,Email,Job Title\nAnn,{tag}@example.com,Dev\nAnna,  {}@Example.COM  ,Lead\n",
            tag.to_uppercase()
        ),
    )
}

async fn in_file_duplicates_match_the_earlier_row(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mapping = cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Job Title", "job_title"),
    ]);
    // Same chunk and chunks of one row: the outcome is the same.
    for (tag, chunk_rows) in [("skipa", 2_000), ("skipb", 1)] {
        let file = in_file_duplicates(dir.path(), tag);
        let result = import_with(
            &db,
            "contacts",
            &file,
            &request(mapping.clone()),
            &chunked(chunk_rows, 1),
        )
        .await;
        assert_eq!(counts(&result), (2, 1, 0, 0, 1, 0), "{tag}");
        let all = by_email(&db).await;
        let record = &all[&format!("{tag}@example.com")];
        assert_eq!(result.created_record_ids, vec![record.id.clone()]);
        assert_eq!(record.version, 1);
        assert_eq!(record.fields["first_name"], "Ann");
        assert_eq!(record.fields["job_title"], "Dev");
    }
    for (tag, chunk_rows) in [("upda", 2_000), ("updb", 1)] {
        let file = in_file_duplicates(dir.path(), tag);
        let result = import_with(
            &db,
            "contacts",
            &file,
            &update(mapping.clone(), MergeMode::PreferImport),
            &chunked(chunk_rows, 1),
        )
        .await;
        assert_eq!(counts(&result), (2, 1, 1, 0, 0, 0), "{tag}");
        let all = by_email(&db).await;
        let record = &all[&format!("{tag}@example.com")];
        assert_eq!(result.created_record_ids, vec![record.id.clone()]);
        assert_eq!(record.version, 2);
        assert_eq!(record.display_name, "Anna");
        assert_eq!(
            record.fields,
            obj(
                json!({"first_name": "Anna", "email": format!("{tag}@example.com"),
                       "job_title": "Lead"})
            )
        );
        let history = db.service.history("contacts", &record.id).await.unwrap();
        assert_eq!(history.len(), 2);
    }
    assert_eq!(records(&db, "contacts").await.len(), 4);
}
both!(
    in_file_duplicates_match_the_earlier_row,
    in_file_duplicates_match_the_earlier_row
);

fn duplicates_sample() -> Option<PathBuf> {
    let file = sample("contacts-duplicates.csv");
    if file.exists() {
        Some(file)
    } else {
        eprintln!("skipping: {} is not there", file.display());
        None
    }
}

async fn duplicates_sample_skip(db: TestDb) {
    let Some(file) = duplicates_sample() else {
        return;
    };
    let result = import(&db, "contacts", &file, &request(contacts_mapping())).await;
    // 20 rows, 14 people: Mia three times, Oscar, Nina, Lars and Chen twice.
    assert_eq!(counts(&result), (20, 14, 0, 0, 6, 0));
    let all = by_email(&db).await;
    assert_eq!(all.len(), 14);
    let mia = &all["mia.keller@northwind.com"];
    assert_eq!(mia.version, 1);
    assert_eq!(mia.fields["deal_value"], json!(12000));
}
both!(duplicates_sample_skip, duplicates_sample_skip);

async fn duplicates_sample_update(db: TestDb) {
    let Some(file) = duplicates_sample() else {
        return;
    };
    // The same file with update: the later rows win, one version per row.
    let result = import(
        &db,
        "contacts",
        &file,
        &update(contacts_mapping(), MergeMode::PreferImport),
    )
    .await;
    assert_eq!(counts(&result), (20, 14, 6, 0, 0, 0));
    let all = by_email(&db).await;
    assert_eq!(all.len(), 14);
    let mia = &all["mia.keller@northwind.com"];
    assert_eq!(mia.version, 3);
    assert_eq!(mia.fields["deal_value"], json!(16000));
    assert_eq!(mia.fields["status"], json!("customer"));
    assert_eq!(mia.fields["job_title"], json!("Head of Buying"));
    assert_eq!(
        mia.fields["phone"],
        json!([{"number": "+49305550199", "type": "Other"}])
    );
    assert_eq!(mia.fields["notes"], json!("Third time in this file"));
    assert_eq!(all["oscar.lindgren@contoso.se"].version, 2);
    assert_eq!(all["ada.lovelace@acme.com"].version, 1);
}
both!(duplicates_sample_update, duplicates_sample_update);

async fn match_fields_must_all_match(db: TestDb) {
    let ann = contact(
        &db,
        json!({"first_name": "Ann", "email": "ann@example.com", "phone": "212-555-0100"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "match.csv",
        "First Name,Email,Phone\n\
         Both,ANN@example.com,+1 (212) 555-0100\n\
         EmailOnly,ann@example.com,+1 212 555 0199\n\
         PhoneOnly,other@example.com,(212) 555-0100\n",
    );
    let mut req = request(cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Phone", "phone"),
    ]));
    req.duplicate_match_fields = vec!["email".into(), "phone".into()];
    let result = import(&db, "contacts", &file, &req).await;
    // Row 2 matches on both fields (the phone by E.164): skipped. Row 3 matches on email only,
    // so it is no duplicate and makes a new record, which the unique email refuses. Row 4
    // matches on phone only: a new record (phones are not unique).
    assert_eq!(counts(&result), (3, 1, 0, 0, 1, 1));
    assert_eq!(
        result.errors,
        vec![duplicate(3, "email", "ann@example.com", &ann.id)]
    );
    let all = by_email(&db).await;
    assert_eq!(all["ann@example.com"], ann);
    assert_eq!(all["other@example.com"].fields["first_name"], "PhoneOnly");

    // Matching on phone alone: a differently written number finds Ann and updates her.
    let file = write_file(
        dir.path(),
        "phone.csv",
        "Phone,Job Title\n+1 (212) 555-0100,CEO\n",
    );
    let req = update_by_phone(cols(&[("Phone", "phone"), ("Job Title", "job_title")]));
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (1, 0, 1, 0, 0, 0));
    let got = db.service.get("contacts", &ann.id).await.unwrap();
    assert_eq!(got.fields["job_title"], "CEO");
    assert_eq!(
        got.fields["phone"],
        json!([{"number": "+12125550100", "type": "Other"}])
    );
    assert_eq!(got.version, 2);

    // Accounts on name (a match key, compared trimmed and case-folded) and domain (unique).
    let acme = create(
        &db,
        "accounts",
        json!({"fields": {"name": "Acme", "domain": "acme.com"}}),
    )
    .await;
    let file = write_file(
        dir.path(),
        "accounts.csv",
        "Name,Domain\n ACME ,acme.com\nAcme,acme.org\nOther,acme.com\n",
    );
    let mut req = request(cols(&[("Name", "name"), ("Domain", "domain")]));
    req.duplicate_match_fields = vec!["name".into(), "domain".into()];
    let result = import(&db, "accounts", &file, &req).await;
    assert_eq!(counts(&result), (3, 1, 0, 0, 1, 1));
    assert_eq!(
        result.errors,
        vec![duplicate(4, "domain", "acme.com", &acme.id)]
    );
    let names: Vec<(String, Value)> = records(&db, "accounts")
        .await
        .into_iter()
        .map(|r| (r.display_name, r.fields["domain"].clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Acme".to_string(), json!("acme.com")),
            ("Acme".to_string(), json!("acme.org"))
        ]
    );
}
both!(match_fields_must_all_match, match_fields_must_all_match);

async fn match_fields_that_cannot_match(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "c.csv", "Email,Company\na@example.com,Acme\n");
    let mapping = cols(&[("Email", "email"), ("Company", "company")]);
    let mut req = request(mapping.clone());
    req.duplicate_match_fields = vec!["company".into()];
    let err = import_err(&db, "contacts", &file, &req).await;
    assert_eq!(validation_fields(&err), ["duplicateMatchFields"]);
    assert!(
        err.to_string()
            .contains("'company' cannot be used to match duplicates"),
        "{err}"
    );
    req.duplicate_match_fields = vec!["nope".into()];
    let err = import_err(&db, "contacts", &file, &req).await;
    assert_eq!(validation_fields(&err), ["duplicateMatchFields"]);
    assert!(err.to_string().contains("no field 'nope'"), "{err}");
    assert!(records(&db, "contacts").await.is_empty());
    assert_eq!(jobs(&db, "contacts").await, 0);
}
both!(
    match_fields_that_cannot_match,
    match_fields_that_cannot_match
);

// ---------------------------------------------------------------------------------------------
// Mapping: value types, address parts, display name, static values

async fn multi_value_address_and_display_name(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "multi.csv",
        "Full Name,First,Last,Email,Mobile,Work,Street,City,Zip\n\
         Dr. Ada King,Ada,King,ada@example.com,+1 (212) 555-0100,212-555-0101,12 Main St,New York,10001\n\
         ,Alan,Turing,alan@example.com,,+44 20 7946 0958,,London,\n",
    );
    let mut mapping = cols(&[
        ("Full Name", "displayName"),
        ("First", "first_name"),
        ("Last", "last_name"),
        ("Email", "email"),
    ]);
    mapping.extend([
        phone_col("Mobile", "Mobile"),
        phone_col("Work", "work"),
        address_col("Street", "street"),
        address_col("City", "city"),
        address_col("Zip", "zip"),
    ]);
    let result = import(&db, "contacts", &file, &request(mapping)).await;
    assert_eq!(counts(&result), (2, 2, 0, 0, 0, 0));
    let all = by_email(&db).await;
    let ada = &all["ada@example.com"];
    assert_eq!(ada.display_name, "Dr. Ada King");
    assert_eq!(
        ada.fields,
        obj(json!({
            "first_name": "Ada", "last_name": "King", "email": "ada@example.com",
            "phone": [{"number": "+12125550100", "type": "Mobile"},
                      {"number": "+12125550101", "type": "Work"}],
            "address": {"street": "12 Main St", "city": "New York", "zip": "10001"}
        }))
    );
    let alan = &all["alan@example.com"];
    // No display name in the row: the module's template makes one.
    assert_eq!(alan.display_name, "Alan Turing");
    assert_eq!(
        alan.fields["phone"],
        json!([{"number": "+442079460958", "type": "Work"}])
    );
    assert_eq!(alan.fields["address"], json!({"city": "London"}));

    // A value type on a field that is no phone, an unknown one and an unknown address part are
    // request errors naming the mapping entry.
    let mut bad = cols(&[("Email", "email")]);
    bad.push(ColumnMapping {
        value_type: Some("Mobile".into()),
        ..col("First", "first_name")
    });
    bad.push(phone_col("Mobile", "Fax"));
    bad.push(address_col("Zip", "postcode"));
    let err = import_err(&db, "contacts", &file, &request(bad)).await;
    assert_eq!(
        validation_fields(&err),
        [
            "columnMapping[1].valueType",
            "columnMapping[2].valueType",
            "columnMapping[3].addressPart"
        ]
    );
    assert_eq!(records(&db, "contacts").await.len(), 2);
    assert_eq!(jobs(&db, "contacts").await, 1);
}
both!(
    multi_value_address_and_display_name,
    multi_value_address_and_display_name
);

async fn static_values_fill_empty_cells(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "static.csv",
        "First Name,Email,Source\nAnn,ann@example.com,Web\nBob,bob@example.com,\n",
    );
    let mapping = cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Source", "source"),
    ]);
    let mut req = request(mapping.clone());
    req.static_values = obj(json!({"source": "Trade show", "status": "Lead"}));
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (2, 2, 0, 0, 0, 0));
    let all = by_email(&db).await;
    assert_eq!(
        all["ann@example.com"].fields,
        obj(
            json!({"first_name": "Ann", "email": "ann@example.com", "source": "Web",
                   "status": "lead"})
        )
    );
    assert_eq!(
        all["bob@example.com"].fields,
        obj(
            json!({"first_name": "Bob", "email": "bob@example.com", "source": "Trade show",
                   "status": "lead"})
        )
    );

    // A static value that does not fit its field, or names no field, fails the request.
    let mut req = request(mapping);
    req.duplicate_strategy = DuplicateStrategy::Create;
    req.static_values = obj(json!({"status": "prospect", "nope": "x"}));
    let err = import_err(&db, "contacts", &file, &req).await;
    let mut fields = validation_fields(&err);
    fields.sort();
    assert_eq!(fields, ["staticValues.nope", "staticValues.status"]);
    match &err {
        Error::Validation { fields, .. } => {
            let status = fields
                .iter()
                .find(|f| f.field == "staticValues.status")
                .unwrap();
            assert_eq!(
                status.message,
                "Value 'prospect' is not an option (expected one of: lead, active, customer, churned)"
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(records(&db, "contacts").await.len(), 2);
    assert_eq!(jobs(&db, "contacts").await, 1);
}
both!(
    static_values_fill_empty_cells,
    static_values_fill_empty_cells
);

// ---------------------------------------------------------------------------------------------
// References

const REFERENCE_FILE: &str = "\
First Name,Email,Company
Ann,ann@example.com,acme corporation
Bob,bob@example.com,Unknown Co
Cy,cy@example.com,Unknown Co
Di,di@example.com,Other Inc
";

fn reference_mapping() -> Vec<ColumnMapping> {
    cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Company", "account"),
    ])
}

async fn references_resolve_by_name(db: TestDb) {
    let acme = create(
        &db,
        "accounts",
        json!({"fields": {"name": "Acme Corporation"}}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "refs.csv", REFERENCE_FILE);
    let result = import(&db, "contacts", &file, &request(reference_mapping())).await;
    assert_eq!(counts(&result), (4, 4, 0, 0, 0, 0));
    assert_eq!(result.created_reference_count, 0);
    assert_eq!(
        serde_json::to_value(&result.reference_warnings).unwrap(),
        json!([{
            "code": "reference_not_found", "fieldSlug": "account", "fieldLabel": "Account",
            "unresolvedValues": ["Unknown Co", "Other Inc"], "targetModuleSlug": "accounts"
        }])
    );
    let all = by_email(&db).await;
    assert_eq!(all["ann@example.com"].fields["account"], json!(acme.id));
    for email in ["bob@example.com", "cy@example.com", "di@example.com"] {
        assert!(!all[email].fields.contains_key("account"), "{email}");
    }
    assert_eq!(records(&db, "accounts").await, vec![acme]);
    // The job keeps the warnings.
    let job = get_job(
        db.service.store(),
        db.service.modules(),
        "contacts",
        result.import_job_id.as_deref().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(job.reference_warnings, result.reference_warnings);

    // A name two accounts share is never a guess: the row fails; an id resolves.
    let twin = create(&db, "accounts", json!({"fields": {"name": "Twin"}})).await;
    create(&db, "accounts", json!({"fields": {"name": "Twin"}})).await;
    let file = write_file(
        dir.path(),
        "twins.csv",
        &format!(
            "First Name,Email,Company\nEd,ed@example.com,twin\nFi,fi@example.com,{}\n",
            twin.id
        ),
    );
    let mut req = request(reference_mapping());
    req.skip_validation = true;
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (2, 1, 0, 0, 0, 1));
    assert_eq!(
        result.errors,
        vec![RowError {
            row: 2,
            code: RowErrorCode::ReferenceAmbiguous,
            field: Some("account".into()),
            column: None,
            value: Some("twin".into()),
            error: "several accounts records are named 'twin': give the record id".into(),
        }]
    );
    assert_eq!(
        by_email(&db).await["fi@example.com"].fields["account"],
        json!(twin.id)
    );
}
both!(references_resolve_by_name, references_resolve_by_name);

async fn create_missing_references(db: TestDb) {
    let acme = create(
        &db,
        "accounts",
        json!({"fields": {"name": "Acme Corporation"}}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "refs.csv", REFERENCE_FILE);
    let mut req = request(reference_mapping());
    req.create_missing_references = true;
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (4, 4, 0, 0, 0, 0));
    assert_eq!(result.created_reference_count, 2);
    assert!(result.reference_warnings.is_empty());
    let contacts = records(&db, "contacts").await;
    let mut contact_ids: Vec<String> = contacts.iter().map(|r| r.id.clone()).collect();
    let mut created = result.created_record_ids.clone();
    contact_ids.sort();
    created.sort();
    assert_eq!(
        created, contact_ids,
        "createdRecordIds lists the contacts only"
    );

    let accounts = records(&db, "accounts").await;
    assert_eq!(accounts.len(), 3);
    let by_name: BTreeMap<&str, &Record> = accounts
        .iter()
        .map(|r| (r.display_name.as_str(), r))
        .collect();
    let unknown = by_name["Unknown Co"];
    assert_eq!(unknown.fields, obj(json!({"name": "Unknown Co"})));
    let other = by_name["Other Inc"];
    let all = by_email(&db).await;
    assert_eq!(all["ann@example.com"].fields["account"], json!(acme.id));
    assert_eq!(all["bob@example.com"].fields["account"], json!(unknown.id));
    assert_eq!(all["cy@example.com"].fields["account"], json!(unknown.id));
    assert_eq!(all["di@example.com"].fields["account"], json!(other.id));

    // Rollback deletes the referenced records it made too.
    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        result.import_job_id.as_deref().unwrap(),
        &actor(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.deleted_count, 6);
    assert_eq!(outcome.restored_count, 0);
    assert!(outcome.conflicts.is_empty());
    assert!(records(&db, "contacts").await.is_empty());
    assert_eq!(records(&db, "accounts").await, vec![acme]);
}
both!(create_missing_references, create_missing_references);

// ---------------------------------------------------------------------------------------------
// Validation: skipValidation, required fields, the validate report, row numbers

const BAD_VALUES_FILE: &str = "\
First Name,Email,Last Contacted
Ann,not-an-email,2024-01-15
Bob,bob@example.com,2024-13-45
";

fn bad_values_mapping() -> Vec<ColumnMapping> {
    cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Last Contacted", "last_contacted"),
    ])
}

fn bad_values_errors() -> Vec<RowError> {
    vec![
        row_error(
            2,
            RowErrorCode::InvalidEmail,
            "email",
            "Email",
            "not-an-email",
            "Invalid email format",
        ),
        row_error(
            3,
            RowErrorCode::InvalidDate,
            "last_contacted",
            "Last Contacted",
            "2024-13-45",
            "Invalid date (expected e.g. 2024-01-15)",
        ),
    ]
}

async fn bad_values_fail_their_rows(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "bad.csv", BAD_VALUES_FILE);
    let result = import(&db, "contacts", &file, &request(bad_values_mapping())).await;
    assert_eq!(counts(&result), (2, 0, 0, 0, 0, 2));
    assert_eq!(result.errors, bad_values_errors());
    assert!(result.warnings.is_empty());
    assert!(records(&db, "contacts").await.is_empty());
}
both!(bad_values_fail_their_rows, bad_values_fail_their_rows);

async fn skip_validation_leaves_bad_values_out(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "bad.csv",
        &format!("{BAD_VALUES_FILE}Cy,cy@example.com,2024-01-16,extra\n"),
    );
    let mut req = request(bad_values_mapping());
    req.skip_validation = true;
    let result = import(&db, "contacts", &file, &req).await;
    // The bad values are left out of imported rows; a malformed row still fails.
    assert_eq!(counts(&result), (3, 2, 0, 0, 0, 1));
    assert_eq!(result.warnings, bad_values_errors());
    assert_eq!(
        result.errors,
        vec![defect(4, "row has 4 cells, the header has 3")]
    );
    let stored = records(&db, "contacts").await;
    let fields: Vec<&Map<String, Value>> = stored.iter().map(|r| &r.fields).collect();
    assert_eq!(
        fields,
        [
            &obj(json!({"first_name": "Ann", "last_contacted": "2024-01-15"})),
            &obj(json!({"first_name": "Bob", "email": "bob@example.com"})),
        ]
    );
}
both!(
    skip_validation_leaves_bad_values_out,
    skip_validation_leaves_bad_values_out
);

async fn skip_validation_lists_warnings_up_to_the_error_cap(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("First Name,Email,Last Contacted\n");
    for i in 0..1_200 {
        text.push_str(&format!("P{i},bad-{i},2024-13-45\n"));
    }
    let file = write_file(dir.path(), "bad.csv", &text);
    let mut req = request(bad_values_mapping());
    req.skip_validation = true;
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (1_200, 1_200, 0, 0, 0, 0));
    // Two bad values a row, 2,400 in all: the first 1,000 are listed, in row order.
    assert_eq!(result.warnings.len(), 1_000);
    assert_eq!(result.warnings[0].row, 2);
    assert_eq!(result.warnings[999].row, 501);
}
both!(
    skip_validation_lists_warnings_up_to_the_error_cap,
    skip_validation_lists_warnings_up_to_the_error_cap
);

async fn required_fields(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "accounts.csv",
        "Name,Domain\nAcme,acme.com\n,nameless.com\n",
    );
    let result = import(
        &db,
        "accounts",
        &file,
        &request(cols(&[("Name", "name"), ("Domain", "domain")])),
    )
    .await;
    assert_eq!(counts(&result), (2, 1, 0, 0, 0, 1));
    assert_eq!(
        result.errors,
        vec![RowError {
            row: 3,
            code: RowErrorCode::RequiredMissing,
            field: Some("name".into()),
            column: Some("Name".into()),
            value: None,
            error: "Required field \"Name\" is empty".into(),
        }]
    );

    // Validating accounts without a column for the name: a warning, and every row fails.
    let module = db.service.modules().get("accounts").await.unwrap();
    let report = validate_file(
        &module,
        &file,
        &SourceOptions::default(),
        &cols(&[("Domain", "domain")]),
        &Map::new(),
        &Default::default(),
        PipelineOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "isValid": false, "totalRows": 2, "validRows": 0, "errorRows": 2,
            "errors": [
                {"row": 2, "code": "required_missing", "field": "name",
                 "error": "Required field \"Name\" is empty"},
                {"row": 3, "code": "required_missing", "field": "name",
                 "error": "Required field \"Name\" is empty"}
            ],
            "warnings": [
                {"row": 1, "code": "required_not_mapped", "field": "name",
                 "message": "Required field \"Name\" is not mapped"}
            ]
        })
    );
    // A static value fills the required field: no warning, no errors.
    let report = validate_file(
        &module,
        &file,
        &SourceOptions::default(),
        &cols(&[("Domain", "domain")]),
        &obj(json!({"name": "Unnamed"})),
        &Default::default(),
        PipelineOptions::default(),
    )
    .await
    .unwrap();
    assert!(report.is_valid && report.warnings.is_empty() && report.errors.is_empty());
    assert_eq!(records(&db, "accounts").await.len(), 1);
}
both!(required_fields, required_fields);

async fn validate_report(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // Row 2's note spans two lines: still one row, so Bob is row 3.
    let file = write_file(
        dir.path(),
        "v.csv",
        "First Name,Email,Last Contacted,Notes\n\
         Ann,ann@example.com,2024-01-15,\"line one\nline two\"\n\
         Bob,bob(at)example.com,2024-01-16,\n\
         Cy,cy@example.com,someday,\n\
         Di,di@example.com,2024-01-17,,extra\n",
    );
    let mapping = cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Last Contacted", "last_contacted"),
        ("Notes", "notes"),
    ]);
    let module = db.service.modules().get("contacts").await.unwrap();
    let report = validate_file(
        &module,
        &file,
        &SourceOptions::default(),
        &mapping,
        &Map::new(),
        &Default::default(),
        PipelineOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "isValid": false, "totalRows": 4, "validRows": 1, "errorRows": 3,
            "errors": [
                {"row": 3, "code": "invalid_email", "field": "email", "column": "Email",
                 "value": "bob(at)example.com", "error": "Invalid email format"},
                {"row": 4, "code": "invalid_date", "field": "last_contacted",
                 "column": "Last Contacted", "value": "someday",
                 "error": "Invalid date (expected e.g. 2024-01-15)"},
                {"row": 5, "code": "malformed_row", "error": "row has 5 cells, the header has 4"}
            ],
            "warnings": []
        })
    );
    // The same rows through execute fail with the same errors.
    let result = import(&db, "contacts", &file, &request(mapping)).await;
    assert_eq!(counts(&result), (4, 1, 0, 0, 0, 3));
    assert_eq!(result.errors, report.errors);
    assert_eq!(
        by_email(&db).await["ann@example.com"].fields["notes"],
        json!("line one\nline two")
    );
}
both!(validate_report, validate_report);

async fn validate_defects_sample(db: TestDb) {
    let file = sample("contacts-defects.csv");
    if !file.exists() {
        eprintln!("skipping: {} is not there", file.display());
        return;
    }
    let module = db.service.modules().get("contacts").await.unwrap();
    let report = validate_file(
        &module,
        &file,
        &SourceOptions::default(),
        &contacts_mapping(),
        &Map::new(),
        &Default::default(),
        PipelineOptions::default(),
    )
    .await
    .unwrap();
    assert!(!report.is_valid);
    assert_eq!(
        (report.total_rows, report.valid_rows, report.error_rows),
        (10, 2, 8)
    );
    let rows: Vec<(u64, Option<&str>)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (3, Some("email")),
            (4, Some("phone")),
            (5, Some("last_contacted")),
            (6, Some("deal_value")),
            (7, Some("status")),
            (8, None),
            (9, None),
            (10, Some("first_name")),
        ]
    );
    // Execute agrees with validate and writes the two valid rows.
    let result = import(&db, "contacts", &file, &request(contacts_mapping())).await;
    assert_eq!(counts(&result), (10, 2, 0, 0, 0, 8));
    assert_eq!(result.errors, report.errors);
    let all = by_email(&db).await;
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["plain.valid@example.com", "valid.person@example.com"]
    );
}
both!(validate_defects_sample, validate_defects_sample);

// ---------------------------------------------------------------------------------------------
// Malformed files and requests leave the store unchanged

fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

async fn malformed_files_change_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mapping = cols(&[("First Name", "first_name"), ("Email", "email")]);
    let req = request(mapping.clone());
    // Chunks of one row: without the check before the first write, rows 2 and 3 would be in.
    let one_by_one = chunked(1, 1);

    // UTF-16 with a lone surrogate after three good rows.
    let mut bytes = utf16le(
        "First Name,Email\r\nAnn,ann@example.com\r\nBob,bob@example.com\r\nCy,cy@example.com\r\n",
    );
    bytes.extend_from_slice(&[0x00, 0xD8, b'x', 0x00]);
    let path = dir.path().join("utf16.csv");
    std::fs::write(&path, &bytes).unwrap();
    let err = import_err_with(&db, "contacts", &path, &req, &one_by_one).await;
    match &err {
        Error::Source { file, .. } => assert_eq!(file, "utf16.csv"),
        other => panic!("expected a source error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("utf16.csv"), "{err}");
    assert!(err.to_string().contains("after row 4"), "{err}");

    // A cell over the limit in row 4.
    let path = write_file(
        dir.path(),
        "long.csv",
        &format!(
            "First Name,Email\nAnn,ann@example.com\nBob,bob@example.com\n{},cy@example.com\n",
            "x".repeat(60)
        ),
    );
    let mut limited = chunked(1, 1);
    limited.source = SourceOptions {
        limits: SourceLimits {
            max_cell_bytes: 50,
            ..SourceLimits::default()
        },
        ..SourceOptions::default()
    };
    let err = import_err_with(&db, "contacts", &path, &req, &limited).await;
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "long.csv: row 4, column 'First Name': the cell is 60 B, over the limit of 50 B"
    );

    // Invalid UTF-8 past the part of the file encoding detection reads.
    let mut text = String::from("First Name,Email\n");
    let mut n = 0;
    while text.len() < 70 * 1024 {
        n += 1;
        text.push_str(&format!("P{n},p{n}@example.com\n"));
    }
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"Jos\xe9,jose@example.com\n");
    let path = dir.path().join("latin.csv");
    std::fs::write(&path, &bytes).unwrap();
    let err = import_err_with(&db, "contacts", &path, &req, &chunked(500, 2)).await;
    match &err {
        Error::Source {
            file, row, column, ..
        } => {
            assert_eq!(file, "latin.csv");
            assert_eq!(*row, Some(n + 2));
            assert_eq!(column.as_deref(), Some("First Name"));
        }
        other => panic!("expected a source error, got {other:?}"),
    }

    // A mapping naming a column the file lacks.
    let path = write_file(
        dir.path(),
        "ok.csv",
        "First Name,Email\nAnn,ann@example.com\n",
    );
    let mut bad = mapping.clone();
    bad.push(col("Phone", "phone"));
    let err = import_err(&db, "contacts", &path, &request(bad)).await;
    assert_eq!(validation_fields(&err), ["columnMapping[2].sourceColumn"]);
    assert!(
        err.to_string().contains("the file has no column 'Phone'"),
        "{err}"
    );
    // A mapping naming no field of the module.
    let err = import_err(&db, "contacts", &path, &request(cols(&[("Email", "mail")]))).await;
    assert_eq!(
        validation_fields(&err),
        ["columnMapping[0].targetFieldSlug"]
    );
    // A mapping that maps nothing.
    let err = import_err(&db, "contacts", &path, &request(Vec::new())).await;
    assert_eq!(validation_fields(&err), ["columnMapping"]);
    // An unknown module.
    let err = import_err(&db, "nope", &path, &req).await;
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    // Nothing was written: no records, no job.
    assert!(records(&db, "contacts").await.is_empty());
    assert_eq!(jobs(&db, "contacts").await, 0);
}
both!(
    malformed_files_change_nothing,
    malformed_files_change_nothing
);

/// A file that turns bad while the import runs (after batches were committed): the job fails,
/// and what it wrote, created and updated records alike, is undone.
async fn failure_half_way_undoes_the_job(db: TestDb) {
    let seed = contact(
        &db,
        json!({"first_name": "Seed", "email": "p1@example.com", "job_title": "Before"}),
    )
    .await;
    let before = records(&db, "contacts").await;
    let dir = tempfile::tempdir().unwrap();
    // 1,000 rows of about 1 KB: far more than the reader can be ahead when the first batch
    // commits (a few chunks of 50 rows plus its buffers).
    let notes = "n".repeat(1_000);
    let mut text = String::from("First Name,Email,Job Title,Notes\n");
    for n in 1..=1_000 {
        text.push_str(&format!("P{n},p{n}@example.com,After,{notes}\n"));
    }
    let path = write_file(dir.path(), "changing.csv", &text);
    let len = text.len() as u64;
    let mut options = chunked(50, 1);
    options.pipeline.channel_depth = 1;
    let corrupted = Arc::new(AtomicBool::new(false));
    let (flag, target) = (corrupted.clone(), path.clone());
    options.progress = Some(Arc::new(move |_| {
        if !flag.swap(true, Ordering::SeqCst) {
            // One invalid byte in the last row's note.
            use std::io::{Seek, SeekFrom, Write};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .unwrap();
            file.seek(SeekFrom::Start(len - 3)).unwrap();
            file.write_all(b"\xff").unwrap();
        }
    }));
    let req = update(
        cols(&[
            ("First Name", "first_name"),
            ("Email", "email"),
            ("Job Title", "job_title"),
            ("Notes", "notes"),
        ]),
        MergeMode::PreferImport,
    );
    let err = import_err_with(&db, "contacts", &path, &req, &options).await;
    assert!(corrupted.load(Ordering::SeqCst));
    assert!(matches!(err, Error::Source { .. }), "{err:?}");
    match &err {
        Error::Source { row, column, .. } => {
            assert_eq!(*row, Some(1_001));
            assert_eq!(column.as_deref(), Some("Notes"));
        }
        other => panic!("expected a source error, got {other:?}"),
    }

    let after = records(&db, "contacts").await;
    assert_eq!(dump(&after), dump(&before));
    assert_eq!(after[0].id, seed.id);
    let jobs = list_jobs(db.service.store(), db.service.modules(), "contacts", None)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert_eq!(jobs[0].failure.as_deref(), Some(err.to_string().as_str()));
    assert!(jobs[0].processed_rows >= 50 && jobs[0].processed_rows < 1_000);

    // Rolling the failed job back changes nothing more.
    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &jobs[0].import_job_id,
        &actor(),
    )
    .await
    .unwrap();
    assert_eq!((outcome.deleted_count, outcome.restored_count), (0, 0));
    assert_eq!(outcome.conflicts, []);
    let job = get_job(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &jobs[0].import_job_id,
    )
    .await
    .unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(dump(&records(&db, "contacts").await), dump(&before));
}
both!(
    failure_half_way_undoes_the_job,
    failure_half_way_undoes_the_job
);

// ---------------------------------------------------------------------------------------------
// Jobs

async fn jobs_are_listed_and_shown(db: TestDb) {
    let file = sample("contacts.csv");
    let first = import(&db, "contacts", &file, &request(contacts_mapping())).await;
    let mut req = update(contacts_mapping(), MergeMode::FillEmpty);
    req.duplicate_match_fields = vec!["email".into()];
    req.ai_mapping_used = true;
    let second = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&second), (52, 0, 0, 52, 0, 0));

    let store = db.service.store();
    let modules = db.service.modules();
    let listed = list_jobs(store, modules, "contacts", None).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|j| j.import_job_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            second.import_job_id.as_deref().unwrap(),
            first.import_job_id.as_deref().unwrap()
        ]
    );
    assert_eq!(
        list_jobs(store, modules, "contacts", Some(1))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        list_jobs(store, modules, "accounts", None)
            .await
            .unwrap()
            .is_empty()
    );

    let job = get_job(
        store,
        modules,
        "contacts",
        first.import_job_id.as_deref().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(job, listed[1]);
    let contacts_module = modules.get("contacts").await.unwrap();
    assert_eq!(job.module_id, contacts_module.id);
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.processing_mode, ProcessingMode::Sync);
    assert_eq!(job.file_name.as_deref(), Some("contacts.csv"));
    assert_eq!(job.file_type.as_deref(), Some("csv"));
    assert_eq!(
        (
            job.total_rows,
            job.processed_rows,
            job.success_rows,
            job.created_rows,
            job.updated_rows,
            job.unchanged_rows,
            job.skipped_rows,
            job.error_rows
        ),
        (52, 52, 52, 52, 0, 0, 0, 0)
    );
    assert_eq!(job.duplicate_strategy, DuplicateStrategy::Skip);
    assert_eq!(job.merge_mode, MergeMode::PreferImport);
    assert!(job.duplicate_match_fields.is_empty());
    assert!(!job.ai_mapping_used);
    assert!(job.errors.is_empty() && job.failure.is_none() && job.rollback.is_none());
    assert_eq!(job.created_by_user_id.as_deref(), Some("usr_test"));
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339 time");
    let created = time(&job.created_date_time);
    let started = time(job.started_date_time.as_deref().unwrap());
    let completed = time(job.completed_date_time.as_deref().unwrap());
    let expires = time(&job.expires_date_time);
    assert!(created <= started && started <= completed);
    assert_eq!(expires - created, chrono::TimeDelta::days(7));

    let job2 = &listed[0];
    assert_eq!(job2.duplicate_strategy, DuplicateStrategy::Update);
    assert_eq!(job2.merge_mode, MergeMode::FillEmpty);
    assert_eq!(job2.duplicate_match_fields, ["email"]);
    assert!(job2.ai_mapping_used);
    assert_eq!((job2.unchanged_rows, job2.success_rows), (52, 52));

    let shape = serde_json::to_value(&job).unwrap();
    for key in [
        "importJobId",
        "moduleId",
        "status",
        "processingMode",
        "fileName",
        "fileType",
        "totalRows",
        "processedRows",
        "successRows",
        "errorRows",
        "skippedRows",
        "aiMappingUsed",
        "duplicateStrategy",
        "createdDateTime",
        "startedDateTime",
        "completedDateTime",
        "expiresDateTime",
    ] {
        assert!(shape.get(key).is_some(), "job JSON lacks {key}: {shape}");
    }
    assert_eq!(shape["status"], "completed");
    assert_eq!(shape["processingMode"], "sync");

    let err = get_job(store, modules, "contacts", "job_nope")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // A job belongs to its module.
    let err = get_job(store, modules, "accounts", &job.import_job_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
both!(jobs_are_listed_and_shown, jobs_are_listed_and_shown);

// ---------------------------------------------------------------------------------------------
// Rollback

/// Seeds three contacts (one with a display name of its own), snapshots the store, then imports
/// a file that updates two of them (one field cleared), leaves the third alone and creates two.
async fn seed_and_update(db: &TestDb) -> (Vec<Record>, ImportResult) {
    contact(
        db,
        json!({"first_name": "Ann", "last_name": "Old", "email": "ann@example.com",
               "company": "OldCo", "phone": "212-555-0100", "deal_value": 10,
               "address": {"city": "Paris", "country": "France"}}),
    )
    .await;
    create(
        db,
        "contacts",
        json!({"displayName": "Bobby (VIP)",
               "fields": {"first_name": "Bob", "email": "bob@example.com", "status": "lead"}}),
    )
    .await;
    contact(
        db,
        json!({"first_name": "Cy", "email": "cy@example.com", "job_title": "Dev"}),
    )
    .await;
    let before = records(db, "contacts").await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "update.csv",
        "Name,First Name,Email,Company,Phone,Status,Job Title\n\
         ,Annie,ann@example.com,,+1 212 555 0199,active,\n\
         Robert,Bob,bob@example.com,BobCo,,customer,\n\
         ,Cy,cy@example.com,,,,Dev\n\
         ,Dee,dee@example.com,DeeCo,,lead,\n\
         ,Eve,eve@example.com,,,,\n",
    );
    let mapping = cols(&[
        ("Name", "displayName"),
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Company", "company"),
        ("Phone", "phone"),
        ("Status", "status"),
        ("Job Title", "job_title"),
    ]);
    let result = import(
        db,
        "contacts",
        &file,
        &update(mapping, MergeMode::Overwrite),
    )
    .await;
    assert_eq!(counts(&result), (5, 2, 2, 1, 0, 0));
    let all = by_email(db).await;
    let ann = &all["ann@example.com"];
    assert_eq!(ann.display_name, "Annie Old");
    assert_eq!(
        ann.fields,
        obj(
            json!({"first_name": "Annie", "last_name": "Old", "email": "ann@example.com",
                   "phone": [{"number": "+12125550199", "type": "Other"}], "deal_value": 10,
                   "status": "active", "address": {"city": "Paris", "country": "France"}})
        )
    );
    let bob = &all["bob@example.com"];
    assert_eq!(bob.display_name, "Robert");
    assert_eq!(bob.fields["company"], "BobCo");
    assert_eq!(bob.fields["status"], "customer");
    (before, result)
}

async fn rollback_restores_updated_records(db: TestDb) {
    let (before, result) = seed_and_update(&db).await;
    let job_id = result.import_job_id.clone().unwrap();
    let store = db.service.store();
    let modules = db.service.modules();
    let outcome = rollback(store, modules, "contacts", &job_id, &actor())
        .await
        .unwrap();
    assert_eq!(outcome.deleted_count, 2);
    assert_eq!(outcome.restored_count, 2);
    assert!(outcome.conflicts.is_empty());
    let after = records(&db, "contacts").await;
    assert_eq!(dump(&after), dump(&before));
    // Restoring is a change of its own: the history goes on.
    let versions: Vec<i64> = after.iter().map(|r| r.version).collect();
    assert_eq!(versions, [3, 3, 1]);

    let job = get_job(store, modules, "contacts", &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.rollback.as_ref(), Some(&outcome));
    assert_eq!(serde_json::to_value(&job).unwrap()["status"], "cancelled");

    // Twice: the same outcome, nothing changes.
    let again = rollback(store, modules, "contacts", &job_id, &actor())
        .await
        .unwrap();
    assert_eq!(again, outcome);
    assert_eq!(records(&db, "contacts").await, after);
}
both!(
    rollback_restores_updated_records,
    rollback_restores_updated_records
);

async fn rollback_leaves_later_changes_alone(db: TestDb) {
    let (_, result) = seed_and_update(&db).await;
    let job_id = result.import_job_id.clone().unwrap();
    let all = by_email(&db).await;
    // Ann (updated by the import) and Dee (created by it) change afterwards.
    let mut changed = Vec::new();
    for email in ["ann@example.com", "dee@example.com"] {
        let input = RecordInput::from_json(
            json!({"fields": {"job_title": "Changed later"}}),
            "test body",
        )
        .unwrap();
        let r = db
            .service
            .update("contacts", &all[email].id, input, &actor())
            .await
            .unwrap();
        changed.push(r);
    }
    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &job_id,
        &actor(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.deleted_count, 1);
    assert_eq!(outcome.restored_count, 1);
    let mut conflicts: Vec<&str> = outcome
        .conflicts
        .iter()
        .map(|c| c.record_id.as_str())
        .collect();
    conflicts.sort_unstable();
    let mut expected: Vec<&str> = changed.iter().map(|r| r.id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(conflicts, expected);
    for c in &outcome.conflicts {
        assert!(
            c.reason.contains("changed after the import"),
            "{}",
            c.reason
        );
    }
    let now = by_email(&db).await;
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        [
            "ann@example.com",
            "bob@example.com",
            "cy@example.com",
            "dee@example.com"
        ]
    );
    assert_eq!(now["ann@example.com"], changed[0]);
    assert_eq!(now["dee@example.com"], changed[1]);
    assert_eq!(now["bob@example.com"].display_name, "Bobby (VIP)");
    let job = get_job(
        db.service.store(),
        db.service.modules(),
        "contacts",
        &job_id,
    )
    .await
    .unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
}
both!(
    rollback_leaves_later_changes_alone,
    rollback_leaves_later_changes_alone
);

/// An import matched on phone can move a unique email from one record to another. Rollback
/// gives every record its email back, whatever order the ledger lists the records in.
async fn rollback_gives_moved_unique_values_back(db: TestDb) {
    // Ann and Pat exist; Ann's number finds her and takes her email away (row 2); Pat's number
    // finds Pat, who takes Ann's old email (row 3); a new record takes Pat's old email (row 4).
    contact(
        &db,
        json!({"first_name": "Ann", "email": "ann@example.com", "phone": "212-555-0100"}),
    )
    .await;
    contact(
        &db,
        json!({"first_name": "Pat", "email": "pat@example.com", "phone": "312-555-0142"}),
    )
    .await;
    let before = records(&db, "contacts").await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "moves.csv",
        "Phone,Email,First Name
         212-555-0100,ann.new@example.com,Ann
         (312) 555-0142,ann@example.com,Pat
         ,pat@example.com,Newcomer
",
    );
    let req = update_by_phone(cols(&[
        ("Phone", "phone"),
        ("Email", "email"),
        ("First Name", "first_name"),
    ]));
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (3, 1, 2, 0, 0, 0));
    let moved = by_email(&db).await;
    assert_eq!(
        moved.keys().collect::<Vec<_>>(),
        ["ann.new@example.com", "ann@example.com", "pat@example.com"]
    );
    assert_eq!(moved["ann@example.com"].fields["first_name"], "Pat");
    assert_eq!(moved["pat@example.com"].fields["first_name"], "Newcomer");

    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        result.import_job_id.as_deref().unwrap(),
        &actor(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.conflicts, []);
    assert_eq!((outcome.deleted_count, outcome.restored_count), (1, 2));
    assert_eq!(dump(&records(&db, "contacts").await), dump(&before));
}
both!(
    rollback_gives_moved_unique_values_back,
    rollback_gives_moved_unique_values_back
);

/// A unique value the import moved away and someone took since cannot be given back: that
/// restore is refused and reported, and the rest of the page is restored.
async fn rollback_refuses_a_unique_value_taken_since(db: TestDb) {
    let ann = contact(
        &db,
        json!({"first_name": "Ann", "email": "ann@example.com", "phone": "212-555-0100"}),
    )
    .await;
    let bob = contact(
        &db,
        json!({"first_name": "Bob", "email": "bob@example.com", "phone": "212-555-0101"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "moves.csv",
        "Phone,Email\n212-555-0100,ann.new@example.com\n212-555-0101,bob.new@example.com\n",
    );
    let req = update_by_phone(cols(&[("Phone", "phone"), ("Email", "email")]));
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(result.updated_rows, 2);
    let taker = contact(
        &db,
        json!({"first_name": "Taker", "email": "ann@example.com"}),
    )
    .await;

    let outcome = rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        result.import_job_id.as_deref().unwrap(),
        &actor(),
    )
    .await
    .unwrap();
    assert_eq!((outcome.deleted_count, outcome.restored_count), (0, 1));
    assert_eq!(outcome.conflicts.len(), 1, "{outcome:?}");
    assert_eq!(outcome.conflicts[0].record_id, ann.id);
    assert_eq!(
        outcome.conflicts[0].reason,
        format!(
            "email: the value 'ann@example.com' is already used by record {}",
            taker.id
        )
    );
    let now = by_email(&db).await;
    assert_eq!(now["bob@example.com"].id, bob.id);
    assert_eq!(now["bob@example.com"].version, bob.version + 2);
    assert_eq!(now["ann.new@example.com"].id, ann.id);
    assert_eq!(now["ann@example.com"].id, taker.id);
}
both!(
    rollback_refuses_a_unique_value_taken_since,
    rollback_refuses_a_unique_value_taken_since
);

// ---------------------------------------------------------------------------------------------
// Dry run and the errors CSV

async fn dry_run_writes_nothing(db: TestDb) {
    contact(
        &db,
        json!({"first_name": "Ada", "email": "ada.lovelace@acme.com", "job_title": "Countess"}),
    )
    .await;
    let before = records(&db, "contacts").await;
    let file = sample("contacts.csv");
    let req = update(contacts_mapping(), MergeMode::PreferImport);
    let mut dry = options();
    dry.dry_run = true;
    let planned = import_with(&db, "contacts", &file, &req, &dry).await;
    assert!(planned.dry_run);
    assert_eq!(planned.import_job_id, None);
    assert_eq!(counts(&planned), (52, 51, 1, 0, 0, 0));
    assert_eq!(records(&db, "contacts").await, before);
    assert_eq!(jobs(&db, "contacts").await, 0);

    let real = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&real), counts(&planned));
    assert_eq!(real.errors, planned.errors);
    assert_eq!(real.reference_warnings, planned.reference_warnings);
    assert_eq!(
        real.created_record_ids.len(),
        planned.created_record_ids.len()
    );
    assert_eq!(records(&db, "contacts").await.len(), 52);
}
both!(dry_run_writes_nothing, dry_run_writes_nothing);

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .expect("open errors CSV");
    reader
        .records()
        .map(|r| r.expect("CSV record").iter().map(str::to_string).collect())
        .collect()
}

async fn errors_out_has_the_failed_rows(db: TestDb) {
    let taken = contact(&db, json!({"email": "taken@example.com"})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "errs.csv",
        "First Name,Email,Last Contacted\n\
         Ann,ann@example.com,2024-01-15\n\
         Bob,bob(at)example.com,someday\n\
         Cy,cy@example.com,2024-01-16,extra\n\
         Dup,taken@example.com,2024-01-17\n",
    );
    let out = dir.path().join("failed.csv");
    let mut opts = options();
    opts.errors_out = Some(out.clone());
    let result = import_with(
        &db,
        "contacts",
        &file,
        &with_strategy(bad_values_mapping(), DuplicateStrategy::Create),
        &opts,
    )
    .await;
    assert_eq!(counts(&result), (4, 1, 0, 0, 0, 3));
    assert_eq!(
        read_csv(&out),
        [
            vec![
                "First Name",
                "Email",
                "Last Contacted",
                "Import Row",
                "Import Errors",
                "Import Error Codes"
            ],
            vec![
                "Bob",
                "bob(at)example.com",
                "someday",
                "3",
                "email (Email): Invalid email format; last_contacted (Last Contacted): Invalid \
                 date (expected e.g. 2024-01-15)",
                "invalid_email; invalid_date"
            ],
            vec![
                "Cy",
                "cy@example.com",
                "2024-01-16",
                "4",
                "row has 4 cells, the header has 3",
                "malformed_row"
            ],
            vec![
                "Dup",
                "taken@example.com",
                "2024-01-17",
                "5",
                &format!(
                    "email: Duplicate email found: 'taken@example.com' is already used by record {}",
                    taken.id
                ),
                "duplicate_unique_value"
            ],
        ]
    );
}
both!(
    errors_out_has_the_failed_rows,
    errors_out_has_the_failed_rows
);
