//! Import jobs: listed and shown, and rolled back exactly.

use super::validation::bad_values_mapping;
use super::*;

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
    let outcome = roll_back_contacts(&db, &job_id).await;
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

    let outcome = roll_back_contacts(&db, result.import_job_id.as_deref().unwrap()).await;
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

    let outcome = roll_back_contacts(&db, result.import_job_id.as_deref().unwrap()).await;
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
