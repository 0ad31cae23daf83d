//! PDF sink: a table report on A4 pages (portrait when the table fits its width, landscape when
//! it is wide), drawn with `krilla` in an embedded DejaVu Sans Condensed (subset to the glyphs
//! used), so accented, Greek and Cyrillic text renders and can be copied or searched.
//!
//! In: columns and typed cells, a page of records at a time. Out: a PDF with the title and
//! description on the first page, the column header on every page and "Page N of M" at the foot
//! of each page. Guarantees: column widths are chosen from the header and the first rows so that
//! the table fits the page width; numbers, dates and single-word values (emails, URLs, phone
//! numbers) are never cut; text of several words wraps onto up to three lines, the rest cut with
//! an ellipsis; every record row has the same height (what makes M known before the last page is
//! drawn); numbers are right-aligned.
//!
//! Memory: rows are drawn as they arrive, a PDF page at a time; krilla keeps each finished page
//! as its compressed content stream (measured: about 4 KB for a page of 35 rows and 9 columns)
//! until the document is finished, then writes the whole file at once. A 100,000-record report
//! (2,858 pages, a 12 MB file) peaked at 120 MB resident for the whole process — it grows with
//! the page count, unlike CSV and Parquet, which stay flat.

use std::io::Write;
use std::sync::LazyLock;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};

use super::{Sink, SinkOptions, TextFormats, encode_error, io_error};
use crate::error::Result;
use crate::export::columns::{Column, ValueKind};
use crate::export::rows::{CellRef, Rows};

const FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansCondensed.ttf");

/// A4 in points, long side first: landscape is (LONG, SHORT), portrait (SHORT, LONG).
const A4_LONG: f32 = 841.89;
const A4_SHORT: f32 = 595.28;
const MARGIN: f32 = 36.0;
const TITLE_SIZE: f32 = 14.0;
const TEXT_SIZE: f32 = 8.0;
const FOOTER_SIZE: f32 = 7.0;
/// Body text shrinks to this size at most when many columns share the width.
const MIN_TEXT_SIZE: f32 = 5.5;
/// Space left of and right of the text in a cell, in points.
const CELL_PADDING: f32 = 3.0;
/// Text columns are at least this many `0`-widths wide (when their content is that wide).
const MIN_TEXT_CHARS: f32 = 12.0;
/// Lines a wrapped cell takes at most; the rest is cut with an ellipsis. Every row takes the
/// same number of lines, so the page count is known before the last page is drawn.
const MAX_CELL_LINES: usize = 3;
/// Lines of the description at most.
const DESCRIPTION_LINES: usize = 4;
/// Rows measured to choose the column widths.
const SAMPLE_ROWS: usize = 200;
const ELLIPSIS: char = '…';
/// Distance between the lines of a wrapped cell, in text sizes.
const LINE_STEP: f32 = 1.25;

/// The font's glyph metrics, parsed once per process.
struct Metrics {
    face: ttf_parser::Face<'static>,
    units_per_em: f32,
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    let face = ttf_parser::Face::parse(FONT_BYTES, 0).ok()?;
    Some(Metrics {
        units_per_em: f32::from(face.units_per_em()),
        face,
    })
});

impl Metrics {
    /// Glyph and advance (in ems) of a character; characters the font lacks draw as its
    /// `.notdef` box but keep their text, so the PDF's text layer still has them.
    fn glyph(&self, c: char) -> (u16, f32) {
        let id = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
        let advance = self.face.glyph_hor_advance(id).unwrap_or(0);
        (id.0, f32::from(advance) / self.units_per_em)
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }
}

/// One line of text laid out for `draw_glyphs`.
struct Line {
    text: String,
    glyphs: Vec<KrillaGlyph>,
    width: f32,
}

