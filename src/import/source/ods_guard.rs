//! The ODS part of the zipped-workbook pre-scan: what calamine will lay out for `content.xml`.
//!
//! In: the part's XML, as `zip_guard` decompresses it within its byte budget (so no tag or run
//! of text read here is over the cell limit's raw size), and the [`SourceLimits`]. Out: `Ok`
//! or [`Error::TooLarge`] naming the limit passed. Guarantees: the sheets are walked as
//! calamine 0.38 reads them, counting instead of allocating:
//! - a cell's `table:number-columns-repeated` pushes that many copies of it (calamine caps a
//!   row at 16,384 columns), and `table:number-rows-repeated` lays a row out that many times
//!   in the sheet's dense range (capped at 1,048,576 rows): both are counted against
//!   `max_cells`, as the rectangle the non-empty cells span;
//! - a repeated cell's text is held once per repeat, and `<text:s text:c="N"/>` becomes N
//!   spaces: counted against `max_cell_bytes` per cell and `max_text_bytes` in all.
//!
//! Malformed XML, or a repeat count calamine cannot read, ends the scan with `Ok`: calamine
//! then fails on it before it lays out a grid.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use super::{SourceLimits, human_bytes};
use crate::{Error, Result};

/// calamine's caps on a sheet's rows and a row's columns (`ods.rs`).
const MAX_ROWS: u64 = 1_048_576;
const MAX_COLUMNS: u64 = 16_384;

/// Scans `content.xml`; `file` names the workbook in errors.
pub(super) fn check(part: impl BufRead, file: &str, limits: &SourceLimits) -> Result<()> {
    let mut reader = quick_xml::Reader::from_reader(part);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut scan = Scan {
        file,
        limits,
        sheet: Sheet::default(),
        row: None,
        cell: None,
        slots: 0,
        pushed: 0,
        text_bytes: 0,
    };
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let step = match reader.read_event_into(&mut buffer) {
            Ok(Event::Eof) | Err(_) => return scan.end_sheet(),
            Ok(Event::Start(e)) => scan.start(&e),
            Ok(Event::End(e)) => scan.end(e.name().as_ref()),
            Ok(Event::Text(t)) => {
                scan.text(t.len() as u64);
                Ok(true)
            }
            Ok(Event::GeneralRef(_)) => {
                // An entity decodes to at most one character.
                scan.text(4);
                Ok(true)
            }
            Ok(_) => Ok(true),
        };
        if !step? {
            return scan.end_sheet();
        }
    }
}

struct Scan<'a> {
    file: &'a str,
    limits: &'a SourceLimits,
    sheet: Sheet,
    row: Option<Row>,
    /// A string cell whose text is its content, being read.
    cell: Option<Cell>,
    /// Dense-range slots of the sheets done.
    slots: u64,
    /// Cells and rows calamine collects before laying them out, all sheets.
    pushed: u64,
    text_bytes: u64,
}

/// One sheet's rows so far, as calamine's `get_range` will lay them out.
#[derive(Default)]
struct Sheet {
    rows: u64,
    /// Rows (with repeats) from the first non-empty one to the last.
    spanned_rows: u64,
    /// Repeats of empty rows since the last non-empty one.
    pending_rows: u64,
    /// Leftmost and rightmost non-empty column.
    cols: Option<(u64, u64)>,
}

#[derive(Default)]
struct Row {
    repeats: u64,
    /// Cells pushed so far, and the empty ones waiting for a non-empty cell to follow.
    width: u64,
    pending_empty: u64,
    cols: Option<(u64, u64)>,
    /// Text of the row's cells, each repeat counted.
    text_bytes: u64,
}

struct Cell {
    repeats: u64,
    formula_bytes: u64,
    text_bytes: u64,
    paragraphs: u64,
}

