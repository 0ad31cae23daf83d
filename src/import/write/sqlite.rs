//! The write stage on SQLite: one batch's records, keys and version rows through cached prepared
//! statements on the transaction's own connection ([`crate::store::sqlite_raw`]).
//!
//! In: the records a batch creates and changes, in the order it touched them. Out: their rows in
//! `records`, their key changes in `record_keys` and their version rows, inside the caller's
//! transaction; changed records give up the keys they no longer hold before any record takes
//! new ones.

use rusqlite::{Connection, Statement, params};

use crate::error::{Error, Result};
use crate::import::write::{Batch, Written};
use crate::records::keys::{DELETE_KEY, INSERT_KEY, key_changes, tiebreak};
use crate::records::write::search_text;

// Both statements take the record's id as ?1, the draft's columns as ?2 to ?9 (see
// `bind_record`), then the version, the time, the author and the job that last changed it.
const INSERT_RECORD: &str = "INSERT INTO records (id, display_name, fields, label_ids, \
     type_ids, privacy_level, description_html, external_id, search_text, version, created_at, \
     updated_at, created_by_user_id, created_by_display_name, updated_by_user_id, \
     updated_by_display_name, updated_by_job, module_id, created_by_job, owner_id) VALUES (?1, \
     ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?12, ?13, ?14, ?15, ?16, ?17)";

const UPDATE_RECORD: &str = "UPDATE records SET display_name = ?2, fields = ?3, label_ids = ?4, \
     type_ids = ?5, privacy_level = ?6, description_html = ?7, external_id = ?8, \
     search_text = ?9, version = ?10, updated_at = ?11, updated_by_user_id = ?12, \
     updated_by_display_name = ?13, updated_by_job = ?14 WHERE id = ?1";

const INSERT_VERSION: &str = "INSERT INTO record_versions (record_id, version, action, changes, \
     changed_at, user_id, user_display_name, job_id, metadata) VALUES (?1, ?2, 'update', ?3, ?4, \
     ?5, ?6, ?7, ?8)";

impl Batch<'_> {
    /// Binds ?1 to ?14 of [`INSERT_RECORD`] and [`UPDATE_RECORD`]: the id, the draft's columns,
    /// the version, the time, the author and the job that last changed the record.
    fn bind_record(&self, statement: &mut Statement<'_>, record: &Written) -> Result<()> {
        let draft = &record.draft;
        let search = search_text(self.module, &draft.display_name, &draft.fields);
        statement.raw_bind_parameter(1, &record.id)?;
        statement.raw_bind_parameter(2, &draft.display_name)?;
        statement.raw_bind_parameter(3, json(&draft.fields)?)?;
        statement.raw_bind_parameter(4, json(&draft.label_ids)?)?;
        statement.raw_bind_parameter(5, json(&draft.type_ids)?)?;
        statement.raw_bind_parameter(6, &draft.privacy_level)?;
        statement.raw_bind_parameter(7, &draft.description_html)?;
        statement.raw_bind_parameter(8, &draft.external_id)?;
        statement.raw_bind_parameter(9, search)?;
        statement.raw_bind_parameter(10, record.version)?;
        statement.raw_bind_parameter(11, self.now)?;
        statement.raw_bind_parameter(12, &self.actor.user_id)?;
        statement.raw_bind_parameter(13, &self.actor.display_name)?;
        statement.raw_bind_parameter(14, &record.updated_by_job)?;
        Ok(())
    }

    pub(crate) fn write_sqlite(&self, connection: &Connection) -> Result<()> {
        let Batch {
            module, actor, now, ..
        } = *self;
        let mut insert = connection.prepare_cached(INSERT_RECORD)?;
        for record in self.new {
            self.bind_record(&mut insert, record)?;
            insert.raw_bind_parameter(15, &module.id)?;
            insert.raw_bind_parameter(16, self.job_id)?;
            insert.raw_bind_parameter(17, &record.draft.owner_id)?;
            insert.raw_execute()?;
        }
        let mut update = connection.prepare_cached(UPDATE_RECORD)?;
        for record in self.changed {
            self.bind_record(&mut update, record)?;
            update.raw_execute()?;
        }
        // Changed records give up the keys they no longer hold before any record takes new
        // ones: a row may hand a unique value an earlier row of the batch took away from an
        // existing record. Each phase runs in key order, so it walks the index front to back.
        let touched = || self.changed.iter().chain(self.new);
        let mut removed = Vec::new();
        let mut added = Vec::new();
        for record in touched() {
            let (gone, new) = key_changes(&record.old_keys, &record.keys);
            for key in gone {
                removed.push((self.spaces.space(&key.field_slug)?, key, record.id.as_str()));
            }
            for key in new {
                added.push((self.spaces.space(&key.field_slug)?, key, record.id.as_str()));
            }
        }
        removed.sort_unstable_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
        added.sort_unstable_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
        let mut delete_key = connection.prepare_cached(DELETE_KEY)?;
        for (space, key, record_id) in removed {
            delete_key.execute(params![space, key.key, record_id])?;
        }
        let mut insert_key = connection.prepare_cached(INSERT_KEY)?;
        for (space, key, record_id) in added {
            insert_key.execute(params![space, key.key, tiebreak(key, record_id), record_id])?;
        }
        let mut insert_version = connection.prepare_cached(INSERT_VERSION)?;
        for record in touched() {
            for (version, changes) in &record.versions {
                insert_version.execute(params![
                    record.id,
                    version,
                    json(changes)?,
                    now,
                    actor.user_id,
                    actor.display_name,
                    self.job_id,
                    actor.metadata_json(),
                ])?;
            }
        }
        Ok(())
    }
}

/// A value as the JSON text the store keeps.
fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("a record's value as JSON: {e}")))
}
