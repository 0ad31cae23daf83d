//! A store made by the previous release (migrations up to 0006: the old key layout, text module
//! ids and field slugs in every key, a partial unique index) opens with this build and keeps
//! working: its keys move into the slim layout, unique values stay enforced by the database,
//! and records written before the upgrade are matched, changed and deleted as before.

use recordport::error::Error;
use recordport::records::RecordService;
use recordport::store::{Sql, Store};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use crate::common::{actor, fresh_postgres_url, sample_modules};

/// The last migration of the previous release.
const PREVIOUS_RELEASE: i64 = 6;

/// The sample modules as every release stored them (ids `mod_0`, `mod_1`, …), and the number of
/// the contacts module.
fn module_rows() -> (String, usize) {
    let mut sql = String::new();
    for (i, def) in sample_modules().iter().enumerate() {
        let definition = serde_json::to_string(def).unwrap().replace('\'', "''");
        sql += &format!(
            "INSERT INTO modules (id, slug, name, definition, created_at, updated_at) VALUES \
             ('mod_{i}', '{}', '{}', '{definition}', 0, 0);\n",
            def.slug, def.name
        );
    }
    let contacts = sample_modules()
        .iter()
        .position(|m| m.slug == "contacts")
        .unwrap();
    (sql, contacts)
}

/// The sample modules and three contacts as the previous release stored them, keys included:
/// Ann and Bob share a phone number (a key that is not unique), Carl is matched by an import.
fn previous_release_rows() -> String {
    let (mut sql, contacts) = module_rows();
    let people = [
        ("rec_01", "Ann", "ann@example.com"),
        ("rec_02", "Bob", "bob@example.com"),
        ("rec_03", "Carl", "carl@example.com"),
    ];
    for (id, name, email) in people {
        let fields = json!({"first_name": name, "email": email, "phone": "+14155550101"});
        sql += &format!(
            "INSERT INTO records (id, module_id, display_name, fields, search_text, created_at, \
             updated_at, version) VALUES ('{id}', 'mod_{contacts}', '{name}', '{fields}', \
             '{}', 0, 0, 1);\n\
             INSERT INTO record_keys (module_id, field_slug, key, record_id, is_unique) VALUES \
             ('mod_{contacts}', 'email', '{email}', '{id}', 1), \
             ('mod_{contacts}', 'phone', '+14155550101', '{id}', 0);\n",
            name.to_lowercase()
        );
    }
    sql
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    let row = store
        .fetch_optional(Sql::new(format!("SELECT ({sql}) AS n")))
        .await
        .unwrap()
        .unwrap();
    row.int("n").unwrap()
}

fn contact(email: &str) -> recordport::records::RecordInput {
    serde_json::from_value(json!({"fields": {"first_name": "New", "email": email}})).unwrap()
}

/// What a store upgraded from the previous release must do.
async fn keeps_working(url: &str, dir: &std::path::Path) {
    let store = Store::open(url).await.expect("the upgraded store opens");
    let keys = "SELECT COUNT(*) FROM record_keys k JOIN key_spaces s ON s.id = k.space";
    assert_eq!(scalar(&store, keys).await, 6, "every key moved");
    let service = RecordService::new(store.clone());
    let me = actor();

    // A unique value stored before the upgrade is still taken.
    let taken = service
        .create("contacts", contact("ANN@example.com"), &me)
        .await;
    assert!(matches!(taken, Err(Error::Conflict { .. })), "{taken:?}");
    // ... and the database refuses a second holder by itself.
    let second = store
        .execute(Sql::new(
            "INSERT INTO record_keys (space, key, tiebreak, record_id) SELECT space, key, \
             tiebreak, 'rec_99' FROM record_keys WHERE key = 'ann@example.com'",
        ))
        .await;
    assert!(second.is_err(), "a second holder of a unique value");

    // Changing and deleting an old record frees the values it held before the upgrade.
    let patch = serde_json::from_value(json!({"fields": {"email": "ann.new@example.com"}}));
    service
        .update("contacts", "rec_01", patch.unwrap(), &me)
        .await
        .unwrap();
    service.delete("contacts", "rec_02", &me).await.unwrap();
    for freed in ["ann@example.com", "bob@example.com"] {
        service
            .create("contacts", contact(freed), &me)
            .await
            .unwrap_or_else(|e| panic!("{freed} is free again: {e}"));
    }
    // Ann keeps the phone number she shares (a key that is not unique); Bob's went with him.
    let phones = "SELECT COUNT(*) FROM record_keys WHERE key = '+14155550101'";
    assert_eq!(scalar(&store, phones).await, 2);

    // An import matches a record stored before the upgrade by its email.
    let file = dir.join("carl.csv");
    std::fs::write(&file, "Email,Company\ncarl@example.com,Acme\n").unwrap();
    let request: recordport::import::ImportRequest = serde_json::from_value(json!({
        "columnMapping": [
            {"sourceColumn": "Email", "targetFieldSlug": "email"},
            {"sourceColumn": "Company", "targetFieldSlug": "company"},
        ],
        "duplicateStrategy": "update",
    }))
    .unwrap();
    let options = recordport::import::RunOptions::new(actor());
    let result = recordport::import::execute_file(&service, "contacts", &file, &request, &options)
        .await
        .unwrap();
    assert_eq!((result.created_rows, result.updated_rows), (0, 1));
    let carl = service.get("contacts", "rec_03").await.unwrap();
    assert_eq!(carl.fields["company"], Value::from("Acme"));
    store.close().await;
}

