//! Patient data: the native JSON model ([`native`]), reading it from files as a stream of
//! records, and the errors that name the file, line, patient and field of bad input.

mod bulk;
pub mod codes;
mod fast;
pub mod fhir;
pub mod lines;
mod locate;
pub mod native;
pub mod omop;
pub mod strict;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

pub use bulk::BulkSettings;
use native::AttestationRecord;
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
        // Ids, paths and reasons quote the record: escaped, so a record cannot forge output.
        use crate::terminal::escape;
        // Line 0: no line (a database's row, placed by its table and id).
        write!(f, "{}", escape(&self.file))?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(p) = &self.patient {
            write!(f, ": patient `{}`", escape(p))?;
        }
        if !self.path.is_empty() {
            write!(f, ": field `{}`", escape(&self.path))?;
        }
        write!(f, ": {}", escape(&self.reason))
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
    /// How to read it and what to add to it (`--input`, `--anchor`, `--side`); `None`:
    /// detect the format, add nothing.
    pub options: Option<Arc<ReadOptions>>,
    /// For a patient assembled from a FHIR Bulk Data export: where its resources came from.
    pub bulk: Option<Box<BulkOrigin>>,
    /// A record already converted (an OMOP person), or why it was rejected: not parsed.
    pub prepared: Option<Box<Result<PatientRecord<'static>, RecordError>>>,
}

/// Where the resources of a patient assembled from a Bulk Data export came from.
#[derive(Clone, Debug)]
pub struct BulkOrigin {
    /// The file and line of each entry of the assembled Bundle, in order.
    pub origins: Vec<(Arc<str>, usize)>,
    /// Resource types the export has a file for: recorded for every patient.
    pub recorded: Arc<[&'static str]>,
}

/// How records are read (`eligc run --input`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// FHIR when the JSON object has a `resourceType`, native otherwise.
    #[default]
    Detect,
    /// The native model only.
    Native,
    /// FHIR R4 only.
    Fhir,
}

/// The domains of the patient model: the lists a record may leave out ("not recorded") or
/// give empty ("none recorded"). `--complete` names them.
pub const DOMAINS: &[&str] = &[
    "observations",
    "conditions",
    "medications",
    "immunizations",
    "procedures",
    "allergies",
    "encounters",
    "studies",
    "family_history",
];

/// The fast reader's record and serde_json's, of one native record's text (`None` where a
/// reader declines or refuses): for the `native` fuzz target, which checks that whenever the
/// fast reader gives a record, serde_json gives the same one. Not part of the API.
#[doc(hidden)]
pub fn read_both_ways(text: &str) -> (Option<PatientRecord<'_>>, Option<PatientRecord<'_>>) {
    (fast::read(text), serde_json::from_str(text).ok())
}

/// Reads a `--complete` value: `all`, or domain names separated by commas
/// (`procedures,conditions`). An unknown name is an error, with the closest one.
pub fn parse_complete(text: &str) -> Result<BTreeSet<&'static str>, String> {
    complete_of(text.split(','))
}

