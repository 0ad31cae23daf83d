//! The store's own surface on both stores: a snapshot transaction streaming a query's rows, the
//! raw SQLite connection under a transaction, and SQLite's one writer connection.

use futures_util::TryStreamExt;
use recordport::store::{Sql, sqlite_raw};

use crate::both;
use crate::common::TestDb;

/// Rows stream with every kind of bound value, and a snapshot does not see what is written after
/// its first read.
async fn snapshot_stream(db: TestDb) {
    let store = db.service.store();
    store
        .execute(Sql::new(
            "CREATE TABLE stream_probe (n BIGINT NOT NULL, label TEXT, weight DOUBLE PRECISION)",
        ))
        .await
        .unwrap();
    for n in 0..50_i64 {
        let mut sql = Sql::new("INSERT INTO stream_probe (n, label, weight) VALUES (");
        sql.bind(n)
            .push(", ")
            .bind((n % 2 == 0).then(|| format!("even {n}")))
            .push(", ")
            .bind(n as f64 / 2.0)
            .push(")");
        store.execute(sql).await.unwrap();
    }
    let mut tx = store.begin_snapshot().await.unwrap();
    let mut select = Sql::new("SELECT n, label FROM stream_probe WHERE n >= ");
    select
        .bind(10_i64)
        .push(" AND weight < ")
        .bind(20.0)
        .push(" AND (label IS NULL OR label <> ")
        .bind(Option::<String>::None)
        .push(" OR label LIKE ")
        .bind("even%")
        .push(") ORDER BY n");
    let mut seen = Vec::new();
    {
        let mut rows = tx.fetch(select.clone());
        // The first read fixes the snapshot; a row written now stays out of it.
        let first = rows.try_next().await.unwrap().expect("a row");
        seen.push((first.int("n").unwrap(), first.opt_text("label").unwrap()));
        let mut insert = Sql::new("INSERT INTO stream_probe (n, label, weight) VALUES (");
        insert.bind(11_i64).push(", 'late', 0)");
        store.execute(insert).await.unwrap();
        while let Some(row) = rows.try_next().await.unwrap() {
            seen.push((row.int("n").unwrap(), row.opt_text("label").unwrap()));
        }
    }
    let expected: Vec<(i64, Option<String>)> = (10..40)
        .map(|n| (n, (n % 2 == 0).then(|| format!("even {n}"))))
        .collect();
    assert_eq!(seen, expected);
    // The same transaction reads on after the stream is dropped, still in its snapshot.
    let again: Vec<i64> = tx
        .fetch(select)
        .map_ok(|row| row.int("n").unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(again, (10..40).collect::<Vec<_>>());
    tx.commit().await.unwrap();
}
both!(snapshot_stream, snapshot_stream);

/// The raw SQLite connection runs inside the caller's transaction: what it writes is seen by the
/// transaction and rolled back with it; its errors come back typed and leave the transaction
/// usable. PostgreSQL has no raw connection.
async fn raw_connection(db: TestDb) {
    let store = db.service.store();
    store
        .execute(Sql::new("CREATE TABLE raw_probe (n BIGINT NOT NULL)"))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let Some(connection) = tx.sqlite_connection() else {
        assert!(
            db.url.starts_with("postgres"),
            "only PostgreSQL has no raw connection"
        );
        return;
    };
    let mut insert = Sql::new("INSERT INTO raw_probe (n) VALUES (");
    insert.bind(41_i64).push("), (").bind(1_i64).push(")");
    let inserted = sqlite_raw::with_connection(connection, move |raw| {
        let mut statement = sqlite_raw::prepare(raw, &insert)?;
        Ok(statement.raw_execute()?)
    })
    .await
    .unwrap();
    assert_eq!(inserted, 2);
    let failed = sqlite_raw::with_connection(tx.sqlite_connection().unwrap(), |raw| {
        raw.execute("INSERT INTO no_such_table VALUES (1)", [])?;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(failed.code(), "internal_error");
    // The transaction sees the rows and goes on; rolled back, they are gone.
    let sum = tx
        .fetch_optional(Sql::new("SELECT SUM(n) AS n FROM raw_probe"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sum.int("n").unwrap(), 42);
    drop(tx);
    let rows = store
        .fetch_optional(Sql::new("SELECT COUNT(*) AS n FROM raw_probe"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows.int("n").unwrap(), 0);
}
both!(raw_connection, raw_connection);

/// SQLite: every write goes through one connection, so its page cache stays warm from one
/// transaction to the next (a TEMP table, private to a connection, is seen by every later write
/// transaction), and a second writer waits for the first to commit instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_share_one_connection() {
    let db = TestDb::sqlite().await;
    let store = db.service.store().clone();
    let mut tx = store.begin().await.unwrap();
    tx.execute(Sql::new("CREATE TEMP TABLE writer_probe (n INTEGER)"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Reads in between use other connections and leave the writer alone.
    for n in 0..8_i64 {
        store
            .fetch_all(Sql::new("SELECT COUNT(*) AS n FROM records"))
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let mut insert = Sql::new("INSERT INTO writer_probe (n) VALUES (");
        insert.bind(n).push(")");
        tx.execute(insert).await.unwrap();
        tx.commit().await.unwrap();
    }
    let first = store.begin().await.unwrap();
    let second = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let row = tx
                .fetch_optional(Sql::new("SELECT COUNT(*) AS n FROM writer_probe"))
                .await
                .unwrap()
                .unwrap();
            tx.commit().await.unwrap();
            row.int("n").unwrap()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second writer waits for the first"
    );
    let mut first = first;
    first
        .execute(Sql::new("INSERT INTO writer_probe (n) VALUES (100)"))
        .await
        .unwrap();
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap(), 9);
}
