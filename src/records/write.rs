//! Writing records: turning request bodies into complete drafts, and the inserts and updates that
//! keep the match keys and the version history in step with the record row.

use serde_json::{Map, Value, json};

use crate::error::{Error, FieldError, Result};
use crate::records::keys::{self, KeySpaces};
use crate::records::model::{PRIVACY_LEVELS, Record, RecordInput};
use crate::records::{Actor, fields_error, parse_input_fields};
use crate::schema::registry::ModuleRegistry;
use crate::schema::value::{self, ValueOptions};
use crate::schema::{FieldType, Module};
use crate::store::{Dialect, Sql, Tx, new_id, now_micros};

/// A record's complete writable state, before it is stored (and, serialised, an import's
/// before-image of a record it updated).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Draft {
    pub display_name: String,
    pub fields: Map<String, Value>,
    pub label_ids: Vec<String>,
    pub type_ids: Vec<String>,
    pub privacy_level: String,
    pub description_html: Option<String>,
    pub external_id: Option<String>,
    /// The member who owns the record (spec 003); absent in before-images older than owners.
    #[serde(default)]
    pub owner_id: Option<String>,
}

impl Draft {
    /// A new record that has only a name and field values: no labels or types, account
    /// privacy, no description, external id or owner (what an import creates).
    pub fn named(display_name: String, fields: Map<String, Value>) -> Draft {
        Draft {
            display_name,
            fields,
            label_ids: Vec::new(),
            type_ids: Vec::new(),
            privacy_level: "account".into(),
            description_html: None,
            external_id: None,
            owner_id: None,
        }
    }

    pub fn from_record(r: &Record) -> Draft {
        Draft {
            display_name: r.display_name.clone(),
            fields: r.fields.clone(),
            label_ids: r.label_ids.clone(),
            type_ids: r.type_ids.clone(),
            privacy_level: r.privacy_level.clone(),
            description_html: r.description_html.clone(),
            external_id: r.external_id.clone(),
            owner_id: r.owner_id.clone(),
        }
    }

    /// The core properties as (name, value) pairs, named as the record's JSON names them.
    fn core(&self) -> [(&'static str, Value); 7] {
        [
            ("displayName", json!(self.display_name)),
            ("labelIds", json!(self.label_ids)),
            ("typeIds", json!(self.type_ids)),
            ("privacyLevel", json!(self.privacy_level)),
            ("descriptionHtml", json!(self.description_html)),
            ("externalId", json!(self.external_id)),
            ("ownerId", json!(self.owner_id)),
        ]
    }
}

/// One normalised value of a field with a match key (see `FieldDef::has_match_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchKey {
    pub field_slug: String,
    pub key: String,
    pub is_unique: bool,
}

pub(crate) fn match_keys(module: &Module, fields: &Map<String, Value>) -> Vec<MatchKey> {
    let mut keys = Vec::new();
    for field in module.match_key_fields() {
        if let Some(stored) = fields.get(&field.slug) {
            for key in value::match_keys(field, stored) {
                if !keys
                    .iter()
                    .any(|k: &MatchKey| k.field_slug == field.slug && k.key == key)
                {
                    keys.push(MatchKey {
                        field_slug: field.slug.clone(),
                        key,
                        is_unique: field.unique,
                    });
                }
            }
        }
    }
    keys
}

/// Lower-cased text of the display name and every searchable field, for `search`.
pub(crate) fn search_text(
    module: &Module,
    display_name: &str,
    fields: &Map<String, Value>,
) -> String {
    let mut text = display_name.to_lowercase();
    for field in module
        .def
        .fields
        .iter()
        .filter(|f| f.field_type.is_searchable())
    {
        if let Some(v) = fields.get(&field.slug) {
            text.push('\n');
            text.push_str(&value::display_text(v).to_lowercase());
        }
    }
    text
}

pub(crate) struct RecordWriter<'a> {
    pub module: &'a Module,
    pub modules: &'a ModuleRegistry,
    pub value_options: &'a ValueOptions,
}

