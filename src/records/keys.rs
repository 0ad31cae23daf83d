//! Match keys in the store: the small-integer key space of each (module, field), and the
//! statements that add, remove and look up keys, shared by both stores and every writer.
//!
//! In: a module, and the keys a record held before a change and holds after it. Out: rows of
//! `record_keys` (space, key, tiebreak, record id), one B-tree entry per key. Guarantees: the keys
//! stored for a live record are exactly [`match_keys`] of its fields (every writer removes the keys
//! of the old values it replaces, and a trashed record holds none); the primary key admits one
//! holder of a unique value, so the database itself refuses a second one.
//!
//! Why this layout: the old index held ~100 bytes of random text per entry (module id, field
//! slug, value, record id), three entries per key (primary key, a partial unique index, an index
//! by record). Here an entry is a small integer, the value and the record id, once. Without an
//! index by record, a record's keys are found from its old values, which every writer has (an
//! update, a delete and a rollback all read the record first).

use crate::error::{Error, Result};
use crate::records::write::{MatchKey, match_keys};
use crate::schema::Module;
use crate::store::{Dialect, Sql, Tx, sqlite_raw};
use serde_json::{Map, Value};

/// Adds one key: space, value, tiebreak ([`tiebreak`]), record id. `$n` parameters serve both
/// stores: PostgreSQL numbers them, SQLite (rusqlite included) names them and numbers each name by
/// its first appearance.
pub(crate) const INSERT_KEY: &str =
    "INSERT INTO record_keys (space, key, tiebreak, record_id) VALUES ($1, $2, $3, $4)";

/// Removes one key of a record: space, value, record id (a primary-key prefix seek).
pub(crate) const DELETE_KEY: &str =
    "DELETE FROM record_keys WHERE space = $1 AND key = $2 AND record_id = $3";

/// The records holding a value: space, value.
pub(crate) const KEY_HOLDERS: &str =
    "SELECT record_id FROM record_keys WHERE space = $1 AND key = $2";

/// The primary key's last column: empty for a unique value (one holder), the record id otherwise.
pub(crate) fn tiebreak<'a>(key: &MatchKey, record_id: &'a str) -> &'a str {
    if key.is_unique { "" } else { record_id }
}

/// The key spaces of one module's fields, as a transaction sees them.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySpaces {
    by_slug: Vec<(String, i64)>,
}

impl KeySpaces {
    /// The spaces of every field of `module` that keeps match keys, adding those it lacks. Read
    /// per transaction, never cached across them: a space added by a transaction that rolls
    /// back is gone with it.
    pub async fn of(tx: &mut Tx, module: &Module) -> Result<KeySpaces> {
        let keyed: Vec<&str> = module.match_key_fields().map(|f| f.slug.as_str()).collect();
        let mut spaces = Self::read(tx, &module.id).await?;
        let missing: Vec<&str> = keyed
            .iter()
            .copied()
            .filter(|slug| spaces.get(slug).is_none())
            .collect();
        if !missing.is_empty() {
            let mut sql = Sql::new("INSERT INTO key_spaces (module_id, field_slug) VALUES ");
            for (i, slug) in missing.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind_list([module.id.as_str(), *slug])
                    .push(")");
            }
            // Two writers may add the same space at once (PostgreSQL); the second keeps the
            // first one's number.
            sql.push(" ON CONFLICT (module_id, field_slug) DO NOTHING");
            tx.execute(sql).await?;
            spaces = Self::read(tx, &module.id).await?;
        }
        Ok(spaces)
    }

    async fn read(tx: &mut Tx, module_id: &str) -> Result<KeySpaces> {
        let mut sql = Sql::new("SELECT id, field_slug FROM key_spaces WHERE module_id = ");
        sql.bind(module_id);
        let mut by_slug = Vec::new();
        for row in tx.fetch_all(sql).await? {
            by_slug.push((row.text("field_slug")?, row.int("id")?));
        }
        Ok(KeySpaces { by_slug })
    }

    fn get(&self, slug: &str) -> Option<i64> {
        self.by_slug
            .iter()
            .find(|(s, _)| s == slug)
            .map(|(_, id)| *id)
    }

    /// The space of field `slug` (one that keeps match keys).
    pub fn space(&self, slug: &str) -> Result<i64> {
        self.get(slug).ok_or_else(|| {
            Error::internal(format!(
                "field '{slug}' has match keys but no key space in this transaction"
            ))
        })
    }
}

/// The keys `before` holds that `after` does not (to remove), and the keys `after` holds that
/// `before` does not (to add). Keys kept are not written at all.
pub(crate) fn key_changes<'k>(
    before: &'k [MatchKey],
    after: &'k [MatchKey],
) -> (Vec<&'k MatchKey>, Vec<&'k MatchKey>) {
    let removed = before.iter().filter(|k| !after.contains(k)).collect();
    let added = after.iter().filter(|k| !before.contains(k)).collect();
    (removed, added)
}

