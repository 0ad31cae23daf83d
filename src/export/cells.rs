//! Stored records to cells, on the cell thread: the export's hot loop.
//!
//! In: a [`StoredRecord`] (a row's values as the reader copied them, the JSON columns
//! unparsed) and the export's [`ColumnSet`]. Out: the row's cells, appended to a page
//! ([`Rows`], reused from page to page). Guarantees: the cells are exactly those
//! [`ColumnSet::cells`] gives for the same record; the common shapes (strings, numbers, booleans,
//! address objects, phone and option lists) are read straight from the borrowed JSON text
//! ([`json_scan`](super::json_scan)) without building a `serde_json::Value` or allocating, and
//! any other shape is parsed into a `Value` and given to [`ColumnSet::cells`]'s own code, so an
//! unusual value costs time, never correctness.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use super::columns::{
    ColumnSet, Core, MULTI_VALUE_SEPARATOR, Part, Source, datetime_cell, field_cell,
};
use super::json_scan::{Raw, elements, members, string};
use super::rows::{CellRef, CellText, Rows};
use super::stored::StoredRecord;
use crate::error::{Error, Result};
use crate::schema::{ADDRESS_PARTS, FieldType, Module};

/// What one column reads.
#[derive(Debug, Clone)]
enum Plan {
    Core(Core),
    Field {
        /// Index into the row's field slots.
        slot: usize,
        field_type: FieldType,
        part: Part,
    },
}

/// Turns stored records into cells for one export's columns.
pub(crate) struct CellMaker {
    module: Module,
    columns: ColumnSet,
    plans: Vec<Plan>,
    /// The field slugs the columns read, each once.
    slugs: Vec<String>,
    /// Rows the slow path made (the tests check that the common shapes never take it).
    #[cfg(test)]
    slow_rows: usize,
}

/// Field slots kept on the stack; a column set reading more fields keeps them in a `Vec`.
const MAX_FAST_SLOTS: usize = 64;

