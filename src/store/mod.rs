//! The store: one sqlx pool on SQLite (embedded, the default) or PostgreSQL (a server by URL).
//!
//! In: a database URL. Out: a migrated [`Store`] whose queries take a dialect-neutral [`Sql`]
//! (text with `$N` placeholders, which both SQLite and PostgreSQL accept, plus owned [`Arg`]s) and
//! return dialect-neutral [`Row`]s, all at once or, on a transaction, as a stream
//! ([`Tx::fetch`]; [`Store::begin_snapshot`] gives a transaction whose reads see one snapshot).
//! The few places where SQL differs between the dialects (JSON access, JSON parameters) ask
//! [`Dialect`]. Values are always bound, never pasted into SQL text, and in one place
//! (`bind_args!`).

pub mod data_dir;
pub mod sqlite_raw;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{
    AssertSqlSafe, Column as _, PgPool, Postgres, Row as _, Sqlite, SqliteConnection, SqlitePool,
    Transaction,
};

use crate::error::{Error, Result};

/// A long export or import statement is expected, not a warning: sqlx's default would print the
/// whole SQL text at WARN on every large export. It stays visible with `-vv`.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);
const SLOW_STATEMENT_LEVEL: tracing::log::LevelFilter = tracing::log::LevelFilter::Debug;

/// Default database of the CLI: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://recordport.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A JSON-typed parameter: PostgreSQL needs the text cast to `jsonb`.
    pub fn json_param(self, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => placeholder.to_string(),
            Dialect::Postgres => format!("{placeholder}::jsonb"),
        }
    }

    /// Row lock for read-modify-write inside a transaction (SQLite's IMMEDIATE transaction
    /// already holds the database's write lock).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// A JSON column read back as text (SQLite stores text already).
    pub fn json_column(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }
}

/// A bound value. Nulls carry their type because PostgreSQL checks parameter types.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Float(f64),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}

/// SQL text with numbered placeholders and the values bound to them.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds a value and returns its placeholder (`$N`), for callers that wrap it in an expression.
    pub fn arg(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    /// Binds a value and appends its placeholder.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        let placeholder = self.arg(value);
        self.text.push_str(&placeholder);
        self
    }

    /// Appends `placeholder, placeholder, ...` for each value.
    pub fn bind_list<T: Into<Arg>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }
}

/// The statement text to send. On SQLite, `$1, $2, …` used once each and in order become plain
/// `?`: sqlx looks every named parameter up by index in SQLite's parameter list, a linear scan, so
/// a multi-row INSERT with thousands of `$N` spent most of its time there (quadratic in the
/// number of parameters); anonymous `?` parameters skip the lookup.
fn statement_text(dialect: Dialect, text: String, args: usize) -> String {
    if dialect != Dialect::Sqlite || args == 0 {
        return text;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut expected = 1usize;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if text[start..end].parse::<usize>().ok() != Some(expected) {
                return text;
            }
            out.push_str(&text[copied..i]);
            out.push('?');
            expected += 1;
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if expected != args + 1 {
        return text;
    }
    out.push_str(&text[copied..]);
    out
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
            };
        }
        q
    }};
}

/// A result row of either dialect, read by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! get_column {
    ($row:expr, $name:expr, $ty:ty) => {
        match $row {
            Row::Sqlite(r) => r.try_get::<$ty, _>($name),
            Row::Postgres(r) => r.try_get::<$ty, _>($name),
        }
        .map_err(Error::from)
    };
}

impl Row {
    pub fn text(&self, name: &str) -> Result<String> {
        get_column!(self, name, String)
    }
    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        get_column!(self, name, Option<String>)
    }
    pub fn int(&self, name: &str) -> Result<i64> {
        get_column!(self, name, i64)
    }
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        get_column!(self, name, Option<i64>)
    }
    pub fn opt_float(&self, name: &str) -> Result<Option<f64>> {
        get_column!(self, name, Option<f64>)
    }
}

/// A result row read by position, its text borrowed from the row: what bulk readers (the
/// export) need, from sqlx's rows and from the raw SQLite connection's ([`sqlite_raw`]) alike.
pub trait RowValues {
    /// The position of the column named `name`.
    fn column_index(&self, name: &str) -> Result<usize>;
    /// A text value; `None` for NULL.
    fn text(&self, index: usize) -> Result<Option<&str>>;
    /// An integer value; `None` for NULL.
    fn int(&self, index: usize) -> Result<Option<i64>>;
}

