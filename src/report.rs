//! Diagnostics for people and machines: [`render_human`] draws them with miette (source
//! line, label, help), [`render_json`] gives one JSON object per diagnostic.

use std::fmt::Write as _;

use std::collections::HashMap;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;
use crate::terminal::{escape, escape_char, escape_keeping_lines};

/// A diagnostic paired with its file, as miette wants it.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    /// The message and help with user text escaped.
    message: String,
    help: Option<String>,
    source: Excerpt<'a>,
    notes: Option<String>,
    labels: Vec<LabeledSpan>,
}

impl std::fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code.name()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        match (&self.help, &self.notes) {
            (Some(h), Some(n)) => Some(Box::new(format!("{h}\n{n}"))),
            (Some(h), None) => Some(Box::new(h.as_str())),
            (None, Some(n)) => Some(Box::new(n.as_str())),
            (None, None) => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// A file's shown text, from which miette reads the lines around a span. miette reads a
/// span by scanning the text from its start: for a diagnostic near the end of a long file,
/// and thousands of them, that was quadratic. Here the scan starts a few lines before the
/// span, found by binary search, and line numbers are shifted back to the file's.
struct Excerpt<'a> {
    name: String,
    shown: &'a Shown,
}

impl SourceCode for Excerpt<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let starts = &self.shown.line_starts;
        let line = starts
            .partition_point(|s| *s <= span.offset())
            .saturating_sub(1);
        let first = line.saturating_sub(context_lines_before + 1);
        let from = starts.get(first).copied().unwrap_or(0);
        let window = self.shown.text.get(from..).unwrap_or("");
        let local = SourceSpan::new(span.offset().saturating_sub(from).into(), span.len());
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + from).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

/// A file's text as shown in excerpts: control and bidirectional characters escaped
/// (`terminal::escape_char`), so the excerpt cannot drive the terminal or reorder the line,
/// with what is needed to move spans from the file's offsets to the shown text's.
struct Shown {
    text: String,
    /// Where each line of `text` starts.
    line_starts: Vec<usize>,
    /// For each escaped character: its offset in the file, and how many bytes longer the
    /// shown text is than the file after it.
    shifts: Vec<(usize, usize)>,
}

impl Shown {
    fn new(text: &str) -> Shown {
        let mut shown = String::with_capacity(text.len());
        let mut shifts = Vec::new();
        let mut extra = 0;
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            // Line structure is the excerpt's own: newlines, tabs and CRLF stay.
            let keep = c == '\n'
                || c == '\t'
                || (c == '\r' && chars.peek().is_some_and(|(_, next)| *next == '\n'));
            match escape_char(c).filter(|_| !keep) {
                Some(escape) => {
                    extra += escape.len() - c.len_utf8();
                    shifts.push((at, extra));
                    shown.push_str(&escape);
                }
                None => shown.push(c),
            }
        }
        let line_starts = std::iter::once(0)
            .chain(shown.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Shown {
            text: shown,
            line_starts,
            shifts,
        }
    }

    /// The offset in the shown text of the file's byte offset `at`.
    fn offset(&self, at: usize) -> usize {
        let before = self.shifts.partition_point(|(p, _)| *p < at);
        let extra = before
            .checked_sub(1)
            .and_then(|i| self.shifts.get(i))
            .map_or(0, |(_, e)| *e);
        at + extra
    }

    fn span(&self, span: crate::source::Span) -> miette::SourceSpan {
        let start = self.offset(span.start as usize);
        let end = self.offset(span.end as usize);
        (start, end.saturating_sub(start)).into()
    }
}

fn rendered<'a>(diagnostic: &'a Diagnostic, sources: &SourceMap, shown: &'a Shown) -> Rendered<'a> {
    let file = sources.get(diagnostic.span.file);
    let name = file.map_or_else(|| "<unknown>".to_string(), |f| escape(&f.name).into_owned());
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(escape(&diagnostic.label).into_owned()),
        shown.span(diagnostic.span),
    )];
    let mut notes = Vec::new();
    for related in &diagnostic.related {
        if related.span.file == diagnostic.span.file {
            labels.push(LabeledSpan::new_with_span(
                Some(escape(&related.label).into_owned()),
                shown.span(related.span),
            ));
        } else if let Some(other) = sources.get(related.span.file) {
            let (line, col) = other.line_col(related.span.start);
            notes.push(format!(
                "note: {} ({}:{line}:{col})",
                escape(&related.label),
                escape(&other.name)
            ));
        }
    }
    Rendered {
        diagnostic,
        message: escape(&diagnostic.message).into_owned(),
        help: diagnostic
            .help
            .as_deref()
            .map(|h| escape_keeping_lines(h).into_owned()),
        source: Excerpt { name, shown },
        notes: if notes.is_empty() {
            None
        } else {
            Some(notes.join("\n"))
        },
        labels,
    }
}

/// Renders diagnostics as text with source excerpts. `width` is the width to wrap at;
/// without `color` the output is stable for tests and logs.
pub fn render_human(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    width: usize,
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    // Each file's shown text once, not once per diagnostic.
    let mut shown: HashMap<crate::source::FileId, Shown> = HashMap::new();
    for d in diagnostics {
        shown
            .entry(d.span.file)
            .or_insert_with(|| Shown::new(sources.get(d.span.file).map_or("", |f| &f.text)));
    }
    let empty = Shown::new("");
    for d in diagnostics {
        let r = rendered(d, sources, shown.get(&d.span.file).unwrap_or(&empty));
        if handler.render_report(&mut out, &r).is_err() {
            let _ = writeln!(out, "{}: {}", d.code.name(), escape(&d.message));
        }
    }
    out
}

/// A line summing up the diagnostics: "2 errors, 1 warning".
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// One JSON object per diagnostic, with file, 1-based line and column, and byte offsets.
pub fn to_json(diagnostics: &[Diagnostic], sources: &SourceMap) -> serde_json::Value {
    // Each file indexed once: a line found from the file's start per diagnostic was
    // quadratic.
    let index: Vec<crate::source::LineIndex> = sources
        .files()
        .iter()
        .map(|f| crate::source::LineIndex::new(&f.text))
        .collect();
    let line_col = |file: Option<&crate::source::Source>, offset: u32| {
        file.and_then(|f| Some((f, index.get(f.id.0 as usize)?)))
            .map_or((0, 0), |(f, i)| i.line_col(&f.text, offset))
    };
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let file = sources.get(d.span.file);
            let (line, column) = line_col(file, d.span.start);
            let related: Vec<serde_json::Value> = d
                .related
                .iter()
                .map(|r| {
                    let f = sources.get(r.span.file);
                    let (line, column) = line_col(f, r.span.start);
                    serde_json::json!({
                        "file": f.map(|f| f.name.clone()),
                        "line": line,
                        "column": column,
                        "label": r.label,
                    })
                })
                .collect();
            serde_json::json!({
                "code": d.code.name(),
                "severity": d.severity(),
                "message": d.message,
                "file": file.map(|f| f.name.clone()),
                "line": line,
                "column": column,
                "start": d.span.start,
                "end": d.span.end,
                "label": d.label,
                "help": d.help,
                "related": related,
            })
        })
        .collect();
    serde_json::Value::Array(items)
}
