//! Module definitions in the store: apply (create or update by slug, idempotent), list, get.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::schema::{Module, ModuleDef};
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};

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
            Some(_) => {
                let mut sql = Sql::new("UPDATE modules SET name = ");
                sql.bind(def.name.clone())
                    .push(", definition = ")
                    .bind(definition)
                    .push(", updated_at = ")
                    .bind(now)
                    .push(" WHERE slug = ")
                    .bind(def.slug.clone());
                self.store.execute(sql).await?;
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