/// The keys a record held with `old_fields`, taking those of fields whose value did not change
/// from `new_keys` (computed for `new_fields`) instead of normalising the value again (a phone
/// number is parsed to find its key).
pub(crate) fn old_keys(
    module: &Module,
    old_fields: &Map<String, Value>,
    new_fields: &Map<String, Value>,
    new_keys: &[MatchKey],
) -> Vec<MatchKey> {
    let changed: Map<String, Value> = old_fields
        .iter()
        .filter(|(slug, value)| new_fields.get(slug.as_str()) != Some(value))
        .map(|(slug, value)| (slug.clone(), value.clone()))
        .collect();
    let mut keys = match_keys(module, &changed);
    keys.extend(
        new_keys
            .iter()
            .filter(|k| {
                old_fields.contains_key(&k.field_slug) && !changed.contains_key(&k.field_slug)
            })
            .cloned(),
    );
    keys
}

/// Replaces `before` by `after` as the keys of `record_id` with statements built for the
/// transaction's dialect (the Records API's single-record writes): removals first, so a value
/// the record keeps under another field, or gives back, is free again.
pub(crate) async fn replace_keys(
    tx: &mut Tx,
    spaces: &KeySpaces,
    record_id: &str,
    before: &[MatchKey],
    after: &[MatchKey],
) -> Result<()> {
    let (removed, added) = key_changes(before, after);
    for key in removed {
        let mut sql = Sql::new("DELETE FROM record_keys WHERE space = ");
        sql.bind(spaces.space(&key.field_slug)?)
            .push(" AND key = ")
            .bind(key.key.as_str())
            .push(" AND record_id = ")
            .bind(record_id);
        tx.execute(sql).await?;
    }
    let added: Vec<(&str, &MatchKey)> = added.into_iter().map(|k| (record_id, k)).collect();
    insert_keys(tx, spaces, &added).await
}

/// Whether records of a module defined as `before` hold other keys under `after`: a field that
/// keeps keys was added, removed, or changed (its type decides how values are normalised, its
/// `unique` flag the tiebreak).
pub(crate) fn keys_change(before: &Module, after: &Module) -> bool {
    !before.match_key_fields().eq(after.match_key_fields())
}

/// Records read per page while keys are derived again.
const REBUILD_PAGE: i64 = 500;
/// Keys written or looked up by one statement (four and two parameters each).
const KEYS_PER_STATEMENT: usize = 1_000;

/// Derives the keys of every live record of `module` again, after its definition changed them
/// ([`keys_change`]): the module's keys are removed, then each record's [`match_keys`] added, a
/// page of records at a time, with three statements a page (memory stays that of a page). A
/// value that a field now unique holds in two records is refused, naming both; the caller's
/// transaction then leaves the keys and the definition as they were. Returns how many records
/// were read.
pub(crate) async fn rebuild_keys(tx: &mut Tx, module: &Module) -> Result<u64> {
    let mut sql = Sql::new(
        "DELETE FROM record_keys WHERE space IN (SELECT id FROM key_spaces WHERE module_id = ",
    );
    sql.bind(module.id.clone()).push(")");
    tx.execute(sql).await?;
    let spaces = KeySpaces::of(tx, module).await?;
    let fields = tx.dialect().json_column("fields");
    let mut after = String::new();
    let mut read = 0u64;
    loop {
        let mut sql = Sql::new(format!(
            "SELECT id, {fields} AS fields FROM records WHERE module_id = "
        ));
        sql.bind(module.id.clone())
            .push(" AND deleted_at IS NULL AND id > ")
            .bind(after.clone())
            .push(" ORDER BY id LIMIT ")
            .bind(REBUILD_PAGE);
        let rows = tx.fetch_all(sql).await?;
        let mut page: Vec<(String, MatchKey)> = Vec::new();
        for row in &rows {
            let id = row.text("id")?;
            let values: Map<String, Value> = serde_json::from_str(&row.text("fields")?)
                .map_err(|e| Error::corrupt(format!("record {id}: stored fields: {e}")))?;
            page.extend(
                match_keys(module, &values)
                    .into_iter()
                    .map(|k| (id.clone(), k)),
            );
        }
        check_unique(tx, module, &spaces, &page).await?;
        // Bound parameters per statement stay far below either store's limit.
        let page: Vec<(&str, &MatchKey)> = page.iter().map(|(id, k)| (id.as_str(), k)).collect();
        for keys in page.chunks(KEYS_PER_STATEMENT) {
            insert_keys(tx, &spaces, keys).await?;
        }
        read += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == REBUILD_PAGE => after = last.text("id")?,
            _ => return Ok(read),
        }
    }
}

