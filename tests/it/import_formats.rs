//! The same contacts in every format give the same records: CSV (UTF-8 and Windows-1252), XLSX,
//! XLS, ODS and Parquet, each with the mapping `suggest` proposes for it, as a user would run it.

use std::path::Path;

use recordport::import::memory;
use recordport::import::{
    DuplicateStrategy, ImportRequest, ImportResult, RunOptions, SourceOptions, execute_file,
};

use crate::both;
use crate::common::{TestDb, actor, sample_dir};

async fn suggested_request(db: &TestDb, path: &Path) -> ImportRequest {
    let module = db.service.modules().get("contacts").await.expect("module");
    let suggested =
        memory::suggested_request(db.service.store(), &module, path, &SourceOptions::default())
            .await
            .expect("suggest");
    ImportRequest {
        duplicate_strategy: DuplicateStrategy::Update,
        duplicate_match_fields: vec!["email".into()],
        ..suggested
    }
}

async fn import(db: &TestDb, file: &str) -> ImportResult {
    let path = sample_dir().join("import").join(file);
    let request = suggested_request(db, &path).await;
    execute_file(
        &db.service,
        "contacts",
        &path,
        &request,
        &RunOptions::new(actor()),
    )
    .await
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

async fn every_format_gives_the_same_records_body(db: TestDb) {
    let first = import(&db, "contacts.csv").await;
    assert_eq!((first.created_rows, first.error_rows), (52, 0), "{first:?}");
    for file in [
        "contacts-windows1252.csv",
        "contacts.xlsx",
        "contacts.xls",
        "contacts.ods",
        "contacts.parquet",
    ] {
        let again = import(&db, file).await;
        assert_eq!(again.total_rows, 52, "{file}");
        assert_eq!(
            (again.created_rows, again.updated_rows, again.error_rows),
            (0, 0, 0),
            "{file}: every row must match a record and change nothing: {:?}",
            again.errors
        );
        assert_eq!(again.unchanged_rows, 52, "{file}");
    }
}
both!(
    every_format_gives_the_same_records,
    every_format_gives_the_same_records_body
);