/// The domains a list of names says are complete (`all` among them: every domain).
fn complete_of<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<&'static str>, String> {
    let mut set = BTreeSet::new();
    for name in names {
        let name = name.trim();
        if name == "all" {
            set.extend(DOMAINS.iter().copied());
            continue;
        }
        match DOMAINS.iter().find(|d| **d == name) {
            Some(d) => {
                set.insert(*d);
            }
            None => {
                let hint = crate::diagnostic::did_you_mean(name, DOMAINS.iter().copied())
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{name}` is not a domain (all, {}){hint}",
                    DOMAINS.join(", ")
                ));
            }
        }
    }
    Ok(set)
}

/// A side file's `complete`: `"all"`, `"procedures,conditions"` or a list of names.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum CompleteSpec {
    /// As `--complete` takes it.
    Text(String),
    /// One domain (or `all`) per item.
    List(Vec<String>),
}

impl CompleteSpec {
    /// The domains it names.
    pub fn domains(&self) -> Result<BTreeSet<&'static str>, String> {
        match self {
            CompleteSpec::Text(t) => parse_complete(t),
            CompleteSpec::List(l) => complete_of(l.iter().map(String::as_str)),
        }
    }
}

/// One line of a side file: a patient's anchors and attestations, given beside FHIR data.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideEntry {
    /// The patient's id (`Patient.id` in FHIR, `id` in the native model).
    pub patient: String,
    /// Anchor dates by name.
    #[serde(default, deserialize_with = "strict::unique_date_map")]
    pub anchors: BTreeMap<String, NaiveDate>,
    /// Attestations by name.
    #[serde(default, deserialize_with = "strict::unique_map")]
    pub attestations: BTreeMap<String, AttestationRecord>,
    /// Domains whose absence means "none recorded" for this patient (beside `--complete`).
    #[serde(default)]
    pub complete: Option<CompleteSpec>,
}

/// A side file, read and checked. Each patient's entry is kept as its line's text and read
/// again when that patient's record is: a million patients' entries held as maps of names
/// took 2 GB, four times the file.
#[derive(Clone, Debug, Default)]
pub struct SideFile {
    /// The checked line of each patient, by patient id.
    entries: HashMap<Box<str>, Box<str>>,
}

impl SideFile {
    /// The entry of `patient`, if the file has one.
    pub fn get(&self, patient: &str) -> Option<SideEntry> {
        // The line was read as a `SideEntry` when the file was: reading it again cannot fail.
        self.entries
            .get(patient)
            .and_then(|line| serde_json::from_str(line).ok())
    }

    /// How many patients the file has entries for.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The patients with an entry, in id order.
    pub fn patients(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.entries.keys().map(|k| &**k).collect();
        ids.sort_unstable();
        ids
    }
}

/// A private temporary folder (0700) under the system's, removed when dropped and when the
/// run is interrupted by SIGINT or SIGTERM, as the readers' partition folders are: for
/// patient rows copied out of a database (`eligc run --db`).
pub struct PrivateTempDir(bulk::TempDir);

impl PrivateTempDir {
    /// A new folder named `PREFIX-...`.
    pub fn create(prefix: &str) -> std::io::Result<PrivateTempDir> {
        bulk::TempDir::create(&std::env::temp_dir(), prefix).map(PrivateTempDir)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0.0
    }
}

/// What every record read gets: the format, anchors and attestations given beside the
/// data, and the FHIR conversion counts (shared by the reader and the workers).
#[derive(Debug)]
pub struct ReadOptions {
    /// `--input`.
    pub format: InputFormat,
    /// `--anchor NAME=DATE`, for every patient.
    pub anchors: BTreeMap<String, NaiveDate>,
    /// `--side FILE`, by patient id.
    pub side: SideFile,
    /// `--complete`: domains whose absence means "none recorded", for every patient.
    pub complete: BTreeSet<&'static str>,
    /// What the FHIR conversions used, skipped and left out so far.
    pub fhir: Mutex<fhir::Stats>,
    /// The largest record read, in bytes (`--max-record-bytes`): a JSON Lines line, a
    /// `.json` file, an assembled Bulk Data patient. A larger one is a rejected record.
    pub max_record_bytes: u64,
    /// Where OMOP exports find `CONCEPT`, and what their reading counted.
    pub omop: omop::OmopOptions,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            format: InputFormat::default(),
            anchors: BTreeMap::new(),
            side: SideFile::default(),
            complete: BTreeSet::new(),
            fhir: Mutex::default(),
            max_record_bytes: lines::DEFAULT_MAX_RECORD_BYTES,
            omop: omop::OmopOptions::default(),
        }
    }
}

/// The record size cap of `options` (the default without them).
fn max_record_bytes(options: Option<&Arc<ReadOptions>>) -> u64 {
    options.map_or(lines::DEFAULT_MAX_RECORD_BYTES, |o| o.max_record_bytes)
}

impl ReadOptions {
    /// Reads a side file (JSON Lines of [`SideEntry`]); an error names the line.
    pub fn read_side_file(path: &Path) -> Result<SideFile, String> {
        Self::read_side_file_capped(path, lines::DEFAULT_MAX_RECORD_BYTES)
    }

    /// [`ReadOptions::read_side_file`], each line at most `cap` bytes (a longer line, or a
    /// file such as `/dev/zero` that has no line end, is an error naming the line).
    pub fn read_side_file_capped(path: &Path, cap: u64) -> Result<SideFile, String> {
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let file = std::fs::File::open(path).map_err(cannot)?;
        let regular = lines::is_regular(path);
        let mut reader = std::io::BufReader::new(file);
        let mut side = SideFile::default();
        let mut i = 0;
        while let Some(line) = lines::next_line(&mut reader, cap, regular).map_err(cannot)? {
            i += 1;
            let line = match line {
                lines::Line::Text(bytes) => String::from_utf8(bytes).map_err(|_| {
                    format!("{}:{i}: the line is not valid UTF-8 text", path.display())
                })?,
                lines::Line::TooLong { .. } => {
                    return Err(format!(
                        "{}:{i}: the line is larger than {cap} bytes (the limit; raise it with --max-record-bytes)",
                        path.display()
                    ));
                }
            };
            let line = line.as_str();
            if line.trim().is_empty() {
                continue;
            }
            let entry: SideEntry = serde_json::from_str(line).map_err(|e| {
                format!(
                    "{}:{}: {e} (each line is {{\"patient\": \"ID\", \"anchors\": {{...}}, \"attestations\": {{...}}, \"complete\": [...]}})",
                    path.display(),
                    i
                )
            })?;
            if let Some(Err(e)) = entry.complete.as_ref().map(CompleteSpec::domains) {
                return Err(format!("{}:{}: complete: {e}", path.display(), i));
            }
            if side.entries.contains_key(entry.patient.as_str()) {
                return Err(format!(
                    "{}:{}: patient `{}` is already in the side file",
                    path.display(),
                    i,
                    entry.patient
                ));
            }
            side.entries
                .insert(entry.patient.into_boxed_str(), line.trim().into());
        }
        Ok(side)
    }

    /// Parses `NAME=YYYY-MM-DD`.
    pub fn parse_anchor(text: &str) -> Result<(String, NaiveDate), String> {
        let (name, date) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not NAME=YYYY-MM-DD"))?;
        let date = strict::parse_date(date.trim())
            .map_err(|_| format!("`{date}` in `{text}` is not a date written YYYY-MM-DD"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{text}` has no anchor name"));
        }
        Ok((name.to_string(), date))
    }

    /// The FHIR counts so far.
    pub fn fhir_stats(&self) -> fhir::Stats {
        self.fhir.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Adds the anchors and attestations given beside the data. A FHIR record takes them
    /// as they are (the side file's over `--anchor`); a native record keeps its own and
    /// only gains those it lacks (its own, then the side file's, then `--anchor`).
    fn supplement(&self, record: &mut PatientRecord, fhir: bool) {
        let side = self.side.get(record.id.as_str());
        let side = side.as_ref();
        let anchors = side
            .into_iter()
            .flat_map(|s| s.anchors.iter())
            .chain(self.anchors.iter());
        // A converted FHIR record has no anchors of its own, so the rule is the same.
        let _ = fhir;
        for (name, date) in anchors {
            if !record.anchors.contains_key(name.as_str()) {
                record.anchors.insert(name.clone().into(), *date);
            }
        }
        for (name, value) in side.into_iter().flat_map(|s| s.attestations.iter()) {
            if !record.attestations.contains_key(name.as_str()) {
                record
                    .attestations
                    .insert(name.clone().into(), value.clone());
            }
        }
        let mut complete = self.complete.clone();
        if let Some(Ok(more)) = side
            .and_then(|s| s.complete.as_ref())
            .map(CompleteSpec::domains)
        {
            complete.extend(more);
        }
        for domain in complete {
            let filled = match domain {
                "observations" => fill(&mut record.observations),
                "conditions" => fill(&mut record.conditions),
                "medications" => fill(&mut record.medications),
                "immunizations" => fill(&mut record.immunizations),
                "procedures" => fill(&mut record.procedures),
                "allergies" => fill(&mut record.allergies),
                "encounters" => fill(&mut record.encounters),
                "studies" => fill(&mut record.studies),
                "family_history" => fill(&mut record.family_history),
                _ => false,
            };
            if filled {
                record.completed.push(domain);
            }
        }
    }
}

/// An absent list made empty ("none recorded"); whether it was absent.
fn fill<T>(list: &mut Option<Vec<T>>) -> bool {
    if list.is_some() {
        return false;
    }
    *list = Some(Vec::new());
    true
}

impl ReadOptions {
    /// Options that only declare domains complete (`eligc test`, `eligc diff`).
    pub fn complete(complete: BTreeSet<&'static str>) -> ReadOptions {
        ReadOptions {
            complete,
            ..ReadOptions::default()
        }
    }
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
            options: None,
            bulk: None,
            prepared: None,
        }
    }

    /// Parses and validates the record.
    pub fn parse(&self) -> Result<PatientRecord<'_>, RecordError> {
        if let Some(prepared) = &self.prepared {
            let mut record = prepared.as_ref().clone()?;
            if let Some(options) = &self.options {
                options.supplement(&mut record, false);
            }
            return Ok(record);
        }
        if let Some(reason) = &self.unreadable {
            return Err(RecordError {
                file: self.file.to_string(),
                line: self.line,
                patient: None,
                path: String::new(),
                reason: reason.clone(),
            });
        }
        let format = self
            .options
            .as_ref()
            .map_or(InputFormat::Detect, |o| o.format);
        // Plainly written native records (nearly all) by the fast reader first: one it
        // takes has only the native model's keys, so no `resourceType` to look for.
        let fast = match format {
            InputFormat::Fhir => None,
            InputFormat::Detect if self.bulk.is_some() => None,
            InputFormat::Native | InputFormat::Detect => fast::read(&self.text),
        };
        let is_fhir = match format {
            _ if fast.is_some() => false,
            InputFormat::Native => false,
            InputFormat::Fhir => true,
            InputFormat::Detect if self.bulk.is_some() => true,
            // A native record cannot have a `resourceType` (unknown fields are refused).
            InputFormat::Detect => {
                memchr::memmem::find(self.text.as_bytes(), b"\"resourceType\"").is_some()
                    && fhir::has_resource_type(&self.text)
            }
        };
        let mut record = match fast {
            Some(record) => native::check(self, record)?,
            None if is_fhir => self.convert()?,
            None => native::parse_slow(self)?,
        };
        if let Some(options) = &self.options {
            options.supplement(&mut record, is_fhir);
        }
        Ok(record)
    }

    /// Converts a FHIR Bundle (see [`fhir`]) and checks the result as a native record.
    fn convert(&self) -> Result<PatientRecord<'static>, RecordError> {
        let recorded: &[&str] = self.bulk.as_ref().map_or(&[], |b| &b.recorded);
        let (record, stats) =
            fhir::bundle_text_to_record(&self.text, recorded).map_err(|(e, offset)| {
                let origin = self
                    .bulk
                    .as_ref()
                    .and_then(|b| b.origins.get(e.entry?).cloned());
                match origin {
                    // From a Bulk Data export: the resource's own file and line.
                    Some((file, line)) => RecordError {
                        file: file.to_string(),
                        line,
                        patient: e.patient.clone(),
                        path: e.field.clone(),
                        reason: e.reason.clone(),
                    },
                    // The line of the field at fault (of its resource when the field is not
                    // written, e.g. a missing one), counted from the record's first line.
                    None => RecordError {
                        file: self.file.to_string(),
                        line: self.line + locate::lines_before(&self.text, offset),
                        patient: e.patient.clone(),
                        path: e.path(),
                        reason: e.reason.clone(),
                    },
                }
            })?;
        if let Some(options) = &self.options {
            if let Ok(mut total) = options.fhir.lock() {
                total.add(&stats);
            }
        }
        // The converter makes only valid records; this guards against a converter bug.
        if let Err((path, reason)) = native::validate(&record) {
            return Err(RecordError {
                file: self.file.to_string(),
                line: self.line,
                patient: Some(record.id.to_string()),
                path: format!("(converted record) {path}"),
                reason,
            });
        }
        Ok(record)
    }
}