impl Scan<'_> {
    fn too_large(&self, message: String) -> Error {
        Error::TooLarge {
            file: self.file.to_string(),
            message,
        }
    }

    /// `Ok(false)` where calamine would fail.
    fn start(&mut self, e: &BytesStart<'_>) -> Result<bool> {
        match e.name().as_ref() {
            "table:table" => {
                self.end_sheet()?;
                self.sheet = Sheet::default();
            }
            "table:table-row" => {
                let Some(repeats) = count(e, "table:number-rows-repeated") else {
                    return Ok(false);
                };
                let repeats = repeats.min(MAX_ROWS.saturating_sub(self.sheet.rows));
                self.sheet.rows += repeats;
                // calamine keeps a row's repeat count and where its cells start.
                self.pushed += 1;
                self.row = Some(Row {
                    repeats,
                    ..Row::default()
                });
            }
            "table:table-cell" | "table:covered-table-cell" => return self.start_cell(e),
            "text:s" if self.cell.is_some() => {
                let Some(spaces) = count(e, "text:c") else {
                    return Ok(false);
                };
                self.text(spaces);
            }
            "text:p" => {
                if let Some(cell) = &mut self.cell {
                    cell.paragraphs += 1;
                    if cell.paragraphs > 1 {
                        self.text(1);
                    }
                }
            }
            "text:tab" | "text:line-break" => self.text(1),
            _ => {}
        }
        Ok(true)
    }

    fn start_cell(&mut self, e: &BytesStart<'_>) -> Result<bool> {
        let Some(repeats) = count(e, "table:number-columns-repeated") else {
            return Ok(false);
        };
        let mut value: Option<u64> = None;
        let mut string_type = false;
        let mut formula_bytes = 0;
        for attribute in e.attributes().with_checks(false).flatten() {
            let len = attribute.value.len() as u64;
            match attribute.key.as_ref() {
                "office:value" | "office:boolean-value" => {
                    value.get_or_insert(0);
                }
                "office:string-value" | "office:date-value" | "office:time-value" => {
                    value.get_or_insert(len);
                }
                "office:value-type" => string_type |= attribute.value == "string",
                "table:formula" => formula_bytes = len,
                _ => {}
            }
        }
        let cell = Cell {
            repeats,
            formula_bytes,
            text_bytes: value.unwrap_or(0),
            paragraphs: 0,
        };
        if value.is_none() && string_type {
            // The text is the content, read up to the cell's end.
            self.cell = Some(cell);
            return Ok(true);
        }
        self.push_cell(cell, value.is_some());
        self.check()
    }

    fn text(&mut self, bytes: u64) {
        if let Some(cell) = &mut self.cell {
            cell.text_bytes = cell.text_bytes.saturating_add(bytes);
        }
    }

    fn end(&mut self, name: &str) -> Result<bool> {
        match name {
            "table:table-cell" | "table:covered-table-cell" => {
                if let Some(cell) = self.cell.take() {
                    if cell.text_bytes > self.limits.max_cell_bytes as u64 {
                        return Err(self.too_large(format!(
                            "a cell's text expands to over {}, over the limit of {} (the limit \
                             per cell)",
                            human_bytes(cell.text_bytes),
                            human_bytes(self.limits.max_cell_bytes as u64)
                        )));
                    }
                    self.push_cell(cell, true);
                    return self.check();
                }
            }
            "table:table-row" => {
                if let Some(row) = self.row.take() {
                    self.end_row(row);
                    return self.check();
                }
            }
            "table:table" => {
                self.end_sheet()?;
                self.sheet = Sheet::default();
            }
            _ => {}
        }
        Ok(true)
    }

    /// A cell's copies pushed into its row, as calamine's `read_row` does: empty cells only
    /// when a non-empty one follows them.
    fn push_cell(&mut self, cell: Cell, has_value: bool) {
        let Some(row) = &mut self.row else {
            return;
        };
        let empty = row.pending_empty.min(MAX_COLUMNS.saturating_sub(row.width));
        row.width += empty;
        self.pushed += empty;
        row.pending_empty = 0;
        let repeats = cell.repeats.min(MAX_COLUMNS.saturating_sub(row.width));
        if !has_value && cell.formula_bytes == 0 {
            row.pending_empty = repeats;
            return;
        }
        if repeats > 0 {
            let (first, last) = (row.width, row.width + repeats - 1);
            row.cols = Some(
                row.cols
                    .map_or((first, last), |(l, r)| (l.min(first), r.max(last))),
            );
        }
        row.width += repeats;
        self.pushed += repeats;
        let text = cell.text_bytes.saturating_add(cell.formula_bytes);
        row.text_bytes = row.text_bytes.saturating_add(text.saturating_mul(repeats));
    }

    /// A row into the sheet's layout: its repeats are laid out when a non-empty row ends them.
    fn end_row(&mut self, row: Row) {
        let sheet = &mut self.sheet;
        let Some((left, right)) = row.cols else {
            if sheet.cols.is_some() {
                sheet.pending_rows += row.repeats;
            }
            return;
        };
        sheet.spanned_rows += sheet.pending_rows + row.repeats;
        sheet.pending_rows = 0;
        sheet.cols = Some(
            sheet
                .cols
                .map_or((left, right), |(l, r)| (l.min(left), r.max(right))),
        );
        self.text_bytes = self
            .text_bytes
            .saturating_add(row.text_bytes.saturating_mul(row.repeats.max(1)));
    }

    fn end_sheet(&mut self) -> Result<()> {
        let sheet = std::mem::take(&mut self.sheet);
        if let Some((left, right)) = sheet.cols {
            let width = right - left + 1;
            let slots = sheet.spanned_rows.saturating_mul(width);
            self.slots = self.slots.saturating_add(slots);
            if self.slots > self.limits.max_cells {
                return Err(self.too_large(format!(
                    "a sheet lays out {} rows by {width} columns (its repeated rows and columns \
                     counted), {} cells with the sheets before it, over {} (the limit of cells)",
                    sheet.spanned_rows, self.slots, self.limits.max_cells
                )));
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<bool> {
        let limits = self.limits;
        if self.pushed > limits.max_cells {
            return Err(self.too_large(format!(
                "the workbook has over {} cells, its repeated columns counted (the limit of \
                 cells)",
                limits.max_cells
            )));
        }
        let row_text = self.row.as_ref().map_or(0, |row| row.text_bytes);
        if self.text_bytes.saturating_add(row_text) > limits.max_text_bytes {
            return Err(self.too_large(format!(
                "the workbook's cells hold over {} of text, each repeat of a cell counted (the \
                 limit of text bytes)",
                human_bytes(limits.max_text_bytes)
            )));
        }
        Ok(true)
    }
}

/// A repeat count attribute (1 when absent), or `None` when calamine could not read it.
fn count(e: &BytesStart<'_>, name: &str) -> Option<u64> {
    let Ok(Some(attribute)) = e.try_get_attribute(name) else {
        return Some(1);
    };
    attribute.value.parse::<usize>().ok().map(|n| n as u64)
}