impl RecordWriter<'_> {
    pub async fn draft_for_create(&self, tx: &mut Tx, input: RecordInput) -> Result<Draft> {
        if input.version.is_some() {
            return Err(Error::invalid_field(
                "version",
                "is only accepted on update",
                None,
            ));
        }
        let mut fields = Map::new();
        if let Some(raw) = &input.fields {
            for (slug, v) in parse_input_fields(self.module, raw, self.value_options)? {
                if let Some(v) = v {
                    fields.insert(slug, v);
                }
            }
        }
        let references: Vec<String> = fields.keys().cloned().collect();
        self.resolve_references(tx, &mut fields, &references)
            .await?;
        self.check_required(&fields)?;
        let display_name = match input.display_name.flatten() {
            Some(name) if !name.trim().is_empty() => name.trim().to_string(),
            _ => self.module.render_display_name(&fields),
        };
        Ok(Draft {
            display_name,
            fields,
            label_ids: clean_ids("labelIds", input.label_ids.unwrap_or_default())?,
            type_ids: clean_ids("typeIds", input.type_ids.unwrap_or_default())?,
            privacy_level: check_privacy(input.privacy_level.as_deref().unwrap_or("account"))?,
            description_html: input.description_html.flatten(),
            external_id: input
                .external_id
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty()),
            owner_id: input.owner_id.and_then(clean_owner),
        })
    }

    pub async fn draft_for_update(
        &self,
        tx: &mut Tx,
        current: &Record,
        input: RecordInput,
    ) -> Result<Draft> {
        let mut draft = Draft::from_record(current);
        let mut changed = Vec::new();
        if let Some(raw) = &input.fields {
            for (slug, v) in parse_input_fields(self.module, raw, self.value_options)? {
                match v {
                    Some(v) => draft.fields.insert(slug.clone(), v),
                    None => draft.fields.remove(&slug),
                };
                changed.push(slug);
            }
        }
        self.resolve_references(tx, &mut draft.fields, &changed)
            .await?;
        self.check_required(&draft.fields)?;
        draft.display_name = match input.display_name {
            Some(Some(name)) if !name.trim().is_empty() => name.trim().to_string(),
            Some(_) => self.module.render_display_name(&draft.fields),
            // A name that was generated follows the fields; one a user chose stays.
            None if current.display_name == self.module.render_display_name(&current.fields) => {
                self.module.render_display_name(&draft.fields)
            }
            None => current.display_name.clone(),
        };
        if let Some(ids) = input.label_ids {
            draft.label_ids = clean_ids("labelIds", ids)?;
        }
        if let Some(ids) = input.type_ids {
            draft.type_ids = clean_ids("typeIds", ids)?;
        }
        if let Some(level) = input.privacy_level {
            draft.privacy_level = check_privacy(&level)?;
        }
        if let Some(html) = input.description_html {
            draft.description_html = html;
        }
        if let Some(external_id) = input.external_id {
            let external_id = external_id.trim().to_string();
            draft.external_id = (!external_id.is_empty()).then_some(external_id);
        }
        if let Some(owner) = input.owner_id {
            draft.owner_id = clean_owner(owner);
        }
        Ok(draft)
    }

    fn check_required(&self, fields: &Map<String, Value>) -> Result<()> {
        let missing: Vec<FieldError> = self
            .module
            .def
            .fields
            .iter()
            .filter(|f| f.required && !fields.contains_key(&f.slug))
            .map(|f| FieldError {
                field: f.slug.clone(),
                message: format!("The {} field is required", f.label),
                value: None,
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(fields_error(missing))
        }
    }

    /// Replaces each reference value (a record id or the display name of a live record of the
    /// target module) with the target record's id.
    async fn resolve_references(
        &self,
        tx: &mut Tx,
        fields: &mut Map<String, Value>,
        slugs: &[String],
    ) -> Result<()> {
        let mut errors = Vec::new();
        for slug in slugs {
            let Some(field) = self.module.field(slug) else {
                continue;
            };
            if field.field_type != FieldType::Reference {
                continue;
            }
            let Some(Value::String(raw)) = fields.get(slug) else {
                continue;
            };
            let target_slug = field.target.as_deref().unwrap_or_default();
            let target = if target_slug == self.module.slug() {
                self.module.clone()
            } else {
                self.modules.get(target_slug).await?
            };
            let mut sql = Sql::new("SELECT id FROM records WHERE module_id = ");
            sql.bind(target.id.clone())
                .push(" AND deleted_at IS NULL AND (id = ")
                .bind(raw.clone())
                .push(" OR lower(display_name) = ")
                .bind(raw.to_lowercase())
                .push(") ORDER BY CASE WHEN id = ")
                .bind(raw.clone())
                .push(" THEN 0 ELSE 1 END LIMIT 2");
            let rows = tx.fetch_all(sql).await?;
            let ids: Vec<String> = rows.iter().map(|r| r.text("id")).collect::<Result<_>>()?;
            match ids.as_slice() {
                [id, ..] if id == raw => {}
                [id] => {
                    fields.insert(slug.clone(), Value::String(id.clone()));
                }
                [] => errors.push(FieldError {
                    field: slug.clone(),
                    message: format!("no {target_slug} record has the id or name '{raw}'"),
                    value: Some(Value::String(raw.clone())),
                }),
                _ => errors.push(FieldError {
                    field: slug.clone(),
                    message: format!(
                        "several {target_slug} records are named '{raw}': give the record id"
                    ),
                    value: Some(Value::String(raw.clone())),
                }),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(fields_error(errors))
        }
    }

    /// Fails with a conflict when a live record other than `exclude` holds one of the unique keys
    /// or the external id.
    async fn check_unique(
        &self,
        tx: &mut Tx,
        spaces: &KeySpaces,
        keys: &[MatchKey],
        external_id: Option<&str>,
        exclude: &str,
    ) -> Result<()> {
        let unique: Vec<(i64, &MatchKey)> = keys
            .iter()
            .filter(|k| k.is_unique)
            .map(|k| Ok((spaces.space(&k.field_slug)?, k)))
            .collect::<Result<_>>()?;
        if !unique.is_empty() {
            let mut sql = Sql::new(
                "SELECT space, key, record_id FROM record_keys WHERE tiebreak = '' AND record_id <> ",
            );
            sql.bind(exclude).push(" AND (");
            keys::push_key_matches(&mut sql, spaces, unique.iter().map(|(_, k)| *k))?;
            sql.push(") LIMIT 1");
            if let Some(row) = tx.fetch_optional(sql).await? {
                let space = row.int("space")?;
                let key = row.text("key")?;
                let holder = row.text("record_id")?;
                let field = unique
                    .iter()
                    .find(|(s, k)| *s == space && k.key == key)
                    .map_or("", |(_, k)| k.field_slug.as_str());
                return Err(Error::Conflict {
                    message: format!(
                        "{field}: the value '{key}' is already used by record {holder}"
                    ),
                    details: json!({ "field": field, "value": key, "recordId": holder, "constraint": "unique" }),
                });
            }
        }
        if let Some(external_id) = external_id {
            let mut sql = Sql::new("SELECT id FROM records WHERE module_id = ");
            sql.bind(self.module.id.clone())
                .push(" AND external_id = ")
                .bind(external_id)
                .push(" AND deleted_at IS NULL AND id <> ")
                .bind(exclude);
            if let Some(row) = tx.fetch_optional(sql).await? {
                let holder = row.text("id")?;
                return Err(Error::Conflict {
                    message: format!(
                        "externalId: '{external_id}' is already used by record {holder}"
                    ),
                    details: json!({ "field": "externalId", "value": external_id, "recordId": holder, "constraint": "unique" }),
                });
            }
        }
        Ok(())
    }

    /// Stores a new record; returns its id.
    pub async fn insert(&self, tx: &mut Tx, draft: &Draft, actor: &Actor) -> Result<String> {
        let id = new_id("rec");
        let keys = match_keys(self.module, &draft.fields);
        let spaces = KeySpaces::of(tx, self.module).await?;
        self.check_unique(tx, &spaces, &keys, draft.external_id.as_deref(), &id)
            .await?;
        let mut sql = Sql::new(INSERT_RECORDS);
        push_record_values(
            &mut sql,
            tx.dialect(),
            self.module,
            &id,
            draft,
            actor,
            now_micros(),
            1,
        );
        tx.execute(sql).await?;
        keys::replace_keys(tx, &spaces, &id, &[], &keys).await?;
        Ok(id)
    }

    /// Stores `draft` over `current`: the row, its match keys and a version with the changes.
    /// Returns false (and writes nothing) when the draft changes nothing.
    pub async fn update(
        &self,
        tx: &mut Tx,
        current: &Record,
        draft: &Draft,
        actor: &Actor,
    ) -> Result<bool> {
        let before = Draft::from_record(current);
        let changes = diff(&before, draft);
        if changes.is_empty() {
            return Ok(false);
        }
        let fields_changed = before.fields != draft.fields;
        let keys = match_keys(self.module, &draft.fields);
        let external_id_changed = before.external_id != draft.external_id;
        let spaces = KeySpaces::of(tx, self.module).await?;
        if fields_changed || external_id_changed {
            let external_id = if external_id_changed {
                draft.external_id.as_deref()
            } else {
                None
            };
            self.check_unique(tx, &spaces, &keys, external_id, &current.id)
                .await?;
        }
        let now = now_micros();
        let sql = update_draft_sql(tx.dialect(), self.module, draft);
        let change = Change {
            actor,
            now,
            action: "update",
        };
        self.finish_change(tx, sql, current, &change, Value::Object(changes))
            .await?;
        if fields_changed {
            let old = keys::old_keys(self.module, &before.fields, &draft.fields, &keys);
            keys::replace_keys(tx, &spaces, &current.id, &old, &keys).await?;
        }
        Ok(true)
    }

    pub async fn soft_delete(&self, tx: &mut Tx, current: &Record, actor: &Actor) -> Result<()> {
        let now = now_micros();
        let mut sql = Sql::new("UPDATE records SET deleted_at = ");
        sql.bind(now);
        let change = Change {
            actor,
            now,
            action: "delete",
        };
        self.finish_change(tx, sql, current, &change, json!({}))
            .await?;
        let held = match_keys(self.module, &current.fields);
        let spaces = KeySpaces::of(tx, self.module).await?;
        keys::replace_keys(tx, &spaces, &current.id, &held, &[]).await
    }

    pub async fn restore(&self, tx: &mut Tx, current: &Record, actor: &Actor) -> Result<()> {
        let keys = match_keys(self.module, &current.fields);
        let spaces = KeySpaces::of(tx, self.module).await?;
        self.check_unique(
            tx,
            &spaces,
            &keys,
            current.external_id.as_deref(),
            &current.id,
        )
        .await?;
        let now = now_micros();
        let sql = Sql::new("UPDATE records SET deleted_at = NULL");
        let change = Change {
            actor,
            now,
            action: "restore",
        };
        self.finish_change(tx, sql, current, &change, json!({}))
            .await?;
        keys::replace_keys(tx, &spaces, &current.id, &[], &keys).await
    }

    /// Completes an `UPDATE records SET …` with the bookkeeping every change shares (updated
    /// time and user, version + 1) and writes the version row.
    async fn finish_change(
        &self,
        tx: &mut Tx,
        mut sql: Sql,
        current: &Record,
        change: &Change<'_>,
        changes: Value,
    ) -> Result<()> {
        let Change { actor, now, action } = *change;
        let version = current.version + 1;
        sql.push(", updated_at = ")
            .bind(now)
            .push(", updated_by_user_id = ")
            .bind(actor.user_id.clone())
            .push(", updated_by_display_name = ")
            .bind(actor.display_name.clone())
            .push(", version = ")
            .bind(version)
            .push(" WHERE id = ")
            .bind(current.id.clone());
        tx.execute(sql).await?;
        let dialect = tx.dialect();
        let mut sql = Sql::new(
            "INSERT INTO record_versions (record_id, version, action, changes, changed_at, user_id, \
             user_display_name, metadata) VALUES (",
        );
        sql.bind(current.id.clone())
            .push(", ")
            .bind(version)
            .push(", ")
            .bind(action);
        let p = sql.arg(changes.to_string());
        sql.push(", ")
            .push(&dialect.json_param(&p))
            .push(", ")
            .bind(now)
            .push(", ")
            .bind_list([actor.user_id.clone(), actor.display_name.clone()]);
        let p = sql.arg(actor.metadata_json());
        sql.push(", ").push(&dialect.json_param(&p)).push(")");
        tx.execute(sql).await?;
        Ok(())
    }
}

/// `UPDATE records SET …` with every writable column of `draft`; the caller adds the change's
/// bookkeeping (updated time and user, version) and the `WHERE`.
pub(crate) fn update_draft_sql(dialect: Dialect, module: &Module, draft: &Draft) -> Sql {
    let mut sql = Sql::new("UPDATE records SET display_name = ");
    sql.bind(draft.display_name.clone());
    for (column, json_value) in [
        ("fields", Value::Object(draft.fields.clone())),
        ("label_ids", json!(draft.label_ids)),
        ("type_ids", json!(draft.type_ids)),
    ] {
        let p = sql.arg(json_value.to_string());
        sql.push(&format!(", {column} = {}", dialect.json_param(&p)));
    }
    sql.push(", privacy_level = ")
        .bind(draft.privacy_level.clone())
        .push(", description_html = ")
        .bind(draft.description_html.clone())
        .push(", external_id = ")
        .bind(draft.external_id.clone())
        .push(", owner_id = ")
        .bind(draft.owner_id.clone())
        .push(", search_text = ")
        .bind(search_text(module, &draft.display_name, &draft.fields));
    sql
}

/// The head of a (multi-row) INSERT of records; [`push_record_values`] adds each row.
pub(crate) const INSERT_RECORDS: &str = "INSERT INTO records (id, module_id, display_name, \
     fields, label_ids, type_ids, privacy_level, description_html, external_id, owner_id, search_text, \
     created_at, updated_at, created_by_user_id, created_by_display_name, updated_by_user_id, \
     updated_by_display_name, version) VALUES ";

/// One `(…)` row of [`INSERT_RECORDS`]: a new record made by `actor` at `now`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_record_values(
    sql: &mut Sql,
    dialect: Dialect,
    module: &Module,
    id: &str,
    draft: &Draft,
    actor: &Actor,
    now: i64,
    version: i64,
) {
    sql.push("(")
        .bind_list([id.to_string(), module.id.clone()])
        .push(", ");
    push_draft_values(sql, dialect, module, draft);
    sql.push(", ")
        .bind_list([now, now])
        .push(", ")
        .bind_list([
            actor.user_id.clone(),
            actor.display_name.clone(),
            actor.user_id.clone(),
            actor.display_name.clone(),
        ])
        .push(", ")
        .bind(version)
        .push(")");
}

