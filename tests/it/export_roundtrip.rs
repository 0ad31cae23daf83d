//! The round trip of issue 5: a module exported to CSV (or Parquet) and imported back with
//! strategy update on the match field changes nothing.

use std::path::Path;

use recordport::export::{self, ExportFormat, ExportRequest};
use recordport::import::memory::suggested_request;
use recordport::import::{
    DuplicateStrategy, ImportRequest, ImportResult, MergeMode, RunOptions, SourceOptions,
    execute_file,
};

use crate::both;
use crate::common::{TestDb, actor, sample_dir};

async fn import(db: &TestDb, path: &Path, strategy: DuplicateStrategy) -> ImportResult {
    let module = db.service.modules().get("contacts").await.expect("module");
    let suggested = suggested_request(db.service.store(), &module, path, &SourceOptions::default())
        .await
        .expect("suggest");
    let request = ImportRequest {
        duplicate_strategy: strategy,
        duplicate_match_fields: vec!["email".into()],
        merge_mode: MergeMode::Overwrite,
        ..suggested
    };
    execute_file(
        &db.service,
        "contacts",
        path,
        &request,
        &RunOptions::new(actor()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn export_then_import_changes_nothing_body(db: TestDb) {
    let seeded = import(
        &db,
        &sample_dir().join("import/contacts.csv"),
        DuplicateStrategy::Create,
    )
    .await;
    assert_eq!((seeded.created_rows, seeded.error_rows), (52, 0));
    let dir = tempfile::tempdir().expect("temp dir");
    for format in [ExportFormat::Csv, ExportFormat::Parquet] {
        let path = dir.path().join(format!("contacts.{}", format.extension()));
        let file = std::fs::File::create(&path).expect("create");
        let summary = export::run(
            db.service.store(),
            "contacts",
            &ExportRequest::new(format),
            Box::new(file),
            &path.display().to_string(),
            |_, _| {},
        )
        .await
        .expect("export");
        assert_eq!(summary.record_count, 52, "{format:?}");
        let again = import(&db, &path, DuplicateStrategy::Update).await;
        assert_eq!(
            (
                again.created_rows,
                again.updated_rows,
                again.unchanged_rows,
                again.error_rows
            ),
            (0, 0, 52, 0),
            "{format:?}: {:?}",
            again.errors
        );
    }
}
both!(
    export_then_import_changes_nothing,
    export_then_import_changes_nothing_body
);
