//! The write stage on PostgreSQL: each batch streamed with `COPY … FROM STDIN`, straight into
//! the tables where a row only adds, through temporary staging tables where it must be matched
//! against what is stored.
//!
//! In: the records a batch creates and changes (in the order it touched them), the ledger lines
//! that undo them. Out: the same rows in `records`, `record_keys`, `record_versions` and
//! `import_ledger` as the SQLite path writes, inside the caller's transaction.
//!
//! Guarantees:
//! - Changed records give up the keys they no longer hold (one `DELETE … USING` the removals
//!   bound as arrays) before any record takes new ones (one COPY into `record_keys`), as one-by-one
//!   writes would order it; keys a record keeps are not touched. A unique value another
//!   transaction took fails that COPY with the unique violation an INSERT would raise.
//! - An updated record is written only while its version is still the one the batch read; when
//!   another transaction changed it meanwhile (PostgreSQL's READ COMMITTED lets it), the batch
//!   fails with [`Error::ConcurrentChange`] instead of overwriting that change, and the writer
//!   rolls back and decides the rows again ([`crate::import::writer`]).
//! - The ledger keeps `ON CONFLICT (job_id, record_id) DO UPDATE`: a record touched twice by one
//!   job keeps the older value of every name both images hold.
//!
//! Why: new records, added keys and version rows only append, and every column of them is known
//! here, so each goes to its table as one COPY stream (no staging table to fill, empty and copy
//! again). Updates and ledger lines are staged and applied with one set-based statement each,
//! removed keys deleted with one statement binding them as arrays, prepared once per connection (BENCHMARKS.md, "PostgreSQL import and upsert,
//! profiled").
//!
//! Staging tables are temporary (this session only), `ON COMMIT DELETE ROWS` (nothing staged
//! outlives its transaction), created by the first batch of a transaction that finds them
//! missing (a rolled-back transaction takes its `CREATE` with it, so it is checked every time),
//! and emptied before each use because one transaction holds several chunks.

use std::io::{self, Write as _};

use serde::Serialize;
use serde_json::json;
use sqlx::postgres::PgConnection;

use crate::error::{Error, Result};
use crate::import::ledger::LedgerEntry;
use crate::import::write::Batch;
use crate::records::keys::{key_changes, tiebreak};
use crate::records::write::{Draft, search_text};
use crate::schema::Module;
use crate::store::Tx;

/// Creates the staging tables when this session has none; `to_regclass` answers without an
/// error or a notice (`CREATE … IF NOT EXISTS` would log a notice for every batch).
macro_rules! create_staging {
    () => {
        "DO $$ BEGIN
           IF to_regclass('pg_temp.import_stage_records') IS NULL THEN
             CREATE TEMP TABLE import_stage_records (
               id text NOT NULL, base_version bigint NOT NULL,
               version bigint NOT NULL, display_name text NOT NULL, fields jsonb NOT NULL,
               label_ids jsonb NOT NULL, type_ids jsonb NOT NULL, privacy_level text NOT NULL,
               description_html text, external_id text, search_text text NOT NULL,
               updated_by_job text
             ) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE import_stage_ledger (
               record_id text NOT NULL, module_id text NOT NULL, before jsonb NOT NULL,
               after_version bigint NOT NULL
             ) ON COMMIT DELETE ROWS;
           END IF;
         END $$;"
    };
}

// A staging table is emptied with DELETE, not TRUNCATE: TRUNCATE gives the table a new file
// each time (8 ms a batch on the profiled machine, more than the COPY it prepares), while the
// few hundred dead rows a DELETE leaves go at the next commit (`ON COMMIT DELETE ROWS`).
const STAGE_RECORDS: &str = concat!(
    create_staging!(),
    "DELETE FROM pg_temp.import_stage_records"
);

const STAGE_LEDGER: &str = concat!(create_staging!(), "DELETE FROM pg_temp.import_stage_ledger");

/// New records go straight into `records`: every column is known here, and nothing is there to
/// conflict with (their ids are new; a unique `external_id` fails the COPY as it would an
/// INSERT).
const COPY_NEW_RECORDS: &str = "COPY records (id, module_id, display_name, fields, label_ids, \
     type_ids, privacy_level, description_html, external_id, search_text, created_at, \
     updated_at, created_by_user_id, created_by_display_name, updated_by_user_id, \
     updated_by_display_name, version, created_by_job, updated_by_job, owner_id) FROM STDIN";

