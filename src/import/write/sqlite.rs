//! The write stage on SQLite: one batch's records, keys and version rows through cached prepared
//! statements on the transaction's own connection ([`crate::store::sqlite_raw`]).
//!
//! In: the records a batch creates and changes, in the order it touched them. Out: the same rows
//! the multi-row statements of the parent module write, in the same order (changed records give
//! up their old keys before any record takes new ones), inside the caller's transaction.

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::import::write::Written;
use crate::records::Actor;
use crate::records::write::search_text;
use crate::schema::Module;

const INSERT_RECORD: &str = "INSERT INTO records (id, module_id, display_name, fields, \
     label_ids, type_ids, privacy_level, description_html, external_id, search_text, created_at, \
     updated_at, created_by_user_id, created_by_display_name, updated_by_user_id, \
     updated_by_display_name, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, \
     ?12, ?13, ?12, ?13, ?14)";

const UPDATE_RECORD: &str = "UPDATE records SET display_name = ?2, fields = ?3, label_ids = ?4, \
     type_ids = ?5, privacy_level = ?6, description_html = ?7, external_id = ?8, \
     search_text = ?9, version = ?10, updated_at = ?11, updated_by_user_id = ?12, \
     updated_by_display_name = ?13 WHERE id = ?1";

const DELETE_KEYS: &str = "DELETE FROM record_keys WHERE record_id = ?1";

const INSERT_KEY: &str = "INSERT INTO record_keys (module_id, field_slug, key, record_id, \
     is_unique) VALUES (?1, ?2, ?3, ?4, ?5)";

const INSERT_VERSION: &str = "INSERT INTO record_versions (record_id, version, action, changes, \
     changed_at, user_id, user_display_name) VALUES (?1, ?2, 'update', ?3, ?4, ?5, ?6)";

/// One batch's writes.
pub(crate) struct Batch<'a> {
    pub module: &'a Module,
    pub actor: &'a Actor,
    pub now: i64,
    pub new: &'a [&'a Written],
    pub changed: &'a [&'a Written],
    /// The changed records whose keys change (all of them in an import batch).
    pub rekeyed: &'a [&'a Written],
    pub versioned: &'a [&'a Written],
}

impl Batch<'_> {
    pub(crate) fn write(&self, connection: &Connection) -> Result<()> {
        let Batch {
            module, actor, now, ..
        } = *self;
        let mut insert = connection.prepare_cached(INSERT_RECORD)?;
        for record in self.new {
            let draft = &record.draft;
            insert.execute(params![
                record.id,
                module.id,
                draft.display_name,
                json(&draft.fields)?,
                json(&draft.label_ids)?,
                json(&draft.type_ids)?,
                draft.privacy_level,
                draft.description_html,
                draft.external_id,
                search_text(module, &draft.display_name, &draft.fields),
                now,
                actor.user_id,
                actor.display_name,
                record.version,
            ])?;
        }
        let mut update = connection.prepare_cached(UPDATE_RECORD)?;
        for record in self.changed {
            let draft = &record.draft;
            update.execute(params![
                record.id,
                draft.display_name,
                json(&draft.fields)?,
                json(&draft.label_ids)?,
                json(&draft.type_ids)?,
                draft.privacy_level,
                draft.description_html,
                draft.external_id,
                search_text(module, &draft.display_name, &draft.fields),
                record.version,
                now,
                actor.user_id,
                actor.display_name,
            ])?;
        }
        // Changed records give up their old keys before any record takes new ones: a row may
        // hand a unique value an earlier row of the batch took away from an existing record.
        let mut delete_keys = connection.prepare_cached(DELETE_KEYS)?;
        for record in self.rekeyed {
            delete_keys.execute([&record.id])?;
        }
        let mut insert_key = connection.prepare_cached(INSERT_KEY)?;
        for record in self.rekeyed.iter().chain(self.new) {
            for key in &record.keys {
                insert_key.execute(params![
                    module.id,
                    key.field_slug,
                    key.key,
                    record.id,
                    i64::from(key.is_unique),
                ])?;
            }
        }
        let mut insert_version = connection.prepare_cached(INSERT_VERSION)?;
        for record in self.versioned {
            for (version, changes) in &record.versions {
                insert_version.execute(params![
                    record.id,
                    version,
                    json(changes)?,
                    now,
                    actor.user_id,
                    actor.display_name,
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
