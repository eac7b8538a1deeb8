//! Patient data: the native JSON model ([`native`]), reading it from files as a stream of
//! records, and the errors that name the file, line, patient and field of bad input.

pub mod native;

use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use native::PatientRecord;

/// A problem with one patient record: where it is and why it was rejected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordError {
    /// The file the record is in.
    pub file: String,
    /// 1-based line of the problem (the record's first line when the field's is unknown).
    pub line: usize,
    /// The patient's id, when it could be read.
    pub patient: Option<String>,
    /// The JSON path of the field, e.g. `observations[2].date` (empty for the whole record).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(p) = &self.patient {
            write!(f, ": patient `{p}`")?;
        }
        if !self.path.is_empty() {
            write!(f, ": field `{}`", self.path)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RecordError {}

/// The text of one record and where it came from, before parsing.
#[derive(Clone, Debug)]
pub struct RawRecord {
    /// The file's display name.
    pub file: std::sync::Arc<str>,
    /// 1-based line the record starts on.
    pub line: usize,
    /// The JSON text.
    pub text: String,
    /// Why the line could not be read as text (invalid UTF-8), if so.
    pub unreadable: Option<String>,
}

impl RawRecord {
    /// A record read as text.
    pub fn new(
        file: impl Into<std::sync::Arc<str>>,
        line: usize,
        text: impl Into<String>,
    ) -> RawRecord {
        RawRecord {
            file: file.into(),
            line,
            text: text.into(),
            unreadable: None,
        }
    }

    /// Parses and validates the record.
    pub fn parse(&self) -> Result<PatientRecord, RecordError> {
        if let Some(reason) = &self.unreadable {
            return Err(RecordError {
                file: self.file.to_string(),
                line: self.line,
                patient: None,
                path: String::new(),
                reason: reason.clone(),
            });
        }
        native::parse(self)
    }
}

/// Expands the paths given on the command line into data files: directories are read for
/// `*.json`, `*.jsonl` and `*.ndjson` files, in name order.
pub fn data_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("json" | "jsonl" | "ndjson")
                        )
                })
                .collect();
            inside.sort();
            files.append(&mut inside);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads the records of one file, lazily: a `.json` file holds one patient object (which
/// may span many lines); any other file is JSON Lines, one patient per non-blank line.
pub fn read_file(
    path: &Path,
) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<RawRecord>> + Send>> {
    let name: std::sync::Arc<str> = path.display().to_string().into();
    let file = std::fs::File::open(path)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "json") {
        let mut text = String::new();
        let mut reader = reader;
        std::io::Read::read_to_string(&mut reader, &mut text)?;
        // Lines are counted from the top of the file so serde's positions stay right.
        return Ok(Box::new(std::iter::once(Ok(RawRecord {
            file: name,
            line: 1,
            text,
            unreadable: None,
        }))));
    }
    Ok(Box::new(JsonLines {
        file: name,
        reader,
        line: 0,
    }))
}

/// Iterates over the non-blank lines of a JSON Lines file.
struct JsonLines<R> {
    file: std::sync::Arc<str>,
    reader: R,
    line: usize,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = std::io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut bytes = Vec::new();
            match self.reader.read_until(b'\n', &mut bytes) {
                Ok(0) => return None,
                Ok(_) => {
                    self.line += 1;
                    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        bytes.pop();
                    }
                    // A line that is not UTF-8 is a bad record, not the end of the file.
                    let (text, unreadable) = match String::from_utf8(bytes) {
                        Ok(text) => (text, None),
                        Err(e) => (
                            String::new(),
                            Some(format!(
                                "the line is not valid UTF-8 text (bad byte at offset {})",
                                e.utf8_error().valid_up_to()
                            )),
                        ),
                    };
                    if unreadable.is_none() && text.trim().is_empty() {
                        continue;
                    }
                    return Some(Ok(RawRecord {
                        file: self.file.clone(),
                        line: self.line,
                        text,
                        unreadable,
                    }));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