impl RowValues for Row {
    fn column_index(&self, name: &str) -> Result<usize> {
        let found = match self {
            Row::Sqlite(r) => r.columns().iter().position(|c| c.name() == name),
            Row::Postgres(r) => r.columns().iter().position(|c| c.name() == name),
        };
        found.ok_or_else(|| Error::Database(sqlx::Error::ColumnNotFound(name.to_string())))
    }

    fn text(&self, index: usize) -> Result<Option<&str>> {
        get_column!(self, index, Option<&str>)
    }

    fn int(&self, index: usize) -> Result<Option<i64>> {
        get_column!(self, index, Option<i64>)
    }
}

#[derive(Clone)]
enum Pool {
    /// SQLite: `writer` holds the one connection every write goes through (write transactions
    /// and autocommit statements), `readers` the connections of reads. SQLite lets one writer at
    /// a time in anyway; one connection for all of them keeps its page cache warm from one
    /// transaction to the next, where a pool handing each transaction to the next idle
    /// connection grew every connection's cache (4 × the setting in RSS) and made each
    /// transaction start on a cache the others' commits had made stale (an upsert spent a
    /// quarter of its CPU reading pages back from the OS).
    Sqlite {
        readers: SqlitePool,
        writer: SqlitePool,
    },
    Postgres(PgPool),
}

/// A migrated database: cheap to clone, shared by every service.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Settings of a store, beyond its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite's page cache per connection, in MiB. An import's writer touches index pages all
    /// over the key index (the keys are random): with SQLite's default 2 MiB nearly every one of
    /// them is a read from the OS. The default is bounded by the memory target (every step under
    /// 256 MiB peak RSS, BENCHMARKS.md); a larger cache trades memory for fewer reads. Only
    /// connections that touch that many pages grow to it.
    pub sqlite_cache_mib: u32,
}

impl StoreOptions {
    pub const DEFAULT_SQLITE_CACHE_MIB: u32 = 32;
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_cache_mib: StoreOptions::DEFAULT_SQLITE_CACHE_MIB,
        }
    }
}

