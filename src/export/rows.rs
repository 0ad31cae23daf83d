//! A page of exported rows: what the reader fills and a sink writes.
//!
//! In: cells, row by row, from the reader ([`Rows::push`], [`Rows::push_text_with`]). Out: each
//! row's cells as [`CellRef`]s borrowed from the page ([`Rows::row`], [`Rows::cell`]).
//! Guarantees: all the text of a page lives in one buffer, in row order, so a sink on another
//! thread reads it front to back (a cell per heap allocation made the sink wait on a cache miss
//! for the first byte of nearly every cell); the buffers keep their capacity when the page is
//! cleared and filled again, so a running export allocates nothing per row.

use chrono::{DateTime, NaiveDate, Utc};

use super::columns::Cell;

/// One value of one record in one column, borrowed from its page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Cell {
    /// The cell as a page holds it.
    pub fn view(&self) -> CellRef<'_> {
        match self {
            Cell::Empty => CellRef::Empty,
            Cell::Text(text) => CellRef::Text(text),
            Cell::Number(n) => CellRef::Number(*n),
            Cell::Integer(i) => CellRef::Integer(*i),
            Cell::Boolean(b) => CellRef::Boolean(*b),
            Cell::Date(d) => CellRef::Date(*d),
            Cell::DateTime(t) => CellRef::DateTime(*t),
        }
    }
}

/// A cell as the page stores it: text as a range of the page's text buffer.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Empty,
    Text { start: usize, end: usize },
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

/// Rows of `width` cells, their text in one buffer.
#[derive(Debug, Clone)]
pub struct Rows {
    width: usize,
    text: String,
    slots: Vec<Slot>,
}

impl Rows {
    pub fn new(width: usize) -> Rows {
        Rows {
            width,
            text: String::new(),
            slots: Vec::new(),
        }
    }

    /// A page holding `rows` (each `width` cells long).
    pub fn from_cells(width: usize, rows: &[Vec<Cell>]) -> Rows {
        let mut page = Rows::new(width);
        for row in rows {
            for cell in row {
                page.push(cell.view());
            }
        }
        page
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Whole rows on the page.
    pub fn len(&self) -> usize {
        self.slots.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Empties the page, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
    }

    /// The cell of row `row` in column `column`.
    pub fn cell(&self, row: usize, column: usize) -> CellRef<'_> {
        self.view(self.slots[row * self.width + column])
    }

    /// The cells of row `row`, in column order.
    pub fn row(&self, row: usize) -> impl ExactSizeIterator<Item = CellRef<'_>> + '_ {
        let start = row * self.width;
        self.slots[start..start + self.width]
            .iter()
            .map(|slot| self.view(*slot))
    }

    fn view(&self, slot: Slot) -> CellRef<'_> {
        match slot {
            Slot::Empty => CellRef::Empty,
            Slot::Text { start, end } => CellRef::Text(&self.text[start..end]),
            Slot::Number(n) => CellRef::Number(n),
            Slot::Integer(i) => CellRef::Integer(i),
            Slot::Boolean(b) => CellRef::Boolean(b),
            Slot::Date(d) => CellRef::Date(d),
            Slot::DateTime(t) => CellRef::DateTime(t),
        }
    }

    /// Appends the next cell (rows fill left to right, top to bottom).
    pub fn push(&mut self, cell: CellRef<'_>) {
        let slot = match cell {
            CellRef::Empty => Slot::Empty,
            CellRef::Text(text) => {
                let start = self.text.len();
                self.text.push_str(text);
                Slot::Text {
                    start,
                    end: self.text.len(),
                }
            }
            CellRef::Number(n) => Slot::Number(n),
            CellRef::Integer(i) => Slot::Integer(i),
            CellRef::Boolean(b) => Slot::Boolean(b),
            CellRef::Date(d) => Slot::Date(d),
            CellRef::DateTime(t) => Slot::DateTime(t),
        };
        self.slots.push(slot);
    }

    /// Appends a text cell written in place by `write` (an empty text is an empty cell); what
    /// `write` returns is returned.
    pub(crate) fn push_text_with<T>(&mut self, write: impl FnOnce(&mut CellText<'_>) -> T) -> T {
        let start = self.text.len();
        let result = write(&mut CellText {
            text: &mut self.text,
            start,
        });
        let end = self.text.len();
        self.slots.push(if end == start {
            Slot::Empty
        } else {
            Slot::Text { start, end }
        });
        result
    }

    /// Where the page ends now, to [`Rows::truncate`] back to.
    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.slots.len(), self.text.len())
    }

    /// Drops what was appended after `mark` (a row begun and then made another way).
    pub(crate) fn truncate(&mut self, mark: (usize, usize)) {
        self.slots.truncate(mark.0);
        self.text.truncate(mark.1);
    }
}

/// The text of the cell being written: appended to the page's buffer.
pub(crate) struct CellText<'a> {
    text: &'a mut String,
    start: usize,
}

impl CellText<'_> {
    pub(crate) fn push_str(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Whether this cell has no text yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.text.len() == self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_come_back_as_pushed() {
        let cells = vec![
            vec![Cell::Text("a".into()), Cell::Empty, Cell::Number(1.5)],
            vec![
                Cell::Integer(7),
                Cell::Text("bé".into()),
                Cell::Boolean(true),
            ],
        ];
        let mut page = Rows::from_cells(3, &cells);
        assert_eq!(page.len(), 2);
        for (i, row) in cells.iter().enumerate() {
            let back: Vec<CellRef> = page.row(i).collect();
            let want: Vec<CellRef> = row.iter().map(Cell::view).collect();
            assert_eq!(back, want);
        }
        assert_eq!(page.cell(1, 1), CellRef::Text("bé"));
        let mark = page.mark();
        page.push_text_with(|t| t.push_str("gone"));
        page.truncate(mark);
        page.push_text_with(|t| {
            assert!(t.is_empty());
            t.push_str("x");
            assert!(!t.is_empty());
        });
        page.truncate(mark);
        page.push_text_with(|_| ());
        assert_eq!(page.slots.len(), 7);
        assert!(matches!(page.slots[6], Slot::Empty));
        assert_eq!(page.cell(1, 2), CellRef::Boolean(true));
        page.clear();
        assert!(page.is_empty() && page.text.capacity() > 0);
    }
}
