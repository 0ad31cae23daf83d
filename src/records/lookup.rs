//! Finding a record by what identifies it outside the store (spec 001): an email for contacts, a
//! name for other modules, any field with a match key; and the upsert built on it.
//!
//! In: a module, a field and a raw value (as a caller would type it). Out: the one live record
//! whose normalised value matches, `not_found` when none does, `conflict` when several do.
//! Guarantees: the value is normalised exactly as imports and unique checks normalise it (an
//! email matches whatever its case; a phone whatever its spelling), so a lookup finds what an
//! import would match; an upsert runs its match and its write in one transaction.

use serde_json::{Value, json};

use super::model::RecordInput;
use super::{Actor, Liveness, Record, RecordService, load, read_back};
use crate::error::{Error, Result};
use crate::schema::value;
use crate::schema::{FieldDef, Module};
use crate::store::{Sql, Tx};
use crate::webhooks::{EventKind, outbox};

/// The pseudo-field that matches a record's display name, for modules without a `name` field.
pub const NAME_KEY: &str = "name";

/// The body of `POST …/records/upsert` (spec 001): the record, and which of its fields finds the
/// record to update.
#[derive(Debug, Clone)]
pub struct MatchUpsert {
    pub match_field: String,
    pub record: RecordInput,
}

impl MatchUpsert {
    /// Parses `{"matchField": "email", "fields": {…}, …}` (the rest is a create/update body).
    pub fn from_json(body: Value) -> Result<MatchUpsert> {
        let Value::Object(mut body) = body else {
            return Err(Error::validation(
                "the body must be an object with \"matchField\"",
            ));
        };
        let match_field = match body.remove("matchField") {
            Some(Value::String(field)) if !field.trim().is_empty() => field.trim().to_string(),
            _ => {
                return Err(Error::invalid_field(
                    "matchField",
                    "is required: the field whose value finds the record (e.g. \"email\")",
                    None,
                ));
            }
        };
        let record = RecordInput::from_json(Value::Object(body), "the record")?;
        Ok(MatchUpsert {
            match_field,
            record,
        })
    }
}

/// How a module's records are found by a field: its match key, or the display name.
enum Matcher<'m> {
    Key(&'m FieldDef),
    DisplayName,
}

impl<'m> Matcher<'m> {
    fn for_field(module: &'m Module, slug: &str) -> Result<Matcher<'m>> {
        match module.field(slug) {
            Some(field) if field.has_match_key() => Ok(Matcher::Key(field)),
            None if slug == NAME_KEY => Ok(Matcher::DisplayName),
            _ => {
                let mut usable: Vec<&str> =
                    module.match_key_fields().map(|f| f.slug.as_str()).collect();
                if module.field(NAME_KEY).is_none() {
                    usable.push(NAME_KEY);
                }
                Err(Error::invalid_field(
                    slug,
                    format!(
                        "records of {} cannot be looked up by '{slug}': use one of {}",
                        module.slug(),
                        usable.join(", ")
                    ),
                    None,
                ))
            }
        }
    }

    /// The ids of live records that match `raw`, at most two (two say "ambiguous").
    async fn find(
        &self,
        service: &RecordService,
        tx: &mut Tx,
        module: &Module,
        raw: &Value,
    ) -> Result<Vec<String>> {
        let mut sql = match self {
            Matcher::Key(field) => {
                let stored = value::parse_json(field, raw, &service.value_options)
                    .map_err(|e| Error::invalid_field(&field.slug, e.0, Some(raw.clone())))?
                    .ok_or_else(|| Error::invalid_field(&field.slug, "must not be empty", None))?;
                let Some(key) = value::match_keys(field, &stored).into_iter().next() else {
                    return Ok(Vec::new());
                };
                // The key index: the field's key space, then the value (one index lookup).
                let mut sql = Sql::new(
                    "SELECT DISTINCT k.record_id AS id FROM key_spaces s \
                     JOIN record_keys k ON k.space = s.id \
                     JOIN records r ON r.id = k.record_id AND r.deleted_at IS NULL \
                     WHERE s.module_id = ",
                );
                sql.bind(module.id.clone())
                    .push(" AND s.field_slug = ")
                    .bind(field.slug.clone())
                    .push(" AND k.key = ")
                    .bind(key);
                sql
            }
            Matcher::DisplayName => {
                let text = raw.as_str().map(str::trim).unwrap_or_default();
                if text.is_empty() {
                    return Err(Error::invalid_field(NAME_KEY, "must not be empty", None));
                }
                let mut sql = Sql::new(
                    "SELECT r.id AS id FROM records r WHERE r.deleted_at IS NULL AND r.module_id = ",
                );
                sql.bind(module.id.clone())
                    .push(" AND lower(r.display_name) = ")
                    .bind(text.to_lowercase());
                sql
            }
        };
        service.access.restrict(&mut sql, "r");
        sql.push(" ORDER BY id LIMIT 2");
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| row.text("id"))
            .collect()
    }
}

