//! The write stage on PostgreSQL: each batch streamed with `COPY … FROM STDIN` into temporary
//! staging tables, then moved into place with one set-based statement per table.
//!
//! In: the records a batch creates and changes (in the order it touched them), the ledger lines
//! that undo them. Out: the same rows in `records`, `record_keys`, `record_versions` and
//! `import_ledger` as the SQLite path writes, inside the caller's transaction.
//!
//! Guarantees:
//! - Changed records give up the keys they no longer hold (one `DELETE … USING` the staged
//!   removals) before any record takes new ones (one `INSERT … SELECT`), as one-by-one writes
//!   would order it; keys a record keeps are not touched.
//! - An updated record is written only while its version is still the one the batch read; when
//!   another transaction changed it meanwhile (PostgreSQL's READ COMMITTED lets it), the batch
//!   fails with [`Error::ConcurrentChange`] instead of overwriting that change, and the writer
//!   rolls back and decides the rows again ([`crate::import::writer`]).
//! - The ledger keeps `ON CONFLICT (job_id, record_id) DO UPDATE`: a record touched twice by one
//!   job keeps the older value of every name both images hold.
//!
//! Why: a batch goes to the server as one COPY stream per table instead of a multi-row
//! `INSERT … VALUES` per few hundred rows (thousands of bind parameters each, a new statement
//! shape for every page size), and each table then takes one statement of one shape, prepared
//! once per connection. A 200k-row import ran 1,396 record INSERTs and as many key INSERTs;
//! it now runs 200 of each (BENCHMARKS.md, "PostgreSQL COPY").
//!
//! Staging tables are temporary (this session only), `ON COMMIT DELETE ROWS` (nothing staged
//! outlives its transaction), created by the first batch of a transaction that finds them
//! missing (a rolled-back transaction takes its `CREATE` with it, so it is checked every time),
//! and truncated before each batch because one transaction holds several chunks.

use std::io::{self, Write as _};

use serde::Serialize;
use serde_json::json;
use sqlx::postgres::PgConnection;

use crate::error::{Error, Result};
use crate::import::ledger::LedgerEntry;
use crate::import::write::Batch;
use crate::records::keys::{key_changes, tiebreak};
use crate::records::write::search_text;
use crate::store::Tx;

/// Creates the staging tables when this session has none; `to_regclass` answers without an
/// error or a notice (`CREATE … IF NOT EXISTS` would log a notice for every batch).
macro_rules! create_staging {
    () => {
        "DO $$ BEGIN
           IF to_regclass('pg_temp.import_stage_records') IS NULL THEN
             CREATE TEMP TABLE import_stage_records (
               id text NOT NULL, is_new boolean NOT NULL, base_version bigint NOT NULL,
               version bigint NOT NULL, display_name text NOT NULL, fields jsonb NOT NULL,
               label_ids jsonb NOT NULL, type_ids jsonb NOT NULL, privacy_level text NOT NULL,
               description_html text, external_id text, search_text text NOT NULL,
               updated_by_job text, owner_id text
             ) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE import_stage_keys (
               record_id text NOT NULL, space bigint NOT NULL, key text NOT NULL,
               tiebreak text NOT NULL, removed boolean NOT NULL
             ) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE import_stage_versions (
               record_id text NOT NULL, version bigint NOT NULL, changes jsonb NOT NULL
             ) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE import_stage_ledger (
               record_id text NOT NULL, module_id text NOT NULL, before jsonb NOT NULL,
               after_version bigint NOT NULL
             ) ON COMMIT DELETE ROWS;
           END IF;
         END $$;"
    };
}

const STAGE_BATCH: &str = concat!(
    create_staging!(),
    "TRUNCATE pg_temp.import_stage_records, pg_temp.import_stage_keys, \
     pg_temp.import_stage_versions"
);

const STAGE_LEDGER: &str = concat!(create_staging!(), "TRUNCATE pg_temp.import_stage_ledger");