const COPY_CHANGED_RECORDS: &str = "COPY pg_temp.import_stage_records (id, base_version, \
     version, display_name, fields, label_ids, type_ids, privacy_level, description_html, \
     external_id, search_text, updated_by_job) FROM STDIN";

/// Keys go straight into `record_keys`: a unique value another transaction took fails the COPY
/// with the same unique violation an INSERT would (the writer decides the rows again).
const COPY_KEYS: &str = "COPY record_keys (space, key, tiebreak, record_id) FROM STDIN";

const COPY_VERSIONS: &str = "COPY record_versions (record_id, version, action, changes, \
     changed_at, user_id, user_display_name, job_id, metadata) FROM STDIN";

const COPY_LEDGER: &str =
    "COPY pg_temp.import_stage_ledger (record_id, module_id, before, after_version) FROM STDIN";

/// Changed records, each only while it still has the version the batch read.
const UPDATE_RECORDS: &str = "UPDATE records r SET display_name = s.display_name, \
     fields = s.fields, label_ids = s.label_ids, type_ids = s.type_ids, \
     privacy_level = s.privacy_level, description_html = s.description_html, \
     external_id = s.external_id, search_text = s.search_text, version = s.version, \
     updated_at = $1, updated_by_user_id = $2, updated_by_display_name = $3, \
     updated_by_job = s.updated_by_job \
     FROM pg_temp.import_stage_records s \
     WHERE r.id = s.id AND r.version = s.base_version";

/// The keys changed records gave up, each found by its primary key, bound as arrays: one
/// statement written in one piece, where a COPY of a few hundred removals ends with a small
/// `CopyDone` that Nagle's algorithm holds back until the server's delayed ACK (sqlx 0.9.0 does
/// not set `TCP_NODELAY`; 45 ms a batch in the profile, more than all the batch's other work).
const DELETE_KEYS: &str = "DELETE FROM record_keys k \
     USING unnest($1::bigint[], $2::text[], $3::text[]) AS g(space, key, record_id) \
     WHERE k.space = g.space AND k.key = g.key AND k.record_id = g.record_id";

/// Nested loops only, for [`DELETE_KEYS`]: without statistics on `record_keys` (a fresh store, a
/// bulk load autovacuum has not analysed yet) the planner may hash-join a scan of the whole
/// table instead of probing it (122 ms against 14 ms for 500 records' keys in 400k, measured on
/// the previous layout). [`ANY_JOIN`] gives the rest of the transaction its planner back.
const NESTED_LOOPS_ONLY: &str = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

