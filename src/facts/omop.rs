//! An OMOP CDM v5.4 CSV export (a folder with `PERSON.csv`, `MEASUREMENT.csv`,
//! `CONDITION_OCCURRENCE.csv`, ...) read as one native record per person. See docs/omop.md.
//!
//! The tables are not assumed to be sorted by `person_id` (OMOP does not require it, and
//! exports are often in the order of their own ids), so they are read as the FHIR Bulk Data
//! reader reads an export, with memory bounded by one partition plus the largest person:
//!
//! 1. **Partition.** Each table is read once, as a stream (the vocabulary loader's CSV
//!    reading: tab or comma, quoted fields). Each row's needed columns are written, with its
//!    table and line, to one of K temporary files chosen by a hash of its `person_id`; the
//!    concept ids it uses are collected. A row whose `person_id` is not a whole number, or
//!    that cannot be split into the header's columns, is a rejected record at once.
//! 2. **Concepts.** `CONCEPT` is streamed once, keeping only the concepts the rows use
//!    (code, vocabulary, name, domain).
//! 3. **Group.** Partitions are read one at a time; each person's rows are converted into a
//!    native record, in the order of `PERSON` within the partition. A row that cannot be
//!    read rejects its person, naming the row's file, line and column; a row whose person
//!    is not in `PERSON` is a rejected record of its own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};

use super::bulk::{TempDir, create_private, temp_error};
use super::native::{
    ConditionRecord, EncounterRecord, ImmunizationRecord, MedicationRecord, ObservationRecord,
    PatientRecord, ProcedureRecord, RangeRecord, RecordedSex, Text, texts,
};
use super::{BulkSettings, RawRecord, ReadOptions, RecordError, Records};
use crate::vocab::table::Table;

/// The code system of facts whose concept eligc cannot name: concept id 0 ("No matching
/// concept"), a concept not in `CONCEPT`, or one of a vocabulary eligc has no system for.
/// Such a condition, drug, vaccine or procedure is *unplaced*: it might be any concept of
/// its kind (docs/terminology.md).
pub const UNMAPPED: &str = "https://ohdsi.github.io/CommonDataModel/unmapped";

/// What the reader of an OMOP folder needs beside the data, and what it counted.
#[derive(Debug, Default)]
pub struct OmopOptions {
    /// Where `CONCEPT` is read from when the export has none (`--vocabulary`).
    pub concepts_dir: Option<PathBuf>,
    /// The site vocabularies whose codes are the protocol's `local:` codes
    /// (`--local-vocabulary`).
    pub local_vocabularies: Vec<String>,
    /// What was read, made and left out so far.
    pub stats: Mutex<Stats>,
}

/// What the reading of OMOP exports counted.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Persons given as records.
    pub persons: usize,
    /// Rows read, by table.
    pub rows: BTreeMap<&'static str, usize>,
    /// Facts made.
    pub facts: usize,
    /// Facts whose concept eligc cannot name (concept 0, not in CONCEPT, other vocabulary).
    pub unmapped: usize,
    /// Rows left out, by table and reason.
    pub left_out: BTreeMap<String, usize>,
    /// Tables of the export that are not read.
    pub not_read: Vec<String>,
}

impl Stats {
    fn leave_out(&mut self, table: &str, why: &str) {
        *self.left_out.entry(format!("{table}: {why}")).or_default() += 1;
    }

    /// Adds what another reading counted.
    pub fn add(&mut self, s: Stats) {
        self.persons += s.persons;
        self.facts += s.facts;
        self.unmapped += s.unmapped;
        for (t, n) in s.rows {
            *self.rows.entry(t).or_default() += n;
        }
        for (t, n) in s.left_out {
            *self.left_out.entry(t).or_default() += n;
        }
        for t in s.not_read {
            if !self.not_read.contains(&t) {
                self.not_read.push(t);
            }
        }
    }

    /// One line for the end of a run.
    pub fn summary(&self) -> String {
        let rows: usize = self.rows.values().sum();
        let mut line = format!(
            "OMOP: {} persons, {rows} rows read ({}), {} facts made, {} without a standard concept eligc can name (unplaced)",
            self.persons,
            self.rows
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.facts,
            self.unmapped
        );
        if !self.left_out.is_empty() {
            let n: usize = self.left_out.values().sum();
            let list: Vec<String> = self
                .left_out
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            line.push_str(&format!("; {n} rows left out ({})", list.join(", ")));
        }
        if !self.not_read.is_empty() {
            line.push_str(&format!("; not read: {}", self.not_read.join(", ")));
        }
        line
    }
}

/// Whether `path` is an OMOP CDM export: a folder holding a `PERSON` table.
pub fn is_export(path: &Path) -> bool {
    path.is_dir() && crate::vocab::find(path, "person").is_ok_and(|f| f.is_some())
}

/// Whether the export holds a `CONCEPT` table (so it can serve as the vocabulary).
pub fn has_concepts(path: &Path) -> bool {
    crate::vocab::find(path, "concept").is_ok_and(|f| f.is_some())
}

/// The tables read, in order, and the columns kept of each. The first column is the person
/// id; columns marked `!` are required in the header.
const TABLES: &[(&str, &[&str])] = &[
    (
        "person",
        &[
            "!person_id",
            "!gender_concept_id",
            "year_of_birth",
            "month_of_birth",
            "day_of_birth",
            "birth_datetime",
        ],
    ),
    (
        "measurement",
        &[
            "!person_id",
            "measurement_id",
            "!measurement_concept_id",
            "!measurement_date",
            "operator_concept_id",
            "value_as_number",
            "value_as_concept_id",
            "unit_concept_id",
            "range_low",
            "range_high",
            "measurement_source_value",
            "measurement_source_concept_id",
            "unit_source_value",
            "value_source_value",
        ],
    ),
    (
        "condition_occurrence",
        &[
            "!person_id",
            "condition_occurrence_id",
            "!condition_concept_id",
            "!condition_start_date",
            "condition_end_date",
            "condition_status_concept_id",
            "condition_source_value",
            "condition_source_concept_id",
            "condition_status_source_value",
        ],
    ),
    (
        "drug_exposure",
        &[
            "!person_id",
            "drug_exposure_id",
            "!drug_concept_id",
            "!drug_exposure_start_date",
            "drug_exposure_end_date",
            "verbatim_end_date",
            "days_supply",
            "route_concept_id",
            "drug_source_value",
            "drug_source_concept_id",
            "route_source_value",
        ],
    ),
    (
        "procedure_occurrence",
        &[
            "!person_id",
            "procedure_occurrence_id",
            "!procedure_concept_id",
            "!procedure_date",
            "procedure_end_date",
            "procedure_source_value",
            "procedure_source_concept_id",
        ],
    ),
    (
        "observation",
        &[
            "!person_id",
            "observation_id",
            "!observation_concept_id",
            "!observation_date",
            "value_as_number",
            "value_as_string",
            "value_as_concept_id",
            "unit_concept_id",
            "observation_source_value",
            "observation_source_concept_id",
            "unit_source_value",
            "value_source_value",
        ],
    ),
    (
        "visit_occurrence",
        &[
            "!person_id",
            "visit_occurrence_id",
            "!visit_concept_id",
            "!visit_start_date",
            "visit_end_date",
            "visit_source_value",
        ],
    ),
];