impl Line {
    /// Lays out `text` on one line in at most `max_width` points (cut with an ellipsis).
    fn fit(metrics: &Metrics, text: &str, size: f32, max_width: f32) -> Line {
        let ellipsis = metrics.glyph(ELLIPSIS);
        let mut out = String::with_capacity(text.len());
        let mut glyphs = Vec::with_capacity(text.len());
        let mut width = 0.0;
        let mut cut = false;
        for c in text.chars() {
            // Control characters (newlines of long text) would draw as boxes: one line shows
            // them as spaces.
            let c = if c.is_control() { ' ' } else { c };
            let (id, advance) = metrics.glyph(c);
            if (width + advance) * size > max_width {
                cut = true;
                break;
            }
            let start = out.len();
            out.push(c);
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(u32::from(id)),
                advance,
                0.0,
                0.0,
                0.0,
                start..out.len(),
                None,
            ));
            width += advance;
        }
        if cut {
            // Take characters back until the ellipsis fits.
            while !glyphs.is_empty() && (width + ellipsis.1) * size > max_width {
                if let Some(g) = glyphs.pop() {
                    width -= g.x_advance;
                    out.truncate(g.text_range.start);
                }
            }
            if (width + ellipsis.1) * size <= max_width {
                let start = out.len();
                out.push(ELLIPSIS);
                glyphs.push(KrillaGlyph::new(
                    GlyphId::new(u32::from(ellipsis.0)),
                    ellipsis.1,
                    0.0,
                    0.0,
                    0.0,
                    start..out.len(),
                    None,
                ));
                width += ellipsis.1;
            }
        }
        Line {
            text: out,
            glyphs,
            width: width * size,
        }
    }

    fn draw(&self, surface: &mut Surface, font: &Font, x: f32, baseline: f32, size: f32) {
        if !self.glyphs.is_empty() {
            surface.draw_glyphs(
                Point::from_xy(x, baseline),
                &self.glyphs,
                font.clone(),
                &self.text,
                size,
                false,
            );
        }
    }
}

/// Where things go on a page, fixed once the column widths are known.
struct Layout {
    page_width: f32,
    page_height: f32,
    text_size: f32,
    row_height: f32,
    /// Lines of every record row (long text wraps onto them).
    row_lines: usize,
    widths: Vec<f32>,
    /// Right-aligned columns (numbers).
    right: Vec<bool>,
    /// Top of the table on the first page (below title and description) and on the others.
    first_table_top: f32,
    table_top: f32,
    rows_first_page: usize,
    rows_per_page: usize,
    /// Lines of the description, already cut to the page width.
    description: Vec<String>,
}

pub struct PdfSink {
    out: Option<Box<dyn Write + Send>>,
    document: Document,
    font: Font,
    title: Option<String>,
    description: Option<String>,
    total_rows: u64,
    formats: TextFormats,
    target: String,
    columns: Vec<Column>,
    layout: Option<Layout>,
    /// Rows waiting for their page: never more than one page's worth.
    pending: Vec<Vec<String>>,
    pages_done: usize,
}

impl PdfSink {
    pub fn new(options: &SinkOptions, out: Box<dyn Write + Send>) -> Result<PdfSink> {
        let target = options.target.clone();
        let font = Font::new(krilla::Data::from(FONT_BYTES), 0)
            .ok_or_else(|| encode_error(&target, "PDF", "the embedded font cannot be read"))?;
        if METRICS.is_none() {
            return Err(encode_error(
                &target,
                "PDF",
                "the embedded font cannot be read",
            ));
        }
        let mut document = Document::new();
        let mut metadata =
            Metadata::new().creator(format!("recordport {}", env!("CARGO_PKG_VERSION")));
        if let Some(title) = &options.title {
            metadata = metadata.title(title.clone());
        }
        if let Some(description) = &options.description {
            metadata = metadata.description(description.clone());
        }
        document.set_metadata(metadata);
        Ok(PdfSink {
            out: Some(out),
            document,
            font,
            title: options.title.clone().filter(|t| !t.trim().is_empty()),
            description: options.description.clone().filter(|d| !d.trim().is_empty()),
            total_rows: options.total_rows,
            formats: TextFormats::new(options.date_format.as_ref(), "%Y-%m-%d", "%Y-%m-%d %H:%M")?,
            target,
            columns: Vec::new(),
            layout: None,
            pending: Vec::new(),
            pages_done: 0,
        })
    }