/// The values of a record's fields that the columns read: the raw JSON text of each slot, `None`
/// for absent or `null`.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per row on the stack, which is the point: a box would allocate per row"
)]
enum Scanned<'r> {
    Few([Option<Raw<'r>>; MAX_FAST_SLOTS]),
    Many(Vec<Option<Raw<'r>>>),
}

impl<'r> Scanned<'r> {
    fn slots(&self) -> &[Option<Raw<'r>>] {
        match self {
            Scanned::Few(slots) => slots,
            Scanned::Many(slots) => slots,
        }
    }
}

impl CellMaker {
    pub(crate) fn new(module: &Module, columns: &ColumnSet) -> CellMaker {
        let mut slugs: Vec<String> = Vec::new();
        let plans = columns
            .columns
            .iter()
            .map(|column| match &column.source {
                Source::Core(core) => Plan::Core(*core),
                Source::Field { slug, part } => {
                    let slot = match slugs.iter().position(|s| s == slug) {
                        Some(slot) => slot,
                        None => {
                            slugs.push(slug.clone());
                            slugs.len() - 1
                        }
                    };
                    Plan::Field {
                        slot,
                        field_type: module.field(slug).map_or(FieldType::Text, |f| f.field_type),
                        part: part.clone(),
                    }
                }
            })
            .collect();
        CellMaker {
            module: module.clone(),
            columns: columns.clone(),
            plans,
            slugs,
            #[cfg(test)]
            slow_rows: 0,
        }
    }

    /// Appends the cells of `record` to `rows` as its next row. `reference_names` holds the
    /// display names of the joined references, in join order.
    pub(crate) fn fill(
        &mut self,
        record: &StoredRecord<'_>,
        reference_names: &[Option<&str>],
        rows: &mut Rows,
    ) -> Result<()> {
        let scanned = self.scan(record)?;
        self.fill_scanned(record, &scanned, reference_names, rows)
    }

    /// Finds the values the columns read in the record's fields.
    fn scan<'r>(&self, record: &StoredRecord<'r>) -> Result<Scanned<'r>> {
        let mut scanned = if self.slugs.len() <= MAX_FAST_SLOTS {
            Scanned::Few([None; MAX_FAST_SLOTS])
        } else {
            Scanned::Many(vec![None; self.slugs.len()])
        };
        if self.slugs.is_empty() {
            return Ok(scanned);
        }
        let slots = match &mut scanned {
            Scanned::Few(slots) => &mut slots[..],
            Scanned::Many(slots) => &mut slots[..],
        };
        let slugs = &self.slugs;
        members(record.fields, |key, value| {
            // Length and first byte first: most keys differ from most slugs there.
            let first = key.as_bytes().first();
            let same =
                |s: &String| s.len() == key.len() && s.as_bytes().first() == first && s == key;
            if let Some(slot) = slugs.iter().position(same) {
                // JSON `null` is no value, as an absent key.
                slots[slot] = (!value.is_null()).then_some(value);
            }
            Ok::<_, serde_json::Error>(())
        })
        .map_err(stored_json)?;
        Ok(scanned)
    }

    /// [`CellMaker::fill`] with the fields already scanned.
    fn fill_scanned(
        &mut self,
        record: &StoredRecord<'_>,
        scanned: &Scanned<'_>,
        reference_names: &[Option<&str>],
        rows: &mut Rows,
    ) -> Result<()> {
        let slots = scanned.slots();
        let mark = rows.mark();
        let mut cache = PartsCache::default();
        for plan in &self.plans {
            let done = match plan {
                Plan::Core(core) => {
                    core_cell(*core, record, rows)?;
                    true
                }
                Plan::Field {
                    slot,
                    field_type,
                    part,
                } => match slots[*slot] {
                    None => {
                        rows.push(CellRef::Empty);
                        true
                    }
                    Some(raw) => field_fast(
                        *field_type,
                        part,
                        (*slot, raw),
                        &mut cache,
                        reference_names,
                        rows,
                    )
                    .map_err(stored_json)?,
                },
            };
            if !done {
                rows.truncate(mark);
                return self.fill_slowly(record, reference_names, rows);
            }
        }
        Ok(())
    }

    /// The record as a [`crate::records::Record`]'s values, through [`ColumnSet::cells`]'s
    /// code: for the shapes the fast path leaves alone.
    fn fill_slowly(
        &mut self,
        record: &StoredRecord<'_>,
        reference_names: &[Option<&str>],
        rows: &mut Rows,
    ) -> Result<()> {
        #[cfg(test)]
        {
            self.slow_rows += 1;
        }
        let fields: serde_json::Map<String, Value> =
            serde_json::from_str(record.fields).map_err(stored_json)?;
        let names: Vec<Option<String>> = reference_names
            .iter()
            .map(|n| n.map(str::to_string))
            .collect();
        for (plan, column) in self.plans.iter().zip(&self.columns.columns) {
            match (plan, &column.source) {
                (Plan::Field { .. }, Source::Field { slug, part }) => {
                    match fields.get(slug).filter(|v| !v.is_null()) {
                        Some(stored) => rows
                            .push(field_cell(self.module.field(slug), part, stored, &names).view()),
                        None => rows.push(CellRef::Empty),
                    }
                }
                (Plan::Core(core), _) => core_cell(*core, record, rows)?,
                (Plan::Field { .. }, Source::Core(_)) => {
                    unreachable!("plans are made from the columns")
                }
            }
        }
        Ok(())
    }
}

fn stored_json(e: serde_json::Error) -> Error {
    Error::json("stored record", e)
}

/// A text cell, or an empty one for no text.
fn push_text(rows: &mut Rows, text: &str) {
    rows.push(if text.is_empty() {
        CellRef::Empty
    } else {
        CellRef::Text(text)
    });
}

