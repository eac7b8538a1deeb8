//! A FHIR Bulk Data export (a folder of `Patient.ndjson`, `Observation.ndjson`, ...: one
//! resource per line) read as one record per patient: each patient's resources, found by
//! their `subject` (or `patient`) reference, assembled into a Bundle that the FHIR converter
//! reads like any other.
//!
//! Memory is bounded by the largest partition (about [`BulkSettings::partition_bytes`] plus
//! the largest patient), whatever the size of the export:
//!
//! 1. **Partition.** Each file is read once, as a stream. Every Patient line and every line
//!    of a resource type eligc uses is written, with its file and line number, to one of K
//!    temporary partition files chosen by a hash of its patient id (a Patient's `id`, a
//!    resource's `subject` / `patient` reference). K is the export's size divided by the
//!    partition size. A line that cannot be placed (not UTF-8, not JSON, no `resourceType`,
//!    a Patient without `id`, a resource without a `Patient/ID` or `urn:uuid:ID` reference, such
//!    as one to a `Group/ID`) is a rejected record,
//!    given at once, naming its file and line. Lines of unused types (Encounter, Claim, ...)
//!    are only counted. Medication resources (referred to by `medicationReference`, not by
//!    patient) are kept in memory.
//! 2. **Group.** Partitions are read one at a time, in order: a patient's lines are all in
//!    the same partition, so it is grouped in memory and one Bundle per patient is given, in
//!    the order of `Patient.ndjson` within the partition. A partition more than twice the
//!    planned size (a very large or skewed export) is split again with another hash before
//!    it is read.
//!    A resource whose patient is not in the export, and a second Patient with the same id,
//!    are rejected records naming their file and line.
//!
//! The temporary files are in a folder of their own under [`BulkSettings::temp_dir`], each
//! removed once read, and the folder is removed when the records have all been given or
//! the reader is dropped (also after an error).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use super::fhir::{DOMAIN_TYPES, reference_target, subject_field};
use super::{BulkOrigin, JsonLines, RawRecord, ReadOptions, Records, max_record_bytes};

/// How a Bulk Data export is partitioned (see the module documentation).
#[derive(Clone, Debug)]
pub struct BulkSettings {
    /// The planned size of one partition, in bytes: the memory used while grouping is about
    /// this (at most twice this) plus the largest patient.
    pub partition_bytes: u64,
    /// The most partition files open at once (each has a write buffer); a larger export
    /// gets larger partitions, which are split again when they are read.
    pub max_partitions: usize,
    /// Where the temporary folder is made.
    pub temp_dir: PathBuf,
}

impl Default for BulkSettings {
    fn default() -> BulkSettings {
        BulkSettings {
            partition_bytes: 16 << 20,
            max_partitions: 256,
            temp_dir: std::env::temp_dir(),
        }
    }
}

/// How many times a partition may be split again.
const MAX_SPLITS: u32 = 4;

/// Write buffer of one partition file.
const WRITE_BUFFER: usize = 32 << 10;

/// The few fields needed to place a resource.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<String>,
    subject: Option<Ref>,
    patient: Option<Ref>,
    #[serde(rename = "medicationReference")]
    medication_reference: Option<Ref>,
    /// A ResearchSubject's patient (R4; R5 has `subject`).
    individual: Option<Ref>,
    /// A ResearchSubject's study.
    study: Option<Ref>,
}

#[derive(Deserialize)]
struct Ref {
    reference: Option<String>,
}

/// One line of the export, as written to a partition.
#[derive(Default)]
struct Entry {
    /// A Patient (its `reference` is its id); otherwise a clinical resource.
    patient: bool,
    /// Index of the file in [`Export::names`].
    file: u32,
    /// 1-based line in that file.
    line: u64,
    /// The resource type.
    rtype: String,
    /// The patient reference as written (a Patient's own id).
    reference: String,
    /// The `medicationReference` (a ResearchSubject's `study`), or empty.
    medication: String,
    /// The resource's JSON text.
    text: String,
}

