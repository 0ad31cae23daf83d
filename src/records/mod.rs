//! The Records service of spec 000: create, get, update (PATCH, optimistic locking), soft delete,
//! trash, bulk operations, version history and upsert by external id (spec 003); queries in CQL
//! (spec 004, [`cql`]), run through the same list plan as `list`.
//!
//! In: a module slug and request bodies ([`RecordInput`]). Out: [`Record`]s. Guarantees: every
//! field value passes [`crate::schema::value`] for its field type before it is stored; unique
//! fields hold at most one live record per normalised value; every change after creation leaves
//! a version row with the old and new values; multi-record operations run in one transaction.

mod access;
mod bulk;
pub mod cql;
mod expand;
pub(crate) mod history;
pub(crate) mod keys;
mod lookup;
pub mod members;
pub(crate) mod model;
pub mod query;
mod versions;
pub(crate) mod write;

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use access::Access;
pub use bulk::{BulkCreate, BulkPatch, RecordPatch};
pub use expand::Expand;
pub use history::VersionEntry;
pub use lookup::{MatchUpsert, NAME_KEY};
pub use model::{Actor, PRIVACY_LEVELS, Record, RecordInput};
pub use query::{ListQuery, ListResult};
pub use versions::{
    ChangelogEntry, ChangelogQuery, GetOptions, HistoryVersion, MAX_CHANGELOG_ENTRIES, RecordView,
};

use crate::error::{Error, FieldError, Result};
use crate::schema::registry::ModuleRegistry;
use crate::schema::value::{self, ValueOptions};
use crate::schema::{FieldType, Module};
use crate::store::{Sql, Store, Tx, now_micros};
use crate::webhooks::{EventKind, outbox};
use model::{record_columns, record_from_row};
use write::{Draft, RecordWriter};

/// Most ids one bulk request may name (spec 000).
pub const MAX_BULK_IDS: usize = 100;
/// Most records one bulk create may carry.
pub const MAX_BULK_CREATE: usize = 1000;
/// Trashed records older than this are purged.
pub const TRASH_RETENTION_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkDeleteOutcome {
    pub deleted: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkRestoreOutcome {
    pub restored: u64,
    pub skipped: u64,
}

/// The label and type changes of a bulk update (spec 000).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkUpdate {
    pub record_ids: Vec<String>,
    #[serde(default)]
    pub add_label_ids: Vec<String>,
    #[serde(default)]
    pub remove_label_ids: Vec<String>,
    #[serde(default)]
    pub add_type_ids: Vec<String>,
    #[serde(default)]
    pub remove_type_ids: Vec<String>,
}

/// One record of a bulk update's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdatedRecord {
    pub id: String,
    pub display_name: String,
    pub label_ids: Vec<String>,
    pub type_ids: Vec<String>,
}

/// A reference field of a module, as `GET /modules/{module}/references` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceInfo {
    pub slug: String,
    pub target_module_slug: String,
    pub target_type: &'static str,
    pub relationship_type: &'static str,
}

/// A linked record in short form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRef {
    pub id: String,
    pub display_name: String,
    pub module_slug: String,
}

/// One choice of the reference picker (spec 000): a record of the target module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PickerEntry {
    pub id: String,
    pub label: String,
    /// Up to two other values that tell records with similar names apart, joined by " - ".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
}

/// Most choices one picker request returns.
pub const MAX_PICKER_ENTRIES: u32 = 50;

#[derive(Clone)]
pub struct RecordService {
    store: Store,
    modules: ModuleRegistry,
    value_options: ValueOptions,
    /// Whose reads and changes these are: every query is restricted to what they may see.
    access: Access,
}

impl RecordService {
    pub fn new(store: Store) -> Self {
        Self::with_value_options(store, ValueOptions::default())
    }

    pub fn with_value_options(store: Store, value_options: ValueOptions) -> Self {
        RecordService {
            modules: ModuleRegistry::new(store.clone()),
            store,
            value_options,
            access: Access::Everything,
        }
    }

