//! Reading one OMOP vocabulary table as Athena ships it: a header line, then one row per
//! line. The delimiter is detected from the header (a tab if it has one, else a comma).
//! Comma files quote fields RFC 4180 style (a quoted field may hold commas, doubled quotes
//! and line breaks); Athena's tab files do not quote at all (a concept name may hold a lone
//! `"`), so there a field is unquoted only when it is quoted whole.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::VocabError;

/// An open table: the header read, rows to come.
pub(crate) struct Table {
    path: PathBuf,
    reader: BufReader<std::fs::File>,
    tab: bool,
    columns: Vec<String>,
    /// The line the next row starts on (1-based).
    line: usize,
    buf: String,
    fields: Vec<String>,
}

impl Table {
    pub(crate) fn open(path: &Path) -> Result<Table, VocabError> {
        let file = std::fs::File::open(path)
            .map_err(|e| VocabError::new(path, 0, format!("cannot open: {e}")))?;
        let mut table = Table {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            tab: false,
            columns: Vec::new(),
            line: 1,
            buf: String::new(),
            fields: Vec::new(),
        };
        let mut header = String::new();
        let read = table
            .reader
            .read_line(&mut header)
            .map_err(|e| table.error(1, format!("cannot read: {e}")))?;
        if read == 0 || header.trim().is_empty() {
            return Err(table.error(1, "the file is empty: a header line is required".into()));
        }
        let header = header
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        table.tab = header.contains('\t');
        table.columns = split_simple(header, table.tab)
            .into_iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        table.line = 2;
        Ok(table)
    }

    fn error(&self, line: usize, reason: String) -> VocabError {
        VocabError::new(&self.path, line, reason)
    }

    /// The position of a column, by name (case does not matter).
    pub(crate) fn column(&self, name: &str) -> Result<usize, VocabError> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            self.error(
                1,
                format!(
                    "the header has no `{name}` column (it has: {})",
                    self.columns.join(", ")
                ),
            )
        })
    }

    /// The position of a column that may be absent.
    pub(crate) fn optional_column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The next row's fields and the line it starts on; `None` at the end. Blank lines are
    /// skipped.
    pub(crate) fn next_row(&mut self) -> Result<Option<(usize, &[String])>, VocabError> {
        loop {
            self.buf.clear();
            let start = self.line;
            let read = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|e| self.error(start, format!("cannot read: {e}")))?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.trim().is_empty() {
                continue;
            }
            self.fields.clear();
            if self.tab || !self.buf.contains('"') {
                let line = self.buf.trim_end_matches(['\r', '\n']);
                self.fields
                    .extend(split_simple(line, self.tab).into_iter().map(str::to_string));
            } else {
                self.split_quoted(start)?;
            }
            if self.fields.len() != self.columns.len() {
                return Err(self.error(
                    start,
                    format!(
                        "{} field(s), but the header has {} column(s)",
                        self.fields.len(),
                        self.columns.len()
                    ),
                ));
            }
            return Ok(Some((start, &self.fields)));
        }
    }

    /// Splits a comma-separated row with quoted fields, reading further lines while a
    /// quoted field is open.
    fn split_quoted(&mut self, start: usize) -> Result<(), VocabError> {
        let mut field = String::new();
        let mut quoted = false;
        let mut after_quote = false;
        let mut pos = 0;
        loop {
            let rest = self.buf.get(pos..).unwrap_or("");
            let mut chars = rest.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if quoted {
                    if c == '"' {
                        if chars.peek().map(|(_, n)| *n) == Some('"') {
                            field.push('"');
                            chars.next();
                        } else {
                            quoted = false;
                            after_quote = true;
                        }
                    } else {
                        field.push(c);
                    }
                    continue;
                }
                match c {
                    ',' => {
                        self.fields.push(std::mem::take(&mut field));
                        after_quote = false;
                    }
                    '"' if field.is_empty() && !after_quote => quoted = true,
                    '\r' | '\n' => {
                        let tail = rest.get(i..).unwrap_or("");
                        if tail.trim_matches(['\r', '\n']).is_empty() {
                            self.fields.push(std::mem::take(&mut field));
                            return Ok(());
                        }
                        field.push(c);
                    }
                    _ if after_quote => {
                        return Err(self.error(
                            self.line - 1,
                            format!(
                                "`{c}` after a closing quote (a quoted field must end at a comma)"
                            ),
                        ));
                    }
                    '"' => {
                        return Err(self.error(
                            self.line - 1,
                            "a quote inside an unquoted field (quote the whole field and double the quote)"
                                .to_string(),
                        ));
                    }
                    _ => field.push(c),
                }
            }
            if !quoted {
                self.fields.push(field);
                return Ok(());
            }
            // The quoted field goes on to the next line.
            pos = self.buf.len();
            let read = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|e| self.error(self.line, format!("cannot read: {e}")))?;
            if read == 0 {
                return Err(self.error(
                    start,
                    "a quoted field is not closed before the end of the file".to_string(),
                ));
            }
            self.line += 1;
        }
    }
}

/// Splits a row without quoting rules (tab files, and comma rows with no quote); a tab
/// field quoted whole loses its quotes.
fn split_simple(line: &str, tab: bool) -> Vec<&str> {
    let delimiter = if tab { '\t' } else { ',' };
    line.split(delimiter)
        .map(|f| {
            if tab && f.len() >= 2 && f.starts_with('"') && f.ends_with('"') {
                f.get(1..f.len() - 1).unwrap_or(f)
            } else {
                f
            }
        })
        .collect()
}