/// The values of a draft's columns, comma-separated, in the order `INSERT_RECORDS` names them.
fn push_draft_values(sql: &mut Sql, dialect: Dialect, module: &Module, draft: &Draft) {
    sql.bind(draft.display_name.clone());
    for json_value in [
        Value::Object(draft.fields.clone()),
        json!(draft.label_ids),
        json!(draft.type_ids),
    ] {
        let p = sql.arg(json_value.to_string());
        sql.push(", ").push(&dialect.json_param(&p));
    }
    sql.push(", ").bind_list([
        Some(draft.privacy_level.clone()),
        draft.description_html.clone(),
        draft.external_id.clone(),
        draft.owner_id.clone(),
        Some(search_text(module, &draft.display_name, &draft.fields)),
    ]);
}

/// Who changes a record, when, and how (update, delete, restore).
struct Change<'a> {
    actor: &'a Actor,
    now: i64,
    action: &'static str,
}

/// `{name: {"old": …, "new": …}}` for every field and core property that differs.
pub(crate) fn diff(before: &Draft, after: &Draft) -> Map<String, Value> {
    let mut changes = Map::new();
    for (slug, new) in &after.fields {
        let old = before.fields.get(slug);
        if old != Some(new) {
            changes.insert(slug.clone(), json!({ "old": old, "new": new }));
        }
    }
    for (slug, old) in &before.fields {
        if !after.fields.contains_key(slug) {
            changes.insert(slug.clone(), json!({ "old": old, "new": null }));
        }
    }
    for ((name, old), (_, new)) in before.core().into_iter().zip(after.core()) {
        if old != new {
            changes.insert(name.to_string(), json!({ "old": old, "new": new }));
        }
    }
    changes
}