impl Entry {
    /// The patient id the entry belongs to (a clinical resource's reference was checked to
    /// be `Patient/ID` when it was partitioned).
    fn key(&self) -> &str {
        if self.patient {
            &self.reference
        } else {
            patient_key(&self.reference).unwrap_or(&self.reference)
        }
    }

    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&[u8::from(self.patient)])?;
        w.write_all(&self.file.to_le_bytes())?;
        w.write_all(&self.line.to_le_bytes())?;
        for s in [&self.rtype, &self.reference, &self.medication, &self.text] {
            w.write_all(&(s.len() as u64).to_le_bytes())?;
            w.write_all(s.as_bytes())?;
        }
        Ok(())
    }

    /// The next entry of a partition file, `None` at its end.
    fn read(r: &mut impl BufRead) -> std::io::Result<Option<Entry>> {
        if r.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut flag = [0u8; 1];
        r.read_exact(&mut flag)?;
        let mut file = [0u8; 4];
        r.read_exact(&mut file)?;
        let mut line = [0u8; 8];
        r.read_exact(&mut line)?;
        let mut strings: [String; 4] = Default::default();
        for s in &mut strings {
            let mut len = [0u8; 8];
            r.read_exact(&mut len)?;
            let len = usize::try_from(u64::from_le_bytes(len))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut bytes = vec![0u8; len];
            r.read_exact(&mut bytes)?;
            *s = String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        let [rtype, reference, medication, text] = strings;
        Ok(Some(Entry {
            patient: flag == [1],
            file: u32::from_le_bytes(file),
            line: u64::from_le_bytes(line),
            rtype,
            reference,
            medication,
            text,
        }))
    }
}

/// Which of `k` partitions a patient id goes to, for a given split level.
fn partition_of(key: &str, level: u32, k: usize) -> usize {
    // FNV-1a, seeded by the level, then a SplitMix64 finish: fixed, so the order of the
    // patients is the same on every run.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(level).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % k.max(1) as u64) as usize
}

/// A temporary folder, removed when dropped.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    /// A new folder under `parent`, readable by this user only (0700: the partition files
    /// hold patient data), registered for removal on SIGINT and SIGTERM.
    pub(super) fn create(parent: &Path, prefix: &str) -> std::io::Result<TempDir> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for _ in 0..100 {
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&dir) {
                Ok(()) => {
                    signals::watch(&dir);
                    return Ok(TempDir(dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(temp_error(parent, e)),
            }
        }
        Err(temp_error(
            parent,
            last.unwrap_or_else(|| std::io::Error::other("no free name")),
        ))
    }
}

/// A new partition file, readable and writable by this user only (0600).
pub(super) fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Removal of the temporary folders when the process is interrupted: `Drop` does not run
/// on SIGINT (Ctrl-C) or SIGTERM, so a thread waits for those signals, removes every folder
/// still alive and exits with 128 + the signal's number, as a shell reports it.
mod signals {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, Once};

    static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static HANDLER: Once = Once::new();

    fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        LIVE.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers `dir` for removal on a signal (and starts the watching thread once).
    pub(super) fn watch(dir: &Path) {
        live().push(dir.to_path_buf());
        HANDLER.call_once(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            // Without the handler (it cannot be installed) the folders are still removed
            // on every normal end; only an interrupted run would leave them.
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            let _ = std::thread::Builder::new()
                .name("eligc-signals".to_owned())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        for dir in live().iter() {
                            let _ = std::fs::remove_dir_all(dir);
                        }
                        std::process::exit(128 + signal);
                    }
                });
        });
    }

    /// `dir` was removed normally.
    pub(super) fn forget(dir: &Path) {
        live().retain(|d| d != dir);
    }
}

/// An error of the temporary files, saying where they are (a full disk, a read-only
/// folder: set `TMPDIR`).
pub(super) fn temp_error(dir: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "temporary partition files in {} (set TMPDIR to use another folder): {e}",
            dir.display()
        ),
    )
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        signals::forget(&self.0);
    }
}

/// A partition file waiting to be read.
struct Part {
    path: PathBuf,
    /// How many times its entries have been split (the hash level of its name).
    level: u32,
    /// Split no more: it holds one patient, larger than a partition.
    whole: bool,
}

/// A patient of the partition being given: indexes into [`Export::entries`].
struct Group {
    patient: usize,
    members: Vec<usize>,
}