const COPY_RECORDS: &str = "COPY pg_temp.import_stage_records (id, is_new, base_version, \
     version, display_name, fields, label_ids, type_ids, privacy_level, description_html, \
     external_id, search_text, updated_by_job, owner_id) FROM STDIN";

const COPY_KEYS: &str =
    "COPY pg_temp.import_stage_keys (record_id, space, key, tiebreak, removed) FROM STDIN";

const COPY_VERSIONS: &str =
    "COPY pg_temp.import_stage_versions (record_id, version, changes) FROM STDIN";

const COPY_LEDGER: &str =
    "COPY pg_temp.import_stage_ledger (record_id, module_id, before, after_version) FROM STDIN";

/// New records in id order: ids are time-ordered, so they append to the primary-key index.
const INSERT_RECORDS: &str = "INSERT INTO records (id, module_id, display_name, fields, \
     label_ids, type_ids, privacy_level, description_html, external_id, search_text, created_at, \
     updated_at, created_by_user_id, created_by_display_name, updated_by_user_id, \
     updated_by_display_name, version, created_by_job, updated_by_job, owner_id) \
     SELECT id, $1, display_name, fields, label_ids, type_ids, privacy_level, description_html, \
     external_id, search_text, $2, $2, $3, $4, $3, $4, version, $5, updated_by_job, owner_id \
     FROM pg_temp.import_stage_records WHERE is_new ORDER BY id";

/// Changed records, each only while it still has the version the batch read.
const UPDATE_RECORDS: &str = "UPDATE records r SET display_name = s.display_name, \
     fields = s.fields, label_ids = s.label_ids, type_ids = s.type_ids, \
     privacy_level = s.privacy_level, description_html = s.description_html, \
     external_id = s.external_id, search_text = s.search_text, version = s.version, \
     updated_at = $1, updated_by_user_id = $2, updated_by_display_name = $3, \
     updated_by_job = s.updated_by_job \
     FROM pg_temp.import_stage_records s \
     WHERE NOT s.is_new AND r.id = s.id AND r.version = s.base_version";

/// The keys changed records gave up, each found by its primary key. Nested loops only, for
/// this statement: without statistics on `record_keys` (a fresh store, a bulk load autovacuum has
/// not analysed yet) the planner may hash-join a scan of the whole table instead of probing it
/// (122 ms against 14 ms for 500 records' keys in 400k, measured on the previous layout). One
/// simple-protocol round trip; the statement has no parameters.
const DELETE_KEYS: &str = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
     DELETE FROM record_keys k USING pg_temp.import_stage_keys s \
     WHERE s.removed AND k.space = s.space AND k.key = s.key AND k.record_id = s.record_id; \
     RESET enable_hashjoin; RESET enable_mergejoin";

/// Keys in index order: each index page is visited once, and two writers that take the same
/// keys take them in the same order (fewer deadlocks between concurrent imports).
const INSERT_KEYS: &str = "INSERT INTO record_keys (space, key, tiebreak, record_id) \
     SELECT space, key, tiebreak, record_id FROM pg_temp.import_stage_keys \
     WHERE NOT removed ORDER BY space, key, tiebreak";

const INSERT_VERSIONS: &str = "INSERT INTO record_versions (record_id, version, action, \
     changes, changed_at, user_id, user_display_name, job_id, metadata) \
     SELECT record_id, version, 'update', changes, $1, $2, $3, $4, $5::jsonb \
     FROM pg_temp.import_stage_versions ORDER BY record_id, version";

/// A record the job updated before keeps the members of its older image (`||` keeps the right
/// side's) and gains the newer one's others; see [`crate::import::ledger`].
const INSERT_LEDGER: &str = "INSERT INTO import_ledger (job_id, record_id, action, module_id, \
     before, after_version) SELECT $1, record_id, 'updated', module_id, before, after_version \
     FROM pg_temp.import_stage_ledger ORDER BY record_id \
     ON CONFLICT (job_id, record_id) DO UPDATE SET after_version = excluded.after_version, \
     before = excluded.before || import_ledger.before || jsonb_build_object('changed', \
     (excluded.before -> 'changed') || (import_ledger.before -> 'changed'))";