fn core_cell(core: Core, record: &StoredRecord<'_>, rows: &mut Rows) -> Result<()> {
    fn opt(text: Option<&str>) -> &str {
        text.unwrap_or_default()
    }
    match core {
        // Never left out, even when empty.
        Core::Id => rows.push(CellRef::Text(record.id)),
        Core::PrivacyLevel => rows.push(CellRef::Text(record.privacy_level)),
        Core::DisplayName => push_text(rows, record.display_name),
        Core::ExternalId => push_text(rows, opt(record.external_id)),
        Core::Version => rows.push(CellRef::Integer(record.version)),
        Core::CreatedBy => push_text(rows, opt(record.created_by_display_name)),
        Core::UpdatedBy => push_text(rows, opt(record.updated_by_display_name)),
        Core::CreatedByUserId => push_text(rows, opt(record.created_by_user_id)),
        Core::UpdatedByUserId => push_text(rows, opt(record.updated_by_user_id)),
        Core::CreatedDateTime => rows.push(time_cell(record.created_at)),
        Core::UpdatedDateTime => rows.push(time_cell(record.updated_at)),
        Core::LabelIds => id_list(record.label_ids, rows)?,
        Core::TypeIds => id_list(record.type_ids, rows)?,
    }
    Ok(())
}

/// A record time as the records API shows it: whole seconds (its ISO 8601 form has no fraction).
fn time_cell(micros: i64) -> CellRef<'static> {
    CellRef::DateTime(DateTime::from_timestamp(micros.div_euclid(1_000_000), 0).unwrap_or_default())
}

/// Label or type ids (a JSON array of strings), joined.
fn id_list(json: &str, rows: &mut Rows) -> Result<()> {
    rows.push_text_with(|text| {
        let mut first = true;
        elements(json, |id| {
            if !id.starts_with('"') {
                return Err(serde::de::Error::custom(
                    "an id list holds a value that is not a string",
                ));
            }
            if !first {
                text.push_str(MULTI_VALUE_SEPARATOR);
            }
            first = false;
            text.push_str(&string(id)?);
            Ok(())
        })
    })
    .map_err(stored_json)
}

/// Appends the cell of a field column from its stored JSON (never `null`); `false` (with
/// whatever was appended left for the caller to drop) when the value has a shape left to the
/// slow path.
fn field_fast<'r>(
    field_type: FieldType,
    part: &Part,
    (slot, raw): (usize, Raw<'r>),
    cache: &mut PartsCache<'r>,
    reference_names: &[Option<&str>],
    rows: &mut Rows,
) -> serde_json::Result<bool> {
    match part {
        Part::Address(name) => {
            if !raw.starts_with('{') {
                rows.push(CellRef::Empty);
                return Ok(true);
            }
            let parts = cache.address(slot, raw)?;
            let found = ADDRESS_PARTS
                .iter()
                .position(|p| p == name)
                .and_then(|i| parts[i]);
            match found.filter(|v| !v.is_null()) {
                None => rows.push(CellRef::Empty),
                Some(value) if value.is_string() => push_text(rows, &string(value)?),
                Some(_) => return Ok(false),
            }
            Ok(true)
        }
        Part::Phone(kind) => {
            if !raw.starts_with('[') {
                rows.push(CellRef::Empty);
                return Ok(true);
            }
            let entries = cache.phones(slot, raw)?;
            rows.push_text_with(|text| {
                let mut plain = true;
                for &(kind_of, number) in entries {
                    let Some(kind_of) = kind_of.filter(|k| k.starts_with('"')) else {
                        continue;
                    };
                    if !string(kind_of)?.eq_ignore_ascii_case(kind) {
                        continue;
                    }
                    match number {
                        None => {}
                        Some(n) if n.starts_with('"') => push_joined(text, &string(n)?),
                        Some(_) => plain = false,
                    }
                }
                Ok(plain)
            })
        }
        Part::ReferenceName(join) => {
            if let Some(Some(name)) = reference_names.get(*join) {
                push_text(rows, name);
                return Ok(true);
            }
            plain_text(raw, rows)
        }
        Part::ReferenceId => plain_text(raw, rows),
        Part::Whole => whole_fast(field_type, raw, rows),
    }
}

