//! The raw SQLite connection under sqlx, for bulk paths that must run at SQLite's own speed
//! (the export reader; the import writer next).
//!
//! In: the sqlx connection of an open SQLite transaction ([`Tx::sqlite_connection`]) and a
//! closure taking a [`rusqlite::Connection`]. Out: what the closure returns. The closure runs on
//! a blocking thread with a rusqlite connection made from sqlx's own handle
//! (`lock_handle` → `as_raw_handle` → [`rusqlite::Connection::from_handle`], which does not
//! close the handle when dropped), so it reads and writes inside the caller's transaction: an
//! export reads the snapshot its transaction holds, a writer's rows commit or roll back with it.
//! There, rows are read with prepared statements and borrowed values ([`prepare`]): no row is
//! copied or handed across threads one by one, as sqlx's worker does.
//!
//! Caveats, for every caller:
//! - The sqlx connection's worker is blocked while the handle is locked: the transaction (and its
//!   connection) can do nothing else until the closure returns. Other pool connections are free.
//! - Transaction control stays on the sqlx side: the closure must not `BEGIN`, `COMMIT`,
//!   `ROLLBACK`, `SAVEPOINT` or `RELEASE`; sqlx keeps track of the transaction and ends it.
//! - Statements the closure prepares (`prepare_cached` included) are finalized when it returns:
//!   give a closure a whole unit of work (an export, a batch), not a row.
//! - The closure cannot be cut short: if the calling future is dropped while it runs, dropping
//!   waits for it to finish (the handle must not go back to sqlx while another thread uses it).
//!   A closure should therefore notice when its consumer has gone (a closed channel) and return.
//! - rusqlite and sqlx must link one `libsqlite3-sys` (Cargo.toml pins both, so that the handle
//!   types are the same and one SQLite library runs both sides).

use std::sync::mpsc;

use sqlx::SqliteConnection;

use rusqlite::types::{FromSqlError, Type, ValueRef};

use super::{Arg, RowValues, Sql};
use crate::error::{Error, Result};

/// Runs `work` on a blocking thread with a rusqlite connection on `connection`'s handle, inside
/// whatever transaction `connection` has open. See the module notes for the caveats.
pub async fn with_connection<T, F>(connection: &mut SqliteConnection, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
{
    let mut handle = connection.lock_handle().await?;
    let raw = RawHandle(handle.as_raw_handle().as_ptr());
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let task = tokio::task::spawn_blocking(move || {
        let raw = raw;
        // Dropped when the closure ends, however it ends (a panic included): what the waiter
        // below waits for.
        let _done = done_tx;
        // SAFETY: the handle is open and locked away from sqlx's worker until `handle` drops,
        // which `Wait` delays until this closure has finished; `from_handle` does not close it.
        let connection = unsafe { rusqlite::Connection::from_handle(raw.0) }?;
        work(&connection)
    });
    let wait = Wait(Some(done_rx));
    let outcome = task.await;
    drop(wait);
    drop(handle);
    match outcome {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(Error::Io {
            path: "SQLite".into(),
            source: std::io::Error::other(format!("the raw connection's task: {join}")),
        }),
    }
}

/// Prepares `sql` on `connection` and binds its values: one statement, read with
/// `Statement::raw_query` (rows as borrowed values). Placeholders are bound by name (`$N`), so a
/// value used twice in the text is bound once.
pub fn prepare<'c>(
    connection: &'c rusqlite::Connection,
    sql: &Sql,
) -> Result<rusqlite::Statement<'c>> {
    let mut statement = connection.prepare(&sql.text)?;
    for (i, arg) in sql.args.iter().enumerate() {
        let Some(index) = statement.parameter_index(&format!("${}", i + 1))? else {
            continue;
        };
        match arg {
            Arg::Text(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Int(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Float(v) => statement.raw_bind_parameter(index, v)?,
        }
    }
    Ok(statement)
}

impl RowValues for rusqlite::Row<'_> {
    fn column_index(&self, name: &str) -> Result<usize> {
        Ok(self.as_ref().column_index(name)?)
    }

    fn text(&self, index: usize) -> Result<Option<&str>> {
        let value = self.get_ref(index)?;
        value
            .as_str_or_null()
            .map_err(|e| conversion(index, Type::Text, e))
    }

    fn int(&self, index: usize) -> Result<Option<i64>> {
        let value: ValueRef<'_> = self.get_ref(index)?;
        value
            .as_i64_or_null()
            .map_err(|e| conversion(index, Type::Integer, e))
    }
}

fn conversion(index: usize, wanted: Type, error: FromSqlError) -> Error {
    rusqlite::Error::FromSqlConversionFailure(index, wanted, Box::new(error)).into()
}

/// The `sqlite3*` of a locked sqlx connection, moved to the blocking thread that uses it.
struct RawHandle(*mut rusqlite::ffi::sqlite3);

// SAFETY: SQLite connections may move between threads (serialized or multi-thread mode); sqlx's
// lock guarantees that only the thread holding this pointer uses the handle meanwhile.
unsafe impl Send for RawHandle {}

/// Waits, when dropped before the closure has finished (the caller's future was dropped), until
/// it has: the handle may only go back to sqlx once no other thread uses it.
struct Wait(Option<mpsc::Receiver<()>>);

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            // Returns once the closure has dropped its sender (it never sends).
            let _ = done.recv();
        }
    }
}