impl Batch<'_> {
    pub(super) async fn write_postgres(&self, tx: &mut Tx) -> Result<()> {
        let Batch {
            module, actor, now, ..
        } = *self;
        let connection = connection(tx)?;
        sqlx::raw_sql(STAGE_BATCH).execute(&mut *connection).await?;

        let mut rows = CopyText::default();
        let touched = self.new.iter().map(|r| (*r, true));
        for (record, is_new) in touched.chain(self.changed.iter().map(|r| (*r, false))) {
            let draft = &record.draft;
            // The version the batch found the record at: one version row per change it made.
            let base_version = record.version - record.versions.len() as i64;
            rows.text(&record.id)
                .bool(is_new)
                .int(base_version)
                .int(record.version)
                .text(&draft.display_name)
                .json(&draft.fields)?
                .json(&draft.label_ids)?
                .json(&draft.type_ids)?
                .text(&draft.privacy_level)
                .opt_text(draft.description_html.as_deref())
                .opt_text(draft.external_id.as_deref())
                .text(&search_text(module, &draft.display_name, &draft.fields))
                .opt_text(record.updated_by_job.as_deref())
                .opt_text(draft.owner_id.as_deref())
                .end_row();
        }
        copy_in(connection, COPY_RECORDS, rows).await?;

        if !self.new.is_empty() {
            sqlx::query(INSERT_RECORDS)
                .bind(&module.id)
                .bind(now)
                .bind(&actor.user_id)
                .bind(&actor.display_name)
                .bind(self.job_id)
                .execute(&mut *connection)
                .await?;
        }
        if !self.changed.is_empty() {
            let updated = sqlx::query(UPDATE_RECORDS)
                .bind(now)
                .bind(&actor.user_id)
                .bind(&actor.display_name)
                .execute(&mut *connection)
                .await?
                .rows_affected();
            let expected = self.changed.len() as u64;
            if updated != expected {
                return Err(Error::ConcurrentChange {
                    message: format!(
                        "{} of the {expected} records a batch updates changed (or were deleted) \
                         since the batch read them",
                        expected - updated
                    ),
                    details: json!({ "expected": expected, "updated": updated }),
                });
            }
        }

        // Changed records give up the keys they no longer hold before any record takes new
        // ones: a row may hand a unique value an earlier row of the batch took away from an
        // existing record.
        let mut keys = CopyText::default();
        let mut any_removed = false;
        let mut any_added = false;
        for record in self.changed.iter().chain(self.new) {
            let (removed, added) = key_changes(&record.old_keys, &record.keys);
            any_removed |= !removed.is_empty();
            any_added |= !added.is_empty();
            let staged = removed.into_iter().map(|k| (k, true));
            for (key, is_removed) in staged.chain(added.into_iter().map(|k| (k, false))) {
                keys.text(&record.id)
                    .int(self.spaces.space(&key.field_slug)?)
                    .text(&key.key)
                    .text(tiebreak(key, &record.id))
                    .bool(is_removed)
                    .end_row();
            }
        }
        if !keys.is_empty() {
            copy_in(connection, COPY_KEYS, keys).await?;
        }
        if any_removed {
            sqlx::raw_sql(DELETE_KEYS).execute(&mut *connection).await?;
        }
        if any_added {
            sqlx::query(INSERT_KEYS).execute(&mut *connection).await?;
        }

        let mut versions = CopyText::default();
        for record in self.changed.iter().chain(self.new) {
            for (version, changes) in &record.versions {
                versions
                    .text(&record.id)
                    .int(*version)
                    .json(changes)?
                    .end_row();
            }
        }
        if !versions.is_empty() {
            copy_in(connection, COPY_VERSIONS, versions).await?;
            sqlx::query(INSERT_VERSIONS)
                .bind(now)
                .bind(&actor.user_id)
                .bind(&actor.display_name)
                .bind(self.job_id)
                .bind(actor.metadata_json())
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}

/// Appends ledger lines of job `job_id` (see [`crate::import::ledger::write_ledger`]).
pub(crate) async fn write_ledger(tx: &mut Tx, job_id: &str, entries: &[LedgerEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let connection = connection(tx)?;
    sqlx::raw_sql(STAGE_LEDGER)
        .execute(&mut *connection)
        .await?;
    let mut rows = CopyText::default();
    for entry in entries {
        rows.text(&entry.record_id)
            .text(&entry.module_id)
            .json(&entry.before)?
            .int(entry.after_version)
            .end_row();
    }
    copy_in(connection, COPY_LEDGER, rows).await?;
    sqlx::query(INSERT_LEDGER)
        .bind(job_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The PostgreSQL connection of `tx`.
pub(crate) fn connection(tx: &mut Tx) -> Result<&mut PgConnection> {
    match tx {
        Tx::Postgres(transaction) => Ok(&mut **transaction),
        Tx::Sqlite(_) => Err(Error::internal(
            "a PostgreSQL bulk path was called on a SQLite transaction",
        )),
    }
}

/// Streams `rows` into the staging table of `statement` (a `COPY … FROM STDIN`).
async fn copy_in(connection: &mut PgConnection, statement: &str, rows: CopyText) -> Result<()> {
    let mut copy = connection.copy_in_raw(statement).await?;
    if let Err(error) = copy.send(rows.buf.as_slice()).await {
        // Leaves the connection usable (and the transaction failed) instead of mid-COPY.
        copy.abort(error.to_string()).await.ok();
        return Err(error.into());
    }
    copy.finish().await?;
    Ok(())
}

/// Rows in COPY's text format: columns separated by tabs, rows ended by newlines, NULL as `\N`;
/// a backslash, tab, newline or carriage return inside a value is escaped with a backslash, and
/// every other byte (UTF-8 included) passes as it is. JSON is written through the same escaping
/// (its text holds backslashes: `"a\"b"`).
#[derive(Default)]
pub(crate) struct CopyText {
    buf: Vec<u8>,
    /// Columns written in the current row.
    columns: usize,
}

impl CopyText {
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn next_column(&mut self) {
        if self.columns > 0 {
            self.buf.push(b'\t');
        }
        self.columns += 1;
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.next_column();
        escape_into(&mut self.buf, value.as_bytes());
        self
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.next_column();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.next_column();
        // Writing to a Vec cannot fail.
        let _ = write!(self.buf, "{value}");
        self
    }

    pub(crate) fn bool(&mut self, value: bool) -> &mut Self {
        self.next_column();
        self.buf.push(if value { b't' } else { b'f' });
        self
    }

    /// `value` as JSON text, escaped as it is written (no intermediate string).
    pub(crate) fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self> {
        self.next_column();
        serde_json::to_writer(Escaping(&mut self.buf), value)
            .map_err(|e| Error::internal(format!("a value as JSON for COPY: {e}")))?;
        Ok(self)
    }

    pub(crate) fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.columns = 0;
    }
}

/// Appends `bytes` to `out` with COPY text's four special bytes escaped.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// An [`io::Write`] that escapes for COPY text as it appends.
struct Escaping<'a>(&'a mut Vec<u8>);

impl io::Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        escape_into(self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut rows = CopyText::default();
        rows.text("a\tb\nc\rd\\e")
            .null()
            .opt_text(Some("\\N"))
            .int(-7)
            .bool(true);
        rows.json(&json!({"k": "x\ty\"z\\", "n": null}))
            .unwrap()
            .end_row();
        rows.text("é").end_row();
        assert_eq!(
            String::from_utf8(rows.buf).unwrap(),
            "a\\tb\\nc\\rd\\\\e\t\\N\t\\\\N\t-7\tt\t{\"k\":\"x\\\\ty\\\\\"z\\\\\\\\\",\"n\":null}\né\n"
        );
    }
}