const ANY_JOIN: &str = "RESET enable_hashjoin; RESET enable_mergejoin";

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
        let connection = connection(tx)?;
        if !self.new.is_empty() {
            copy_in(connection, COPY_NEW_RECORDS, self.new_record_rows()?).await?;
        }
        if !self.changed.is_empty() {
            self.update_changed(connection).await?;
        }

        // Changed records give up the keys they no longer hold before any record takes new
        // ones: a row may hand a unique value an earlier row of the batch took away from an
        // existing record.
        let (removed, added) = self.key_rows()?;
        if !removed.record_ids.is_empty() {
            sqlx::raw_sql(NESTED_LOOPS_ONLY)
                .execute(&mut *connection)
                .await?;
            sqlx::query(DELETE_KEYS)
                .bind(&removed.spaces)
                .bind(&removed.keys)
                .bind(&removed.record_ids)
                .execute(&mut *connection)
                .await?;
            sqlx::raw_sql(ANY_JOIN).execute(&mut *connection).await?;
        }
        if !added.is_empty() {
            copy_in(connection, COPY_KEYS, added).await?;
        }

        let versions = self.version_rows()?;
        if !versions.is_empty() {
            copy_in(connection, COPY_VERSIONS, versions).await?;
        }
        Ok(())
    }

    /// The new records as `records` rows, in id order: ids are time-ordered, so they append to
    /// the primary-key index.
    fn new_record_rows(&self) -> Result<CopyText> {
        let Batch {
            module, actor, now, ..
        } = *self;
        let mut new = self.new.to_vec();
        new.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let mut rows = CopyText::default();
        for record in new {
            let draft = &record.draft;
            rows.text(&record.id).text(&module.id);
            draft_columns(&mut rows, module, draft)?
                .int(now)
                .int(now)
                .text(&actor.user_id)
                .text(&actor.display_name)
                .text(&actor.user_id)
                .text(&actor.display_name)
                .int(record.version)
                .opt_text(self.job_id)
                .opt_text(record.updated_by_job.as_deref())
                .opt_text(draft.owner_id.as_deref())
                .end_row();
        }
        Ok(rows)
    }

    /// Stages the changed records and updates them with one statement, each only while it still
    /// has the version the batch read.
    async fn update_changed(&self, connection: &mut PgConnection) -> Result<()> {
        let Batch {
            module, actor, now, ..
        } = *self;
        let mut rows = CopyText::default();
        for record in self.changed {
            let draft = &record.draft;
            // The version the batch found the record at: one version row per change it made.
            let base_version = record.version - record.versions.len() as i64;
            rows.text(&record.id).int(base_version).int(record.version);
            draft_columns(&mut rows, module, draft)?
                .opt_text(record.updated_by_job.as_deref())
                .end_row();
        }
        sqlx::raw_sql(STAGE_RECORDS)
            .execute(&mut *connection)
            .await?;
        copy_in(connection, COPY_CHANGED_RECORDS, rows).await?;
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
        Ok(())
    }

    /// The keys changed records give up, and the keys records take (for `record_keys`, in index
    /// order: each index page is visited once, and two writers that take the same keys take them
    /// in the same order, so they deadlock less).
    fn key_rows(&self) -> Result<(RemovedKeys<'_>, CopyText)> {
        let mut removed_keys = RemovedKeys::default();
        let mut added_keys = Vec::new();
        for record in self.changed.iter().chain(self.new) {
            let (removed, added) = key_changes(&record.old_keys, &record.keys);
            for key in removed {
                removed_keys
                    .spaces
                    .push(self.spaces.space(&key.field_slug)?);
                removed_keys.keys.push(&key.key);
                removed_keys.record_ids.push(&record.id);
            }
            for key in added {
                let space = self.spaces.space(&key.field_slug)?;
                added_keys.push((
                    space,
                    key.key.as_str(),
                    tiebreak(key, &record.id),
                    &record.id,
                ));
            }
        }
        added_keys.sort_unstable();
        let mut added_rows = CopyText::default();
        for (space, key, tiebreak, record_id) in added_keys {
            added_rows
                .int(space)
                .text(key)
                .text(tiebreak)
                .text(record_id)
                .end_row();
        }
        Ok((removed_keys, added_rows))
    }

    /// One `record_versions` row per change the batch made to a record.
    fn version_rows(&self) -> Result<CopyText> {
        let Batch { actor, now, .. } = *self;
        let metadata = actor.metadata_json();
        let mut rows = CopyText::default();
        for record in self.changed.iter().chain(self.new) {
            for (version, changes) in &record.versions {
                rows.text(&record.id)
                    .int(*version)
                    .text("update")
                    .json(changes)?
                    .int(now)
                    .text(&actor.user_id)
                    .text(&actor.display_name)
                    .opt_text(self.job_id)
                    .opt_text(metadata.as_deref())
                    .end_row();
            }
        }
        Ok(rows)
    }
}

/// The columns of a record's content, in the order both `records` COPYs list them: display
/// name, fields, labels, types, privacy, description, external id, search text.
fn draft_columns<'r>(
    rows: &'r mut CopyText,
    module: &Module,
    draft: &Draft,
) -> Result<&'r mut CopyText> {
    rows.text(&draft.display_name)
        .json(&draft.fields)?
        .json(&draft.label_ids)?
        .json(&draft.type_ids)?
        .text(&draft.privacy_level)
        .opt_text(draft.description_html.as_deref())
        .opt_text(draft.external_id.as_deref())
        .text(&search_text(module, &draft.display_name, &draft.fields));
    Ok(rows)
}

/// The keys changed records give up, as the three arrays [`DELETE_KEYS`] binds.
#[derive(Default)]
struct RemovedKeys<'a> {
    spaces: Vec<i64>,
    keys: Vec<&'a str>,
    record_ids: Vec<&'a str>,
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
            .int(-7);
        rows.json(&json!({"k": "x\ty\"z\\", "n": null}))
            .unwrap()
            .end_row();
        rows.text("é").end_row();
        assert_eq!(
            String::from_utf8(rows.buf).unwrap(),
            "a\\tb\\nc\\rd\\\\e\t\\N\t\\\\N\t-7\t{\"k\":\"x\\\\ty\\\\\"z\\\\\\\\\",\"n\":null}\né\n"
        );
    }
}
