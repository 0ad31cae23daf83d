//! A compiled CQL plan run against the store.
//!
//! In: a [`Plan`]. Out: a page of records (each with its `INCLUDE`d records) or a page of groups.
//! Guarantees: the records are read through the list's plan (the same SQL, the same rules as
//! `GET …/records`); at most `limit + 1` rows of the main query and at most
//! [`MAX_INCLUDED`] + 1 rows per `INCLUDE` are read, so a query's memory is bounded whatever the
//! table's size.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::compile::{IncludePlan, Plan};
use super::{QueryOutput, QueryPagination, QueryRecord};
use crate::error::{Error, Result};
use crate::records::query::{ListPlan, ListQuery, Window, count, no_extra, project_fields};
use crate::records::{Access, Record};
use crate::schema::value::ValueOptions;
use crate::store::Store;

/// Most records one `INCLUDE` adds to one page of results.
pub const MAX_INCLUDED: usize = 1000;

/// Runs `plan` for `access`: the results, groups and included records hold only what that
/// caller may see.
pub async fn run(
    store: &Store,
    plan: &Plan,
    options: &ValueOptions,
    access: &Access,
) -> Result<QueryOutput> {
    let list = ListQuery {
        access: access.clone(),
        ..plan.list.clone()
    };
    let list_plan = ListPlan::new(store.dialect(), &plan.module, &list, options)?;
    let offset = i64::try_from(plan.offset).unwrap_or(i64::MAX);
    if let Some(grouping) = &plan.grouping {
        let (groups, has_more) = list_plan.groups(store, &plan.module, grouping).await?;
        return Ok(QueryOutput::Groups {
            groups,
            pagination: QueryPagination {
                limit: plan.limit,
                offset: plan.offset,
                total: None,
                has_more,
            },
        });
    }
    // One row more than the page tells whether there are more.
    let window = Window::page(i64::from(plan.limit) + 1, offset);
    let rows = store
        .fetch_all(list_plan.select_sql(&window, no_extra)?)
        .await?;
    let has_more = rows.len() > plan.limit as usize;
    let mut records = rows
        .iter()
        .take(plan.limit as usize)
        .map(|row| list_plan.record(row))
        .collect::<Result<Vec<_>>>()?;
    let total = count(store, list_plan.count_sql()).await?;
    let mut included: Vec<BTreeMap<String, Vec<Record>>> = vec![BTreeMap::new(); records.len()];
    for include in &plan.includes {
        let found = include_records(store, include, &records, options, access).await?;
        for (slot, matched) in included.iter_mut().zip(found) {
            slot.insert(include.relation.clone(), matched);
        }
    }
    project_fields(&plan.module, &mut records, &plan.list.fields)?;
    Ok(QueryOutput::Records {
        results: records
            .into_iter()
            .zip(included)
            .map(|(record, included)| QueryRecord { record, included })
            .collect(),
        pagination: QueryPagination {
            limit: plan.limit,
            offset: plan.offset,
            total: Some(total),
            has_more,
        },
    })
}

/// The included records of each parent, in the parents' order: those of the include's module
/// whose `child_field` holds the parent's `parent_field`, and that pass the include's other
/// conditions. One query for the whole page.
async fn include_records(
    store: &Store,
    include: &IncludePlan,
    parents: &[Record],
    options: &ValueOptions,
    access: &Access,
) -> Result<Vec<Vec<Record>>> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for parent in parents {
        if let Some((key, value)) = link_value(parent, &include.parent_field)
            && seen.insert(key)
        {
            keys.push(value);
        }
    }
    if keys.is_empty() {
        return Ok(vec![Vec::new(); parents.len()]);
    }
    let link = json!({"fieldSlug": include.child_field, "operator": "in", "values": keys});
    let mut conditions = vec![link];
    if let Some(extra) = &include.list.advanced_filter {
        conditions.push(extra.get("root").unwrap_or(extra).clone());
    }
    let query = ListQuery {
        advanced_filter: Some(json!({"root": {"conjunction": "AND", "conditions": conditions}})),
        sort_field: Some("createdAt".into()),
        sort_direction: Some(crate::records::query::SortDirection::Asc),
        access: access.clone(),
        ..ListQuery::default()
    };
    let plan = ListPlan::new(store.dialect(), &include.module, &query, options)?;
    let rows = store
        .fetch_all(plan.select_sql(&Window::first(MAX_INCLUDED as i64 + 1), no_extra)?)
        .await?;
    if rows.len() > MAX_INCLUDED {
        return Err(Error::validation(format!(
            "INCLUDE {} matches more than {MAX_INCLUDED} records for this page of results: \
             lower the LIMIT or narrow the INCLUDE's WHERE",
            include.relation
        )));
    }
    let children = rows
        .iter()
        .map(|row| plan.record(row))
        .collect::<Result<Vec<_>>>()?;
    Ok(parents
        .iter()
        .map(|parent| match link_value(parent, &include.parent_field) {
            None => Vec::new(),
            Some((key, _)) => children
                .iter()
                .filter(|child| {
                    link_value(child, &include.child_field).is_some_and(|(k, _)| k == key)
                })
                .cloned()
                .collect(),
        })
        .collect())
}

/// The value a record holds in a linking field, as a comparable key and as the JSON the filter
/// takes; `None` when empty. Fields come first, then the record's own columns, as filters
/// resolve names.
fn link_value(record: &Record, name: &str) -> Option<(String, Value)> {
    if let Some(value) = record.fields.get(name) {
        return match value {
            Value::String(s) => Some((s.clone(), value.clone())),
            Value::Number(n) => Some((n.as_f64().unwrap_or_default().to_string(), value.clone())),
            Value::Bool(b) => Some((b.to_string(), value.clone())),
            _ => None,
        };
    }
    let text = match name {
        "id" => Some(record.id.clone()),
        "externalId" => record.external_id.clone(),
        "displayName" | "name" => Some(record.display_name.clone()),
        _ => None,
    }?;
    Some((text.clone(), Value::String(text)))
}
