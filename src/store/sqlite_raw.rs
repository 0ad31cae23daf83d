//! SQLite's bulk paths at the database's own speed: rusqlite prepared statements on the raw
//! handle of the connection a sqlx transaction holds.
//!
//! In: an open [`Tx`] on SQLite and a closure. Out: whatever the closure returns. Guarantees: the
//! closure runs inside the caller's transaction (same connection, same snapshot, same write
//! lock), so what it writes commits or rolls back with everything else the transaction did.
//!
//! Why: sqlx's SQLite driver runs each statement on its worker thread and hands rows back across a
//! channel one at a time; for bulk work that costs more than SQLite itself (1M four-column
//! inserts: ~17 s one row per statement through sqlx, ~1.5 s as prepared statements here; 1M rows
//! read: ~4 s against ~0.2 s).
//!
//! Caveats: while the closure runs the connection's sqlx worker is blocked (the handle is locked),
//! so the closure must not await anything of the same connection; transaction control (BEGIN,
//! COMMIT, ROLLBACK) stays on the sqlx side and the closure never issues it. The rusqlite
//! connection borrows the handle (it does not close it on drop), and its statement cache lives as
//! long as the closure: statements are prepared again on the next call, a few per batch.

use rusqlite::Connection;
use sqlx::sqlite::SqliteConnection;

use crate::error::{Error, Result};
use crate::store::Tx;

/// Runs `work` on the raw connection of `tx` (SQLite only), on the current thread, telling the
/// runtime that the thread blocks.
pub async fn with_raw<T>(tx: &mut Tx, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let Tx::Sqlite(transaction) = tx else {
        return Err(Error::internal(
            "a SQLite bulk path was called on a PostgreSQL transaction",
        ));
    };
    let connection: &mut SqliteConnection = transaction;
    let mut handle = connection.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: the handle is a live sqlite3 connection, locked for us until `handle` drops (after
    // `raw_connection`); `from_handle` borrows it without closing it, and the same
    // libsqlite3-sys backs sqlx and rusqlite (both pinned), so the pointer types agree.
    let raw_connection = unsafe { Connection::from_handle(raw.as_ptr()) }?;
    let outcome = blocking(|| work(&raw_connection));
    drop(raw_connection);
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
