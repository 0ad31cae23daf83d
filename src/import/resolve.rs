//! Resolve: reference cells (a record id or the display name of a record of the target module)
//! become record ids.
//!
//! In: a batch of mapped rows. Out: the same rows with each reference field holding an id, left
//! empty (a reference warning), or failed (ambiguous: several records have that name; never a
//! guess). With `createMissingReferences` a name matching nothing becomes a new record of the
//! target module, written in the batch's transaction and naming the job as its creator (so a
//! rollback deletes it). Every distinct value of a batch is looked up with one statement per page, and
//! lookups are remembered across batches (bounded).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::import::map::MappedRow;
use crate::import::report::{ReferenceWarning, RowError, RowErrorCode};
use crate::records::write::{Draft, RecordWriter};
use crate::records::{Actor, RecordService};
use crate::schema::value::ValueOptions;
use crate::schema::{FieldDef, FieldType, Module};
use crate::store::{Sql, Tx, statement_pages};

/// Distinct unresolved reference values listed per field.
const MAX_UNRESOLVED_VALUES: usize = 100;
/// Reference lookups remembered across batches before the cache starts over.
const REFERENCE_CACHE_ENTRIES: usize = 100_000;

/// How a reference cell resolved.
#[derive(Debug, Clone)]
enum Resolved {
    Id(String),
    Ambiguous,
    Missing,
}

/// Lookups remembered across batches.
#[derive(Default)]
pub(crate) struct ResolutionCache {
    /// (target module slug, lower-cased cell) → resolution.
    cells: HashMap<(String, String), Resolved>,
    /// Target modules by slug.
    targets: HashMap<String, Module>,
}

/// Resolves the reference fields of one import, batch after batch.
pub(crate) struct ReferenceResolver<'a> {
    pub service: &'a RecordService,
    pub module: &'a Module,
    pub value_options: &'a ValueOptions,
    pub actor: &'a Actor,
    /// The job whose ledger gets the records made in referenced modules.
    pub job_id: Option<String>,
    /// `createMissingReferences`.
    pub create_missing: bool,
    pub cache: ResolutionCache,
    /// Spec 002's `referenceWarnings`: the values that resolved to nothing, per field.
    pub warnings: Vec<ReferenceWarning>,
    /// Records made in referenced modules.
    pub created_count: u64,
}