/// Brings `pool`'s empty database to the schema of an older release (the `migrations` it had)
/// and fills it with `rows` as that release would have.
async fn old_store<DB>(
    pool: sqlx::Pool<DB>,
    mut migrations: sqlx::migrate::Migrator,
    released: impl Fn(i64) -> bool,
    rows: String,
) where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'e> &'e sqlx::Pool<DB>: sqlx::Executor<'e, Database = DB>,
{
    let kept: Vec<_> = migrations
        .migrations
        .iter()
        .filter(|m| released(m.version))
        .cloned()
        .collect();
    migrations.migrations = kept.into();
    migrations.run(&pool).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(rows))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// The previous release: migrations up to [`PREVIOUS_RELEASE`].
fn previous(version: i64) -> bool {
    version <= PREVIOUS_RELEASE
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_sqlite_store_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let options = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let migrations = sqlx::migrate!("migrations/sqlite");
    old_store(pool, migrations, previous, previous_release_rows()).await;
    keeps_working(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_postgres_store_upgrades() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let migrations = sqlx::migrate!("migrations/postgres");
    old_store(pool, migrations, previous, previous_release_rows()).await;
    keeps_working(&url, dir.path()).await;
}

/// The provenance migration (0009) came after 0011 and 0012 were released: a store of the last
/// release has every migration but that one.
const PROVENANCE: i64 = 9;

/// A store of the last release holding a completed update import not rolled back yet: it created
/// Dora (a `created` ledger line; a later batch of the same job changed her too, version 2) and
/// changed Carl's company and title (an `updated` line with his whole record before). Eve was made
/// by the job too but a user edited her since (version 2 by nobody's job).
fn last_release_rows(store_dialect_json: fn(&str) -> String) -> String {
    let (mut sql, contacts) = module_rows();
    sql += &format!(
        "INSERT INTO key_spaces (module_id, field_slug) VALUES ('mod_{contacts}', 'email');\n"
    );
    let people = [
        (
            "rec_03",
            "Carl",
            "carl@example.com",
            json!({"company": "Acme", "job_title": "CEO"}),
            2,
        ),
        (
            "rec_04",
            "Dora",
            "dora@example.com",
            json!({"company": "Initech"}),
            2,
        ),
        ("rec_05", "Eve", "eve@example.com", json!({}), 2),
    ];
    for (id, name, email, extra, version) in people {
        let mut fields = json!({"first_name": name, "email": email});
        fields
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sql += &format!(
            "INSERT INTO records (id, module_id, display_name, fields, search_text, created_at, \
             updated_at, version) VALUES ('{id}', 'mod_{contacts}', '{name}', {}, '', 0, 0, \
             {version});\n\
             INSERT INTO record_keys (space, key, tiebreak, record_id) SELECT id, \
             '{email}', '', '{id}' FROM key_spaces WHERE field_slug = 'email';\n",
            store_dialect_json(&fields.to_string())
        );
    }
    let change = |field: &str, old: Value, new: Value| {
        store_dialect_json(&json!({ field: {"old": old, "new": new} }).to_string())
    };
    sql += &format!(
        "INSERT INTO record_versions (record_id, version, action, changes, changed_at) VALUES \
         ('rec_03', 2, 'update', {}, 1), ('rec_04', 2, 'update', {}, 1), \
         ('rec_05', 2, 'update', {}, 2);\n",
        change("company", json!("Globex"), json!("Acme")),
        change("company", Value::Null, json!("Initech")),
        change("first_name", json!("Evelyn"), json!("Eve")),
    );
    let carl_before = json!({
        "displayName": "Carl", "fields": {"first_name": "Carl", "email": "carl@example.com",
        "company": "Globex"}, "labelIds": [], "typeIds": [], "privacyLevel": "account",
        "descriptionHtml": null, "externalId": null, "ownerId": null
    });
    let options = json!({"columnMapping": [], "duplicateStrategy": "update"});
    sql += &format!(
        "INSERT INTO import_jobs (id, module_id, status, processing_mode, options, created_at, \
         expires_at, created_rows, updated_rows) VALUES ('imp_old', 'mod_{contacts}', \
         'completed', 'sync', {}, 0, 9000000000000000, 2, 2);\n\
         INSERT INTO import_ledger (job_id, record_id, action, module_id, before, after_version) \
         VALUES ('imp_old', 'rec_03', 'updated', 'mod_{contacts}', {}, 2), \
         ('imp_old', 'rec_04', 'created', 'mod_{contacts}', NULL, 2), \
         ('imp_old', 'rec_05', 'created', 'mod_{contacts}', NULL, 1);\n",
        store_dialect_json(&options.to_string()),
        store_dialect_json(&carl_before.to_string()),
    );
    sql
}

/// The last release: every migration but [`PROVENANCE`].
fn last(version: i64) -> bool {
    version != PROVENANCE
}

/// What a store upgraded from the last release with a rollback still to do must do: the job's
/// created records name it, its ledger keeps only the update, and the rollback after the upgrade
/// deletes Dora, leaves Eve (changed since) and gives Carl his company back.
async fn rolls_back_after_upgrade(url: &str) {
    let store = Store::open(url).await.expect("the upgraded store opens");
    let created = "SELECT COUNT(*) FROM records WHERE created_by_job = 'imp_old'";
    assert_eq!(
        scalar(&store, created).await,
        2,
        "created lines became provenance"
    );
    let lines = "SELECT COUNT(*) FROM import_ledger WHERE job_id = 'imp_old'";
    assert_eq!(
        scalar(&store, lines).await,
        1,
        "only the update stays in the ledger"
    );
    let service = RecordService::new(store.clone());
    let dora = service.get("contacts", "rec_04").await.unwrap();
    assert_eq!(
        serde_json::to_value(&dora).unwrap()["importedBy"],
        json!({"createdByJob": "imp_old", "updatedByJob": "imp_old"})
    );

    let outcome =
        recordport::import::rollback(&store, service.modules(), "contacts", "imp_old", &actor())
            .await
            .unwrap();
    assert_eq!((outcome.deleted_count, outcome.restored_count), (1, 1));
    assert_eq!(outcome.conflicts.len(), 1, "{outcome:?}");
    assert_eq!(outcome.conflicts[0].record_id, "rec_05");
    assert!(
        service.get("contacts", "rec_04").await.is_err(),
        "Dora is gone"
    );
    let carl = service.get("contacts", "rec_03").await.unwrap();
    assert_eq!(carl.fields["company"], Value::from("Globex"));
    assert!(!carl.fields.contains_key("job_title"), "{:?}", carl.fields);
    let eve = service.get("contacts", "rec_05").await.unwrap();
    assert_eq!(eve.fields["first_name"], Value::from("Eve"));
    // Dora's email is free again.
    service
        .create("contacts", contact("dora@example.com"), &actor())
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_release_sqlite_store_rolls_back_a_job_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("last.db").display());
    let options = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let json = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let migrations = sqlx::migrate!("migrations/sqlite");
    old_store(pool, migrations, last, last_release_rows(json)).await;
    rolls_back_after_upgrade(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_release_postgres_store_rolls_back_a_job_after_the_upgrade() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let json = |text: &str| format!("'{}'::jsonb", text.replace('\'', "''"));
    let migrations = sqlx::migrate!("migrations/postgres");
    old_store(pool, migrations, last, last_release_rows(json)).await;
    rolls_back_after_upgrade(&url).await;
}