/// Expands the paths given on the command line into data files: directories are read for
/// `*.json`, `*.jsonl` and `*.ndjson` files, in name order. A directory holding
/// `Patient.ndjson` is a FHIR Bulk Data export: it stays one entry, read by [`read_file`].
///
/// Nothing in a folder is left out silently: every entry that is not read is in
/// [`DataFiles::skipped`] with the reason, for the caller to report. A folder that gives no
/// data file at all is an error (a wrong folder must not read as "0 patients").
pub fn data_files(paths: &[PathBuf]) -> std::io::Result<DataFiles> {
    let mut found = DataFiles::default();
    for path in paths {
        if path.is_dir() && path.join("Patient.ndjson").is_file() {
            found.files.push(path.clone());
            // A Bulk Data export reads its `.ndjson` files only.
            for entry in sorted_entries(path)? {
                if !(entry.is_file() && has_extension(&entry, &["ndjson"])) {
                    let reason = if entry.is_file() {
                        "a Bulk Data export (a folder with Patient.ndjson) reads only its .ndjson files"
                    } else {
                        "not a regular file"
                    };
                    found.skipped.push((entry, reason));
                }
            }
        } else if omop::is_export(path) {
            found.files.push(path.clone());
        } else if path.is_dir() {
            let before = found.files.len();
            for entry in sorted_entries(path)? {
                if entry.is_file() && has_extension(&entry, &["json", "jsonl", "ndjson"]) {
                    found.files.push(entry);
                } else if entry.is_file() {
                    found
                        .skipped
                        .push((entry, "not a .json, .jsonl or .ndjson file"));
                } else {
                    found.skipped.push((entry, "not a regular file"));
                }
            }
            if found.files.len() == before {
                let held: Vec<String> = found
                    .skipped
                    .iter()
                    .filter(|(p, _)| p.parent() == Some(path.as_path()))
                    .map(|(p, _)| {
                        p.file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    })
                    .collect();
                let held = if held.is_empty() {
                    "it is empty".to_owned()
                } else {
                    format!("it holds {}", crate::terminal::escape(&held.join(", ")))
                };
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "{}: no .json, .jsonl or .ndjson file, no Patient.ndjson (Bulk Data) \
                         and no PERSON table (OMOP) in this folder; {held}",
                        path.display()
                    ),
                ));
            }
        } else {
            found.files.push(path.clone());
        }
    }
    Ok(found)
}