impl Store {
    /// Opens (and for SQLite creates) the database at `url` and runs the migrations.
    ///
    /// `postgres://…` and `postgresql://…` mean PostgreSQL; `sqlite://PATH`, `sqlite:PATH` and a
    /// plain path mean a SQLite file, created when missing, in WAL mode.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with settings.
    pub async fn open_with(url: &str, settings: &StoreOptions) -> Result<Store> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| Error::DatabaseUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?
                .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Store {
                pool: Pool::Postgres(pool),
            }
        } else {
            let options = sqlite_options(url)?.pragma(
                "cache_size",
                format!("-{}", u64::from(settings.sqlite_cache_mib) * 1024),
            );
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                // Writers wait their turn here, in order, rather than in SQLite's busy handler.
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options.clone())
                .await?;
            sqlx::migrate!("migrations/sqlite").run(&writer).await?;
            seed_sqlite_planner_stats(&writer).await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            Store {
                pool: Pool::Sqlite { readers, writer },
            }
        };
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite { .. } => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            // Every transaction here writes: taking the write lock up front avoids SQLite's
            // SQLITE_BUSY when a deferred reader tries to upgrade while another writer waits.
            Pool::Sqlite { writer, .. } => Tx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A transaction that only reads: on SQLite it takes no write lock, so reads do not queue
    /// behind writers (WAL readers see a consistent snapshot).
    pub async fn begin_read(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite { readers, .. } => Tx::Sqlite(readers.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read-only transaction whose reads all see the database as it was at its first read:
    /// on SQLite a deferred transaction (WAL fixes its snapshot at the first read), on PostgreSQL
    /// `REPEATABLE READ, READ ONLY`. For long reads that must neither repeat nor miss a row that
    /// changes meanwhile (the export).
    pub async fn begin_snapshot(&self) -> Result<Tx> {
        let mut tx = self.begin_read().await?;
        if let Tx::Postgres(_) = tx {
            // Must be the transaction's first statement.
            tx.execute(Sql::new(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            ))
            .await?;
        }
        Ok(tx)
    }

    pub async fn fetch_all(&self, sql: Sql) -> Result<Vec<Row>> {
        self.rows_of(sql, false).await
    }

    /// The rows a statement that writes returns (`UPDATE … RETURNING`, a job claim): on SQLite
    /// through the writer connection, as every write, so it waits its turn there instead of
    /// taking the write lock from a reader connection.
    pub async fn write_returning(&self, sql: Sql) -> Result<Vec<Row>> {
        self.rows_of(sql, true).await
    }

    async fn rows_of(&self, sql: Sql, writes: bool) -> Result<Vec<Row>> {
        let text = AssertSqlSafe(statement_text(self.dialect(), sql.text, sql.args.len()));
        Ok(match &self.pool {
            Pool::Sqlite { readers, writer } => bind_args!(sqlx::query(text), sql.args)
                .fetch_all(if writes { writer } else { readers })
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Pool::Postgres(p) => bind_args!(sqlx::query(text), sql.args)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub async fn fetch_optional(&self, sql: Sql) -> Result<Option<Row>> {
        Ok(self.fetch_all(sql).await?.into_iter().next())
    }

    /// The rows of `sql`, each made into a `T` by `from_row` (the first row it refuses ends it).
    pub async fn fetch_mapped<T>(
        &self,
        sql: Sql,
        from_row: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.fetch_all(sql).await?.iter().map(from_row).collect()
    }

    pub async fn execute(&self, sql: Sql) -> Result<u64> {
        let text = AssertSqlSafe(statement_text(self.dialect(), sql.text, sql.args.len()));
        Ok(match &self.pool {
            Pool::Sqlite { writer, .. } => bind_args!(sqlx::query(text), sql.args)
                .execute(writer)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => bind_args!(sqlx::query(text), sql.args)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { readers, writer } => {
                readers.close().await;
                writer.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The sqlx connection under a SQLite transaction, for the raw connection of bulk paths
    /// ([`sqlite_raw::with_connection`]); `None` on PostgreSQL.
    pub fn sqlite_connection(&mut self) -> Option<&mut SqliteConnection> {
        match self {
            Tx::Sqlite(tx) => Some(&mut **tx),
            Tx::Postgres(_) => None,
        }
    }

    /// The rows of `sql` as a stream, read as the database returns them (never all held at
    /// once), on this transaction: a long read sees the transaction's snapshot throughout. The
    /// transaction is borrowed until the stream is dropped.
    pub fn fetch(&mut self, sql: Sql) -> BoxStream<'_, Result<Row>> {
        let text = AssertSqlSafe(statement_text(self.dialect(), sql.text, sql.args.len()));
        match self {
            Tx::Sqlite(tx) => bind_args!(sqlx::query(text), sql.args)
                .fetch(&mut **tx)
                .map_ok(Row::Sqlite)
                .map_err(Error::from)
                .boxed(),
            Tx::Postgres(tx) => bind_args!(sqlx::query(text), sql.args)
                .fetch(&mut **tx)
                .map_ok(Row::Postgres)
                .map_err(Error::from)
                .boxed(),
        }
    }

    pub async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<Row>> {
        let text = AssertSqlSafe(statement_text(self.dialect(), sql.text, sql.args.len()));
        Ok(match self {
            Tx::Sqlite(tx) => bind_args!(sqlx::query(text), sql.args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Tx::Postgres(tx) => bind_args!(sqlx::query(text), sql.args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub async fn fetch_optional(&mut self, sql: Sql) -> Result<Option<Row>> {
        Ok(self.fetch_all(sql).await?.into_iter().next())
    }

    pub async fn execute(&mut self, sql: Sql) -> Result<u64> {
        let text = AssertSqlSafe(statement_text(self.dialect(), sql.text, sql.args.len()));
        Ok(match self {
            Tx::Sqlite(tx) => bind_args!(sqlx::query(text), sql.args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Postgres(tx) => bind_args!(sqlx::query(text), sql.args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls back now. Dropping a transaction rolls it back too, but only once its connection is
    /// used again; a writer about to retry wants its locks given up at once.
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Planner statistics for `records` when the database has none (no `ANALYZE` ever ran).
///
/// Without them SQLite guesses that `module_id = ? AND deleted_at IS NULL` picks out a few rows,
/// so for `… WHERE module_id = ? AND deleted_at IS NULL AND id IN (500 ids)` (the import's
/// load of the records a batch updates) it walks `records_module_live` over every live record
/// of the module instead of looking the 500 ids up: measured 58 ms per batch at 200k records
/// and an upsert of 1M rows into 1M records at 130 rows/s. These rows state the shape SQLite
/// would measure (a module holds most records; `id` is unique), written the way the SQLite
/// documentation allows for `sqlite_stat1`; a real `ANALYZE` replaces them.
const RECORDS_PLANNER_STATS: [(&str, &str); 2] = [
    ("records_module_live", "1000000 1000000 1000000 2 1"),
    ("sqlite_autoindex_records_1", "1000000 1"),
];

async fn seed_sqlite_planner_stats(pool: &sqlx::SqlitePool) -> Result<()> {
    let mut connection = pool.acquire().await?;
    // Creates sqlite_stat1 when missing (without analysing any table).
    sqlx::query("ANALYZE sqlite_schema")
        .execute(&mut *connection)
        .await?;
    let analysed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'records'")
            .fetch_one(&mut *connection)
            .await?;
    if analysed > 0 {
        return Ok(());
    }
    for (index, stat) in RECORDS_PLANNER_STATS {
        sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('records', ?, ?)")
            .bind(index)
            .bind(stat)
            .execute(&mut *connection)
            .await?;
    }
    // Makes this connection read the new statistics; connections opened later read them anyway.
    sqlx::query("ANALYZE sqlite_schema")
        .execute(&mut *connection)
        .await?;
    Ok(())
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(|e| Error::DatabaseUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?
    } else if url.contains("://") {
        return Err(Error::DatabaseUrl {
            url: url.to_string(),
            reason: "expected postgres://…, sqlite://PATH or a file path".to_string(),
        });
    } else {
        SqliteConnectOptions::new().filename(Path::new(url))
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL with NORMAL sync is durable across application crashes; only an OS crash can lose
        // the last transactions, which is SQLite's recommended trade-off for WAL.
        .synchronous(SqliteSynchronous::Normal)
        // Temporary b-trees (sorts, DISTINCT) stay in memory instead of temporary files.
        .pragma("temp_store", "memory")
        .busy_timeout(Duration::from_secs(10))
        .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT)
        .foreign_keys(true))
}

/// Splits `items` for multi-row statements: pages of `max`, then the rest in halving sizes
/// (256, 128, …, 1 for a `max` of 500). Every statement then has one of a few shapes, which the
/// connection's statement cache keeps prepared, instead of a new shape (compiled, cached and
/// never used again) for every batch's last page.
pub fn statement_pages<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (page, tail) = rest.split_at(size);
        rest = tail;
        Some(page)
    })
}

/// Microseconds since the Unix epoch: the store's one time representation.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// An ISO 8601 UTC timestamp (`2024-01-15T10:30:00Z`) of a stored time.
pub fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new time-ordered id such as `rec_0190b7c2-…`: UUIDv7 puts the creation time first, so ids
/// of new rows append to the primary-key index instead of landing at random places in it.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_pages_have_few_shapes() {
        let items: Vec<u32> = (0..1_234).collect();
        let sizes: Vec<usize> = statement_pages(&items, 500).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![500, 500, 128, 64, 32, 8, 2]);
        assert_eq!(sizes.iter().sum::<usize>(), 1_234);
        assert_eq!(statement_pages(&items[..0], 500).count(), 0);
    }

    #[test]
    fn sqlite_statements_use_anonymous_parameters_when_in_order() {
        let text = "INSERT INTO t VALUES ($1, $2), ($3, json($4)) -- '$.x'".to_string();
        assert_eq!(
            statement_text(Dialect::Sqlite, text.clone(), 4),
            "INSERT INTO t VALUES (?, ?), (?, json(?)) -- '$.x'"
        );
        assert_eq!(statement_text(Dialect::Postgres, text.clone(), 4), text);
        let reordered = "SELECT $2, $1".to_string();
        assert_eq!(
            statement_text(Dialect::Sqlite, reordered.clone(), 2),
            reordered
        );
        let reused = "SELECT $1, $1".to_string();
        assert_eq!(statement_text(Dialect::Sqlite, reused.clone(), 1), reused);
    }
}