/// What one row's address and phone fields hold, read once for all their part columns (an
/// address has six columns, a phone one per type).
#[derive(Default)]
struct PartsCache<'r> {
    /// The address slot read last, with its parts' raw values in [`ADDRESS_PARTS`] order.
    address: Option<(usize, [Option<Raw<'r>>; ADDRESS_PARTS.len()])>,
    /// The phone slot read last, with each entry's raw `type` and `number`.
    phones: Option<(usize, Phones<'r>)>,
}

/// A phone entry's raw `type` and `number`.
type Phone<'r> = (Option<Raw<'r>>, Option<Raw<'r>>);

/// The entries of one phone list: on the stack while there are few (nearly always one or two).
#[derive(Default)]
struct Phones<'r> {
    few: [Phone<'r>; 4],
    len: usize,
    more: Vec<Phone<'r>>,
}

impl<'r> Phones<'r> {
    fn push(&mut self, phone: Phone<'r>) {
        if self.len < self.few.len() && self.more.is_empty() {
            self.few[self.len] = phone;
            self.len += 1;
        } else {
            if self.more.is_empty() {
                self.more.extend_from_slice(&self.few[..self.len]);
            }
            self.more.push(phone);
        }
    }

    fn as_slice(&self) -> &[Phone<'r>] {
        if self.more.is_empty() {
            &self.few[..self.len]
        } else {
            &self.more
        }
    }
}

impl<'r> PartsCache<'r> {
    /// The parts of the address object `raw` in slot `slot`.
    fn address(
        &mut self,
        slot: usize,
        raw: Raw<'r>,
    ) -> serde_json::Result<[Option<Raw<'r>>; ADDRESS_PARTS.len()]> {
        if let Some((cached, parts)) = self.address
            && cached == slot
        {
            return Ok(parts);
        }
        let mut parts = [None; ADDRESS_PARTS.len()];
        members(raw.text(), |key, value| {
            if let Some(i) = ADDRESS_PARTS.iter().position(|p| *p == key) {
                parts[i] = Some(value);
            }
            Ok::<_, serde_json::Error>(())
        })?;
        self.address = Some((slot, parts));
        Ok(parts)
    }

    /// The `type` and `number` of each object in the phone list `raw` in slot `slot` (other
    /// elements show nothing in a phone column).
    fn phones(&mut self, slot: usize, raw: Raw<'r>) -> serde_json::Result<&[Phone<'r>]> {
        if !matches!(&self.phones, Some((cached, _)) if *cached == slot) {
            let mut phones = Phones::default();
            elements(raw.text(), |item| -> serde_json::Result<()> {
                if !item.starts_with('{') {
                    return Ok(());
                }
                let (mut kind, mut number) = (None, None);
                members(item.text(), |key, value| {
                    match key {
                        "type" => kind = Some(value),
                        "number" => number = Some(value),
                        _ => {}
                    }
                    Ok::<_, serde_json::Error>(())
                })?;
                phones.push((kind, number));
                Ok(())
            })?;
            self.phones = Some((slot, phones));
        }
        Ok(self.phones.as_ref().map_or(&[], |(_, p)| p.as_slice()))
    }
}

/// [`field_fast`] for a whole field.
fn whole_fast(field_type: FieldType, raw: Raw<'_>, rows: &mut Rows) -> serde_json::Result<bool> {
    match (field_type, raw.as_bytes()[0]) {
        (FieldType::Number | FieldType::Currency, b'-' | b'0'..=b'9') => {
            match raw.parse::<f64>() {
                Ok(n) => rows.push(CellRef::Number(n)),
                Err(_) => return Ok(false),
            }
            Ok(true)
        }
        (FieldType::Boolean, b't' | b'f') => {
            rows.push(CellRef::Boolean(raw.text() == "true"));
            Ok(true)
        }
        (FieldType::Date, b'"') => {
            let text = string(raw)?;
            match iso_date(&text) {
                Some(date) => rows.push(CellRef::Date(date)),
                None => push_text(rows, &text),
            }
            Ok(true)
        }
        (FieldType::Datetime, b'"') => {
            rows.push(datetime_cell(&string(raw)?).view());
            Ok(true)
        }
        (FieldType::Phone | FieldType::MultiSelect, b'[') => rows.push_text_with(|text| {
            let mut plain = true;
            elements(raw.text(), |item| -> serde_json::Result<()> {
                if item.is_string() {
                    push_joined(text, &string(item)?);
                } else if item.starts_with('{') {
                    let mut number = None;
                    members(item.text(), |key, value| {
                        if key == "number" {
                            number = Some(value);
                        }
                        Ok::<_, serde_json::Error>(())
                    })?;
                    match number {
                        Some(n) if n.starts_with('"') => push_joined(text, &string(n)?),
                        _ => plain = false,
                    }
                } else {
                    plain = false;
                }
                Ok(())
            })?;
            Ok(plain)
        }),
        (_, b'"') => {
            push_text(rows, &string(raw)?);
            Ok(true)
        }
        (_, b'{') => object_text(raw, rows),
        _ => Ok(false),
    }
}

/// An object shown whole (an address in one cell), as `display_text` shows it: a phone entry's
/// number, else the address parts that hold text, trimmed, joined with `, `.
fn object_text(raw: Raw<'_>, rows: &mut Rows) -> serde_json::Result<bool> {
    let mut number = None;
    let mut parts: [Option<Raw<'_>>; ADDRESS_PARTS.len()] = [None; ADDRESS_PARTS.len()];
    members(raw.text(), |key, value| {
        if key == "number" {
            number = Some(value);
        } else if let Some(i) = ADDRESS_PARTS.iter().position(|p| *p == key) {
            parts[i] = Some(value);
        }
        Ok::<_, serde_json::Error>(())
    })?;
    match number {
        Some(n) if n.is_null() => rows.push(CellRef::Empty),
        Some(n) if n.is_string() => push_text(rows, &string(n)?),
        Some(_) => return Ok(false),
        None => rows.push_text_with(|text| {
            for part in parts.into_iter().flatten().filter(|p| p.starts_with('"')) {
                let part = string(part)?;
                let part = part.trim();
                if !part.is_empty() {
                    if !text.is_empty() {
                        text.push_str(", ");
                    }
                    text.push_str(part);
                }
            }
            Ok::<_, serde_json::Error>(())
        })?,
    }
    Ok(true)
}

/// A stored date (`2024-01-15`), as `NaiveDate::parse_from_str(text, "%Y-%m-%d")` reads it;
/// the usual ten-character form without going through chrono's format parser.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A value shown as it is: a string; other shapes go to the slow path.
fn plain_text(raw: Raw<'_>, rows: &mut Rows) -> serde_json::Result<bool> {
    if !raw.starts_with('"') {
        return Ok(false);
    }
    push_text(rows, &string(raw)?);
    Ok(true)
}

/// Appends a value of a multi-value cell: non-empty values joined with
/// [`MULTI_VALUE_SEPARATOR`].
fn push_joined(text: &mut CellText<'_>, value: &str) {
    if value.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push_str(MULTI_VALUE_SEPARATOR);
    }
    text.push_str(value);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::export::columns::{Cell, Layout, default_keys};
    use crate::records::Record;
    use crate::store::format_micros;

    fn module() -> Module {
        Module::from_test_json(json!({
            "slug": "things",
            "name": "Things",
            "fields": [
                {"slug": "title", "label": "Title", "type": "text"},
                {"slug": "body", "label": "Body", "type": "long_text"},
                {"slug": "count", "label": "Count", "type": "number"},
                {"slug": "price", "label": "Price", "type": "currency"},
                {"slug": "email", "label": "Email", "type": "email"},
                {"slug": "phone", "label": "Phone", "type": "phone", "valueTypes": ["Mobile", "Work"]},
                {"slug": "site", "label": "Site", "type": "url"},
                {"slug": "day", "label": "Day", "type": "date"},
                {"slug": "at", "label": "At", "type": "datetime"},
                {"slug": "ok", "label": "OK", "type": "boolean"},
                {"slug": "stage", "label": "Stage", "type": "select", "options": ["a", "b"]},
                {"slug": "tags", "label": "Tags", "type": "multi_select", "options": ["x", "y"]},
                {"slug": "account", "label": "Account", "type": "reference", "target": "accounts"},
                {"slug": "address", "label": "Address", "type": "address"}
            ]
        }))
    }

    /// The shapes the store keeps for each field type (after validation), which the fast path
    /// reads by itself: the `k`-th of a few for `field_type`.
    fn common_value(field_type: FieldType, k: usize) -> Value {
        let choices = match field_type {
            FieldType::Number | FieldType::Currency => vec![json!(75000.5), json!(-3), json!(0)],
            FieldType::Boolean => vec![json!(true), json!(false)],
            FieldType::Date => vec![json!("2024-01-15"), json!("15.01.2024")],
            FieldType::Datetime => vec![json!("2024-01-15T10:30:00Z"), json!("soon")],
            FieldType::Phone => vec![
                json!([{"number": "+12125550147", "type": "Mobile"}, {"number": "+4420", "type": "Work"}]),
                json!([{"number": "+33 1", "type": "work"}]),
            ],
            FieldType::MultiSelect => vec![json!(["x", "y"]), json!([])],
            FieldType::Address => vec![
                json!({"street": "1 Main St", "city": "Zürich", "zip": "8001"}),
                json!({"city": "São \"Paulo\""}),
            ],
            _ => vec![
                json!("plain"),
                json!("with \"quotes\", commas\nand é"),
                json!(""),
            ],
        };
        if k % 7 == 6 {
            return Value::Null;
        }
        choices[k % choices.len()].clone()
    }

    /// Values of every shape, the usual ones and the odd ones the fast path leaves to
    /// `ColumnSet::cells`.
    fn values() -> Vec<Value> {
        vec![
            json!("plain"),
            json!(""),
            json!("with \"quotes\", commas\nand a tab\t and é ü 中"),
            json!("2024-01-15"),
            json!("2024-01-15T10:30:00Z"),
            json!("not a date"),
            json!(75000.0),
            json!(-12.5),
            json!(0),
            json!(18446744073709551615u64),
            json!(true),
            json!(false),
            Value::Null,
            json!([{"number": "+12125550147", "type": "Mobile"}, {"number": "+442071838750", "type": "work"}, {"number": "+15550001", "type": "Mobile"}]),
            json!([{"number": 42, "type": "Mobile"}, {"type": "Mobile"}, "loose", 7, null]),
            json!(["x", "", "y \"q\""]),
            json!([["nested"], {"city": "Zürich"}]),
            json!({"street": "1 Main St", "city": "Zürich", "zip": "8001", "country": ""}),
            json!({"street": 12, "city": null, "state": ["a"]}),
            json!({"number": "+1 212", "type": "Work"}),
            json!({}),
            json!([]),
        ]
    }

    fn record(fields: &serde_json::Map<String, Value>, k: usize) -> (Record, String) {
        let micros = 1_705_314_600_123_456 + k as i64 * 86_400_000_000 - 3_000_000_000_000_000;
        let record = Record {
            id: format!("rec_{k}"),
            module_id: "mod_1".into(),
            module_slug: "things".into(),
            display_name: if k.is_multiple_of(3) {
                String::new()
            } else {
                format!("Thing {k}")
            },
            fields: fields.clone(),
            label_ids: if k.is_multiple_of(2) {
                vec![]
            } else {
                vec!["lbl_a".into(), "".into(), "lbl \"b\"".into()]
            },
            type_ids: vec![],
            privacy_level: if k.is_multiple_of(4) {
                String::new()
            } else {
                "team".into()
            },
            description_html: None,
            external_id: (k % 2 == 1).then(|| format!("ext-{k}")),
            owner_id: None,
            created_date_time: format_micros(micros),
            updated_date_time: format_micros(micros + 1),
            created_by_user_id: Some("usr_1".into()),
            created_by_display_name: k.is_multiple_of(2).then(|| "Ada".into()),
            updated_by_user_id: None,
            updated_by_display_name: Some(String::new()),
            version: k as i64,
            deleted_date_time: None,
            imported_by: None,
        };
        (record, serde_json::to_string(fields).unwrap())
    }

    #[test]
    fn cells_are_those_of_the_record() {
        let values = values();
        let odd = same_cells(|_, k| values[k % values.len()].clone());
        assert!(odd > 0, "the odd shapes take the slow path");
        let common = same_cells(common_value);
        assert_eq!(common, 0, "the common shapes take the fast path");
    }

    /// Checks the cells of records whose fields hold `value(field type, k)` against
    /// `ColumnSet::cells`; returns how many rows took the slow path.
    fn same_cells(value: impl Fn(FieldType, usize) -> Value) -> usize {
        let module = module();
        let mut slow = 0;
        let mut keys = default_keys(&module);
        keys.extend(
            [
                "id",
                "externalId",
                "privacyLevel",
                "version",
                "createdBy",
                "updatedBy",
                "createdByUserId",
                "updatedByUserId",
                "labelIds",
                "typeIds",
                "account.id",
                "address.city",
                "phone.work",
            ]
            .map(String::from),
        );
        for layout in [Layout::Flat, Layout::Compact] {
            let columns =
                ColumnSet::resolve(&module, Some(&keys), &BTreeMap::new(), layout).unwrap();
            let mut maker = CellMaker::new(&module, &columns);
            let mut out = Rows::new(columns.columns.len());
            for k in 0..60 {
                let mut fields = serde_json::Map::new();
                for (i, field) in module.def.fields.iter().enumerate() {
                    if (k + i) % 5 != 4 {
                        fields.insert(field.slug.clone(), value(field.field_type, k + i * 7));
                    }
                }
                let (record, fields_json) = record(&fields, k);
                let labels = serde_json::to_string(&record.label_ids).unwrap();
                let micros = |text: &str| {
                    DateTime::parse_from_rfc3339(text)
                        .unwrap()
                        .timestamp_micros()
                        + 999_999
                };
                let stored = StoredRecord {
                    id: &record.id,
                    display_name: &record.display_name,
                    fields: &fields_json,
                    label_ids: &labels,
                    type_ids: "[]",
                    privacy_level: &record.privacy_level,
                    external_id: record.external_id.as_deref(),
                    created_at: micros(&record.created_date_time),
                    updated_at: micros(&record.updated_date_time),
                    created_by_user_id: record.created_by_user_id.as_deref(),
                    created_by_display_name: record.created_by_display_name.as_deref(),
                    updated_by_user_id: record.updated_by_user_id.as_deref(),
                    updated_by_display_name: record.updated_by_display_name.as_deref(),
                    version: record.version,
                };
                let names = if k % 2 == 0 {
                    vec![Some("Acme")]
                } else {
                    vec![None]
                };
                let owned: Vec<Option<String>> =
                    names.iter().map(|n| n.map(str::to_string)).collect();
                maker.fill(&stored, &names, &mut out).unwrap();
                let expected = columns.cells(&module, &record, &owned);
                let got: Vec<CellRef> = out.row(out.len() - 1).collect();
                let want: Vec<CellRef> = expected.iter().map(Cell::view).collect();
                assert_eq!(got, want, "record {k}: {fields_json}");
            }
            slow += maker.slow_rows;
        }
        slow
    }

    #[test]
    fn dates_read_as_chrono_reads_them() {
        for text in [
            "2024-01-15",
            "2024-02-30",
            "2024-1-5",
            "0000-01-01",
            "9999-12-31",
            "+2024-01-15",
            "2024-01-15 ",
            " 2024-01-15",
            "2024/01/15",
            "20240-01-15",
            "2024-13-01",
            "abcd-ef-gh",
            "",
        ] {
            assert_eq!(
                iso_date(text),
                NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn broken_stored_json_is_an_error() {
        let module = module();
        let columns = ColumnSet::resolve(&module, None, &BTreeMap::new(), Layout::Flat).unwrap();
        let mut maker = CellMaker::new(&module, &columns);
        let stored = StoredRecord {
            fields: "{\"title\": ",
            label_ids: "[]",
            type_ids: "[]",
            ..StoredRecord::default()
        };
        let error = maker
            .fill(&stored, &[None], &mut Rows::new(columns.columns.len()))
            .unwrap_err();
        assert_eq!(error.code(), "validation_error");
    }
}
