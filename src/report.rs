//! Diagnostics for people and machines: [`render_human`] draws them with miette (source
//! line, label, help), [`render_json`] gives one JSON object per diagnostic.

use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

/// A diagnostic paired with its file, as miette wants it.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
    notes: Option<String>,
    labels: Vec<LabeledSpan>,
}

impl std::fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
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
        match (&self.diagnostic.help, &self.notes) {
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

fn rendered<'a>(diagnostic: &'a Diagnostic, sources: &SourceMap) -> Rendered<'a> {
    let file = sources.get(diagnostic.span.file);
    let name = file.map_or_else(|| "<unknown>".to_string(), |f| f.name.clone());
    let text = file.map_or_else(String::new, |f| f.text.to_string());
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(diagnostic.label.clone()),
        diagnostic.span.to_miette(),
    )];
    let mut notes = Vec::new();
    for related in &diagnostic.related {
        if related.span.file == diagnostic.span.file {
            labels.push(LabeledSpan::new_with_span(
                Some(related.label.clone()),
                related.span.to_miette(),
            ));
        } else if let Some(other) = sources.get(related.span.file) {
            let (line, col) = other.line_col(related.span.start);
            notes.push(format!(
                "note: {} ({}:{line}:{col})",
                related.label, other.name
            ));
        }
    }
    Rendered {
        diagnostic,
        source: NamedSource::new(name, text),
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
    for d in diagnostics {
        let r = rendered(d, sources);
        if handler.render_report(&mut out, &r).is_err() {
            let _ = writeln!(out, "{}: {}", d.code.name(), d.message);
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
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let file = sources.get(d.span.file);
            let (line, column) = file.map_or((0, 0), |f| f.line_col(d.span.start));
            let related: Vec<serde_json::Value> = d
                .related
                .iter()
                .map(|r| {
                    let f = sources.get(r.span.file);
                    let (line, column) = f.map_or((0, 0), |f| f.line_col(r.span.start));
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