/// Refuses a page of (record id, key) whose unique keys are held twice: within the page, or by
/// a record of the pages before.
async fn check_unique(
    tx: &mut Tx,
    module: &Module,
    spaces: &KeySpaces,
    page: &[(String, MatchKey)],
) -> Result<()> {
    let unique: Vec<&(String, MatchKey)> = page.iter().filter(|(_, k)| k.is_unique).collect();
    let mut first: std::collections::HashMap<(&str, &str), &str> = Default::default();
    for (id, key) in &unique {
        if let Some(holder) = first.insert((key.field_slug.as_str(), key.key.as_str()), id) {
            return Err(held_twice(module, key, holder, id));
        }
    }
    for chunk in unique.chunks(KEYS_PER_STATEMENT) {
        let mut sql = Sql::new("SELECT space, key, record_id FROM record_keys WHERE ");
        push_key_matches(&mut sql, spaces, chunk.iter().map(|(_, key)| key))?;
        sql.push(" LIMIT 1");
        let Some(row) = tx.fetch_optional(sql).await? else {
            continue;
        };
        let (space, value, holder) = (row.int("space")?, row.text("key")?, row.text("record_id")?);
        for (id, key) in chunk {
            if key.key == value && spaces.space(&key.field_slug)? == space {
                return Err(held_twice(module, key, &holder, id));
            }
        }
    }
    Ok(())
}

/// Appends `(space = … AND key = …) OR …`, matching the index entries of `keys`, to `sql`.
pub(crate) fn push_key_matches<'k>(
    sql: &mut Sql,
    spaces: &KeySpaces,
    keys: impl IntoIterator<Item = &'k MatchKey>,
) -> Result<()> {
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(space = ")
            .bind(spaces.space(&key.field_slug)?)
            .push(" AND key = ")
            .bind(key.key.as_str())
            .push(")");
    }
    Ok(())
}

fn held_twice(module: &Module, key: &MatchKey, holder: &str, id: &str) -> Error {
    let field = &key.field_slug;
    Error::Conflict {
        message: format!(
            "{field} cannot be unique in module '{}': records {holder} and {id} both hold '{}' \
             (change one of them first)",
            module.def.slug, key.key
        ),
        details: serde_json::json!({
            "field": field, "value": key.key, "recordIds": [holder, id], "constraint": "unique"
        }),
    }
}

/// Adds (record id, key) pairs in one statement.
async fn insert_keys(tx: &mut Tx, spaces: &KeySpaces, keys: &[(&str, &MatchKey)]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("INSERT INTO record_keys (space, key, tiebreak, record_id) VALUES ");
    for (i, (id, key)) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(spaces.space(&key.field_slug)?)
            .push(", ")
            .bind_list([key.key.as_str(), tiebreak(key, id), id])
            .push(")");
    }
    tx.execute(sql).await?;
    Ok(())
}

/// Removes the keys `held` (record id, its keys) from the store in bulk (rollback deleting the
/// records a job created): prepared statements on SQLite, one statement on PostgreSQL.
pub(crate) async fn remove_keys(
    tx: &mut Tx,
    spaces: &KeySpaces,
    held: &[(&str, Vec<MatchKey>)],
) -> Result<()> {
    let mut gone: Vec<(i64, &str, &str)> = Vec::new();
    for (record_id, keys) in held {
        for key in keys {
            gone.push((spaces.space(&key.field_slug)?, key.key.as_str(), record_id));
        }
    }
    if gone.is_empty() {
        return Ok(());
    }
    // In index order, so the deletes walk the index front to back.
    gone.sort_unstable();
    if tx.dialect() == Dialect::Sqlite {
        return sqlite_raw::with_raw(tx, |connection| {
            let mut delete = connection.prepare_cached(DELETE_KEY)?;
            for (space, key, record_id) in &gone {
                delete.execute(rusqlite::params![space, key, record_id])?;
            }
            Ok(())
        })
        .await;
    }
    let mut space_ids = Vec::with_capacity(gone.len());
    let mut values = Vec::with_capacity(gone.len());
    let mut record_ids = Vec::with_capacity(gone.len());
    for (space, key, record_id) in gone {
        space_ids.push(space);
        values.push(key);
        record_ids.push(record_id);
    }
    let connection = crate::import::write::postgres::connection(tx)?;
    sqlx::query(
        "DELETE FROM record_keys k USING unnest($1::bigint[], $2::text[], $3::text[]) \
         AS g(space, key, record_id) \
         WHERE k.space = g.space AND k.key = g.key AND k.record_id = g.record_id",
    )
    .bind(space_ids)
    .bind(values)
    .bind(record_ids)
    .execute(connection)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(slug: &str, value: &str) -> MatchKey {
        MatchKey {
            field_slug: slug.into(),
            key: value.into(),
            is_unique: slug == "email",
        }
    }

    #[test]
    fn key_changes_leave_kept_keys_alone() {
        let before = [key("email", "a@x.io"), key("phone", "+1555")];
        let after = [key("phone", "+1555"), key("email", "b@x.io")];
        let (removed, added) = key_changes(&before, &after);
        assert_eq!(removed, vec![&before[0]]);
        assert_eq!(added, vec![&after[1]]);
        assert_eq!(key_changes(&after, &after), (vec![], vec![]));
    }
}