/// The CDM tables the reader reads patient facts from (lower case), in its order.
pub fn clinical_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|(name, _)| *name)
}

/// The concept ids the rows of the export in `dir` use, in the columns the reader looks up
/// in `CONCEPT`, sorted: so that `eligc run --db` fetches only those concepts from the
/// database's vocabulary. A row that cannot be split is skipped (the reader rejects it).
pub fn used_concepts(dir: &Path) -> std::io::Result<Vec<u32>> {
    let io = |e: crate::vocab::VocabError| std::io::Error::other(e.to_string());
    let mut ids: FxHashSet<u32> = FxHashSet::default();
    for (name, _) in TABLES {
        let Some(path) = crate::vocab::find(dir, name).map_err(io)? else {
            continue;
        };
        let mut t = Table::open(&path).map_err(io)?;
        let cols: Vec<usize> = CONCEPT_COLUMNS
            .iter()
            .filter_map(|c| t.optional_column(c))
            .collect();
        loop {
            match t.next_row() {
                Ok(Some((_, row))) => {
                    for c in &cols {
                        if let Some(id) = row.get(*c).and_then(|v| v.trim().parse::<u32>().ok()) {
                            if id != 0 {
                                ids.insert(id);
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(e) if e.reason.starts_with("cannot read") => return Err(io(e)),
                Err(_) => {}
            }
        }
    }
    let mut ids: Vec<u32> = ids.into_iter().collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Tables of the CDM that hold patient facts but are not read (yet), named in the summary.
const NOT_READ: &[&str] = &[
    "visit_detail",
    "death",
    "device_exposure",
    "specimen",
    "note",
    "episode",
];

// The tables, in the order a person's rows are read (src/sql/reject.rs follows it).
pub(crate) const PERSON: u8 = 0;
pub(crate) const MEASUREMENT: u8 = 1;
pub(crate) const CONDITION: u8 = 2;
pub(crate) const DRUG: u8 = 3;
pub(crate) const PROCEDURE: u8 = 4;
pub(crate) const OBSERVATION: u8 = 5;
pub(crate) const VISIT: u8 = 6;

/// The name of a table, upper case as the CDM writes it.
fn table_name(table: u8) -> &'static str {
    match table {
        PERSON => "PERSON",
        MEASUREMENT => "MEASUREMENT",
        CONDITION => "CONDITION_OCCURRENCE",
        DRUG => "DRUG_EXPOSURE",
        PROCEDURE => "PROCEDURE_OCCURRENCE",
        VISIT => "VISIT_OCCURRENCE",
        _ => "OBSERVATION",
    }
}

/// The kept columns of `table` (without the `!`).
fn columns(table: u8) -> impl Iterator<Item = &'static str> {
    TABLES
        .get(usize::from(table))
        .map_or(&[][..], |(_, c)| *c)
        .iter()
        .map(|c| c.trim_start_matches('!'))
}

/// One row, as written to a partition: its table, file line, person and kept fields.
struct Row {
    table: u8,
    line: u64,
    person: i64,
    fields: Vec<String>,
}

impl Row {
    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&[self.table])?;
        w.write_all(&self.line.to_le_bytes())?;
        w.write_all(&self.person.to_le_bytes())?;
        w.write_all(&(self.fields.len() as u32).to_le_bytes())?;
        for f in &self.fields {
            w.write_all(&(f.len() as u64).to_le_bytes())?;
            w.write_all(f.as_bytes())?;
        }
        Ok(())
    }

    fn read(r: &mut impl BufRead) -> std::io::Result<Option<Row>> {
        if r.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut table = [0u8; 1];
        r.read_exact(&mut table)?;
        let mut line = [0u8; 8];
        r.read_exact(&mut line)?;
        let mut person = [0u8; 8];
        r.read_exact(&mut person)?;
        let mut count = [0u8; 4];
        r.read_exact(&mut count)?;
        let count = u32::from_le_bytes(count);
        let mut fields = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let mut len = [0u8; 8];
            r.read_exact(&mut len)?;
            let len = usize::try_from(u64::from_le_bytes(len))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut bytes = vec![0u8; len];
            r.read_exact(&mut bytes)?;
            fields.push(
                String::from_utf8(bytes)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            );
        }
        let [table] = table;
        Ok(Some(Row {
            table,
            line: u64::from_le_bytes(line),
            person: i64::from_le_bytes(person),
            fields,
        }))
    }

    /// A kept field by column name; empty when the table has no such column.
    fn get(&self, column: &str) -> &str {
        columns(self.table)
            .position(|c| c == column)
            .and_then(|i| self.fields.get(i))
            .map_or("", |f| f.trim())
    }
}

/// Which of `k` partitions a person goes to (SplitMix64 of the id: fixed on every run).
fn partition_of(person: i64, k: usize) -> usize {
    let mut h = person as u64 ^ 0x9e37_79b9_7f4a_7c15;
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % k.max(1) as u64) as usize
}

