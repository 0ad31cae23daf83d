//! Expanded references (spec 004's `?expand=account,…`): each referenced record embedded in place
//! of its id.
//!
//! In: records of one module and the reference fields to expand. Out: the same records, each
//! named reference field holding `{id, displayName, fields}` of the record it points to (an id
//! whose record is gone or trashed stays an id). Guarantees: only reference fields of the module
//! can be expanded (anything else is a `validation_error` naming those that can); one query per
//! expanded field whatever the number of records; ids are bound, never spliced into SQL.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::model::{record_columns, record_from_row};
use super::{Record, RecordService};
use crate::error::{Error, Result};
use crate::schema::{FieldType, Module};
use crate::store::Sql;

/// The reference fields a request asked to expand, checked against the module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expand(Vec<String>);

impl Expand {
    /// `account,owner` → the fields, each a reference field of `module`.
    pub fn parse(module: &Module, list: &[String]) -> Result<Expand> {
        let references: Vec<&str> = module
            .def
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Reference)
            .map(|f| f.slug.as_str())
            .collect();
        let mut fields = Vec::new();
        for slug in list {
            if !references.contains(&slug.as_str()) {
                let can = if references.is_empty() {
                    format!("{} has no reference fields", module.slug())
                } else {
                    format!(
                        "the fields that can be expanded are {}",
                        references.join(", ")
                    )
                };
                return Err(Error::invalid_field(
                    "expand",
                    format!(
                        "'{slug}' is not a reference field of {}: {can}",
                        module.slug()
                    ),
                    Some(json!(slug)),
                ));
            }
            if !fields.contains(slug) {
                fields.push(slug.clone());
            }
        }
        Ok(Expand(fields))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl RecordService {
    /// Embeds the records `expand` names in `records` (see the module notes).
    pub(crate) async fn expand(
        &self,
        module: &Module,
        records: &mut [Record],
        expand: &Expand,
    ) -> Result<()> {
        for slug in &expand.0 {
            let Some(field) = module.field(slug) else {
                continue;
            };
            let target = self
                .modules
                .get(field.target.as_deref().unwrap_or_default())
                .await?;
            let ids: BTreeSet<&str> = records
                .iter()
                .filter_map(|r| r.fields.get(slug).and_then(Value::as_str))
                .collect();
            if ids.is_empty() {
                continue;
            }
            let mut sql = Sql::new(format!(
                "SELECT {} FROM records r WHERE r.deleted_at IS NULL AND r.module_id = ",
                record_columns(self.store.dialect())
            ));
            sql.bind(target.id.clone()).push(" AND r.id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(id.to_string());
            }
            sql.push(")");
            self.access.restrict(&mut sql, "r");
            let found: HashMap<String, Value> = self
                .store
                .fetch_mapped(sql, |row| {
                    let linked = record_from_row(row, target.slug())?;
                    Ok((
                        linked.id.clone(),
                        json!({
                            "id": linked.id,
                            "moduleSlug": linked.module_slug,
                            "displayName": linked.display_name,
                            "fields": linked.fields,
                        }),
                    ))
                })
                .await?
                .into_iter()
                .collect();
            for record in records.iter_mut() {
                if let Some(value) = record.fields.get_mut(slug)
                    && let Some(linked) = value.as_str().and_then(|id| found.get(id))
                {
                    *value = linked.clone();
                }
            }
        }
        Ok(())
    }
}
