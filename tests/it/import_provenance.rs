//! Provenance (issue 14): a record names the import that created it and the one that last changed
//! it, in its JSON, `records get` and its history; rollback deletes a job's records by that name
//! and restores its updates from before-images that hold only what changed. On both stores.

use std::path::Path;

use recordport::import::mapping::ColumnMapping;
use recordport::import::{
    DuplicateStrategy, ImportRequest, ImportResult, MergeMode, RollbackOutcome, RunOptions,
    execute_file, rollback,
};
use recordport::records::{Record, RecordInput};
use recordport::store::Sql;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Run, TestDb, actor, cli_json, pipeline, recordport_process, scalar};

fn mapping(columns: &[(&str, &str)]) -> Vec<ColumnMapping> {
    columns
        .iter()
        .map(|(source, target)| {
            serde_json::from_value(json!({"sourceColumn": source, "targetFieldSlug": target}))
                .unwrap()
        })
        .collect()
}

fn update_by_email(columns: &[(&str, &str)]) -> ImportRequest {
    ImportRequest {
        column_mapping: mapping(columns),
        duplicate_strategy: DuplicateStrategy::Update,
        merge_mode: MergeMode::PreferImport,
        duplicate_match_fields: vec!["email".into()],
        ..ImportRequest::default()
    }
}

/// Imports `text` as a CSV file, one row per chunk and per transaction, so that a record met
/// twice is met by two batches.
async fn import(
    db: &TestDb,
    dir: &Path,
    name: &str,
    text: &str,
    request: &ImportRequest,
) -> ImportResult {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let mut options = RunOptions::new(actor());
    options.pipeline = pipeline(1, 1, 1);
    execute_file(&db.service, "contacts", &file, request, &options)
        .await
        .unwrap_or_else(|e| panic!("import of {name}: {e}"))
}

async fn get(db: &TestDb, id: &str) -> Record {
    db.service.get("contacts", id).await.expect("record")
}

async fn roll_back(db: &TestDb, job: &str) -> RollbackOutcome {
    let (store, modules) = (db.service.store(), db.service.modules());
    rollback(store, modules, "contacts", job, &actor())
        .await
        .unwrap_or_else(|e| panic!("rollback of {job}: {e}"))
}

/// The record as a restore must give it back: everything but what a write moves on.
fn restorable(record: &Record) -> Value {
    let mut value = serde_json::to_value(record).unwrap();
    for key in [
        "version",
        "updatedDateTime",
        "updatedByUserId",
        "updatedByDisplayName",
    ] {
        value.as_object_mut().unwrap().remove(key);
    }
    value
}

async fn shows_which_imports_created_and_changed_a_record(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let columns = [("Email", "email"), ("Company", "company")];
    let first = import(
        &db,
        dir.path(),
        "a.csv",
        "Email,Company\nann@example.com,Acme\n",
        &update_by_email(&columns),
    )
    .await;
    let second = import(
        &db,
        dir.path(),
        "b.csv",
        "Email,Company\nann@example.com,Globex\nbob@example.com,Initech\n",
        &update_by_email(&columns),
    )
    .await;
    let (a, b) = (first.import_job_id.unwrap(), second.import_job_id.unwrap());
    let ann = get(&db, &first.created_record_ids[0]).await;
    assert_eq!(
        serde_json::to_value(&ann).unwrap()["importedBy"],
        json!({"createdByJob": a, "updatedByJob": b})
    );
    let bob = get(&db, &second.created_record_ids[0]).await;
    assert_eq!(
        serde_json::to_value(&bob).unwrap()["importedBy"],
        json!({"createdByJob": b, "updatedByJob": b})
    );
    // The history: version 1 is the record as the first import made it, version 2 the second's.
    let history = db.service.history("contacts", &ann.id).await.unwrap();
    let jobs: Vec<(i64, Option<&str>)> = history
        .iter()
        .map(|v| (v.version, v.import_job_id.as_deref()))
        .collect();
    assert_eq!(jobs, [(2, Some(b.as_str())), (1, Some(a.as_str()))]);
    assert_eq!(history[1].fields["company"], "Acme");
    assert_eq!(history[1].action, "create");
    // A record made by hand names no import.
    let input = RecordInput::from_json(json!({"fields": {"email": "cy@example.com"}}), "body");
    let cy = db
        .service
        .create("contacts", input.unwrap(), &actor())
        .await
        .unwrap();
    assert!(
        serde_json::to_value(&cy)
            .unwrap()
            .get("importedBy")
            .is_none()
    );
    if db.url.starts_with("sqlite") {
        let shown = cli_json(&db, &["records", "get", "--module", "contacts", &ann.id]);
        assert_eq!(
            shown["record"]["importedBy"]["createdByJob"],
            json!(a),
            "{shown}"
        );
        // The table a person reads says it too.
        let mut plain = recordport_process();
        plain.args([
            "--db", &db.url, "records", "get", "--module", "contacts", &ann.id,
        ]);
        let table = Run::of(plain).ok("records get").stdout;
        assert!(
            table.contains("created by import") && table.contains(&a),
            "{table}"
        );
        let versions = cli_json(
            &db,
            &["records", "history", "--module", "contacts", &ann.id],
        );
        assert_eq!(
            versions["versions"][0]["importJobId"],
            json!(b),
            "{versions}"
        );
    }
}
both!(
    shows_which_imports_created_and_changed_a_record,
    shows_which_imports_created_and_changed_a_record
);

