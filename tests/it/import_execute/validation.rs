//! Execute and validate: bad values, skipValidation, required fields, the validate report,
//! malformed files and a failure half-way.

use recordport::import::ValidationReport;
use recordport::schema::Module;

use super::*;

// ---------------------------------------------------------------------------------------------
// Validation: skipValidation, required fields, the validate report, row numbers

const BAD_VALUES_FILE: &str = "\
First Name,Email,Last Contacted
Ann,not-an-email,2024-01-15
Bob,bob@example.com,2024-13-45
";

pub(super) fn bad_values_mapping() -> Vec<ColumnMapping> {
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
    let report = validate(&module, &file, &cols(&[("Domain", "domain")]), &Map::new()).await;
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
    let report = validate(
        &module,
        &file,
        &cols(&[("Domain", "domain")]),
        &obj(json!({"name": "Unnamed"})),
    )
    .await;
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
    let report = validate(&module, &file, &mapping, &Map::new()).await;
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
    let report = validate(&module, &file, &contacts_mapping(), &Map::new()).await;
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
    let outcome = roll_back_contacts(&db, &jobs[0].import_job_id).await;
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

/// [`validate_file`] of `file` into `module` with `mapping` and `static_values`, everything else
/// by default.
async fn validate(
    module: &Module,
    file: &Path,
    mapping: &[ColumnMapping],
    static_values: &Map<String, Value>,
) -> ValidationReport {
    validate_file(
        module,
        file,
        &SourceOptions::default(),
        mapping,
        static_values,
        &Default::default(),
        PipelineOptions::default(),
    )
    .await
    .unwrap()
}