/// The export being read: first pass (partitioning), then one partition at a time.
struct Export {
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
    recorded: Arc<[&'static str]>,
    /// Display names of the export's files.
    names: Vec<Arc<str>>,
    paths: Vec<PathBuf>,
    /// The file being partitioned, and the next one.
    reading: Option<(u32, JsonLines<BufReader<File>>)>,
    next_file: usize,
    writers: Vec<BufWriter<File>>,
    skipped: HashMap<String, usize>,
    /// Medication resources by id, ResearchStudy resources by `ResearchStudy/id`: (file,
    /// line, text).
    medications: HashMap<String, (u32, u64, String)>,
    /// Partitions not yet read.
    parts: VecDeque<Part>,
    /// The partition being given: its entries, its rejected records, its patients.
    entries: Vec<Entry>,
    errors: VecDeque<RawRecord>,
    groups: VecDeque<Group>,
    temp: Option<TempDir>,
    done: bool,
}

/// Reads the export in `dir` (see the module documentation).
pub(super) fn read_export(
    dir: &Path,
    options: Option<Arc<ReadOptions>>,
    settings: BulkSettings,
) -> std::io::Result<Records> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    // Patient files first, so that within a partition patients come in their file's order.
    files.sort_by_key(|p| type_of_file(p).is_none_or(|t| t != "Patient"));
    let recorded: Arc<[&'static str]> = DOMAIN_TYPES
        .iter()
        .copied()
        .filter(|t| files.iter().any(|f| type_of_file(f) == Some(t)))
        .collect();
    // The size of what will be partitioned: the Patient files and those of the types used.
    let mut total: u64 = 0;
    for f in &files {
        if type_of_file(f).is_some_and(|t| t == "Patient" || DOMAIN_TYPES.contains(&t)) {
            total = total.saturating_add(std::fs::metadata(f)?.len());
        }
    }
    let partition_bytes = settings.partition_bytes.max(1);
    // A partition file holds each line with about 70 bytes of framing (file, line, type,
    // references): a quarter more than the lines, for lines of a few hundred bytes.
    let planned = total.saturating_add(total / 4);
    let k = usize::try_from(planned.div_ceil(partition_bytes))
        .unwrap_or(usize::MAX)
        .clamp(1, settings.max_partitions.max(1));
    let temp = TempDir::create(&settings.temp_dir, "eligc-bulk")?;
    let mut writers = Vec::with_capacity(k);
    let mut parts = VecDeque::with_capacity(k);
    for i in 0..k {
        let path = temp.0.join(format!("part-{i}"));
        writers.push(BufWriter::with_capacity(
            WRITE_BUFFER,
            create_private(&path)?,
        ));
        parts.push_back(Part {
            path,
            level: 0,
            whole: false,
        });
    }
    Ok(Box::new(Export {
        options,
        settings,
        recorded,
        names: files
            .iter()
            .map(|f| Arc::from(f.display().to_string()))
            .collect(),
        paths: files,
        reading: None,
        next_file: 0,
        writers,
        skipped: HashMap::new(),
        medications: HashMap::new(),
        parts,
        entries: Vec::new(),
        errors: VecDeque::new(),
        groups: VecDeque::new(),
        temp: Some(temp),
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
            self.next_patient()
        } else {
            match self.partition() {
                Ok(Some(rejected)) => Ok(Some(rejected)),
                Ok(None) => self.next_patient(),
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

impl Export {
    /// Stops: removes the temporary files.
    fn finish(&mut self) {
        self.done = true;
        self.writers.clear();
        self.entries = Vec::new();
        self.errors.clear();
        self.groups.clear();
        self.temp = None;
    }

    fn rejected(&self, file: u32, line: u64, reason: String) -> RawRecord {
        RawRecord {
            unreadable: Some(reason),
            options: self.options.clone(),
            ..RawRecord::new(self.name(file), to_usize(line), String::new())
        }
    }

    fn name(&self, file: u32) -> Arc<str> {
        self.names
            .get(file as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    /// The first pass: partitions lines until one is rejected (given back) or the export
    /// has been read (`None`; the partition files are then closed).
    fn partition(&mut self) -> std::io::Result<Option<RawRecord>> {
        loop {
            let Some((file, lines)) = &mut self.reading else {
                let Some(path) = self.paths.get(self.next_file) else {
                    return self.end_partitioning().map(|()| None);
                };
                let index = u32::try_from(self.next_file).map_err(std::io::Error::other)?;
                self.reading = Some((
                    index,
                    JsonLines {
                        file: self.name(index),
                        reader: BufReader::with_capacity(1 << 20, File::open(path)?),
                        line: 0,
                        options: None,
                        cap: max_record_bytes(self.options.as_ref()),
                        regular: true,
                        done: false,
                    },
                ));
                self.next_file += 1;
                continue;
            };
            let file = *file;
            let Some(raw) = lines.next() else {
                self.reading = None;
                continue;
            };
            let raw = raw?;
            let line = raw.line as u64;
            if let Some(reason) = raw.unreadable {
                return Ok(Some(self.rejected(file, line, reason)));
            }
            let head: Head = match serde_json::from_str(&raw.text) {
                Ok(h) => h,
                Err(e) => {
                    let reason = format!("not a FHIR resource: {e}");
                    return Ok(Some(self.rejected(file, line, reason)));
                }
            };
            let Some(rtype) = head.resource_type else {
                let reason = "not a FHIR resource: no `resourceType`".to_string();
                return Ok(Some(self.rejected(file, line, reason)));
            };
            let entry = match rtype.as_str() {
                "Patient" => {
                    let Some(id) = head.id.filter(|i| !i.trim().is_empty()) else {
                        let reason = "the Patient has no `id`".to_string();
                        return Ok(Some(self.rejected(file, line, reason)));
                    };
                    Entry {
                        patient: true,
                        file,
                        line,
                        rtype,
                        reference: id,
                        medication: String::new(),
                        text: raw.text,
                    }
                }
                "Medication" => {
                    if let Some(id) = head.id {
                        self.medications.insert(id, (file, line, raw.text));
                    }
                    continue;
                }
                "ResearchStudy" => {
                    if let Some(id) = head.id {
                        let key = format!("ResearchStudy/{id}");
                        self.medications.insert(key, (file, line, raw.text));
                    }
                    continue;
                }
                t if DOMAIN_TYPES.contains(&t) => {
                    let field = subject_field(t);
                    let reference = match field {
                        "patient" => head.patient,
                        "individual" => head.individual.or(head.subject),
                        _ => head.subject,
                    }
                    .and_then(|r| r.reference);
                    let Some(reference) = reference else {
                        let reason = format!(
                            "the {t} has no `{field}` reference to its patient (field `{field}`)"
                        );
                        return Ok(Some(self.rejected(file, line, reason)));
                    };
                    // Only a `Patient/ID` reference places it with a patient: `Group/ID` or
                    // `Device/ID` is refused, not attributed to the Patient of that id.
                    if let Err(why) = patient_key(&reference) {
                        let id = head.id.as_deref().unwrap_or("?");
                        let reason = format!("the {t} `{id}` (field `{field}.reference`): {why}");
                        return Ok(Some(self.rejected(file, line, reason)));
                    }
                    Entry {
                        patient: false,
                        file,
                        line,
                        rtype,
                        reference,
                        medication: head
                            .medication_reference
                            .or(head.study)
                            .and_then(|r| r.reference)
                            .unwrap_or_default(),
                        text: raw.text,
                    }
                }
                _ => {
                    *self.skipped.entry(rtype).or_default() += 1;
                    continue;
                }
            };
            let k = self.writers.len();
            if let Some(w) = self.writers.get_mut(partition_of(entry.key(), 0, k)) {
                entry
                    .write(w)
                    .map_err(|e| temp_error(&self.settings.temp_dir, e))?;
            }
        }
    }

    /// Closes the partition files and counts the lines of unused types.
    fn end_partitioning(&mut self) -> std::io::Result<()> {
        for mut w in std::mem::take(&mut self.writers) {
            w.flush()
                .map_err(|e| temp_error(&self.settings.temp_dir, e))?;
        }
        if let Some(options) = &self.options {
            if let Ok(mut stats) = options.fhir.lock() {
                for (t, n) in self.skipped.drain() {
                    *stats.skipped.entry(t).or_default() += n;
                    stats.resources += n;
                }
            }
        }
        Ok(())
    }

    /// The second pass: the next record of the current partition, reading the next
    /// partition when it is used up; `None` at the end.
    fn next_patient(&mut self) -> std::io::Result<Option<RawRecord>> {
        loop {
            if let Some(rejected) = self.errors.pop_front() {
                return Ok(Some(rejected));
            }
            if let Some(group) = self.groups.pop_front() {
                return Ok(Some(self.bundle(&group)));
            }
            let Some(part) = self.parts.pop_front() else {
                return Ok(None);
            };
            let size = std::fs::metadata(&part.path)?.len();
            // Twice the planned size: hash variance alone does not cause a split.
            let large = size > self.settings.partition_bytes.saturating_mul(2);
            let done = if large && !part.whole && part.level < MAX_SPLITS {
                self.split(&part, size)
            } else {
                self.load(&part.path)
            };
            done.map_err(|e| temp_error(&self.settings.temp_dir, e))?;
        }
    }

    /// Splits a partition that is too large into smaller ones, read in its place.
    fn split(&mut self, part: &Part, size: u64) -> std::io::Result<()> {
        let level = part.level + 1;
        let k = usize::try_from(size.div_ceil(self.settings.partition_bytes.max(1)))
            .unwrap_or(usize::MAX)
            .clamp(2, self.settings.max_partitions.max(2));
        let mut subs = Vec::with_capacity(k);
        let mut writers = Vec::with_capacity(k);
        for i in 0..k {
            let mut name = part.path.clone().into_os_string();
            name.push(format!(".{i}"));
            let path = PathBuf::from(name);
            writers.push(BufWriter::with_capacity(
                WRITE_BUFFER,
                create_private(&path)?,
            ));
            subs.push(path);
        }
        // Per sub-partition: its first patient id, and whether it holds another.
        let mut first: Vec<Option<String>> = vec![None; k];
        let mut mixed = vec![false; k];
        let mut reader = BufReader::with_capacity(1 << 20, File::open(&part.path)?);
        while let Some(entry) = Entry::read(&mut reader)? {
            let i = partition_of(entry.key(), level, k);
            if let Some(w) = writers.get_mut(i) {
                entry.write(w)?;
            }
            match first.get_mut(i) {
                Some(Some(key)) if key != entry.key() => {
                    if let Some(m) = mixed.get_mut(i) {
                        *m = true;
                    }
                }
                Some(slot @ None) => *slot = Some(entry.key().to_string()),
                _ => {}
            }
        }
        drop(reader);
        std::fs::remove_file(&part.path)?;
        for mut w in writers {
            w.flush()?;
        }
        for (path, mixed) in subs.into_iter().zip(mixed).rev() {
            // One patient: splitting it again would not make it smaller.
            self.parts.push_front(Part {
                path,
                level,
                whole: !mixed,
            });
        }
        Ok(())
    }

    /// Reads one partition and groups its lines by patient.
    fn load(&mut self, path: &Path) -> std::io::Result<()> {
        let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut entries = Vec::new();
        while let Some(entry) = Entry::read(&mut reader)? {
            entries.push(entry);
        }
        drop(reader);
        std::fs::remove_file(path)?;
        // Entries are in the order they were read: Patient files first, then by file and line.
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        let mut patients: Vec<Option<usize>> = Vec::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut errors: Vec<(u32, u64, String)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let g = *by_key.entry(entry.key()).or_insert_with(|| {
                patients.push(None);
                members.push(Vec::new());
                patients.len() - 1
            });
            if entry.patient {
                match patients.get_mut(g) {
                    Some(Some(first)) => {
                        let first = entries.get(*first).map_or((0, 0), |f| (f.file, f.line));
                        errors.push((
                            entry.file,
                            entry.line,
                            format!(
                                "patient `{}` is already in the export (at {}:{})",
                                entry.reference,
                                self.name(first.0),
                                first.1
                            ),
                        ));
                    }
                    Some(slot) => *slot = Some(i),
                    None => {}
                }
            } else if let Some(m) = members.get_mut(g) {
                m.push(i);
            }
        }
        let mut groups = Vec::new();
        for (patient, members) in patients.into_iter().zip(members) {
            match patient {
                Some(patient) => groups.push(Group { patient, members }),
                None => {
                    for m in members {
                        if let Some(e) = entries.get(m) {
                            let field = subject_field(&e.rtype);
                            errors.push((
                                e.file,
                                e.line,
                                format!(
                                    "the {}'s `{field}` `{}` is not a patient of Patient.ndjson",
                                    e.rtype, e.reference
                                ),
                            ));
                        }
                    }
                }
            }
        }
        drop(by_key);
        errors.sort();
        groups.sort_by_key(|g| g.patient);
        self.errors = errors
            .into_iter()
            .map(|(file, line, reason)| self.rejected(file, line, reason))
            .collect();
        self.groups = groups.into();
        self.entries = entries;
        Ok(())
    }

    /// One patient's Bundle: its Patient, its resources in file and line order, and the
    /// Medication resources they refer to.
    fn bundle(&mut self, group: &Group) -> RawRecord {
        let mut lines: Vec<(u32, u64, String)> = Vec::with_capacity(group.members.len() + 1);
        let mut meds: Vec<String> = Vec::new();
        for &i in std::iter::once(&group.patient).chain(&group.members) {
            if let Some(e) = self.entries.get_mut(i) {
                lines.push((e.file, e.line, std::mem::take(&mut e.text)));
            }
        }
        for &i in &group.members {
            if let Some(e) = self.entries.get(i) {
                if !e.medication.is_empty() {
                    let id = reference_target(&e.medication);
                    let key = if e.rtype == "ResearchSubject" {
                        format!("ResearchStudy/{id}")
                    } else {
                        id.to_string()
                    };
                    if !meds.contains(&key) {
                        meds.push(key);
                    }
                }
            }
        }
        let meds: Vec<(u32, u64, String)> = meds
            .into_iter()
            .filter_map(|key| self.medications.get(&key).cloned())
            .collect();
        let size: usize = lines
            .iter()
            .chain(&meds)
            .map(|l| l.2.len() + 16)
            .sum::<usize>();
        // A patient is screened whole: one larger than a record may be is rejected.
        let cap = max_record_bytes(self.options.as_ref());
        if size as u64 > cap {
            let (file, line) = lines.first().map_or((0, 0), |l| (l.0, l.1));
            let patient = self
                .entries
                .get(group.patient)
                .map(|e| e.reference.clone())
                .unwrap_or_default();
            let reason = format!(
                "patient `{patient}`: its resources come to {size} bytes: {}",
                super::lines::too_large(cap)
            );
            return self.rejected(file, line, reason);
        }
        let patient_id = self
            .entries
            .get(group.patient)
            .map_or("", |e| e.reference.as_str());
        let mut text = String::with_capacity(size + 64 + patient_id.len());
        text.push_str(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
        let mut origins = Vec::with_capacity(lines.len() + meds.len());
        for (k, (file, line, resource)) in lines.iter().chain(&meds).enumerate() {
            if k > 0 {
                text.push(',');
            }
            if k == 0 {
                // The Patient's `fullUrl`, which its resources' `urn:uuid:` references name.
                text.push_str(r#"{"fullUrl":"#);
                text.push_str(
                    &serde_json::Value::from(format!("urn:uuid:{patient_id}")).to_string(),
                );
                text.push(',');
                text.push_str(r#""resource":"#);
            } else {
                text.push_str(r#"{"resource":"#);
            }
            text.push_str(resource);
            text.push('}');
            origins.push((self.name(*file), to_usize(*line)));
        }
        text.push_str("]}");
        let (file, line) = origins
            .first()
            .cloned()
            .unwrap_or_else(|| (Arc::from("?"), 0));
        RawRecord {
            options: self.options.clone(),
            bulk: Some(Box::new(BulkOrigin {
                origins,
                recorded: self.recorded.clone(),
            })),
            ..RawRecord::new(file, line, text)
        }
    }
}

/// The id of the patient a clinical resource of the export refers to: `Patient/ID`
/// ([`super::fhir::patient_reference`]), or `urn:uuid:ID`, which resolves to the Patient of
/// `Patient.ndjson` with that id (its `fullUrl` in the Bundle eligc assembles). A reference
/// to another resource type is refused.
fn patient_key(reference: &str) -> Result<&str, String> {
    match reference.trim().strip_prefix("urn:uuid:") {
        Some(id) if !id.is_empty() && !id.contains('/') => Ok(id),
        _ => super::fhir::patient_reference(reference),
    }
}

fn to_usize(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX)
}

/// The resource type a Bulk Data file holds, from its name: `Observation.ndjson`,
/// `Observation_2.ndjson`, `Observation.003.ndjson`.
fn type_of_file(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let end = name
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(name.len());
    name.get(..end).filter(|t| !t.is_empty())
}