/// Deletes the records matching `filter` (a condition on `records` columns), with their versions.
/// Returns how many records went. A live record's keys must be gone first ([`keys::replace_keys`]
/// from its values); a trashed record holds none.
pub(crate) async fn purge_where(tx: &mut Tx, filter: Sql) -> Result<u64> {
    tx.execute(Sql {
        text: format!(
            "DELETE FROM record_versions WHERE record_id IN (SELECT id FROM records WHERE {})",
            filter.text
        ),
        args: filter.args.clone(),
    })
    .await?;
    tx.execute(Sql {
        text: format!("DELETE FROM records WHERE {}", filter.text),
        args: filter.args,
    })
    .await
}

fn clean_ids(name: &str, ids: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim().to_string();
        if id.is_empty() {
            return Err(Error::invalid_field(name, "ids must not be empty", None));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn check_privacy(level: &str) -> Result<String> {
    if PRIVACY_LEVELS.contains(&level) {
        Ok(level.to_string())
    } else {
        Err(Error::invalid_field(
            "privacyLevel",
            format!("must be one of {}", PRIVACY_LEVELS.join(", ")),
            Some(Value::String(level.to_string())),
        ))
    }
}

/// An owner id as given: trimmed; empty means none.
fn clean_owner(owner: String) -> Option<String> {
    let owner = owner.trim();
    (!owner.is_empty()).then(|| owner.to_string())
}