    /// The same service acting for `access`: what it reads and changes is limited to what that
    /// caller may see.
    pub fn acting_for(&self, access: Access) -> RecordService {
        RecordService {
            access,
            ..self.clone()
        }
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn modules(&self) -> &ModuleRegistry {
        &self.modules
    }

    fn writer<'a>(&'a self, module: &'a Module) -> RecordWriter<'a> {
        RecordWriter {
            module,
            modules: &self.modules,
            value_options: &self.value_options,
        }
    }

    /// A new record's draft; its owner is the member creating it unless the input names one.
    async fn new_draft(
        &self,
        writer: &RecordWriter<'_>,
        tx: &mut Tx,
        input: RecordInput,
    ) -> Result<Draft> {
        let mut draft = writer.draft_for_create(tx, input).await?;
        if draft.owner_id.is_none() {
            draft.owner_id = self.access.member_id().map(str::to_string);
        }
        Ok(draft)
    }

    pub async fn create(
        &self,
        module: &str,
        mut input: RecordInput,
        actor: &Actor,
    ) -> Result<Record> {
        let actor = &input.actor_saying(actor)?;
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let draft = self.new_draft(&writer, &mut tx, input).await?;
        let id = writer.insert(&mut tx, &draft, actor).await?;
        let record = read_back(&mut tx, &module, &id).await?;
        outbox::record_event(&mut tx, EventKind::RecordCreated, &record, None, actor).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// A live record; trashed records are `not_found` here (see [`RecordService::list_trash`]).
    pub async fn get(&self, module: &str, id: &str) -> Result<Record> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin_read().await?;
        let record = load(&mut tx, &module, id, Liveness::Live, &self.access).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// PATCH semantics: absent keys keep their values, `null` clears. A `version` in the input
    /// that is not the current version is a conflict. An update that changes nothing keeps the
    /// version.
    pub async fn update(
        &self,
        module: &str,
        id: &str,
        mut input: RecordInput,
        actor: &Actor,
    ) -> Result<Record> {
        let actor = &input.actor_saying(actor)?;
        let expected = input.version;
        self.change(module, id, Change::Patch(Box::new(input)), expected, actor)
            .await
    }

    /// Changes a live record as a new version in one transaction: loads it locked, checks the
    /// version the caller saw (`expected`, optimistic locking), writes the values `change`
    /// makes and sends the change's event.
    async fn change(
        &self,
        module: &str,
        id: &str,
        change: Change,
        expected: Option<i64>,
        actor: &Actor,
    ) -> Result<Record> {
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let current = load(&mut tx, &module, id, Liveness::LiveForUpdate, &self.access).await?;
        check_version(&current, expected)?;
        let restoring = matches!(change, Change::BackTo(_));
        let draft = match change {
            Change::Patch(input) => writer.draft_for_update(&mut tx, &current, *input).await?,
            Change::BackTo(version) => {
                Draft::from_record(&history::at_version(&mut tx, &current, version).await?)
            }
        };
        writer.update(&mut tx, &current, &draft, actor).await?;
        let record = read_back(&mut tx, &module, id).await?;
        if restoring {
            restored_event(&mut tx, &record, &current, actor).await?;
        } else {
            updated_event(&mut tx, &record, &current, actor).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    /// Creates the record with this external id, or updates it (PATCH semantics) when one exists.
    /// Returns the record and whether it was created.
    pub async fn upsert_by_external_id(
        &self,
        module: &str,
        external_id: &str,
        mut input: RecordInput,
        actor: &Actor,
    ) -> Result<(Record, bool)> {
        let external_id = external_id.trim();
        if external_id.is_empty() {
            return Err(Error::invalid_field(
                "externalId",
                "must not be empty",
                None,
            ));
        }
        if input
            .external_id
            .as_deref()
            .is_some_and(|e| e != external_id)
        {
            return Err(Error::invalid_field(
                "externalId",
                "the body's externalId differs from the one in the path",
                None,
            ));
        }
        input.external_id = Some(external_id.to_string());
        let module_def = self.modules.get(module).await?;
        let mut sql = Sql::new("SELECT id FROM records WHERE module_id = ");
        sql.bind(module_def.id.clone())
            .push(" AND external_id = ")
            .bind(external_id)
            .push(" AND deleted_at IS NULL");
        match self.store.fetch_optional(sql).await? {
            Some(row) => {
                let id = row.text("id")?;
                Ok((self.update(module, &id, input, actor).await?, false))
            }
            None => Ok((self.create(module, input, actor).await?, true)),
        }
    }

    /// Moves a record to the trash.
    pub async fn delete(&self, module: &str, id: &str, actor: &Actor) -> Result<()> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin().await?;
        let current = TrashMove::ToTrash
            .load_and_apply(&self.writer(&module), &mut tx, id, &self.access, actor)
            .await?;
        outbox::record_event(&mut tx, EventKind::RecordDeleted, &current, None, actor).await?;
        tx.commit().await?;
        // Deleting is when the trash grows, so it is also when expired entries go.
        self.purge_expired_trash(now_micros()).await?;
        Ok(())
    }

    /// Moves up to 100 records to the trash in one transaction; ids that are unknown or already
    /// trashed are counted as skipped.
    pub async fn bulk_delete(
        &self,
        module: &str,
        ids: &[String],
        actor: &Actor,
    ) -> Result<BulkDeleteOutcome> {
        let deleted = self
            .bulk_move(module, ids, actor, TrashMove::ToTrash)
            .await?;
        self.purge_expired_trash(now_micros()).await?;
        Ok(BulkDeleteOutcome {
            deleted,
            skipped: ids.len() as u64 - deleted,
        })
    }

    /// Brings a trashed record back. Fails with a conflict when a live record has taken one of its
    /// unique values (or its external id) meanwhile.
    pub async fn restore(&self, module: &str, id: &str, actor: &Actor) -> Result<Record> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin().await?;
        let current = TrashMove::OutOfTrash
            .load_and_apply(&self.writer(&module), &mut tx, id, &self.access, actor)
            .await?;
        let record = read_back(&mut tx, &module, id).await?;
        restored_event(&mut tx, &record, &current, actor).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Restores up to 100 trashed records in one transaction; ids not in the trash are skipped.
    pub async fn bulk_restore(
        &self,
        module: &str,
        ids: &[String],
        actor: &Actor,
    ) -> Result<BulkRestoreOutcome> {
        let restored = self
            .bulk_move(module, ids, actor, TrashMove::OutOfTrash)
            .await?;
        Ok(BulkRestoreOutcome {
            restored,
            skipped: ids.len() as u64 - restored,
        })
    }

    /// Moves up to 100 records one way in one transaction and says how many moved: an id that
    /// is not where the move starts (unknown, or already moved) is passed over; any other
    /// failure undoes the whole request.
    async fn bulk_move(
        &self,
        module: &str,
        ids: &[String],
        actor: &Actor,
        way: TrashMove,
    ) -> Result<u64> {
        check_bulk_ids(ids)?;
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let mut moved = Vec::new();
        for id in unique_ids(ids) {
            match way
                .load_and_apply(&writer, &mut tx, id, &self.access, actor)
                .await
            {
                Ok(current) => {
                    if let TrashMove::OutOfTrash = way {
                        // Spec 004 has no bulk restore event: each record is restored.
                        let record = read_back(&mut tx, &module, id).await?;
                        restored_event(&mut tx, &record, &current, actor).await?;
                    }
                    moved.push(current.id);
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let TrashMove::ToTrash = way {
            outbox::api_bulk_event(
                &mut tx,
                EventKind::BulkDeleted,
                module.slug(),
                &moved,
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(moved.len() as u64)
    }

    /// Deletes a trashed record for good, with its history.
    pub async fn purge(&self, module: &str, id: &str) -> Result<()> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin().await?;
        load(
            &mut tx,
            &module,
            id,
            Liveness::TrashedForUpdate,
            &self.access,
        )
        .await?;
        let mut filter = Sql::new("id = ");
        filter.bind(id);
        write::purge_where(&mut tx, filter).await?;
        tx.commit().await
    }

    /// Purges every trashed record of the module; returns how many.
    pub async fn empty_trash(&self, module: &str) -> Result<u64> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin().await?;
        let mut filter = Sql::new("module_id = ");
        filter
            .bind(module.id.clone())
            .push(" AND deleted_at IS NOT NULL");
        self.access.restrict(&mut filter, "records");
        let purged = write::purge_where(&mut tx, filter).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Purges trashed records deleted more than 30 days before `now_micros`, in every module.
    pub async fn purge_expired_trash(&self, now_micros: i64) -> Result<u64> {
        let cutoff = now_micros - TRASH_RETENTION_DAYS * 24 * 3600 * 1_000_000;
        let mut tx = self.store.begin().await?;
        let mut filter = Sql::new("deleted_at IS NOT NULL AND deleted_at < ");
        filter.bind(cutoff);
        let purged = write::purge_where(&mut tx, filter).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Adds and removes labels and types on up to 100 records, in one transaction. Unknown ids
    /// fail the whole request.
    pub async fn bulk_update(
        &self,
        module: &str,
        request: &BulkUpdate,
        actor: &Actor,
    ) -> Result<Vec<BulkUpdatedRecord>> {
        check_bulk_ids(&request.record_ids)?;
        let module = self.modules.get(module).await?;
        let writer = self.writer(&module);
        let mut tx = self.store.begin().await?;
        let mut out = Vec::with_capacity(request.record_ids.len());
        for id in unique_ids(&request.record_ids) {
            let current = load(&mut tx, &module, id, Liveness::LiveForUpdate, &self.access).await?;
            let mut draft = Draft::from_record(&current);
            draft.label_ids = edit_ids(
                &current.label_ids,
                &request.add_label_ids,
                &request.remove_label_ids,
            )?;
            draft.type_ids = edit_ids(
                &current.type_ids,
                &request.add_type_ids,
                &request.remove_type_ids,
            )?;
            writer.update(&mut tx, &current, &draft, actor).await?;
            out.push(BulkUpdatedRecord {
                id: current.id.clone(),
                display_name: draft.display_name,
                label_ids: draft.label_ids,
                type_ids: draft.type_ids,
            });
        }
        let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
        outbox::api_bulk_event(&mut tx, EventKind::BulkUpdated, module.slug(), &ids, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn list(&self, module: &str, query: &ListQuery) -> Result<ListResult> {
        let module = self.modules.get(module).await?;
        let expand = Expand::parse(&module, &query.expand)?;
        let query = ListQuery {
            access: self.access.clone(),
            ..query.clone()
        };
        let mut result = query::list(&self.store, &module, &query, &self.value_options).await?;
        if !expand.is_empty() {
            self.expand(&module, &mut result.records, &expand).await?;
        }
        Ok(result)
    }

    /// Trashed records of the module, most recently deleted first. Expired entries are purged
    /// first, so the trash never shows a record past its retention.
    pub async fn list_trash(&self, module: &str, page: u32, page_size: u32) -> Result<ListResult> {
        self.purge_expired_trash(now_micros()).await?;
        let module = self.modules.get(module).await?;
        query::list_trash(&self.store, &module, page, page_size, &self.access).await
    }

    /// The record's versions, newest first, each with its changes and the field values it had.
    pub async fn history(&self, module: &str, id: &str) -> Result<Vec<VersionEntry>> {
        let module = self.modules.get(module).await?;
        let mut tx = self.store.begin_read().await?;
        let current = load(&mut tx, &module, id, Liveness::Any, &self.access).await?;
        let entries = history::history(&mut tx, &current).await?;
        tx.commit().await?;
        Ok(entries)
    }

    /// The record as it was at version `version`.
    pub async fn get_version(&self, module: &str, id: &str, version: i64) -> Result<Record> {
        let options = GetOptions {
            version: Some(version),
            ..GetOptions::default()
        };
        Ok(self.get_with(module, id, &options).await?.record)
    }

    /// The reference fields of a module.
    pub async fn references(&self, module: &str) -> Result<Vec<ReferenceInfo>> {
        let module = self.modules.get(module).await?;
        Ok(module
            .def
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Reference)
            .map(|f| ReferenceInfo {
                slug: f.slug.clone(),
                target_module_slug: f.target.clone().unwrap_or_default(),
                target_type: "module",
                relationship_type: "many_to_one",
            })
            .collect())
    }

    /// The slug of the module the reference field `reference` of `module` points to; a
    /// validation error when it is another kind of field.
    async fn reference_target(&self, module: &str, reference: &str) -> Result<String> {
        let module = self.modules.get(module).await?;
        let field = module.require_field(reference)?;
        if field.field_type != FieldType::Reference {
            return Err(Error::invalid_field(
                reference,
                "is not a reference field",
                None,
            ));
        }
        Ok(field.target.clone().unwrap_or_default())
    }

    /// The records a record links to through one reference field.
    pub async fn linked_records(
        &self,
        module: &str,
        reference: &str,
        id: &str,
    ) -> Result<Vec<RecordRef>> {
        let target = self.reference_target(module, reference).await?;
        let record = self.get(module, id).await?;
        let mut linked = Vec::new();
        if let Some(Value::String(target_id)) = record.fields.get(reference) {
            match self.get(&target, target_id).await {
                Ok(r) => linked.push(RecordRef {
                    id: r.id,
                    display_name: r.display_name,
                    module_slug: r.module_slug,
                }),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(linked)
    }
}

impl RecordService {
    /// Records of a reference field's target module to link to (spec 000's reference picker):
    /// those matching `search`, by name, at most `limit` (default 10, at most 50). The subtitle
    /// holds the first two filled text, select, email or URL fields that the display name does
    /// not already show.
    pub async fn reference_picker(
        &self,
        module: &str,
        reference: &str,
        search: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<PickerEntry>> {
        let target = self
            .modules
            .get(&self.reference_target(module, reference).await?)
            .await?;
        let query = ListQuery {
            search: search
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
            sort_field: Some("displayName".into()),
            sort_direction: Some(query::SortDirection::Asc),
            page: Some(1),
            page_size: Some(limit.unwrap_or(10).clamp(1, MAX_PICKER_ENTRIES)),
            access: self.access.clone(),
            ..ListQuery::default()
        };
        let page = query::list(&self.store, &target, &query, &self.value_options).await?;
        let in_display_name = |slug: &str| {
            target
                .def
                .display_name
                .iter()
                .any(|template| template.contains(&format!("{{{slug}}}")))
        };
        let described: Vec<&str> = target
            .def
            .fields
            .iter()
            .filter(|f| {
                matches!(
                    f.field_type,
                    FieldType::Text | FieldType::Select | FieldType::Email | FieldType::Url
                ) && !in_display_name(&f.slug)
            })
            .map(|f| f.slug.as_str())
            .collect();
        Ok(page
            .records
            .into_iter()
            .map(|record| {
                let parts: Vec<String> = described
                    .iter()
                    .filter_map(|slug| record.fields.get(*slug))
                    .map(value::display_text)
                    .filter(|text| !text.is_empty())
                    .take(2)
                    .collect();
                PickerEntry {
                    id: record.id,
                    label: record.display_name,
                    subtitle: (!parts.is_empty()).then(|| parts.join(" - ")),
                }
            })
            .collect())
    }
}

/// Which way a delete or a restore moves a record: into the trash or out of it.
#[derive(Debug, Clone, Copy)]
enum TrashMove {
    ToTrash,
    OutOfTrash,
}

impl TrashMove {
    /// Loads the record where the move starts, locked (the move changes it), and moves it
    /// inside `tx`; returns the record as it was. A record that is not where the move starts
    /// (unknown, or already moved) is `not_found`.
    async fn load_and_apply(
        self,
        writer: &RecordWriter<'_>,
        tx: &mut Tx,
        id: &str,
        access: &Access,
        actor: &Actor,
    ) -> Result<Record> {
        let lookup = match self {
            TrashMove::ToTrash => Liveness::LiveForUpdate,
            TrashMove::OutOfTrash => Liveness::TrashedForUpdate,
        };
        let current = load(tx, writer.module, id, lookup, access).await?;
        match self {
            TrashMove::ToTrash => writer.soft_delete(tx, &current, actor).await?,
            TrashMove::OutOfTrash => writer.restore(tx, &current, actor).await?,
        }
        Ok(current)
    }
}

/// What a change to a live record puts in place of its values.
enum Change {
    /// PATCH semantics over the current values.
    Patch(Box<RecordInput>),
    /// The values the record had at this version (spec 004's restore to a version).
    BackTo(i64),
}

/// `record.updated` for a change that made a new version (an update that changed nothing sends
/// nothing).
pub(crate) async fn updated_event(
    tx: &mut Tx,
    record: &Record,
    previous: &Record,
    actor: &Actor,
) -> Result<()> {
    if record.version == previous.version {
        return Ok(());
    }
    outbox::record_event(tx, EventKind::RecordUpdated, record, Some(previous), actor).await
}

/// `record.restored`: from the trash, or back to a past version's values.
pub(crate) async fn restored_event(
    tx: &mut Tx,
    record: &Record,
    previous: &Record,
    actor: &Actor,
) -> Result<()> {
    outbox::record_event(tx, EventKind::RecordRestored, record, Some(previous), actor).await
}

/// A live record just written, read back for the writer's answer whatever its privacy: whoever
/// wrote it may see the result, even when the change handed it to another owner.
pub(crate) async fn read_back(tx: &mut Tx, module: &Module, id: &str) -> Result<Record> {
    load(tx, module, id, Liveness::Live, &Access::Everything).await
}

/// Optimistic locking: a `version` the caller saw that is not the record's current one is a
/// conflict; no version given accepts any.
fn check_version(current: &Record, seen: Option<i64>) -> Result<()> {
    match seen {
        Some(seen) if seen != current.version => Err(Error::Conflict {
            message: format!(
                "record {} was changed since version {seen}: the current version is {}",
                current.id, current.version
            ),
            details: json!({ "recordId": current.id, "yourVersion": seen, "currentVersion": current.version }),
        }),
        _ => Ok(()),
    }
}

/// Which state of a record a lookup accepts (and whether it locks the row for a change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Live,
    LiveForUpdate,
    TrashedForUpdate,
    Any,
}

/// A record of `module` by id, where `liveness` says, among those `access` may see.
pub(crate) async fn load(
    tx: &mut Tx,
    module: &Module,
    id: &str,
    liveness: Liveness,
    access: &Access,
) -> Result<Record> {
    let dialect = tx.dialect();
    let mut sql = Sql::new(format!(
        "SELECT {} FROM records r WHERE r.id = ",
        record_columns(dialect)
    ));
    sql.bind(id)
        .push(" AND r.module_id = ")
        .bind(module.id.clone());
    sql.push(match liveness {
        Liveness::Live | Liveness::LiveForUpdate => " AND r.deleted_at IS NULL",
        Liveness::TrashedForUpdate => " AND r.deleted_at IS NOT NULL",
        Liveness::Any => "",
    });
    access.restrict(&mut sql, "r");
    if matches!(
        liveness,
        Liveness::LiveForUpdate | Liveness::TrashedForUpdate
    ) {
        sql.push(dialect.for_update());
    }
    let entity = if liveness == Liveness::TrashedForUpdate {
        "trashed record"
    } else {
        "record"
    };
    match tx.fetch_optional(sql).await? {
        Some(row) => record_from_row(&row, module.slug()),
        None => Err(Error::not_found(entity, id)),
    }
}

fn check_bulk_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::invalid_field(
            "recordIds",
            "must name at least one record",
            None,
        ));
    }
    if ids.len() > MAX_BULK_IDS {
        return Err(Error::invalid_field(
            "recordIds",
            format!("at most {MAX_BULK_IDS} ids per request, got {}", ids.len()),
            None,
        ));
    }
    Ok(())
}

/// The ids in order, each once.
fn unique_ids(ids: &[String]) -> impl Iterator<Item = &str> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .map(String::as_str)
        .filter(move |id| seen.insert(*id))
}

/// `current` plus `add`, minus `remove`, each id once, in a stable order.
fn edit_ids(current: &[String], add: &[String], remove: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = current
        .iter()
        .filter(|id| !remove.contains(id))
        .cloned()
        .collect();
    for id in add {
        if id.trim().is_empty() {
            return Err(Error::validation("label and type ids must not be empty"));
        }
        if !out.contains(id) && !remove.contains(id) {
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// Field values of a request body, parsed for their field types. `None` marks a cleared field.
/// Every bad value is reported, each naming its field.
pub(crate) fn parse_input_fields(
    module: &Module,
    input: &Map<String, Value>,
    options: &ValueOptions,
) -> Result<Vec<(String, Option<Value>)>> {
    let mut parsed = Vec::with_capacity(input.len());
    let mut errors = Vec::new();
    for (slug, raw) in input {
        let Some(field) = module.field(slug) else {
            errors.push(FieldError {
                field: slug.clone(),
                message: format!("unknown field of module '{}'", module.slug()),
                value: None,
            });
            continue;
        };
        match value::parse_json(field, raw, options) {
            Ok(v) => parsed.push((slug.clone(), v)),
            Err(e) => errors.push(FieldError {
                field: slug.clone(),
                message: e.0,
                value: Some(raw.clone()),
            }),
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(fields_error(errors))
    }
}

/// One validation error for several bad fields; the message names them.
pub(crate) fn fields_error(errors: Vec<FieldError>) -> Error {
    let message = if errors.len() == 1 {
        format!("{}: {}", errors[0].field, errors[0].message)
    } else {
        format!(
            "Invalid field values: {}",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Error::Validation {
        message,
        fields: errors,
    }
}
