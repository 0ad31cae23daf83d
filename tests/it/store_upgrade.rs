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

/// The sample modules and three contacts as the previous release stored them, keys included:
/// Ann and Bob share a phone number (a key that is not unique), Carl is matched by an import.
fn previous_release_rows() -> String {
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

/// Brings `pool`'s empty database to the previous release's schema and fills it as that release
/// would have.
async fn previous_release<DB>(pool: sqlx::Pool<DB>, migrations: sqlx::migrate::Migrator)
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'e> &'e sqlx::Pool<DB>: sqlx::Executor<'e, Database = DB>,
{
    migrations.run_to(PREVIOUS_RELEASE, &pool).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(previous_release_rows()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
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
    previous_release(pool, sqlx::migrate!("src/store/migrations/sqlite")).await;
    keeps_working(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_postgres_store_upgrades() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    previous_release(pool, sqlx::migrate!("src/store/migrations/postgres")).await;
    keeps_working(&url, dir.path()).await;
}