/// A job that changes a record in two batches keeps, per changed value, the one from before its
/// first change, and nothing it did not change; a record it created and changed again has no
/// ledger line at all. Rollback gives back exactly the store before the job.
async fn a_ledger_keeps_only_what_changed_and_rolls_back_exactly(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let columns = [
        ("Email", "email"),
        ("Company", "company"),
        ("Title", "job_title"),
    ];
    let seed = "Email,Company,Title\nann@example.com,Acme,CEO\ncarl@example.com,Umbrella,\n";
    let seeded = import(
        &db,
        dir.path(),
        "seed.csv",
        seed,
        &update_by_email(&columns),
    )
    .await;
    let before: Vec<Value> = {
        let mut all = Vec::new();
        for id in &seeded.created_record_ids {
            all.push(restorable(&get(&db, id).await));
        }
        all
    };
    // Ann: company, then title and company again, in two batches; Dora: created, then changed.
    let text = "Email,Company,Title\nann@example.com,Globex,\nann@example.com,Initech,CTO\n\
                dora@example.com,Hooli,\ndora@example.com,Pied Piper,CFO\n";
    let result = import(
        &db,
        dir.path(),
        "change.csv",
        text,
        &update_by_email(&columns),
    )
    .await;
    let job = result.import_job_id.unwrap();
    assert_eq!((result.created_rows, result.updated_rows), (1, 3));
    let lines = format!("SELECT COUNT(*) FROM import_ledger WHERE job_id = '{job}'");
    assert_eq!(
        scalar(&db, &lines).await,
        1,
        "only Ann's update has a ledger line"
    );
    let created = format!("SELECT COUNT(*) FROM records WHERE created_by_job = '{job}'");
    assert_eq!(scalar(&db, &created).await, 1, "Dora names the job");
    let ann = &seeded.created_record_ids[0];
    let mut sql =
        Sql::new("SELECT CAST(before AS TEXT) AS before FROM import_ledger WHERE record_id = ");
    sql.bind(ann.clone());
    let row = db
        .service
        .store()
        .fetch_optional(sql)
        .await
        .unwrap()
        .unwrap();
    let image: Value = serde_json::from_str(&row.text("before").unwrap()).unwrap();
    assert_eq!(
        image["changed"],
        json!({"company": ["Acme"], "job_title": ["CEO"]}),
        "the values from before the job's first change, and only those: {image}"
    );

    let outcome = roll_back(&db, &job).await;
    assert_eq!((outcome.deleted_count, outcome.restored_count), (1, 1));
    assert_eq!(outcome.conflicts, []);
    let mut after = Vec::new();
    for id in &seeded.created_record_ids {
        after.push(restorable(&get(&db, id).await));
    }
    assert_eq!(after, before);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM records").await,
        2,
        "Dora is gone"
    );
    assert_eq!(scalar(&db, &lines).await, 0, "the ledger is undone");
}
both!(
    a_ledger_keeps_only_what_changed_and_rolls_back_exactly,
    a_ledger_keeps_only_what_changed_and_rolls_back_exactly
);

/// A record the job created and someone changed since is left alone by the rollback and
/// reported; the job's other records go.
async fn rollback_leaves_a_created_record_changed_since(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let columns = [("Email", "email"), ("Company", "company")];
    let text = "Email,Company\nann@example.com,Acme\nbob@example.com,Globex\n";
    let result = import(&db, dir.path(), "a.csv", text, &update_by_email(&columns)).await;
    let job = result.import_job_id.unwrap();
    let bob = result.created_record_ids[1].clone();
    let patch = RecordInput::from_json(json!({"fields": {"company": "Hooli"}}), "body").unwrap();
    db.service
        .update("contacts", &bob, patch, &actor())
        .await
        .unwrap();
    let outcome = roll_back(&db, &job).await;
    assert_eq!(outcome.deleted_count, 1);
    assert_eq!(outcome.conflicts.len(), 1);
    assert_eq!(outcome.conflicts[0].record_id, bob);
    assert!(
        outcome.conflicts[0]
            .reason
            .contains("version 2 now, 1 when"),
        "{outcome:?}"
    );
    assert_eq!(get(&db, &bob).await.fields["company"], "Hooli");
}
both!(
    rollback_leaves_a_created_record_changed_since,
    rollback_leaves_a_created_record_changed_since
);