/// A concept as `CONCEPT` gives it.
#[derive(Clone, Debug)]
struct Concept {
    vocabulary: Box<str>,
    /// eligc's code system for the vocabulary (`vocab::code_system`), if it has one.
    system: Option<crate::program::CodeSystem>,
    code: Box<str>,
    name: Box<str>,
    domain: Box<str>,
}

/// The export being read.
struct Export {
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
    /// Display names of the tables, by table index (empty: the export has no such table).
    names: Vec<Arc<str>>,
    paths: Vec<Option<PathBuf>>,
    /// The table being partitioned and the next one.
    reading: Option<(u8, Table, Vec<Option<usize>>)>,
    next_table: u8,
    writers: Vec<BufWriter<File>>,
    parts: VecDeque<PathBuf>,
    /// Concept ids the rows use; then the concepts read.
    wanted: FxHashSet<u32>,
    concepts: FxHashMap<u32, Concept>,
    /// Records ready to give (the partition being read).
    ready: VecDeque<RawRecord>,
    stats: Stats,
    temp: Option<TempDir>,
    dir: PathBuf,
    done: bool,
}

/// Reads the OMOP export in `dir` (see the module documentation).
pub(super) fn read_export(
    dir: &Path,
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
) -> std::io::Result<Records> {
    let to_io = |e: crate::vocab::VocabError| std::io::Error::other(e.to_string());
    let mut names = Vec::new();
    let mut paths = Vec::new();
    let mut total: u64 = 0;
    for (name, _) in TABLES {
        let path = crate::vocab::find(dir, name).map_err(to_io)?;
        if let Some(p) = &path {
            total = total.saturating_add(std::fs::metadata(p)?.len());
        }
        names.push(Arc::from(
            path.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ));
        paths.push(path);
    }
    let mut stats = Stats::default();
    for name in NOT_READ {
        if let Some(p) = crate::vocab::find(dir, name).map_err(to_io)? {
            // A table with rows (more than its header line).
            let rows = File::open(&p)
                .map(|f| BufReader::new(f).lines().take(2).count() > 1)
                .unwrap_or(false);
            if rows {
                stats.not_read.push(name.to_ascii_uppercase().to_string());
            }
        }
    }
    let k = usize::try_from(total.div_ceil(settings.partition_bytes.max(1)))
        .unwrap_or(usize::MAX)
        .clamp(1, settings.max_partitions.max(1));
    let temp = TempDir::create(&settings.temp_dir, "eligc-omop")?;
    let mut writers = Vec::with_capacity(k);
    let mut parts = VecDeque::with_capacity(k);
    for i in 0..k {
        let path = temp.0.join(format!("part-{i}"));
        writers.push(BufWriter::with_capacity(
            32 << 10,
            create_private(&path).map_err(|e| temp_error(&settings.temp_dir, e))?,
        ));
        parts.push_back(path);
    }
    Ok(Box::new(Export {
        options,
        settings,
        names,
        paths,
        reading: None,
        next_table: 0,
        writers,
        parts,
        wanted: FxHashSet::default(),
        concepts: FxHashMap::default(),
        ready: VecDeque::new(),
        stats,
        temp: Some(temp),
        dir: dir.to_path_buf(),
        done: false,
    }))
}

impl Iterator for Export {
    type Item = std::io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = if self.writers.is_empty() {
            self.next_person()
        } else {
            match self.partition() {
                Ok(Some(rejected)) => Ok(Some(rejected)),
                Ok(None) => self.next_person(),
                Err(e) => Err(e),
            }
        };
        match next {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.finish();
                None
            }
            Err(e) => {
                self.finish();
                Some(Err(e))
            }
        }
    }
}