    fn metrics(&self) -> Result<&'static Metrics> {
        METRICS
            .as_ref()
            .ok_or_else(|| encode_error(&self.target, "PDF", "the embedded font cannot be read"))
    }

    fn text_of(&self, cell: CellRef<'_>) -> String {
        let mut text = String::new();
        self.formats.push(cell, &mut text);
        text
    }

    /// Chooses the text size and column widths from the header and the first rows: values that
    /// are short by nature (numbers, dates) always fit; text columns share the rest, each at least
    /// a few characters wide; headers may be cut. When even that does not fit, the text shrinks.
    fn plan(&self, sample: &[Vec<String>]) -> Result<Layout> {
        let metrics = self.metrics()?;
        // Widths at 1 pt; everything scales with the text size.
        let zero = metrics.glyph('0').1;
        let mut content = vec![0.0f32; self.columns.len()];
        // Columns of single words (emails, URLs, ids, phone numbers): they cannot wrap.
        let mut one_word = vec![true; self.columns.len()];
        for row in sample.iter().take(SAMPLE_ROWS) {
            for (i, text) in row.iter().enumerate().take(content.len()) {
                content[i] = content[i].max(metrics.width(text, 1.0));
                one_word[i] &= !text.trim().contains(char::is_whitespace);
            }
        }
        let header: Vec<f32> = self
            .columns
            .iter()
            .map(|c| metrics.width(&c.label, 1.0))
            .collect();
        // Numbers, dates and single words (emails, URLs, phone numbers) are never cut: cut, such
        // a value is useless. Text of several words wraps instead.
        let short: Vec<bool> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| !matches!(c.kind, ValueKind::Text) || one_word[i])
            .collect();
        // Portrait when the table fits its width at the full text size, else landscape.
        let portrait_available = A4_SHORT - 2.0 * MARGIN;
        let wanted: f32 = (0..content.len())
            .map(|i| content[i].max(header[i]) * TEXT_SIZE + 2.0 * CELL_PADDING)
            .sum();
        let (page_width, page_height) = if wanted <= portrait_available {
            (A4_SHORT, A4_LONG)
        } else {
            (A4_LONG, A4_SHORT)
        };
        let available = page_width - 2.0 * MARGIN;
        let at = |size: f32| -> (Vec<f32>, Vec<f32>) {
            let pad = 2.0 * CELL_PADDING;
            let min_text = MIN_TEXT_CHARS * zero * size;
            let min = (0..content.len())
                .map(|i| {
                    let c = content[i] * size;
                    if short[i] {
                        c + pad
                    } else {
                        c.min(min_text) + pad
                    }
                })
                .collect();
            let want = (0..content.len())
                .map(|i| content[i].max(header[i]) * size + pad)
                // Long free text should not take the whole table: it is wrapped instead.
                .map(|w| w.min(available / 2.0))
                .collect();
            (min, want)
        };
        let mut text_size = TEXT_SIZE;
        let widths = loop {
            let (min, want) = at(text_size);
            if let Some(widths) = fit_widths(&min, &want, available) {
                break widths;
            }
            if text_size <= MIN_TEXT_SIZE {
                // Too many columns for the page even at the smallest text: every column gets
                // its share of the width.
                let total: f32 = min.iter().sum();
                break min.iter().map(|w| w * available / total).collect();
            }
            text_size = (text_size - 0.5).max(MIN_TEXT_SIZE);
        };

        // Lines for the longest sampled text of each wrapped column at its width.
        let row_lines = (0..content.len())
            .filter(|&i| !short[i])
            .map(|i| {
                let room = (widths[i] - 2.0 * CELL_PADDING).max(1.0);
                ((content[i] * text_size / room).ceil() as usize).clamp(1, MAX_CELL_LINES)
            })
            .max()
            .unwrap_or(1);
        let row_height = text_size * 1.7 + (row_lines - 1) as f32 * text_size * LINE_STEP;
        let mut first_table_top = MARGIN;
        let mut description = Vec::new();
        if self.title.is_some() {
            first_table_top += TITLE_SIZE * 1.6;
        }
        if let Some(text) = &self.description {
            description = wrap(metrics, text, TEXT_SIZE, available, DESCRIPTION_LINES);
            first_table_top += description.len() as f32 * TEXT_SIZE * 1.4 + TEXT_SIZE * 0.6;
        }
        // Continuation pages repeat the title small above the table.
        let table_top = MARGIN
            + if self.title.is_some() {
                FOOTER_SIZE * 2.0
            } else {
                0.0
            };
        let table_bottom = page_height - MARGIN - FOOTER_SIZE * 2.0;
        let header_height = text_size * 1.7;
        let rows = |top: f32| {
            (((table_bottom - top - header_height) / row_height).floor() as usize).max(1)
        };
        Ok(Layout {
            page_width,
            page_height,
            text_size,
            row_height,
            row_lines,
            right: self
                .columns
                .iter()
                .map(|c| matches!(c.kind, ValueKind::Number | ValueKind::Integer))
                .collect(),
            widths,
            rows_first_page: rows(first_table_top),
            rows_per_page: rows(table_top),
            first_table_top,
            table_top,
            description,
        })
    }

    fn total_pages(&self, layout: &Layout) -> usize {
        let total = self.total_rows as usize;
        if total <= layout.rows_first_page {
            1
        } else {
            1 + (total - layout.rows_first_page).div_ceil(layout.rows_per_page)
        }
    }

    fn capacity(&self, layout: &Layout) -> usize {
        if self.pages_done == 0 {
            layout.rows_first_page
        } else {
            layout.rows_per_page
        }
    }

    /// Draws one page with `rows` (at most a page's capacity).
    fn draw_page(&mut self, rows: &[Vec<String>]) -> Result<()> {
        let metrics = self.metrics()?;
        let Some(layout) = self.layout.take() else {
            return Err(encode_error(
                &self.target,
                "PDF",
                "page drawn before the layout",
            ));
        };
        let total_pages = self.total_pages(&layout).max(self.pages_done + 1);
        let page_number = self.pages_done + 1;
        let first = self.pages_done == 0;
        let font = self.font.clone();
        let settings = PageSettings::from_wh(layout.page_width, layout.page_height)
            .ok_or_else(|| encode_error(&self.target, "PDF", "bad page size"))?;
        let available = layout.page_width - 2.0 * MARGIN;
        {
            let mut page = self.document.start_page_with(settings);
            let mut surface = page.surface();
            let black = || Fill::default();
            let mut top = MARGIN;
            if first {
                if let Some(title) = &self.title {
                    let line = Line::fit(metrics, title, TITLE_SIZE, available);
                    line.draw(&mut surface, &font, MARGIN, top + TITLE_SIZE, TITLE_SIZE);
                    top += TITLE_SIZE * 1.6;
                }
                for text in &layout.description {
                    let line = Line::fit(metrics, text, TEXT_SIZE, available);
                    line.draw(&mut surface, &font, MARGIN, top + TEXT_SIZE, TEXT_SIZE);
                    top += TEXT_SIZE * 1.4;
                }
                top = layout.first_table_top;
            } else {
                if let Some(title) = &self.title {
                    let line = Line::fit(metrics, title, FOOTER_SIZE, available);
                    line.draw(&mut surface, &font, MARGIN, top + FOOTER_SIZE, FOOTER_SIZE);
                }
                top = layout.table_top;
            }

            // Header row on a grey band, then the records with a light rule under each.
            let size = layout.text_size;
            let header_height = size * 1.7;
            fill_rect(
                &mut surface,
                MARGIN,
                top,
                available,
                header_height,
                (225, 228, 232),
            );
            surface.set_fill(Some(black()));
            let labels = self.columns.iter().map(|c| c.label.as_str());
            draw_cells(&mut surface, &font, metrics, &layout, labels, top, 1);
            top += header_height;
            for row in rows {
                fill_rect(
                    &mut surface,
                    MARGIN,
                    top + layout.row_height - 0.4,
                    available,
                    0.4,
                    (220, 220, 220),
                );
                surface.set_fill(Some(black()));
                let texts = row.iter().map(String::as_str);
                draw_cells(
                    &mut surface,
                    &font,
                    metrics,
                    &layout,
                    texts,
                    top,
                    layout.row_lines,
                );
                top += layout.row_height;
            }
            if rows.is_empty() && first {
                let line = Line::fit(metrics, "No records match this export.", size, available);
                line.draw(
                    &mut surface,
                    &font,
                    MARGIN + CELL_PADDING,
                    top + (header_height + size * 0.7) / 2.0,
                    size,
                );
            }

            let footer = format!("Page {page_number} of {total_pages}");
            let line = Line::fit(metrics, &footer, FOOTER_SIZE, available);
            line.draw(
                &mut surface,
                &font,
                layout.page_width - MARGIN - line.width,
                layout.page_height - MARGIN,
                FOOTER_SIZE,
            );
            surface.finish();
            page.finish();
        }
        self.layout = Some(layout);
        self.pages_done += 1;
        Ok(())
    }

    /// Draws every full page waiting; with `all`, the last partial one too.
    fn flush_pages(&mut self, all: bool) -> Result<()> {
        loop {
            let Some(layout) = self.layout.as_ref() else {
                return Ok(());
            };
            let capacity = self.capacity(layout);
            let last_partial = all && !self.pending.is_empty();
            if self.pending.len() < capacity && !last_partial {
                return Ok(());
            }
            let take = capacity.min(self.pending.len());
            let rows: Vec<Vec<String>> = self.pending.drain(..take).collect();
            self.draw_page(&rows)?;
        }
    }
}