/// What [`data_files`] found: the files to read, and the folder entries not read, with why.
#[derive(Debug, Default)]
pub struct DataFiles {
    /// The data files (and Bulk Data / OMOP folders), in the order to read them.
    pub files: Vec<PathBuf>,
    /// Entries of the folders given that are not read, and the reason.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

impl DataFiles {
    /// Writes one `skipped: PATH: reason` line per entry not read, on standard error.
    pub fn report_skipped(&self) {
        for (path, reason) in &self.skipped {
            eprintln!(
                "skipped: {}: {reason}",
                crate::terminal::escape(&path.display().to_string())
            );
        }
    }
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()?;
    entries.sort();
    Ok(entries)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

/// The records of one file, as [`read_file_with`] gives them.
pub type Records = Box<dyn Iterator<Item = std::io::Result<RawRecord>> + Send>;

/// Reads the records of one file, lazily: a `.json` file holds one patient object (which
/// may span many lines); any other file is JSON Lines, one patient per non-blank line.
/// A directory is a FHIR Bulk Data export (see [`read_file_with`]).
pub fn read_file(path: &Path) -> std::io::Result<Records> {
    read_file_with(path, None)
}

/// [`read_file`], every record carrying `options` (format, anchors, side file). A directory
/// is read as a FHIR Bulk Data export: one record per patient of `Patient.ndjson`, with
/// the resources of the other `.ndjson` files that refer to it.
pub fn read_file_with(path: &Path, options: Option<Arc<ReadOptions>>) -> std::io::Result<Records> {
    if omop::is_export(path) {
        return omop::read_export(path, options, BulkSettings::default());
    }
    if path.is_dir() {
        return bulk::read_export(path, options, BulkSettings::default());
    }
    let name: std::sync::Arc<str> = path.display().to_string().into();
    let file = std::fs::File::open(path)?;
    let cap = max_record_bytes(options.as_ref());
    let regular = lines::is_regular(path);
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "json") {
        let oversize = || RawRecord {
            unreadable: Some(lines::too_large(cap)),
            options: options.clone(),
            ..RawRecord::new(name.clone(), 1, String::new())
        };
        // A regular file is measured before it is read; anything else is read up to the cap.
        let bytes = if regular && std::fs::metadata(path)?.len() > cap {
            None
        } else {
            lines::read_capped(reader, cap)?
        };
        let record = match bytes.map(String::from_utf8) {
            None => oversize(),
            Some(Ok(text)) => RawRecord {
                options: options.clone(),
                ..RawRecord::new(name.clone(), 1, text)
            },
            Some(Err(e)) => RawRecord {
                unreadable: Some(format!(
                    "the file is not valid UTF-8 text (bad byte at offset {})",
                    e.utf8_error().valid_up_to()
                )),
                options: options.clone(),
                ..RawRecord::new(name.clone(), 1, String::new())
            },
        };
        // Lines are counted from the top of the file so serde's positions stay right.
        return Ok(Box::new(std::iter::once(Ok(record))));
    }
    Ok(Box::new(JsonLines {
        file: name,
        reader,
        line: 0,
        options,
        cap,
        regular,
        done: false,
    }))
}

/// Reads the FHIR Bulk Data export in `dir` as [`read_file_with`] does, partitioned as
/// `settings` says (the partition size bounds the memory used; see [`BulkSettings`]).
pub fn read_bulk_export(
    dir: &Path,
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
) -> std::io::Result<Records> {
    bulk::read_export(dir, options, settings)
}

/// Reads the OMOP CDM export in `dir` as [`read_file_with`] does, partitioned as `settings`
/// says (see [`omop`]).
pub fn read_omop_export(
    dir: &Path,
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
) -> std::io::Result<Records> {
    omop::read_export(dir, options, settings)
}

/// Iterates over the non-blank lines of a JSON Lines file, each at most `cap` bytes.
struct JsonLines<R> {
    file: std::sync::Arc<str>,
    reader: R,
    line: usize,
    options: Option<Arc<ReadOptions>>,
    /// The largest line kept; a longer one is a rejected record.
    cap: u64,
    /// A regular file (which ends): a line over the cap is skipped to its end. Otherwise
    /// (a device such as `/dev/zero`, a pipe) reading stops there with an error.
    regular: bool,
    done: bool,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = std::io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let bytes = match lines::next_line(&mut self.reader, self.cap, self.regular) {
                Ok(None) => return None,
                Ok(Some(lines::Line::Text(bytes))) => bytes,
                Ok(Some(lines::Line::TooLong { ended })) => {
                    self.line += 1;
                    if !ended {
                        self.done = true;
                        return Some(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "line {} is larger than {} bytes (the limit; raise it with --max-record-bytes), and this is not a regular file, so the line may never end: reading stops",
                                self.line, self.cap
                            ),
                        )));
                    }
                    return Some(Ok(RawRecord {
                        unreadable: Some(lines::too_large(self.cap)),
                        options: self.options.clone(),
                        ..RawRecord::new(self.file.clone(), self.line, String::new())
                    }));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            self.line += 1;
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
                options: self.options.clone(),
                bulk: None,
                prepared: None,
            }));
        }
    }
}