impl RecordService {
    /// The one live record of `module` whose `field` matches `raw` (normalised as imports match
    /// it). `name` matches the display name in a module without a `name` field.
    pub async fn lookup(&self, module: &str, field: &str, raw: &str) -> Result<Record> {
        let module = self.modules.get(module).await?;
        let matcher = Matcher::for_field(&module, field)?;
        let mut tx = self.store.begin_read().await?;
        let raw = Value::String(raw.to_string());
        let ids = matcher.find(self, &mut tx, &module, &raw).await?;
        let record = match ids.as_slice() {
            [id] => load(&mut tx, &module, id, Liveness::Live, &self.access).await?,
            [] => {
                return Err(Error::not_found(
                    "record",
                    format!("{field}={}", raw.as_str().unwrap_or_default()),
                ));
            }
            _ => return Err(ambiguous(field, &raw, &ids)),
        };
        tx.commit().await?;
        Ok(record)
    }

    /// Creates the record, or updates (PATCH semantics) the one live record whose `matchField`
    /// holds the same normalised value as the body's. Several matches are a conflict. Returns
    /// the record and whether it was created.
    pub async fn upsert_by_match(
        &self,
        module: &str,
        mut upsert: MatchUpsert,
        actor: &Actor,
    ) -> Result<(Record, bool)> {
        let actor = &upsert.record.actor_saying(actor)?;
        let module = self.modules.get(module).await?;
        let field = upsert.match_field.as_str();
        let matcher = Matcher::for_field(&module, field)?;
        let raw = match_value(&matcher, field, &upsert.record)?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let ids = matcher.find(self, &mut tx, &module, &raw).await?;
        let (id, previous) = match ids.as_slice() {
            [] => {
                let draft = self.new_draft(&writer, &mut tx, upsert.record).await?;
                (writer.insert(&mut tx, &draft, actor).await?, None)
            }
            [id] => {
                let current =
                    load(&mut tx, &module, id, Liveness::LiveForUpdate, &self.access).await?;
                super::check_version(&current, upsert.record.version)?;
                let draft = writer
                    .draft_for_update(&mut tx, &current, upsert.record)
                    .await?;
                writer.update(&mut tx, &current, &draft, actor).await?;
                (id.clone(), Some(current))
            }
            _ => return Err(ambiguous(field, &raw, &ids)),
        };
        let record = read_back(&mut tx, &module, &id).await?;
        match &previous {
            None => {
                outbox::record_event(&mut tx, EventKind::RecordCreated, &record, None, actor)
                    .await?
            }
            Some(current) => super::updated_event(&mut tx, &record, current, actor).await?,
        }
        tx.commit().await?;
        Ok((record, previous.is_none()))
    }
}

/// The value of the body that an upsert matches on: the field's value, or the display name.
fn match_value(matcher: &Matcher<'_>, field: &str, record: &RecordInput) -> Result<Value> {
    let fields = record.fields.as_ref();
    let found = match matcher {
        Matcher::Key(_) => fields.and_then(|f| f.get(field)).cloned(),
        Matcher::DisplayName => record
            .display_name
            .clone()
            .flatten()
            .map(Value::String)
            .or_else(|| fields.and_then(|f| f.get(NAME_KEY)).cloned()),
    };
    match found {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(Error::invalid_field(
            field,
            format!("the body has no {field} to match on (matchField is '{field}')"),
            None,
        )),
    }
}

fn ambiguous(field: &str, raw: &Value, ids: &[String]) -> Error {
    let shown = raw
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| raw.to_string());
    Error::Conflict {
        message: format!(
            "several records have {field} '{shown}': look them up by id ({} …)",
            ids.join(", ")
        ),
        details: json!({ "field": field, "value": raw, "recordIds": ids }),
    }
}
