//! Saved reports: a named module plus the selection of an export (filter, search, sort, columns),
//! exported on demand (spec 002's `POST /reports/{reportId}/export`).
//!
//! In: a [`NewReport`]; for an export, the report and the request's `{format, config}`. Out:
//! [`Report`]s and the [`ExportRequest`] a report stands for. Guarantees: a report is checked
//! against its module when it is saved (columns, filters and sort must resolve), so a saved
//! report only fails to export when its module changed since.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::export::{self, ExportConfig, ExportFormat, ExportRequest};
use crate::schema::registry::ModuleRegistry;
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};

/// The body that saves a report.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReport {
    pub name: String,
    /// The module's slug.
    pub module: String,
    /// The export config the report stands for: `columns`, `columnLabels`, `filter`,
    /// `advancedFilter`, `search`, `labelIds`, `typeIds`, `sortField`, `sortDirection`, and
    /// defaults for `title`, `description`, `dateFormat`, `limit`.
    #[serde(default)]
    pub config: ExportConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    pub name: String,
    pub module_id: String,
    pub module_slug: String,
    pub config: ExportConfig,
    pub created_by_user_id: Option<String>,
    pub created_date_time: String,
}

impl Report {
    /// The export of this report: the report's config, with every setting the request gives
    /// taking precedence (a request's filter replaces the report's filter as a whole).
    pub fn export_request(&self, format: ExportFormat, overrides: ExportConfig) -> ExportRequest {
        let base = self.config.clone();
        let config = ExportConfig {
            columns: overrides.columns.or(base.columns),
            column_labels: if overrides.column_labels.is_empty() {
                base.column_labels
            } else {
                overrides.column_labels
            },
            include_headers: overrides.include_headers.or(base.include_headers),
            date_format: overrides.date_format.or(base.date_format),
            title: overrides
                .title
                .or(base.title)
                .or_else(|| Some(self.name.clone())),
            description: overrides.description.or(base.description),
            sort_field: overrides.sort_field.or(base.sort_field),
            sort_direction: overrides.sort_direction.or(base.sort_direction),
            limit: overrides.limit.or(base.limit),
            filter: if overrides.filter.is_empty() {
                base.filter
            } else {
                overrides.filter
            },
            advanced_filter: overrides.advanced_filter.or(base.advanced_filter),
            search: overrides.search.or(base.search),
            label_ids: if overrides.label_ids.is_empty() {
                base.label_ids
            } else {
                overrides.label_ids
            },
            type_ids: if overrides.type_ids.is_empty() {
                base.type_ids
            } else {
                overrides.type_ids
            },
        };
        ExportRequest {
            format,
            config,
            member_id: None,
        }
    }
}

const COLUMNS: &str = "r.id, r.name, r.module_id, m.slug AS module_slug, r.config, \
    r.created_by_user_id, r.created_at FROM reports r JOIN modules m ON m.id = r.module_id";

fn report_from_row(row: &Row) -> Result<Report> {
    Ok(Report {
        id: row.text("id")?,
        name: row.text("name")?,
        module_id: row.text("module_id")?,
        module_slug: row.text("module_slug")?,
        config: serde_json::from_str(&row.text("config")?)
            .map_err(|e| Error::corrupt(format!("stored report config: {e}")))?,
        created_by_user_id: row.opt_text("created_by_user_id")?,
        created_date_time: format_micros(row.int("created_at")?),
    })
}

/// Checks the report against its module and saves it.
pub async fn create(
    store: &Store,
    report: &NewReport,
    created_by_user_id: Option<&str>,
) -> Result<Report> {
    let name = report.name.trim();
    if name.is_empty() {
        return Err(Error::invalid_field("name", "must not be empty", None));
    }
    let module = ModuleRegistry::new(store.clone())
        .get(&report.module)
        .await?;
    // The same checks an export makes, so the saved selection is known to resolve.
    export::prepare(
        store,
        module.slug(),
        &ExportRequest {
            format: ExportFormat::Csv,
            config: report.config.clone(),
            member_id: None,
        },
    )
    .await?;
    let id = new_id("rpt");
    let config = serde_json::to_string(&report.config)
        .map_err(|e| Error::internal(format!("report config as JSON: {e}")))?;
    let mut sql = Sql::new(
        "INSERT INTO reports (id, name, module_id, config, created_by_user_id, created_at) VALUES (",
    );
    sql.bind_list([id.clone(), name.to_string(), module.id.clone(), config])
        .push(", ")
        .bind(created_by_user_id.map(str::to_string))
        .push(", ")
        .bind(now_micros())
        .push(")");
    store.execute(sql).await?;
    get(store, &id).await
}

pub async fn get(store: &Store, id: &str) -> Result<Report> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} WHERE r.id = "));
    sql.bind(id);
    match store.fetch_optional(sql).await? {
        Some(row) => report_from_row(&row),
        None => Err(Error::not_found("report", id)),
    }
}

/// The newest reports first, at most `limit` (1 to 100).
pub async fn list(store: &Store, limit: u32) -> Result<Vec<Report>> {
    let mut sql = Sql::new(format!(
        "SELECT {COLUMNS} ORDER BY r.created_at DESC, r.id DESC LIMIT "
    ));
    sql.bind(i64::from(limit.clamp(1, 100)));
    store.fetch_mapped(sql, report_from_row).await
}

pub async fn delete(store: &Store, id: &str) -> Result<()> {
    let mut sql = Sql::new("DELETE FROM reports WHERE id = ");
    sql.bind(id);
    if store.execute(sql).await? == 0 {
        return Err(Error::not_found("report", id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::query::SortDirection;
    use serde_json::json;

    fn report(config: ExportConfig) -> Report {
        Report {
            id: "rpt_1".into(),
            name: "Leads".into(),
            module_id: "mod_1".into(),
            module_slug: "contacts".into(),
            config,
            created_by_user_id: None,
            created_date_time: String::new(),
        }
    }

    #[test]
    fn request_settings_override_the_saved_ones() {
        let saved: ExportConfig = serde_json::from_value(json!({
            "columns": ["displayName", "email"],
            "filter": {"status": "lead"},
            "sortField": "email",
            "sortDirection": "asc",
            "description": "saved"
        }))
        .unwrap();
        let request = report(saved).export_request(
            ExportFormat::Pdf,
            serde_json::from_value(json!({"description": "Q4", "sortDirection": "desc"})).unwrap(),
        );
        let config = &request.config;
        assert_eq!(request.format, ExportFormat::Pdf);
        assert_eq!(
            config.columns.as_deref(),
            Some(&["displayName".to_string(), "email".to_string()][..])
        );
        assert_eq!(config.filter["status"], json!("lead"));
        assert_eq!(config.sort_field.as_deref(), Some("email"));
        assert_eq!(config.sort_direction, Some(SortDirection::Desc));
        assert_eq!(config.description.as_deref(), Some("Q4"));
        // A report's PDF is titled with its name unless a title is given.
        assert_eq!(config.title.as_deref(), Some("Leads"));
    }
}