/// A rejected record: a row, its person when known, the column and why.
fn rejection(
    options: Option<&Arc<ReadOptions>>,
    file: &str,
    line: u64,
    person: Option<i64>,
    column: &str,
    reason: String,
) -> RawRecord {
    let error = RecordError {
        file: file.to_string(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        patient: person.map(|p| p.to_string()),
        path: column.to_string(),
        reason,
    };
    RawRecord {
        options: options.cloned(),
        prepared: Some(Box::new(Err(error))),
        ..RawRecord::new(file, usize::try_from(line).unwrap_or(usize::MAX), "")
    }
}

impl Export {
    fn finish(&mut self) {
        self.done = true;
        self.writers.clear();
        self.ready.clear();
        self.temp = None;
        if let Some(options) = &self.options {
            if let Ok(mut total) = options.omop.stats.lock() {
                total.add(std::mem::take(&mut self.stats));
            }
        }
    }

    fn name(&self, table: u8) -> Arc<str> {
        self.names
            .get(usize::from(table))
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    /// The first pass: partitions rows until one is rejected (given back) or every table
    /// has been read (`None`; the concepts are then read and the partition files closed).
    fn partition(&mut self) -> std::io::Result<Option<RawRecord>> {
        loop {
            let Some((table, t, cols)) = &mut self.reading else {
                if usize::from(self.next_table) >= TABLES.len() {
                    self.end_partitioning()?;
                    return Ok(None);
                }
                let table = self.next_table;
                self.next_table += 1;
                let Some(path) = self.paths.get(usize::from(table)).cloned().flatten() else {
                    continue;
                };
                let t = Table::open(&path).map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut cols = Vec::new();
                for c in TABLES.get(usize::from(table)).map_or(&[][..], |(_, c)| *c) {
                    match c.strip_prefix('!') {
                        Some(c) => cols.push(Some(
                            t.column(c)
                                .map_err(|e| std::io::Error::other(e.to_string()))?,
                        )),
                        None => cols.push(t.optional_column(c)),
                    }
                }
                self.stats.rows.entry(table_name(table)).or_default();
                self.reading = Some((table, t, cols));
                continue;
            };
            let table = *table;
            let row = match t.next_row() {
                Ok(Some((line, row))) => {
                    let fields: Vec<String> = cols
                        .iter()
                        .map(|c| c.and_then(|c| row.get(c)).cloned().unwrap_or_default())
                        .collect();
                    Ok((line, fields))
                }
                Ok(None) => {
                    self.reading = None;
                    continue;
                }
                Err(e) if e.reason.starts_with("cannot read") => {
                    return Err(std::io::Error::other(e.to_string()));
                }
                Err(e) => Err(e),
            };
            *self.stats.rows.entry(table_name(table)).or_default() += 1;
            let (line, fields) = match row {
                Ok(r) => r,
                Err(e) => {
                    let file = self.name(table);
                    return Ok(Some(rejection(
                        self.options.as_ref(),
                        &file,
                        e.line as u64,
                        None,
                        "",
                        e.reason,
                    )));
                }
            };
            let text = fields.first().map_or("", |f| f.trim());
            let Ok(person) = text.parse::<i64>() else {
                let file = self.name(table);
                return Ok(Some(rejection(
                    self.options.as_ref(),
                    &file,
                    line as u64,
                    None,
                    "person_id",
                    format!("`person_id` is `{text}`, not a whole number"),
                )));
            };
            let row = Row {
                table,
                line: line as u64,
                person,
                fields,
            };
            for c in CONCEPT_COLUMNS {
                if let Ok(id) = row.get(c).parse::<u32>() {
                    if id != 0 {
                        self.wanted.insert(id);
                    }
                }
            }
            let k = self.writers.len();
            if let Some(w) = self.writers.get_mut(partition_of(person, k)) {
                row.write(w)
                    .map_err(|e| temp_error(&self.settings.temp_dir, e))?;
            }
        }
    }

    /// Closes the partition files and reads the concepts the rows use.
    fn end_partitioning(&mut self) -> std::io::Result<()> {
        for mut w in std::mem::take(&mut self.writers) {
            w.flush()
                .map_err(|e| temp_error(&self.settings.temp_dir, e))?;
        }
        let dirs = std::iter::once(self.dir.clone()).chain(
            self.options
                .as_ref()
                .and_then(|o| o.omop.concepts_dir.clone()),
        );
        let mut file = None;
        for d in dirs {
            if let Some(f) = crate::vocab::find(&d, "concept")
                .map_err(|e| std::io::Error::other(e.to_string()))?
            {
                file = Some(f);
                break;
            }
        }
        let Some(file) = file else {
            return Ok(());
        };
        let io = |e: crate::vocab::VocabError| std::io::Error::other(e.to_string());
        let local = self
            .options
            .as_ref()
            .map_or(&[][..], |o| &o.omop.local_vocabularies[..]);
        let mut t = Table::open(&file).map_err(io)?;
        let (c_id, c_vocab, c_code) = (
            t.column("concept_id").map_err(io)?,
            t.column("vocabulary_id").map_err(io)?,
            t.column("concept_code").map_err(io)?,
        );
        let c_name = t.optional_column("concept_name");
        let c_domain = t.optional_column("domain_id");
        while let Some((_, row)) = t.next_row().map_err(io)? {
            let field = |i: Option<usize>| i.and_then(|i| row.get(i)).map_or("", |f| f.trim());
            let Ok(id) = field(Some(c_id)).parse::<u32>() else {
                continue;
            };
            if !self.wanted.contains(&id) {
                continue;
            }
            let Ok(code) = super::codes::normalise(field(Some(c_code))) else {
                continue;
            };
            self.concepts.insert(
                id,
                Concept {
                    vocabulary: field(Some(c_vocab)).into(),
                    system: crate::vocab::code_system(field(Some(c_vocab)), local),
                    code: code.into(),
                    name: field(c_name).into(),
                    domain: field(c_domain).into(),
                },
            );
        }
        self.wanted = FxHashSet::default();
        Ok(())
    }

    /// The second pass: the next record, reading the next partition when needed.
    fn next_person(&mut self) -> std::io::Result<Option<RawRecord>> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Ok(Some(r));
            }
            let Some(path) = self.parts.pop_front() else {
                return Ok(None);
            };
            self.load(&path)
                .map_err(|e| temp_error(&self.settings.temp_dir, e))?;
        }
    }

    /// Reads one partition and converts its persons.
    fn load(&mut self, path: &Path) -> std::io::Result<()> {
        let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut rows = Vec::new();
        while let Some(row) = Row::read(&mut reader)? {
            rows.push(row);
        }
        drop(reader);
        std::fs::remove_file(path)?;
        // Rows are in table order (PERSON first), then line order.
        let mut persons: Vec<(i64, Option<usize>, Vec<usize>)> = Vec::new();
        let mut by_id: HashMap<i64, usize> = HashMap::new();
        let mut errors: Vec<RawRecord> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let g = *by_id.entry(row.person).or_insert_with(|| {
                persons.push((row.person, None, Vec::new()));
                persons.len() - 1
            });
            let Some((_, person, members)) = persons.get_mut(g) else {
                continue;
            };
            if row.table == PERSON {
                match person {
                    Some(first) => {
                        let first = rows.get(*first).map_or(0, |r| r.line);
                        errors.push(rejection(
                            self.options.as_ref(),
                            &self.name(PERSON),
                            row.line,
                            Some(row.person),
                            "person_id",
                            format!(
                                "person {} is already in PERSON (at line {first})",
                                row.person
                            ),
                        ));
                    }
                    None => *person = Some(i),
                }
            } else {
                members.push(i);
            }
        }
        for (id, person, mut members) in persons {
            match person {
                Some(p) => {
                    // In table order, then by row id, as a database orders them (the SQL
                    // script breaks ties the same way), not by line: a table has no line
                    // order, and an export need not be sorted by id. Of two results on
                    // one day, `latest` takes the higher id.
                    members.sort_by_key(|&m| rows.get(m).map(|r| (r.table, row_id(r), r.line)));
                    let record = self.convert(&rows, p, &members);
                    self.ready.push_back(record);
                }
                None => {
                    for m in members {
                        if let Some(row) = rows.get(m) {
                            errors.push(rejection(
                                self.options.as_ref(),
                                &self.name(row.table),
                                row.line,
                                Some(id),
                                "person_id",
                                format!("person {id} is not in PERSON"),
                            ));
                        }
                    }
                }
            }
        }
        // Rejected rows first, in table and line order (as the Bulk Data reader does).
        for e in errors.into_iter().rev() {
            self.ready.push_front(e);
        }
        Ok(())
    }

    /// One person's record, or the first row that cannot be read.
    fn convert(&mut self, rows: &[Row], person: usize, members: &[usize]) -> RawRecord {
        let Some(p) = rows.get(person) else {
            return rejection(self.options.as_ref(), "?", 0, None, "", "no row".into());
        };
        let mut origins: Vec<(String, usize, u8, u64)> = Vec::new();
        let result = self.build(rows, p, members, &mut origins);
        let result = result.and_then(|record| {
            // What the converter makes must be a valid native record; a value that breaks a
            // rule of the model (an end before its start) is named at its row.
            match super::native::validate(&record) {
                Ok(()) => Ok(record),
                Err((path, reason)) => {
                    let (table, line) = origin_of(&path, &origins).unwrap_or((PERSON, p.line));
                    Err(Failure {
                        table,
                        line,
                        column: path,
                        reason,
                    })
                }
            }
        });
        match result {
            Ok(record) => {
                self.stats.persons += 1;
                RawRecord {
                    options: self.options.clone(),
                    prepared: Some(Box::new(Ok(record))),
                    ..RawRecord::new(self.name(PERSON), usize::try_from(p.line).unwrap_or(0), "")
                }
            }
            Err(f) => rejection(
                self.options.as_ref(),
                &self.name(f.table),
                f.line,
                Some(p.person),
                &f.column,
                f.reason,
            ),
        }
    }

    /// Builds the record; `origins` gets the table and line of each fact, by list and index.
    fn build(
        &mut self,
        rows: &[Row],
        p: &Row,
        members: &[usize],
        origins: &mut Vec<(String, usize, u8, u64)>,
    ) -> Result<PatientRecord<'static>, Failure> {
        let fail = |row: &Row, column: &str, reason: String| Failure {
            table: row.table,
            line: row.line,
            column: column.to_string(),
            reason,
        };
        let sex = match p.get("gender_concept_id") {
            "8507" => Some(RecordedSex::Male),
            "8532" => Some(RecordedSex::Female),
            "8521" => Some(RecordedSex::Other),
            "8551" | "0" | "" => None,
            other => {
                return Err(fail(
                    p,
                    "gender_concept_id",
                    format!(
                        "`{other}` is not an OMOP gender concept (8507 male, 8532 female, 8521 other, 8551 unknown, 0)"
                    ),
                ));
            }
        };
        let birth_date = birth_date(p).map_err(|(c, r)| fail(p, c, r))?;
        if birth_date.is_none() {
            self.stats
                .leave_out("PERSON", "birth date without month and day");
        }
        let present = |t: u8| self.paths.get(usize::from(t)).is_some_and(Option::is_some);
        let mut record = PatientRecord {
            id: p.person.to_string().into(),
            birth_date,
            sex,
            anchors: BTreeMap::new(),
            observations: present(MEASUREMENT)
                .then(Vec::new)
                .or_else(|| present(OBSERVATION).then(Vec::new)),
            conditions: present(CONDITION).then(Vec::new),
            medications: present(DRUG).then(Vec::new),
            immunizations: present(DRUG).then(Vec::new),
            procedures: present(PROCEDURE).then(Vec::new),
            allergies: None,
            encounters: present(VISIT).then(Vec::new),
            // The CDM has no table of study participation: not recorded (unknown).
            studies: None,
            // Family history is in OBSERVATION under "family history of" concepts, which
            // name no relative: not read (unknown).
            family_history: None,
            attestations: BTreeMap::new(),
            completed: Vec::new(),
        };
        for &m in members {
            let Some(row) = rows.get(m) else { continue };
            let fact = self.fact(row).map_err(|(c, r)| fail(row, c, r))?;
            let (list, len) = match fact {
                None => continue,
                Some(Fact::Observation(o)) => {
                    let list = record.observations.get_or_insert_with(Vec::new);
                    list.push(o);
                    ("observations", list.len())
                }
                Some(Fact::Condition(c)) => {
                    let list = record.conditions.get_or_insert_with(Vec::new);
                    list.push(c);
                    ("conditions", list.len())
                }
                Some(Fact::Medication(d)) => {
                    let list = record.medications.get_or_insert_with(Vec::new);
                    list.push(d);
                    ("medications", list.len())
                }
                Some(Fact::Immunization(v)) => {
                    let list = record.immunizations.get_or_insert_with(Vec::new);
                    list.push(v);
                    ("immunizations", list.len())
                }
                Some(Fact::Procedure(x)) => {
                    let list = record.procedures.get_or_insert_with(Vec::new);
                    list.push(x);
                    ("procedures", list.len())
                }
                Some(Fact::Encounter(e)) => {
                    let list = record.encounters.get_or_insert_with(Vec::new);
                    list.push(e);
                    ("encounters", list.len())
                }
            };
            self.stats.facts += 1;
            origins.push((list.to_string(), len - 1, row.table, row.line));
        }
        Ok(record)
    }

    /// The fact one row gives; `None` when it is left out (counted).
    fn fact(&mut self, row: &Row) -> Result<Option<Fact>, (&'static str, String)> {
        match row.table {
            MEASUREMENT => self.measurement(row, "measurement"),
            OBSERVATION => self.measurement(row, "observation"),
            CONDITION => {
                let start = date(row, "condition_start_date")?
                    .ok_or(("condition_start_date", "no start date".to_string()))?;
                let end = date(row, "condition_end_date")?;
                ordered(start, end, "condition_end_date")?;
                let coded = self.coded(row, "condition")?;
                let verification = self.condition_status(row);
                Ok(Some(Fact::Condition(ConditionRecord {
                    id: id(row, "condition_occurrence_id"),
                    concept: None,
                    code: Some(coded.code.into()),
                    also: texts(coded.also),
                    display: coded.display.map(Text::from),
                    onset: Some(start),
                    end,
                    status: None,
                    verification: verification.map(Text::from),
                    grade: None,
                    severity: None,
                    body_site: None,
                    laterality: None,
                    stage: None,
                })))
            }
            DRUG => {
                let start = date(row, "drug_exposure_start_date")?
                    .ok_or(("drug_exposure_start_date", "no start date".to_string()))?;
                let coded = self.coded(row, "drug")?;
                let id = id(row, "drug_exposure_id");
                if coded.vaccine {
                    return Ok(Some(Fact::Immunization(ImmunizationRecord {
                        id,
                        concept: None,
                        code: Some(coded.code.into()),
                        also: texts(coded.also),
                        display: coded.display.map(Text::from),
                        date: start,
                        status: None,
                    })));
                }
                let mut end = match date(row, "drug_exposure_end_date")? {
                    Some(e) => Some(e),
                    None => date(row, "verbatim_end_date")?,
                };
                let supply = row.get("days_supply");
                if end.is_none() && !supply.is_empty() {
                    let days = supply.parse::<u32>().map_err(|_| {
                        (
                            "days_supply",
                            format!("`{supply}` is not a number of days (a whole number)"),
                        )
                    })?;
                    if days > 0 {
                        end = start.checked_add_days(chrono::Days::new(u64::from(days - 1)));
                    }
                }
                ordered(start, end, "drug_exposure_end_date")?;
                let route = self.route(row);
                Ok(Some(Fact::Medication(MedicationRecord {
                    id,
                    concept: None,
                    code: Some(coded.code.into()),
                    also: texts(coded.also),
                    display: coded.display.map(Text::from),
                    start,
                    end,
                    dose: None,
                    dose_unit: None,
                    frequency_per_day: None,
                    daily_dose: None,
                    daily_dose_unit: None,
                    route: route.map(Text::from),
                    reason: None,
                    status_reason: None,
                    // Without an end, when it ended is not known (it is not "ongoing").
                    status: end.is_none().then(|| "completed".into()),
                })))
            }
            PROCEDURE => {
                let date_ = date(row, "procedure_date")?
                    .ok_or(("procedure_date", "no date".to_string()))?;
                let end = date(row, "procedure_end_date")?.filter(|e| *e != date_);
                ordered(date_, end, "procedure_end_date")?;
                let coded = self.coded(row, "procedure")?;
                Ok(Some(Fact::Procedure(ProcedureRecord {
                    id: id(row, "procedure_occurrence_id"),
                    concept: None,
                    code: Some(coded.code.into()),
                    also: texts(coded.also),
                    display: coded.display.map(Text::from),
                    date: date_,
                    end,
                    status: None,
                    body_site: None,
                    laterality: None,
                    reason: None,
                })))
            }
            VISIT => self.visit(row).map(Some),
            _ => Ok(None),
        }
    }

    /// A VISIT_OCCURRENCE row: an encounter. The OMOP visit concepts become HL7 ActCode
    /// classes, as FHIR's `Encounter.class`: inpatient (IP) `IMP`, outpatient (OP) `AMB`,
    /// emergency room (ER) `EMER`, emergency room and inpatient (ERIP) both. Another visit
    /// concept keeps its code when its vocabulary has an eligc system, else it is unmapped.
    fn visit(&mut self, row: &Row) -> Result<Fact, (&'static str, String)> {
        let start = date(row, "visit_start_date")?
            .ok_or(("visit_start_date", "no start date".to_string()))?;
        let end = date(row, "visit_end_date")?;
        ordered(start, end, "visit_end_date")?;
        let concept = concept_id(row, "visit_concept_id")?;
        let known = concept.and_then(|c| self.concepts.get(&c));
        let classes: &[&str] = match known.filter(|c| &*c.vocabulary == "Visit") {
            Some(c) => match &*c.code {
                "IP" => &["actcode:IMP"],
                "OP" => &["actcode:AMB"],
                "ER" => &["actcode:EMER"],
                "ERIP" => &["actcode:EMER", "actcode:IMP"],
                _ => &[],
            },
            None => &[],
        };
        let display = known.map(|c| c.name.to_string()).filter(|n| !n.is_empty());
        let mut codes: Vec<String> = classes.iter().map(|c| (*c).to_string()).collect();
        if codes.is_empty() {
            if let Some(system) = known.and_then(|c| c.system) {
                codes.push(format!(
                    "{}:{}",
                    system.name(),
                    known.map_or("", |c| &*c.code)
                ));
            }
        }
        if codes.is_empty() {
            let source = row.get("visit_source_value");
            let key = match concept {
                Some(c) => c.to_string(),
                None if source.is_empty() => "0".to_string(),
                None => source
                    .chars()
                    .map(|c| {
                        if c.is_whitespace() || c == '|' {
                            '_'
                        } else {
                            c
                        }
                    })
                    .collect(),
            };
            codes.push(format!("{UNMAPPED}|{key}"));
        }
        let code = codes.remove(0);
        Ok(Fact::Encounter(EncounterRecord {
            id: id(row, "visit_occurrence_id"),
            concept: None,
            code: Some(code.into()),
            also: texts((!codes.is_empty()).then_some(codes)),
            display: display.map(Text::from),
            start,
            end,
            // Without an end date, when it ended is not known (it is not "ongoing").
            status: end.is_none().then(|| "finished".into()),
            discharge: None,
        }))
    }

    /// A MEASUREMENT or OBSERVATION row: an observation with its value; an OBSERVATION whose
    /// concept is of the Condition domain is a condition.
    fn measurement(
        &mut self,
        row: &Row,
        prefix: &'static str,
    ) -> Result<Option<Fact>, (&'static str, String)> {
        let table = table_name(row.table);
        let (c_date, c_id) = if prefix == "measurement" {
            ("measurement_date", "measurement_id")
        } else {
            ("observation_date", "observation_id")
        };
        let when = date(row, c_date)?.ok_or((c_date, "no date".to_string()))?;
        let coded = self.coded(row, prefix)?;
        if prefix == "observation" && coded.domain == "Condition" {
            return Ok(Some(Fact::Condition(ConditionRecord {
                id: id(row, c_id),
                concept: None,
                code: Some(coded.code.into()),
                also: texts(coded.also),
                display: coded.display.map(Text::from),
                onset: Some(when),
                end: None,
                status: None,
                verification: None,
                grade: None,
                severity: None,
                body_site: None,
                laterality: None,
                stage: None,
            })));
        }
        let number = row.get("value_as_number");
        let value = if number.is_empty() {
            None
        } else {
            Some(crate::number::parse(number).map_err(|e| {
                (
                    "value_as_number",
                    format!("`{number}` is not a number: {e}"),
                )
            })?)
        };
        let mut result = None;
        let answer = concept_id(row, "value_as_concept_id")?;
        if value.is_none() {
            if let Some(c) = answer.and_then(|a| self.concepts.get(&a)) {
                result = answer_word(c);
            }
            if result.is_none() {
                let text = [row.get("value_as_string"), row.get("value_source_value")]
                    .into_iter()
                    .find(|t| !t.is_empty());
                result = text.map(|t| {
                    let t = t.to_lowercase();
                    t.strip_suffix(" (qualifier value)")
                        .map(str::to_string)
                        .unwrap_or(t)
                });
            }
        }
        if value.is_none() && result.is_none() {
            self.stats.leave_out(table, "no value");
            return Ok(None);
        }
        let unit = match value {
            None => None,
            Some(_) => {
                let unit = concept_id(row, "unit_concept_id")?
                    .and_then(|u| self.concepts.get(&u))
                    .filter(|c| &*c.vocabulary == "UCUM")
                    .map(|c| c.code.to_string());
                unit.or_else(|| {
                    let s = row.get("unit_source_value");
                    (!s.is_empty()).then(|| s.to_string())
                })
            }
        };
        let comparator = match row.get("operator_concept_id") {
            "4171756" => Some("<"),
            "4171754" => Some("<="),
            "4171755" => Some(">="),
            "4172704" => Some(">"),
            _ => None,
        }
        .filter(|_| value.is_some())
        .map(str::to_string);
        let bound = |c: &'static str| -> Result<Option<Decimal>, (&'static str, String)> {
            let t = row.get(c);
            if t.is_empty() || value.is_none() {
                return Ok(None);
            }
            crate::number::parse(t)
                .map(Some)
                .map_err(|e| (c, format!("`{t}` is not a number: {e}")))
        };
        let (low, high) = (bound("range_low")?, bound("range_high")?);
        let reference_range = match (low, high) {
            (None, None) => None,
            (Some(l), Some(h)) if l > h => {
                self.stats
                    .leave_out(table, "reference range with low above high");
                None
            }
            (low, high) => Some(RangeRecord { low, high }),
        };
        Ok(Some(Fact::Observation(ObservationRecord {
            id: id(row, c_id),
            concept: None,
            code: Some(coded.code.into()),
            also: texts(coded.also),
            date: when,
            value,
            unit: unit.map(Text::from),
            comparator: comparator.map(Text::from),
            result: result.map(Text::from),
            interpretation: None,
            reference_range,
        })))
    }

    /// The code of a row's concept (and of its source concept), or the unmapped code.
    fn coded(&mut self, row: &Row, prefix: &str) -> Result<Coded, (&'static str, String)> {
        let (c_concept, c_source, c_source_value) = match prefix {
            "measurement" => (
                "measurement_concept_id",
                "measurement_source_concept_id",
                "measurement_source_value",
            ),
            "observation" => (
                "observation_concept_id",
                "observation_source_concept_id",
                "observation_source_value",
            ),
            "condition" => (
                "condition_concept_id",
                "condition_source_concept_id",
                "condition_source_value",
            ),
            "drug" => (
                "drug_concept_id",
                "drug_source_concept_id",
                "drug_source_value",
            ),
            _ => (
                "procedure_concept_id",
                "procedure_source_concept_id",
                "procedure_source_value",
            ),
        };
        let concept = concept_id(row, c_concept)?;
        let source = concept_id(row, c_source)?;
        let mut codes: Vec<String> = Vec::new();
        let mut domain = String::new();
        let mut vaccine = false;
        let mut names = Vec::new();
        for id in [concept, source].into_iter().flatten() {
            let Some(c) = self.concepts.get(&id) else {
                continue;
            };
            if domain.is_empty() {
                domain = c.domain.to_string();
            }
            if let Some(system) = c.system {
                vaccine |= system == crate::program::CodeSystem::Cvx && codes.is_empty();
                let code = format!("{}:{}", system.name(), c.code);
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            if !c.name.is_empty() && names.is_empty() {
                names.push(c.name.to_string());
            }
        }
        let source_value = row.get(c_source_value);
        // The standard concept decides: when it has no code eligc can name, the fact is
        // unmapped even if its source code has one (which is kept beside it).
        let standard_named = concept
            .and_then(|c| self.concepts.get(&c))
            .is_some_and(|c| c.system.is_some());
        if !standard_named {
            if !matches!(prefix, "measurement" | "observation") {
                self.stats.unmapped += 1;
            }
            let what = match concept.and_then(|c| self.concepts.get(&c).map(|k| (c, k))) {
                None if concept.is_none() => "no standard concept (concept id 0)".to_string(),
                None => format!("concept {} not in CONCEPT", concept.map_or(0, |c| c)),
                Some((id, k)) => format!("concept {id} of vocabulary {}", k.vocabulary),
            };
            let display = if source_value.is_empty() {
                what
            } else {
                format!("{what}; source value `{source_value}`")
            };
            // The concept id when there is one, else the source value as written.
            let key = match concept {
                Some(c) => c.to_string(),
                None if source_value.is_empty() => "0".to_string(),
                None => source_value.to_string(),
            };
            let key: String = key
                .chars()
                .map(|c| {
                    if c.is_whitespace() || c == '|' {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            let mut all = vec![format!("{UNMAPPED}|{key}")];
            all.extend(codes);
            let code = all.remove(0);
            return Ok(Coded {
                code,
                also: (!all.is_empty()).then_some(all),
                display: Some(display),
                domain,
                vaccine: false,
            });
        }
        let code = codes.remove(0);
        Ok(Coded {
            code,
            also: (!codes.is_empty()).then_some(codes),
            display: names.into_iter().next(),
            domain,
            vaccine,
        })
    }

    /// A condition's status concept as a verification word, by the concept's name.
    fn condition_status(&self, row: &Row) -> Option<String> {
        let name = row
            .get("condition_status_concept_id")
            .parse::<u32>()
            .ok()
            .and_then(|c| self.concepts.get(&c))
            .map(|c| c.name.to_lowercase())
            .unwrap_or_else(|| row.get("condition_status_source_value").to_lowercase());
        if name.contains("preliminary") || name.contains("provisional") {
            Some("provisional".into())
        } else if name.contains("confirmed") {
            Some("confirmed".into())
        } else {
            None
        }
    }

    /// A drug's route concept (SNOMED CT, as in OMOP's Route domain) as a native word.
    fn route(&self, row: &Row) -> Option<String> {
        let id = row.get("route_concept_id").parse::<u32>().ok()?;
        if id == 0 {
            return None;
        }
        let c = self.concepts.get(&id)?;
        let word = match &*c.code {
            "26643006" => "oral",
            "47625008" => "intravenous",
            "34206005" => "subcutaneous",
            "78421000" => "intramuscular",
            "6064005" => "topical",
            "447694001" | "18679011000001101" => "inhaled",
            _ => "other",
        };
        Some(word.to_string())
    }
}

/// A failure to read a row: where and why.
struct Failure {
    table: u8,
    line: u64,
    column: String,
    reason: String,
}

/// A fact made from a row.
enum Fact {
    Observation(ObservationRecord<'static>),
    Condition(ConditionRecord<'static>),
    Medication(MedicationRecord<'static>),
    Immunization(ImmunizationRecord<'static>),
    Procedure(ProcedureRecord<'static>),
    Encounter(EncounterRecord<'static>),
}

/// A row's concept as codes.
struct Coded {
    code: String,
    also: Option<Vec<String>>,
    display: Option<String>,
    domain: String,
    vaccine: bool,
}

/// The columns holding concept ids (read from `CONCEPT`).
const CONCEPT_COLUMNS: &[&str] = &[
    "measurement_concept_id",
    "measurement_source_concept_id",
    "value_as_concept_id",
    "unit_concept_id",
    "condition_concept_id",
    "condition_source_concept_id",
    "condition_status_concept_id",
    "drug_concept_id",
    "drug_source_concept_id",
    "route_concept_id",
    "procedure_concept_id",
    "procedure_source_concept_id",
    "observation_concept_id",
    "observation_source_concept_id",
    "visit_concept_id",
];

/// The row's list entry that a validation path (`conditions[3].end`) names.
fn origin_of(path: &str, origins: &[(String, usize, u8, u64)]) -> Option<(u8, u64)> {
    let (list, rest) = path.split_once('[')?;
    let (index, _) = rest.split_once(']')?;
    let index: usize = index.parse().ok()?;
    origins
        .iter()
        .find(|(l, i, _, _)| l == list && *i == index)
        .map(|(_, _, t, line)| (*t, *line))
}

/// A concept id column: `None` for 0 or empty.
fn concept_id(row: &Row, column: &'static str) -> Result<Option<u32>, (&'static str, String)> {
    let t = row.get(column);
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(id) => Ok(Some(id)),
        Err(_) => Err((
            column,
            format!("`{t}` is not a concept id (a whole number)"),
        )),
    }
}

/// A date column: `YYYY-MM-DD`, or a date and time (`2013-05-17 00:00:00`, `...T...`).
fn date(row: &Row, column: &'static str) -> Result<Option<NaiveDate>, (&'static str, String)> {
    let t = row.get(column);
    if t.is_empty() {
        return Ok(None);
    }
    let day = t
        .get(..10)
        .filter(|_| t.len() == 10 || t.get(10..11).is_some_and(|s| s == " " || s == "T"));
    day.and_then(|d| super::strict::parse_date(d).ok())
        .map(Some)
        .ok_or_else(|| {
            (
                column,
                format!("`{t}` is not a date written YYYY-MM-DD (or a date and time)"),
            )
        })
}

/// An end not before its start.
fn ordered(
    start: NaiveDate,
    end: Option<NaiveDate>,
    column: &'static str,
) -> Result<(), (&'static str, String)> {
    match end {
        Some(e) if e < start => Err((column, format!("ends ({e}) before it starts ({start})"))),
        _ => Ok(()),
    }
}

/// The row's own id as a number, for ordering a person's rows; `None` (first) when it is
/// empty or not a whole number.
fn row_id(row: &Row) -> Option<i64> {
    let column = match row.table {
        MEASUREMENT => "measurement_id",
        CONDITION => "condition_occurrence_id",
        DRUG => "drug_exposure_id",
        PROCEDURE => "procedure_occurrence_id",
        OBSERVATION => "observation_id",
        VISIT => "visit_occurrence_id",
        _ => return None,
    };
    row.get(column).parse().ok()
}

/// The row's own id (quoted in explanations): `TABLE_id`.
fn id(row: &Row, column: &str) -> Option<Text<'static>> {
    let t = row.get(column);
    (!t.is_empty()).then(|| format!("{}:{t}", table_name(row.table).to_lowercase()).into())
}

/// The date of birth: `birth_datetime`, else year, month and day; `None` when only the
/// year is known (an age from a year alone could be a year off).
fn birth_date(p: &Row) -> Result<Option<NaiveDate>, (&'static str, String)> {
    if let Some(d) = date(p, "birth_datetime")? {
        return Ok(Some(d));
    }
    let part = |c: &'static str| -> Result<Option<u32>, (&'static str, String)> {
        let t = p.get(c);
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u32>()
            .map(Some)
            .map_err(|_| (c, format!("`{t}` is not a whole number")))
    };
    match (
        part("year_of_birth")?,
        part("month_of_birth")?,
        part("day_of_birth")?,
    ) {
        // Year 0 is a date to chrono, but no year of birth (and none in SQL).
        (Some(y), Some(m), Some(d)) => i32::try_from(y)
            .ok()
            .filter(|y| *y >= 1)
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
            .map(Some)
            .ok_or(("day_of_birth", format!("{y}-{m}-{d} is not a date"))),
        _ => Ok(None),
    }
}

/// A qualitative answer concept as a result word: the SNOMED CT and LOINC answers FHIR
/// input reads (docs/fhir.md), else the concept's name in lower case.
fn answer_word(c: &Concept) -> Option<String> {
    let system = match &*c.vocabulary {
        "SNOMED" => "http://snomed.info/sct",
        "LOINC" => "http://loinc.org",
        _ => "",
    };
    super::fhir::answer_word(system, &c.code)
        .map(str::to_string)
        .or_else(|| (!c.name.is_empty()).then(|| c.name.to_lowercase()))
}