impl ReferenceResolver<'_> {
    /// Goes back to `warnings` and `created_count` (what the last commit saved) after the open
    /// transaction was rolled back, forgetting every lookup: a record it created is gone, and a
    /// name that matched nothing may match a record another writer committed since.
    pub(crate) fn restore(&mut self, warnings: Vec<ReferenceWarning>, created_count: u64) {
        self.warnings = warnings;
        self.created_count = created_count;
        self.cache = ResolutionCache::default();
    }

    /// Replaces reference cells (a record id or display name of the target module) with ids,
    /// looking every distinct value of the batch up at once. Unresolved values become reference
    /// warnings (the field is left empty) or, with `createMissingReferences`, new records.
    pub(crate) async fn resolve(
        &mut self,
        tx: &mut Tx,
        written: &[String],
        skip_validation: bool,
        rows: &mut [MappedRow],
    ) -> Result<()> {
        let reference_fields: Vec<&FieldDef> = self
            .module
            .def
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Reference && written.contains(&f.slug))
            .collect();
        for field in reference_fields {
            let target_slug = field.target.clone().unwrap_or_default();
            if !self.cache.targets.contains_key(&target_slug) {
                let target = self.service.modules().get(&target_slug).await?;
                self.cache.targets.insert(target_slug.clone(), target);
            }
            let target = self.cache.targets[&target_slug].clone();
            let mut unknown: Vec<String> = rows
                .iter()
                .filter(|r| r.importable(skip_validation))
                .filter_map(|r| r.fields.get(&field.slug).and_then(Value::as_str))
                .filter(|v| {
                    !self
                        .cache
                        .cells
                        .contains_key(&(target_slug.clone(), v.to_lowercase()))
                })
                .map(str::to_string)
                .collect();
            unknown.sort();
            unknown.dedup();
            if self.cache.cells.len() + unknown.len() > REFERENCE_CACHE_ENTRIES {
                self.cache.cells.clear();
            }
            for page in statement_pages(&unknown, 256) {
                let mut found: HashMap<String, Vec<String>> = HashMap::new();
                let mut sql = Sql::new("SELECT id, display_name FROM records WHERE module_id = ");
                sql.bind(target.id.clone())
                    .push(" AND deleted_at IS NULL AND (id IN (")
                    .bind_list(page.iter().cloned())
                    .push(") OR lower(display_name) IN (")
                    .bind_list(page.iter().map(|v| v.to_lowercase()))
                    .push("))");
                // A member's import links only to records the member may see.
                self.service.access().restrict(&mut sql, "records");
                for row in tx.fetch_all(sql).await? {
                    let id = row.text("id")?;
                    found.entry(id.to_lowercase()).or_default().push(id.clone());
                    let name = row.text("display_name")?.to_lowercase();
                    if name != id.to_lowercase() {
                        found.entry(name).or_default().push(id);
                    }
                }
                for value in page {
                    let lower = value.to_lowercase();
                    let resolved = match found.get(&lower).map(Vec::as_slice) {
                        Some([id]) => Resolved::Id(id.clone()),
                        Some(ids) if ids.iter().any(|id| id == value) => {
                            Resolved::Id(value.clone())
                        }
                        Some([_, _, ..]) => Resolved::Ambiguous,
                        _ => Resolved::Missing,
                    };
                    self.cache
                        .cells
                        .insert((target_slug.clone(), lower), resolved);
                }
            }
            for row in rows.iter_mut() {
                if !row.importable(skip_validation) {
                    continue;
                }
                let Some(text) = row
                    .fields
                    .get(&field.slug)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    continue;
                };
                let key = (target_slug.clone(), text.to_lowercase());
                let resolved = self
                    .cache
                    .cells
                    .get(&key)
                    .cloned()
                    .unwrap_or(Resolved::Missing);
                match resolved {
                    Resolved::Id(id) => {
                        row.fields.insert(field.slug.clone(), Value::String(id));
                    }
                    Resolved::Ambiguous => {
                        row.fields.remove(&field.slug);
                        row.errors.push(RowError {
                            row: row.row_number,
                            code: RowErrorCode::ReferenceAmbiguous,
                            field: Some(field.slug.clone()),
                            column: None,
                            value: Some(text.clone()),
                            error: format!(
                                "several {target_slug} records are named '{text}': give the record id"
                            ),
                        });
                        // An ambiguous reference is never a guess: the row fails.
                        row.malformed = true;
                    }
                    Resolved::Missing if self.create_missing => {
                        let id = self.create_reference(tx, &target, &text).await?;
                        self.cache.cells.insert(key, Resolved::Id(id.clone()));
                        row.fields.insert(field.slug.clone(), Value::String(id));
                    }
                    Resolved::Missing => {
                        row.fields.remove(&field.slug);
                        self.warn_unresolved(field, &target_slug, &text);
                    }
                }
            }
        }
        Ok(())
    }

    async fn create_reference(
        &mut self,
        tx: &mut Tx,
        target: &Module,
        name: &str,
    ) -> Result<String> {
        let mut fields = Map::new();
        // A target named by one field ("{name}") gets that field too, so the new record looks
        // like one made by hand.
        if let Some(template) = target.def.display_name.first()
            && let Some(slug) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
            && let Some(field) = target.field(slug)
            && let Ok(Some(v)) = crate::schema::value::parse_text(field, name, self.value_options)
        {
            fields.insert(slug.to_string(), v);
        }
        let writer = RecordWriter {
            module: target,
            modules: self.service.modules(),
            value_options: self.value_options,
        };
        let draft = Draft {
            owner_id: self.service.access().member_id().map(str::to_string),
            ..Draft::named(name.trim().to_string(), fields)
        };
        let id = writer.insert(tx, &draft, self.actor).await?;
        if let Some(job_id) = &self.job_id {
            // The job's rollback deletes what the job created, found by this.
            let mut sql = Sql::new("UPDATE records SET created_by_job = ");
            sql.bind(job_id.clone())
                .push(", updated_by_job = ")
                .bind(job_id.clone())
                .push(" WHERE id = ")
                .bind(id.clone());
            tx.execute(sql).await?;
        }
        self.created_count += 1;
        Ok(id)
    }

    fn warn_unresolved(&mut self, field: &FieldDef, target_slug: &str, value: &str) {
        let warning = match self
            .warnings
            .iter_mut()
            .find(|w| w.field_slug == field.slug)
        {
            Some(w) => w,
            None => {
                self.warnings.push(ReferenceWarning {
                    code: RowErrorCode::ReferenceNotFound,
                    field_slug: field.slug.clone(),
                    field_label: field.label.clone(),
                    unresolved_values: Vec::new(),
                    target_module_slug: target_slug.to_string(),
                });
                self.warnings.last_mut().expect("just pushed")
            }
        };
        if warning.unresolved_values.len() < MAX_UNRESOLVED_VALUES
            && !warning.unresolved_values.iter().any(|v| v == value)
        {
            warning.unresolved_values.push(value.to_string());
        }
    }
}