/// Draws one table row from `top`: each cell in its column, numbers right-aligned, text on up to
/// `lines` lines (wrapped, the last one cut with an ellipsis).
fn draw_cells<'a>(
    surface: &mut Surface,
    font: &Font,
    metrics: &Metrics,
    layout: &Layout,
    texts: impl Iterator<Item = &'a str>,
    top: f32,
    lines: usize,
) {
    let size = layout.text_size;
    let single_height = size * 1.7;
    let first_baseline = top + (single_height + size * 0.7) / 2.0;
    let mut x = MARGIN;
    for ((text, width), right) in texts.zip(&layout.widths).zip(&layout.right) {
        let room = width - 2.0 * CELL_PADDING;
        let wrapped = if lines > 1 && !*right && metrics.width(text, size) > room {
            wrap(metrics, text, size, room, lines)
        } else {
            vec![text.to_string()]
        };
        for (k, part) in wrapped.iter().enumerate() {
            let line = Line::fit(metrics, part, size, room);
            let left = if *right {
                x + width - CELL_PADDING - line.width
            } else {
                x + CELL_PADDING
            };
            let baseline = first_baseline + k as f32 * size * LINE_STEP;
            line.draw(surface, font, left, baseline, size);
        }
        x += width;
    }
}

/// Column widths between `min` and `want` that fill `available`, or `None` when the minimums
/// alone are too wide. Spare room goes first to the columns furthest from what they want, in
/// equal shares (water-filling); room left once every column has what it wants is spread in
/// proportion.
fn fit_widths(min: &[f32], want: &[f32], available: f32) -> Option<Vec<f32>> {
    let min_total: f32 = min.iter().sum();
    if min_total > available + 0.01 {
        return None;
    }
    let want: Vec<f32> = want.iter().zip(min).map(|(w, m)| w.max(*m)).collect();
    let want_total: f32 = want.iter().sum();
    if want_total <= available {
        let scale = available / want_total.max(1.0);
        return Some(want.iter().map(|w| w * scale).collect());
    }
    let mut widths = min.to_vec();
    let mut spare = available - min_total;
    loop {
        let hungry: Vec<usize> = (0..widths.len())
            .filter(|&i| want[i] - widths[i] > 0.001)
            .collect();
        if hungry.is_empty() || spare <= 0.001 {
            break;
        }
        let share = spare / hungry.len() as f32;
        for i in hungry {
            let give = share.min(want[i] - widths[i]);
            widths[i] += give;
            spare -= give;
        }
    }
    Some(widths)
}

