//! Mapping memory: the column mappings an import ran with, kept per module and normalised header,
//! so the next suggestion for a file with the same headers starts from what the user confirmed.
//!
//! In: a module and a file (or its columns and sample rows). Out: spec 002's suggestions, and
//! [`suggested_request`], the execute request an import without a mapping runs with (the CLI,
//! the benches and the tests all build it here). Remembered mappings are trusted before guesses;
//! those of other modules are hints for a field of the same slug and type.

use crate::error::Result;
use crate::import::execute::ImportRequest;
use crate::import::mapping::{ColumnMapping, RememberedMapping, normalize_header};
use crate::schema::Module;
use crate::store::{Sql, Store, now_micros};

/// Stores the mappings of an import (ignored columns too: "leave this column out" is a choice).
pub async fn remember(store: &Store, module: &Module, mappings: &[ColumnMapping]) -> Result<()> {
    if mappings.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    let mut sql = Sql::new(
        "INSERT INTO import_mappings (module_id, header, source_column, target_field_slug, \
         value_type, address_part, updated_at) VALUES ",
    );
    let mut seen = std::collections::HashSet::new();
    let mut first = true;
    for m in mappings {
        let header = normalize_header(&m.source_column);
        // One row per header per statement: a conflict target may not be hit twice in one INSERT.
        if header.is_empty() || !seen.insert(header.clone()) {
            continue;
        }
        if !first {
            sql.push(", ");
        }
        first = false;
        let target = if m.ignored {
            None
        } else {
            m.target_field_slug.clone()
        };
        sql.push("(")
            .bind_list([
                Some(module.id.clone()),
                Some(header),
                Some(m.source_column.clone()),
                target,
                m.value_type.clone(),
                m.address_part.clone(),
            ])
            .push(", ")
            .bind(now)
            .push(")");
    }
    if first {
        return Ok(());
    }
    sql.push(
        " ON CONFLICT (module_id, header) DO UPDATE SET source_column = excluded.source_column, \
         target_field_slug = excluded.target_field_slug, value_type = excluded.value_type, \
         address_part = excluded.address_part, updated_at = excluded.updated_at",
    );
    store.execute(sql).await?;
    Ok(())
}

/// The remembered mappings of a module.
pub async fn recall(store: &Store, module: &Module) -> Result<Vec<RememberedMapping>> {
    let mut sql = Sql::new(
        "SELECT source_column, target_field_slug, value_type, address_part FROM import_mappings \
         WHERE module_id = ",
    );
    sql.bind(module.id.clone()).push(" ORDER BY header");
    let rows = store.fetch_all(sql).await?;
    rows.iter().map(|row| remembered_from(row, None)).collect()
}

/// The mappings other modules confirmed for the given headers, each with the type of the field
/// it went to there (a hint for a field of the same slug and type in this module).
pub async fn recall_elsewhere(
    store: &Store,
    module: &Module,
    columns: &[String],
) -> Result<Vec<RememberedMapping>> {
    let headers: Vec<String> = columns.iter().map(|c| normalize_header(c)).collect();
    if headers.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT module_id, source_column, target_field_slug, value_type, address_part \
         FROM import_mappings WHERE target_field_slug IS NOT NULL AND module_id <> ",
    );
    sql.bind(module.id.clone()).push(" AND header IN (");
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(h.clone());
    }
    sql.push(") ORDER BY updated_at DESC");
    let rows = store.fetch_all(sql).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let modules = crate::schema::registry::ModuleRegistry::new(store.clone())
        .list()
        .await?;
    let mut out = Vec::new();
    for row in &rows {
        let module_id = row.text("module_id")?;
        let slug = row.opt_text("target_field_slug")?;
        let field_type = modules
            .iter()
            .find(|m| m.id == module_id)
            .and_then(|m| m.field(slug.as_deref()?))
            .map(|f| f.field_type);
        if let Some(field_type) = field_type {
            out.push(remembered_from(row, Some(field_type))?);
        }
    }
    Ok(out)
}

fn remembered_from(
    row: &crate::store::Row,
    elsewhere: Option<crate::schema::FieldType>,
) -> Result<RememberedMapping> {
    let source_column = row.text("source_column")?;
    let target_field_slug = row.opt_text("target_field_slug")?;
    Ok(RememberedMapping {
        header: source_column.clone(),
        mapping: ColumnMapping {
            source_column,
            ignored: target_field_slug.is_none(),
            target_field_slug,
            value_type: row.opt_text("value_type")?,
            address_part: row.opt_text("address_part")?,
            value_map: None,
        },
        elsewhere,
    })
}

/// Step 2 of spec 002 as the API takes it: column names and a few sample rows (spec 002's
/// `sourceColumns` and `sampleData`), trusting first what earlier imports of the module confirmed.
pub async fn suggest_for_columns(
    store: &Store,
    module: &Module,
    columns: &[String],
    samples: &[serde_json::Map<String, serde_json::Value>],
) -> Result<crate::import::mapping::SuggestResult> {
    let mut remembered = recall(store, module).await?;
    remembered.extend(recall_elsewhere(store, module, columns).await?);
    Ok(crate::import::mapping::suggest(
        module,
        columns,
        samples,
        &remembered,
        &Default::default(),
    ))
}

/// Step 2 of spec 002 for a file: reads its columns and sample rows and suggests a mapping,
/// trusting first what earlier imports of the module confirmed.
pub async fn suggest_for_file(
    store: &Store,
    module: &Module,
    path: &std::path::Path,
    options: &crate::import::SourceOptions,
) -> Result<crate::import::mapping::SuggestResult> {
    let parsed = crate::import::parse_file(path, options)?;
    suggest_for_columns(store, module, &parsed.source_columns, &parsed.sample_rows).await
}

/// The execute request of an import run without a mapping: every suggestion for the file taken
/// as it is (an unmapped column stays unmapped), every other option at its default. Callers set
/// the strategy, match fields and the rest on the result.
pub async fn suggested_request(
    store: &Store,
    module: &Module,
    path: &std::path::Path,
    options: &crate::import::SourceOptions,
) -> Result<ImportRequest> {
    let suggested = suggest_for_file(store, module, path, options).await?;
    Ok(ImportRequest {
        column_mapping: suggested
            .suggestions
            .into_iter()
            .map(ColumnMapping::from)
            .collect(),
        ..ImportRequest::default()
    })
}
