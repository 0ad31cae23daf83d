//! Many records in one request (spec 004): bulk create and bulk field updates, and the full
//! replace of one record (PUT).
//!
//! In: a module and record bodies. Out: the records as stored. Guarantees: a bulk request runs
//! in one transaction and is all or nothing; its errors name the element they belong to
//! (`records[3].email`, `updates[0].version`), every one of them, not just the first; a replace
//! clears what its body leaves out, with the same optimistic locking as PATCH.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{
    Actor, Liveness, MAX_BULK_CREATE, Record, RecordInput, RecordService, check_version, load,
    read_back,
};
use crate::error::{Error, FieldError, Result};
use crate::webhooks::{EventKind, outbox};

/// One element of a bulk field update: the record's id and a PATCH body (its own `version`
/// optional).
#[derive(Debug, Clone)]
pub struct RecordPatch {
    pub id: String,
    pub input: RecordInput,
}

/// The body of `PATCH …/records/bulk`: `{"updates": [{"id": …, "fields": {…}, "version": n}]}`.
#[derive(Debug, Clone)]
pub struct BulkPatch {
    pub updates: Vec<RecordPatch>,
}

impl BulkPatch {
    /// Parses `{"updates": [...]}`; errors name the element (`updates[2]`).
    pub fn from_json(body: Value) -> Result<BulkPatch> {
        let Value::Object(mut body) = body else {
            return Err(Error::validation(
                "the body must be an object with \"updates\"",
            ));
        };
        let updates = match body.remove("updates") {
            Some(Value::Array(items)) => items,
            _ => return Err(Error::invalid_field("updates", "must be an array", None)),
        };
        if let Some(key) = body.keys().next() {
            return Err(Error::invalid_field(
                key,
                "unknown key of a bulk update",
                None,
            ));
        }
        let updates = updates
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let place = format!("updates[{i}]");
                let Value::Object(mut item) = item else {
                    return Err(Error::invalid_field(&place, "must be an object", None));
                };
                let id = match item.remove("id") {
                    Some(Value::String(id)) if !id.trim().is_empty() => id,
                    _ => {
                        return Err(Error::invalid_field(
                            &format!("{place}.id"),
                            "is required",
                            None,
                        ));
                    }
                };
                let input = RecordInput::from_json(Value::Object(item), &place)?;
                Ok(RecordPatch { id, input })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BulkPatch { updates })
    }
}

/// The body of a bulk create: spec 004's `{"records": [...], "options": {...}}`, or (on the
/// command line) a bare array of records.
#[derive(Debug, Clone)]
pub struct BulkCreate {
    pub records: Vec<RecordInput>,
    /// Answer with the created records (spec 004's `options.returnRecords`, default true).
    pub return_records: bool,
}

impl BulkCreate {
    /// Parses the body; errors name the element (`records[2]`).
    pub fn from_json(body: Value) -> Result<BulkCreate> {
        let mut body = match body {
            Value::Array(items) => {
                let mut body = Map::new();
                body.insert("records".into(), Value::Array(items));
                body
            }
            Value::Object(body) => body,
            _ => return Err(Error::validation("a bulk create is {\"records\": [...]}")),
        };
        let Some(Value::Array(items)) = body.remove("records") else {
            return Err(Error::invalid_field("records", "must be an array", None));
        };
        let options = match body.remove("options") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(options)) => options,
            Some(_) => return Err(Error::invalid_field("options", "must be an object", None)),
        };
        if let Some(key) = body.keys().next() {
            return Err(Error::invalid_field(
                key,
                "unknown key of a bulk create (records, options)",
                None,
            ));
        }
        let mut return_records = true;
        for (key, value) in options {
            match (key.as_str(), &value) {
                ("returnRecords", Value::Bool(b)) => return_records = *b,
                ("skipValidation", Value::Bool(false)) => {}
                ("skipValidation", Value::Bool(true)) => {
                    return Err(Error::invalid_field(
                        "options.skipValidation",
                        "every record is validated; validation cannot be skipped",
                        Some(value),
                    ));
                }
                _ => {
                    return Err(Error::invalid_field(
                        &format!("options.{key}"),
                        "unknown option (returnRecords, skipValidation: false)",
                        Some(value),
                    ));
                }
            }
        }
        let records = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| RecordInput::from_json(item, &format!("records[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Ok(BulkCreate {
            records,
            return_records,
        })
    }
}

impl RecordService {
    /// Creates many records in one transaction: all of them or none. Errors name the record's
    /// index (`records[3].email`).
    pub async fn bulk_create(
        &self,
        module: &str,
        inputs: Vec<RecordInput>,
        actor: &Actor,
    ) -> Result<Vec<Record>> {
        check_bulk_size("records", inputs.len())?;
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let mut ids = Vec::with_capacity(inputs.len());
        let mut errors = ElementErrors::new("records");
        for (i, input) in inputs.into_iter().enumerate() {
            let inserted = match self.new_draft(&writer, &mut tx, input).await {
                Ok(draft) => writer.insert(&mut tx, &draft, actor).await,
                Err(e) => Err(e),
            };
            if let Some(id) = errors.keep(i, inserted)? {
                ids.push(id);
            }
        }
        errors.check("nothing was created")?;
        let mut records = Vec::with_capacity(ids.len());
        for id in &ids {
            records.push(read_back(&mut tx, &module, id).await?);
        }
        outbox::api_bulk_event(&mut tx, EventKind::BulkCreated, module.slug(), &ids, actor).await?;
        tx.commit().await?;
        Ok(records)
    }

