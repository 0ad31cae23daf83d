//! SQLite's bulk paths at the database's own speed: rusqlite on the raw handle of the connection a
//! sqlx transaction holds.
//!
//! In: an open SQLite transaction and a closure taking a [`rusqlite::Connection`]. Out: what the
//! closure returns. The rusqlite connection is made from sqlx's own handle (`lock_handle` →
//! `as_raw_handle` → [`rusqlite::Connection::from_handle`], which does not close the handle when
//! dropped), so the closure reads and writes inside the caller's transaction (same connection,
//! same snapshot, same write lock): an export reads the snapshot its transaction holds, a writer's
//! rows commit or roll back with everything else the transaction did. Rows are read with prepared
//! statements and borrowed values ([`prepare`]): nothing is copied or handed across threads one
//! row at a time, as sqlx's worker does.
//!
//! Two ways to run: [`with_raw`] runs a borrowing closure on the calling thread (moved aside with
//! `block_in_place`): the import writer, ledger, key lookups and rollback, each a batch of work
//! the caller waits for. [`with_connection`] runs an owned closure on a blocking thread, so the
//! caller's task can go on consuming what the closure produces meanwhile: the export reader.
//!
//! Why: sqlx's SQLite driver runs each statement on its worker thread and hands rows back across a
//! channel one at a time; for bulk work that costs more than SQLite itself (1M four-column
//! inserts: ~17 s one row per statement through sqlx, ~1.5 s as prepared statements here; 1M rows
//! read: ~4 s against ~0.2 s).
//!
//! Caveats, for every caller:
//! - The sqlx connection's worker is blocked while the handle is locked: the transaction (and its
//!   connection) can do nothing else until the closure returns. Other pool connections are free.
//! - Transaction control stays on the sqlx side: the closure must not `BEGIN`, `COMMIT`,
//!   `ROLLBACK`, `SAVEPOINT` or `RELEASE`; sqlx keeps track of the transaction and ends it.
//! - Statements the closure prepares (`prepare_cached` included) are finalized when it returns:
//!   give a closure a whole unit of work (an export, a batch), not a row.
//! - A [`with_connection`] closure cannot be cut short: if the calling future is dropped while it
//!   runs, dropping waits for it to finish (the handle must not go back to sqlx while another
//!   thread uses it). Such a closure should notice when its consumer has gone (a closed channel)
//!   and return.
//! - rusqlite and sqlx must link one `libsqlite3-sys` (Cargo.toml pins both, so that the handle
//!   types are the same and one SQLite library runs both sides).

use std::sync::mpsc;

use sqlx::SqliteConnection;

use rusqlite::types::{FromSqlError, Type, ValueRef};

use super::{Arg, RowValues, Sql, Tx};
use crate::error::{Error, Result};

/// Runs `work` on the raw connection of `tx` (SQLite only), on the current thread, telling the
/// runtime that the thread blocks.
pub async fn with_raw<T>(
    tx: &mut Tx,
    work: impl FnOnce(&rusqlite::Connection) -> Result<T>,
) -> Result<T> {
    let Some(connection) = tx.sqlite_connection() else {
        return Err(Error::internal(
            "a SQLite bulk path was called on a PostgreSQL transaction",
        ));
    };
    let mut handle = connection.lock_handle().await?;
    let raw = RawHandle(handle.as_raw_handle().as_ptr());
    let outcome = blocking(|| work(&raw.borrow()?));
    drop(handle);
    outcome
}

/// Runs CPU- or disk-bound work on a runtime thread: moved aside with `block_in_place` on a
/// multi-thread runtime, so other tasks keep their thread; run as it is elsewhere.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

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
        // The handle stays locked away from sqlx's worker until `handle` drops, which `Wait`
        // delays until this closure has finished.
        work(&raw.borrow()?)
    });
    let wait = Wait(Some(done_rx));
    let outcome = task.await;
    drop(wait);
    drop(handle);
    match outcome {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(Error::internal(format!(
            "the raw SQLite connection's task: {join}"
        ))),
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

/// The `sqlite3*` of a locked sqlx connection, moved to the thread that uses it.
struct RawHandle(*mut rusqlite::ffi::sqlite3);

impl RawHandle {
    /// A rusqlite connection on the handle, which must stay locked away from sqlx's worker for as
    /// long as the connection lives (the callers above hold the lock until it has gone).
    fn borrow(&self) -> Result<rusqlite::Connection> {
        // SAFETY: the handle is a live sqlite3 connection, locked for this use; `from_handle`
        // borrows it without closing it on drop, and the same libsqlite3-sys backs sqlx and
        // rusqlite (both pinned), so the pointer types agree.
        Ok(unsafe { rusqlite::Connection::from_handle(self.0) }?)
    }
}

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
