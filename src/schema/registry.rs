//! Module definitions in the store: apply (create or update by slug, idempotent), list, get.
//!
//! A definition that changes which fields keep match keys, how their values are normalised or
//! which are unique is applied in one transaction with its records' keys derived again
//! ([`keys::rebuild_keys`]), so lookups, dedupe and unique checks see the records already stored
//! as the new definition reads them; one it cannot apply (a value now unique held twice) leaves
//! the definition and the keys as they were.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::records::keys;
use crate::schema::{Module, ModuleDef};
use crate::store::{Row, Sql, Store, Tx, format_micros, new_id, now_micros};

/// What `apply` did to one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    Created,
    Updated,
    Unchanged,
}

#[derive(Clone)]
pub struct ModuleRegistry {
    store: Store,
}

impl ModuleRegistry {
    pub fn new(store: Store) -> Self {
        ModuleRegistry { store }
    }

    /// Creates the module or replaces its definition; applying the same definition twice changes
    /// nothing. Reference targets must exist (or be the module itself).
    pub async fn apply(&self, def: &ModuleDef) -> Result<(Module, ApplyOutcome)> {
        def.check()?;
        for field in &def.fields {
            if let Some(target) = &field.target
                && target != &def.slug
                && self.find(target).await?.is_none()
            {
                return Err(Error::invalid_field(
                    &field.slug,
                    format!("reference target module '{target}' does not exist (apply it first)"),
                    None,
                ));
            }
        }
        let definition = serde_json::to_string(def)
            .map_err(|e| Error::internal(format!("module as JSON: {e}")))?;
        let now = now_micros();
        let outcome = match self.find(&def.slug).await? {
            Some(existing) if &existing.def == def => ApplyOutcome::Unchanged,
            Some(existing) => {
                let mut sql = Sql::new("UPDATE modules SET name = ");
                sql.bind(def.name.clone())
                    .push(", definition = ")
                    .bind(definition)
                    .push(", updated_at = ")
                    .bind(now)
                    .push(" WHERE slug = ")
                    .bind(def.slug.clone());
                let updated = Module {
                    def: def.clone(),
                    ..existing.clone()
                };
                if keys::keys_change(&existing, &updated) {
                    // The records' match keys follow the definition in the same transaction:
                    // a definition whose keys cannot be built (a value now unique held twice)
                    // is not applied.
                    let mut tx = self.store.begin().await?;
                    refuse_while_importing(&mut tx, &existing).await?;
                    tx.execute(sql).await?;
                    let records = keys::rebuild_keys(&mut tx, &updated).await?;
                    tx.commit().await?;
                    tracing::info!(module = %def.slug, records, "match keys derived again");
                } else {
                    self.store.execute(sql).await?;
                }
                ApplyOutcome::Updated
            }
            None => {
                let mut sql = Sql::new(
                    "INSERT INTO modules (id, slug, name, definition, created_at, updated_at) VALUES (",
                );
                sql.bind_list([
                    new_id("mod"),
                    def.slug.clone(),
                    def.name.clone(),
                    definition,
                ])
                .push(", ")
                .bind_list([now, now])
                .push(")");
                self.store.execute(sql).await?;
                ApplyOutcome::Created
            }
        };
        let module = self.get(&def.slug).await?;
        Ok((module, outcome))
    }

    pub async fn list(&self) -> Result<Vec<Module>> {
        let rows = self
            .store
            .fetch_all(Sql::new(
                "SELECT id, definition, created_at, updated_at FROM modules ORDER BY slug",
            ))
            .await?;
        rows.iter().map(module_from_row).collect()
    }

    pub async fn find(&self, slug: &str) -> Result<Option<Module>> {
        let mut sql =
            Sql::new("SELECT id, definition, created_at, updated_at FROM modules WHERE slug = ");
        sql.bind(slug);
        match self.store.fetch_optional(sql).await? {
            Some(row) => Ok(Some(module_from_row(&row)?)),
            None => Ok(None),
        }
    }

    /// The module named `slug`, or `not_found`.
    pub async fn get(&self, slug: &str) -> Result<Module> {
        self.find(slug)
            .await?
            .ok_or_else(|| Error::not_found("module", slug))
    }
}

/// An import running into `module` keeps the definition it started with and writes keys by
/// it: the keys cannot change under it. A job whose runner died stays `processing` until a
/// worker finishes or undoes it, so it counts too.
async fn refuse_while_importing(tx: &mut Tx, module: &Module) -> Result<()> {
    let mut sql = Sql::new("SELECT id FROM import_jobs WHERE module_id = ");
    sql.bind(module.id.clone())
        .push(" AND status = 'processing' ORDER BY id LIMIT 5");
    let running: Vec<String> = tx
        .fetch_all(sql)
        .await?
        .iter()
        .map(|row| row.text("id"))
        .collect::<Result<_>>()?;
    if running.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict {
        message: format!(
            "module '{}' has imports running ({}): the new definition changes its records' match \
             keys, which cannot change under a running import; apply it again once they end",
            module.def.slug,
            running.join(", ")
        ),
        details: serde_json::json!({ "module": module.def.slug, "importJobIds": running }),
    })
}

fn module_from_row(row: &Row) -> Result<Module> {
    let definition: Value = serde_json::from_str(&row.text("definition")?)
        .map_err(|e| Error::corrupt(format!("stored module definition: {e}")))?;
    let def: ModuleDef = serde_json::from_value(definition)
        .map_err(|e| Error::corrupt(format!("stored module definition: {e}")))?;
    Ok(Module {
        id: row.text("id")?,
        def,
        created_date_time: format_micros(row.int("created_at")?),
        updated_date_time: format_micros(row.int("updated_at")?),
    })
}