    /// Updates the fields of many records (PATCH semantics each, with its own optional
    /// `version`) in one transaction: all of them or none. An id that is not a live record of
    /// the module, a stale version or a bad value fails the request, naming `updates[i]`.
    pub async fn bulk_patch(
        &self,
        module: &str,
        request: BulkPatch,
        actor: &Actor,
    ) -> Result<Vec<Record>> {
        check_bulk_size("updates", request.updates.len())?;
        let mut seen = BTreeSet::new();
        if let Some(i) = request
            .updates
            .iter()
            .position(|u| !seen.insert(u.id.as_str()))
        {
            return Err(Error::invalid_field(
                &format!("updates[{i}].id"),
                format!(
                    "record {} is named twice in one request",
                    request.updates[i].id
                ),
                None,
            ));
        }
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let mut errors = ElementErrors::new("updates");
        let mut ids = Vec::with_capacity(request.updates.len());
        for (i, RecordPatch { id, mut input }) in request.updates.into_iter().enumerate() {
            let updated = async {
                let actor = &input.actor_saying(actor)?;
                let current =
                    load(&mut tx, &module, &id, Liveness::LiveForUpdate, &self.access).await?;
                check_version(&current, input.version)?;
                let draft = writer.draft_for_update(&mut tx, &current, input).await?;
                writer.update(&mut tx, &current, &draft, actor).await
            }
            .await;
            if errors.keep(i, updated)?.is_some() {
                ids.push(id);
            }
        }
        errors.check("nothing was changed")?;
        let mut records = Vec::with_capacity(ids.len());
        for id in &ids {
            records.push(read_back(&mut tx, &module, id).await?);
        }
        outbox::api_bulk_event(&mut tx, EventKind::BulkUpdated, module.slug(), &ids, actor).await?;
        tx.commit().await?;
        Ok(records)
    }

    /// PUT semantics (spec 004): the record becomes what the body says. Fields, labels, types
    /// and the description the body leaves out are cleared, the privacy level goes back to
    /// `account`, a display name left out follows the fields. The external id is the record's
    /// identity elsewhere, not its content: it stays unless the body gives one.
    pub async fn replace(
        &self,
        module: &str,
        id: &str,
        mut input: RecordInput,
        actor: &Actor,
    ) -> Result<Record> {
        let module_def = self.modules.get(module).await?;
        let mut fields = input.fields.take().unwrap_or_default();
        for field in &module_def.def.fields {
            fields.entry(field.slug.clone()).or_insert(Value::Null);
        }
        let replaced = RecordInput {
            display_name: Some(input.display_name.flatten()),
            fields: Some(fields),
            label_ids: Some(input.label_ids.unwrap_or_default()),
            type_ids: Some(input.type_ids.unwrap_or_default()),
            privacy_level: Some(input.privacy_level.unwrap_or_else(|| "account".into())),
            description_html: Some(input.description_html.flatten()),
            external_id: input.external_id,
            owner_id: input.owner_id,
            version: input.version,
            metadata: input.metadata,
        };
        self.update(module, id, replaced, actor).await
    }
}

fn check_bulk_size(what: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid_field(what, "must not be empty", None));
    }
    if n > MAX_BULK_CREATE {
        return Err(Error::invalid_field(
            what,
            format!("a bulk request takes at most {MAX_BULK_CREATE} records, got {n}"),
            None,
        ));
    }
    Ok(())
}

/// The errors of a bulk request's elements, each named by its place (`records[3].email`).
struct ElementErrors {
    list: &'static str,
    errors: Vec<FieldError>,
}

impl ElementErrors {
    fn new(list: &'static str) -> Self {
        ElementErrors {
            list,
            errors: Vec::new(),
        }
    }

    /// The element's value when it worked; its validation errors and conflicts are kept (the
    /// request goes on, to report every bad element); any other failure ends the request.
    fn keep<T>(&mut self, index: usize, outcome: Result<T>) -> Result<Option<T>> {
        let place = format!("{}[{index}]", self.list);
        match outcome {
            Ok(value) => return Ok(Some(value)),
            Err(Error::Validation { message, fields }) if fields.is_empty() => {
                self.errors.push(FieldError {
                    field: place,
                    message,
                    value: None,
                })
            }
            Err(Error::Validation { fields, .. }) => {
                self.errors.extend(fields.into_iter().map(|f| FieldError {
                    field: format!("{place}.{}", f.field),
                    ..f
                }))
            }
            Err(Error::Conflict { message, .. }) => self.errors.push(FieldError {
                field: place,
                message,
                value: None,
            }),
            Err(Error::NotFound { .. }) => self.errors.push(FieldError {
                field: format!("{place}.id"),
                message: "no live record of the module has this id".into(),
                value: None,
            }),
            Err(other) => return Err(other),
        }
        Ok(None)
    }

    /// A validation error naming every bad element, if there was one.
    fn check(self, outcome: &str) -> Result<()> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let elements: BTreeSet<&str> = self
            .errors
            .iter()
            .map(|e| e.field.split('.').next().unwrap_or_default())
            .collect();
        Err(Error::Validation {
            message: format!(
                "{} of the {} are invalid; {outcome}",
                elements.len(),
                self.list
            ),
            fields: self.errors,
        })
    }
}
