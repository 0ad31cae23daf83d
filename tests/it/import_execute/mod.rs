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
    ProcessingMode, RollbackOutcome, RowError, RowErrorCode, RunOptions, SourceLimits,
    SourceOptions, execute_file, get_job, list_jobs, rollback, validate_file,
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

/// Rolls back the contacts import `job_id`, which must succeed.
async fn roll_back_contacts(db: &TestDb, job_id: &str) -> RollbackOutcome {
    rollback(
        db.service.store(),
        db.service.modules(),
        "contacts",
        job_id,
        &actor(),
    )
    .await
    .unwrap()
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

/// Runs [`merge_case`] with `mode` and checks Ann's record afterwards: updated once in place,
/// holding `fields` and named `display_name`.
async fn ann_after_merge(db: &TestDb, mode: MergeMode, fields: Value, display_name: &str) {
    let (_, all, ann, _) = merge_case(db, mode).await;
    let got = &all["ann@example.com"];
    assert_eq!(got.id, ann.id);
    assert_eq!(got.version, 2);
    assert_eq!(got.fields, obj(fields));
    assert_eq!(got.display_name, display_name);
}

async fn update_fill_empty(db: TestDb) {
    // Only the empty job title takes the file's value.
    let fields = json!({"first_name": "Ann", "last_name": "Old", "email": "ann@example.com",
                        "company": "OldCo", "status": "lead", "job_title": "Engineer"});
    ann_after_merge(&db, MergeMode::FillEmpty, fields, "Ann Old").await;
}
both!(update_fill_empty, update_fill_empty);

async fn update_overwrite(db: TestDb) {
    // Every mapped field takes the file's value; the empty company cell clears the company;
    // the unmapped first name stays.
    let fields = json!({"first_name": "Ann", "last_name": "New", "email": "ann@example.com",
                        "status": "customer", "job_title": "Engineer"});
    ann_after_merge(&db, MergeMode::Overwrite, fields, "Ann New").await;
}
both!(update_overwrite, update_overwrite);

async fn update_prefer_import(db: TestDb) {
    // File values win, the empty company cell keeps the record's company.
    let fields = json!({"first_name": "Ann", "last_name": "New", "email": "ann@example.com",
                        "company": "OldCo", "status": "customer", "job_title": "Engineer"});
    ann_after_merge(&db, MergeMode::PreferImport, fields, "Ann New").await;
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

mod jobs;
mod mappings;
mod validation;