/// Word-wraps `text` to lines of at most `width` points; the last allowed line ends with an
/// ellipsis when text is left over.
fn wrap(metrics: &Metrics, text: &str, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if metrics.width(&candidate, size) <= width || current.is_empty() {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push(ELLIPSIS);
        }
    }
    lines
}

fn fill_rect(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32, (r, g, b): (u8, u8, u8)) {
    let Some(rect) = Rect::from_xywh(x, y, w, h) else {
        return;
    };
    let mut builder = PathBuilder::new();
    builder.push_rect(rect);
    if let Some(path) = builder.finish() {
        surface.set_fill(Some(Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
        surface.draw_path(&path);
    }
}

impl Sink for PdfSink {
    fn begin(&mut self, columns: &[Column]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn write(&mut self, rows: &Rows) -> Result<()> {
        for row in 0..rows.len() {
            let texts: Vec<String> = rows.row(row).map(|c| self.text_of(c)).collect();
            self.pending.push(texts);
        }
        if self.layout.is_none() {
            self.layout = Some(self.plan(&self.pending)?);
        }
        self.flush_pages(false)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.layout.is_none() {
            self.layout = Some(self.plan(&[])?);
        }
        self.flush_pages(true)?;
        if self.pages_done == 0 {
            self.draw_page(&[])?;
        }
        let target = self.target.clone();
        let mut out = self
            .out
            .take()
            .ok_or_else(|| encode_error(&target, "PDF", "finished twice"))?;
        let bytes = self
            .document
            .finish()
            .map_err(|e| encode_error(&target, "PDF", format!("{e:?}")))?;
        out.write_all(&bytes).map_err(|e| io_error(&target, e))?;
        out.flush().map_err(|e| io_error(&target, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fit_the_page() {
        // Dates (60 wide, must fit) and two long text columns sharing the rest.
        let w = fit_widths(
            &[60.0, 40.0, 40.0, 20.0],
            &[60.0, 400.0, 400.0, 30.0],
            600.0,
        )
        .unwrap();
        assert!((w.iter().sum::<f32>() - 600.0).abs() < 0.01, "{w:?}");
        assert_eq!(w[0], 60.0);
        assert_eq!(w[3], 30.0);
        assert!((w[1] - 255.0).abs() < 0.01, "{w:?}");
        let roomy = fit_widths(&[10.0, 10.0], &[50.0, 50.0], 200.0).unwrap();
        assert_eq!(roomy, [100.0, 100.0]);
        assert!(fit_widths(&[300.0, 301.0], &[300.0, 301.0], 600.0).is_none());
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let metrics = METRICS.as_ref().unwrap();
        let line = Line::fit(metrics, "Ελληνικά και кириллица and more", 8.0, 40.0);
        assert!(line.text.ends_with(ELLIPSIS), "{}", line.text);
        assert!(line.width <= 40.0);
        let short = Line::fit(metrics, "Zoë", 8.0, 40.0);
        assert_eq!(short.text, "Zoë");
        assert_eq!(short.glyphs.len(), 3);
    }

    #[test]
    fn descriptions_wrap() {
        let metrics = METRICS.as_ref().unwrap();
        let lines = wrap(metrics, &"word ".repeat(200), 8.0, 200.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with(ELLIPSIS));
    }
}
