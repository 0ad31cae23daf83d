//! Stored records between the export's reader and its cell maker.
//!
//! In: a row's values as the database hands them out ([`StoredRecord`], borrowed), and the
//! display names of the records it references. Out: the same, read back from a page
//! ([`StoredRecords::get`]) on another thread. Guarantees: a page copies what the cells need and
//! nothing else, its text in one buffer in row order; its buffers keep their capacity when it is
//! cleared and filled again. Handing pages of copies over, rather than turning rows into cells
//! where they are read, lets the database's own work and the cells' work run side by side.

use std::ops::Range;

/// One stored record as the export reads it: borrowed, the JSON columns as text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StoredRecord<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
    /// The `fields` column: a JSON object.
    pub fields: &'a str,
    /// JSON arrays of strings.
    pub label_ids: &'a str,
    pub type_ids: &'a str,
    pub privacy_level: &'a str,
    pub external_id: Option<&'a str>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by_user_id: Option<&'a str>,
    pub created_by_display_name: Option<&'a str>,
    pub updated_by_user_id: Option<&'a str>,
    pub updated_by_display_name: Option<&'a str>,
    pub version: i64,
}

/// A record of a page: where its text is.
#[derive(Debug, Clone)]
struct Copied {
    id: Range<usize>,
    display_name: Range<usize>,
    fields: Range<usize>,
    label_ids: Range<usize>,
    type_ids: Range<usize>,
    privacy_level: Range<usize>,
    external_id: Option<Range<usize>>,
    created_at: i64,
    updated_at: i64,
    created_by_user_id: Option<Range<usize>>,
    created_by_display_name: Option<Range<usize>>,
    updated_by_user_id: Option<Range<usize>>,
    updated_by_display_name: Option<Range<usize>>,
    version: i64,
}

/// A page of stored records, each with the names of the `references` records it points at.
#[derive(Debug, Clone)]
pub(crate) struct StoredRecords {
    references: usize,
    text: String,
    records: Vec<Copied>,
    /// `references` names per record.
    names: Vec<Option<Range<usize>>>,
}

impl StoredRecords {
    pub(crate) fn new(references: usize) -> StoredRecords {
        StoredRecords {
            references,
            text: String::new(),
            records: Vec::new(),
            names: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Empties the page, keeping its buffers.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.records.clear();
        self.names.clear();
    }

    fn copy(&mut self, text: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    fn copy_opt(&mut self, text: Option<&str>) -> Option<Range<usize>> {
        text.map(|t| self.copy(t))
    }

    /// Appends a copy of `record` and its reference names (one per reference, in join order).
    pub(crate) fn push(&mut self, record: &StoredRecord<'_>, names: &[Option<&str>]) {
        debug_assert_eq!(names.len(), self.references);
        let copied = Copied {
            id: self.copy(record.id),
            display_name: self.copy(record.display_name),
            fields: self.copy(record.fields),
            label_ids: self.copy(record.label_ids),
            type_ids: self.copy(record.type_ids),
            privacy_level: self.copy(record.privacy_level),
            external_id: self.copy_opt(record.external_id),
            created_at: record.created_at,
            updated_at: record.updated_at,
            created_by_user_id: self.copy_opt(record.created_by_user_id),
            created_by_display_name: self.copy_opt(record.created_by_display_name),
            updated_by_user_id: self.copy_opt(record.updated_by_user_id),
            updated_by_display_name: self.copy_opt(record.updated_by_display_name),
            version: record.version,
        };
        self.records.push(copied);
        for name in names {
            let name = self.copy_opt(*name);
            self.names.push(name);
        }
    }

    /// Record `i`, with its reference names appended to `names` (cleared first).
    pub(crate) fn get<'p>(
        &'p self,
        i: usize,
        names: &mut Vec<Option<&'p str>>,
    ) -> StoredRecord<'p> {
        let text = |range: &Range<usize>| &self.text[range.clone()];
        let opt = |range: &Option<Range<usize>>| range.as_ref().map(text);
        let c = &self.records[i];
        names.clear();
        names.extend(
            self.names[i * self.references..(i + 1) * self.references]
                .iter()
                .map(opt),
        );
        StoredRecord {
            id: text(&c.id),
            display_name: text(&c.display_name),
            fields: text(&c.fields),
            label_ids: text(&c.label_ids),
            type_ids: text(&c.type_ids),
            privacy_level: text(&c.privacy_level),
            external_id: opt(&c.external_id),
            created_at: c.created_at,
            updated_at: c.updated_at,
            created_by_user_id: opt(&c.created_by_user_id),
            created_by_display_name: opt(&c.created_by_display_name),
            updated_by_user_id: opt(&c.updated_by_user_id),
            updated_by_display_name: opt(&c.updated_by_display_name),
            version: c.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_as_copied() {
        let mut page = StoredRecords::new(2);
        let first = StoredRecord {
            id: "rec_1",
            display_name: "Ada",
            fields: r#"{"a":1}"#,
            label_ids: "[]",
            type_ids: r#"["t"]"#,
            privacy_level: "team",
            external_id: Some("x-1"),
            created_at: 5,
            updated_at: 6,
            created_by_user_id: None,
            created_by_display_name: Some(""),
            updated_by_user_id: Some("usr"),
            updated_by_display_name: None,
            version: 3,
        };
        page.push(&first, &[Some("Acme"), None]);
        page.push(&StoredRecord::default(), &[None, Some("")]);
        assert_eq!(page.len(), 2);
        let mut names = Vec::new();
        let back = page.get(0, &mut names);
        assert_eq!(format!("{back:?}"), format!("{first:?}"));
        assert_eq!(names, [Some("Acme"), None]);
        let back = page.get(1, &mut names);
        assert_eq!(back.id, "");
        assert_eq!(back.external_id, None);
        assert_eq!(names, [None, Some("")]);
        page.clear();
        assert!(page.is_empty());
    }
}
