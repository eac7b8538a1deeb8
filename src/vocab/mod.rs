//! The terminology stage: OMOP standard vocabulary tables (as OHDSI Athena ships them) read
//! for one protocol. [`load`] takes a folder with `CONCEPT`, `CONCEPT_RELATIONSHIP` and
//! `CONCEPT_ANCESTOR` and the checked [`Program`], and gives a [`Vocabulary`]: for each of
//! the protocol's condition, drug, vaccine and procedure concepts, every code the vocabulary
//! places under it (descendants, products of an ingredient, ingredients of an ATC class,
//! source codes that map to any of them), and the set of codes the vocabulary knows, so that
//! a code it knows but places elsewhere is a definite "no" while a code it lacks stays
//! unknown. Only what the protocol needs is kept: a full Athena download is read once as a
//! stream, never held whole. See docs/terminology.md.

pub(crate) mod table;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ast::ConceptKind;
use crate::program::{CodeSystem, ConceptId, Program};
use table::Table;

/// A vocabulary file that cannot be read: the file, the line (0 for the file as a whole)
/// and why. Nothing of the vocabulary is used when loading fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", file.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct VocabError {
    /// The file (or folder).
    pub file: PathBuf,
    /// The 1-based line, or 0.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl VocabError {
    fn new(file: &Path, line: usize, reason: impl Into<String>) -> VocabError {
        VocabError {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// How much was read, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    /// CONCEPT rows read.
    pub concepts: usize,
    /// CONCEPT_RELATIONSHIP rows read.
    pub relationships: usize,
    /// CONCEPT_ANCESTOR rows read.
    pub ancestors: usize,
    /// Codes kept as known (in the code systems the protocol's event concepts use).
    pub known_codes: usize,
    /// Codes placed under one of the protocol's concepts beyond its own codes.
    pub expanded_codes: usize,
    /// Whether the hierarchy came from CONCEPT_ANCESTOR (else from the relationships).
    pub from_ancestor_table: bool,
    /// Milliseconds spent.
    pub millis: u128,
}

/// The part of a vocabulary one protocol needs.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    /// The folder it was read from.
    pub dir: PathBuf,
    /// Codes placed under each concept (beyond the concept's own codes).
    pub expansions: Vec<(ConceptId, CodeSystem, Box<str>)>,
    /// Every code the vocabulary has in the systems the protocol's event concepts use,
    /// sorted, for binary search.
    known: Vec<(CodeSystem, Box<str>)>,
    /// What was read.
    pub stats: LoadStats,
}

impl Vocabulary {
    /// Whether the vocabulary has this code (so it can say where the code belongs).
    pub fn knows(&self, system: CodeSystem, code: &str) -> bool {
        self.known
            .binary_search_by(|(s, c)| (*s, &**c).cmp(&(system, code)))
            .is_ok()
    }

    /// A one-line account for people: what was read, how much was placed, how long it took.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "vocabulary {}: {} concepts, {} relationships, {} ancestor rows read in {} ms; hierarchy from {}; {} codes placed under the protocol's concepts",
            self.dir.display(),
            s.concepts,
            s.relationships,
            s.ancestors,
            s.millis,
            if s.from_ancestor_table {
                "CONCEPT_ANCESTOR"
            } else {
                "CONCEPT_RELATIONSHIP"
            },
            s.expanded_codes
        )
    }
}

/// The kinds of concept a vocabulary places facts under: everything with a code but
/// observations (LOINC codes are matched exactly). Body sites are placed like conditions:
/// a record's body structure matches a `site` concept of an ancestor structure.
pub fn placed_kind(kind: ConceptKind) -> bool {
    matches!(
        kind,
        ConceptKind::Condition
            | ConceptKind::Drug
            | ConceptKind::Vaccine
            | ConceptKind::Procedure
            | ConceptKind::Encounter
            | ConceptKind::Site
    )
}

/// eligc's code system for an OMOP `vocabulary_id`: the vocabularies it has a code system
/// for, and `local` for the site vocabularies named as holding the protocol's `local:` codes
/// (`local`, given by `--local-vocabulary`); `None` for the others (their concepts still link
/// others through relationships).
pub fn code_system(vocabulary_id: &str, local: &[String]) -> Option<CodeSystem> {
    Some(match vocabulary_id {
        "SNOMED" => CodeSystem::Snomed,
        "ICD10" | "ICD10CM" => CodeSystem::Icd10,
        "RxNorm" => CodeSystem::Rxnorm,
        "ATC" => CodeSystem::Atc,
        "LOINC" => CodeSystem::Loinc,
        "CVX" => CodeSystem::Cvx,
        v if local.iter().any(|l| l == v) => CodeSystem::Local,
        _ => return None,
    })
}

/// Checks a `--local-vocabulary` name: an OMOP `vocabulary_id` (at most 20 characters in
/// the CDM) that is not one eligc already reads as another system.
pub fn check_local_vocabulary(vocabulary_id: &str) -> Result<(), String> {
    if vocabulary_id.is_empty() || vocabulary_id != vocabulary_id.trim() {
        return Err(format!(
            "`{vocabulary_id}` is not a vocabulary_id (empty, or with spaces around it)"
        ));
    }
    if let Some(system) = code_system(vocabulary_id, &[]) {
        return Err(format!(
            "`{vocabulary_id}` is read as `{}:` codes already; a local vocabulary is a site's own (its concept ids from 2,000,000,000)",
            system.name()
        ));
    }
    if ["Visit", "UCUM", "Gender"].contains(&vocabulary_id) {
        return Err(format!(
            "`{vocabulary_id}` is read for encounter classes, units or sex already; a local vocabulary is a site's own (its concept ids from 2,000,000,000)"
        ));
    }
    if vocabulary_id
        .chars()
        .any(|c| c.is_control() || c == '\'' || c == '"')
    {
        return Err(format!(
            "`{}` has quotes or control characters, which no vocabulary_id has",
            vocabulary_id.escape_debug()
        ));
    }
    Ok(())
}

/// How a relationship places its two concepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// `concept_id_1` is under `concept_id_2` (a subtype, a product of an ingredient).
    Up,
    /// `concept_id_1` is above `concept_id_2`.
    Down,
}

/// The relationships that place one concept under another. Athena ships both directions of
/// each; either is enough. `Maps to` places a source code (ICD-10-CM, a non-standard
/// concept) at the standard concept it maps to. ATC reaches RxNorm through the primary
/// links only: secondary links join a drug to combination classes it is only part of.
fn link(relationship_id: &str) -> Option<Link> {
    Some(match relationship_id {
        "Is a"
        | "Maps to"
        | "RxNorm has ing"
        | "Has ingredient"
        | "Consists of"
        | "RxNorm is a"
        | "Tradename of"
        | "Quantified form of"
        | "Marketed form of"
        | "Box of"
        | "Contains"
        | "RxNorm - ATC"
        | "RxNorm - ATC pr lat"
        | "RxNorm - ATC pr up" => Link::Up,
        "Subsumes"
        | "Mapped from"
        | "RxNorm ing of"
        | "Ingredient of"
        | "Constitutes"
        | "RxNorm inverse is a"
        | "Has tradename"
        | "Has quantified form"
        | "Has marketed form"
        | "Available as box"
        | "Contained in"
        | "ATC - RxNorm"
        | "ATC - RxNorm pr lat"
        | "ATC - RxNorm pr up" => Link::Down,
        _ => return None,
    })
}

/// Finds a table in the folder: `NAME.csv`, `NAME.tsv` or `NAME.txt`, any case.
pub(crate) fn find(dir: &Path, name: &str) -> Result<Option<PathBuf>, VocabError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| VocabError::new(dir, 0, format!("cannot list: {e}")))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .map(str::to_ascii_lowercase)
                .is_some_and(|f| {
                    ["csv", "tsv", "txt"]
                        .iter()
                        .any(|ext| f == format!("{name}.{ext}"))
                })
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

fn id(text: &str, table: &Path, line: usize, column: &str) -> Result<u32, VocabError> {
    text.trim().parse::<u32>().map_err(|_| {
        VocabError::new(
            table,
            line,
            format!("`{column}` is `{text}`, not a concept id (a whole number)"),
        )
    })
}

/// Reads the vocabulary in `dir` for `program`: see the module's documentation.
/// `local` names the site vocabularies whose codes are the protocol's `local:` codes
/// (`--local-vocabulary`, [`code_system`]).
pub fn load(dir: &Path, program: &Program, local: &[String]) -> Result<Vocabulary, VocabError> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(VocabError::new(dir, 0, "not a folder of vocabulary tables"));
    }
    let concept_file = find(dir, "concept")?.ok_or_else(|| {
        VocabError::new(
            dir,
            0,
            "no CONCEPT.csv here (an OMOP vocabulary folder, as Athena ships it, has CONCEPT, CONCEPT_RELATIONSHIP and CONCEPT_ANCESTOR)",
        )
    })?;
    let relationship_file = find(dir, "concept_relationship")?;
    let ancestor_file = find(dir, "concept_ancestor")?;
    let mut stats = LoadStats::default();

    // The protocol's codes, and the systems its event concepts are coded in.
    let mut wanted: FxHashMap<(CodeSystem, &str), Vec<ConceptId>> = FxHashMap::default();
    let mut systems: FxHashSet<CodeSystem> = FxHashSet::default();
    for (i, c) in program.concepts.iter().enumerate() {
        if !placed_kind(c.kind) {
            continue;
        }
        let cid = ConceptId(u32::try_from(i).unwrap_or(u32::MAX));
        for (system, code) in &c.codes {
            systems.insert(*system);
            wanted
                .entry((*system, code.as_str()))
                .or_default()
                .push(cid);
        }
    }

    // CONCEPT: every code in those systems (to know it), and the protocol's concept ids.
    let mut concepts: Vec<(CodeSystem, Box<str>, u32)> = Vec::new();
    let mut seeds: FxHashMap<u32, Vec<ConceptId>> = FxHashMap::default();
    {
        let mut t = Table::open(&concept_file)?;
        let (c_id, c_vocab, c_code) = (
            t.column("concept_id")?,
            t.column("vocabulary_id")?,
            t.column("concept_code")?,
        );
        while let Some((line, row)) = t.next_row()? {
            stats.concepts += 1;
            let field = |i: usize| row.get(i).map_or("", String::as_str);
            let concept_id = id(field(c_id), &concept_file, line, "concept_id")?;
            // The same normalisation as patient data's codes, so both sides compare alike.
            let code = crate::facts::codes::normalise(field(c_code))
                .map_err(|reason| VocabError::new(&concept_file, line, reason))?;
            if code.is_empty() {
                return Err(VocabError::new(
                    &concept_file,
                    line,
                    format!("concept {concept_id} has an empty `concept_code`"),
                ));
            }
            let Some(system) = code_system(field(c_vocab).trim(), local) else {
                continue;
            };
            if !systems.contains(&system) {
                continue;
            }
            if let Some(ids) = wanted.get(&(system, code)) {
                seeds.entry(concept_id).or_default().extend(ids);
            }
            concepts.push((system, code.into(), concept_id));
        }
    }

    let has_ancestors = match &ancestor_file {
        Some(path) => Table::open(path)?.next_row()?.is_some(),
        None => false,
    };
    stats.from_ancestor_table = has_ancestors;

    // CONCEPT_RELATIONSHIP: `Maps to` always (source codes to standard ones); the other
    // placing links only when CONCEPT_ANCESTOR is empty and the hierarchy must be built.
    // Edges are (upper, lower).
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let mut maps_to_of_seeds: Vec<(u32, u32)> = Vec::new();
    if let Some(path) = &relationship_file {
        let mut t = Table::open(path)?;
        let (c_1, c_2, c_rel) = (
            t.column("concept_id_1")?,
            t.column("concept_id_2")?,
            t.column("relationship_id")?,
        );
        let c_invalid = t.optional_column("invalid_reason");
        while let Some((line, row)) = t.next_row()? {
            stats.relationships += 1;
            let field = |i: usize| row.get(i).map_or("", String::as_str);
            let one = id(field(c_1), path, line, "concept_id_1")?;
            let two = id(field(c_2), path, line, "concept_id_2")?;
            if c_invalid.is_some_and(|c| !field(c).trim().is_empty()) {
                continue;
            }
            let relationship = field(c_rel).trim();
            let Some(link) = link(relationship) else {
                continue;
            };
            let is_map = matches!(relationship, "Maps to" | "Mapped from");
            if has_ancestors && !is_map {
                continue;
            }
            let (upper, lower) = match link {
                Link::Up => (two, one),
                Link::Down => (one, two),
            };
            if is_map && upper != lower && seeds.contains_key(&lower) {
                maps_to_of_seeds.push((upper, lower));
            }
            edges.push((upper, lower));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    let below = |upper: u32| -> &[(u32, u32)] {
        let start = edges.partition_point(|(u, _)| *u < upper);
        let rest = edges.get(start..).unwrap_or(&[]);
        let len = rest.partition_point(|(u, _)| *u == upper);
        rest.get(..len).unwrap_or(&[])
    };

    // Where each protocol concept starts: its codes' concepts and what they map to.
    let mut targets: FxHashMap<u32, Vec<ConceptId>> = seeds.clone();
    for (upper, lower) in &maps_to_of_seeds {
        if let Some(ids) = seeds.get(lower) {
            targets
                .entry(*upper)
                .or_default()
                .extend(ids.iter().copied());
        }
    }

    // Everything under the targets: from CONCEPT_ANCESTOR when it has rows, else by walking
    // the placing relationships down (each concept visited once per protocol concept).
    let mut under: FxHashMap<u32, FxHashSet<ConceptId>> = FxHashMap::default();
    for (t, ids) in &targets {
        under.entry(*t).or_default().extend(ids.iter().copied());
    }
    if let (true, Some(path)) = (has_ancestors, &ancestor_file) {
        let mut t = Table::open(path)?;
        let (c_anc, c_desc) = (
            t.column("ancestor_concept_id")?,
            t.column("descendant_concept_id")?,
        );
        while let Some((line, row)) = t.next_row()? {
            stats.ancestors += 1;
            let field = |i: usize| row.get(i).map_or("", String::as_str);
            let ancestor = id(field(c_anc), path, line, "ancestor_concept_id")?;
            let descendant = id(field(c_desc), path, line, "descendant_concept_id")?;
            if let Some(ids) = targets.get(&ancestor) {
                under
                    .entry(descendant)
                    .or_default()
                    .extend(ids.iter().copied());
            }
        }
        // Source codes mapped to any of those.
        let standard: Vec<(u32, Vec<ConceptId>)> = under
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect();
        for (upper, ids) in standard {
            for (_, lower) in below(upper) {
                under.entry(*lower).or_default().extend(ids.iter().copied());
            }
        }
    } else {
        let mut by_concept: FxHashMap<ConceptId, Vec<u32>> = FxHashMap::default();
        for (t, ids) in &targets {
            for cid in ids {
                by_concept.entry(*cid).or_default().push(*t);
            }
        }
        for (cid, starts) in by_concept {
            let mut seen: FxHashSet<u32> = starts.iter().copied().collect();
            let mut queue = starts;
            while let Some(next) = queue.pop() {
                for (_, lower) in below(next) {
                    if seen.insert(*lower) {
                        queue.push(*lower);
                        under.entry(*lower).or_default().insert(cid);
                    }
                }
            }
        }
    }

    // Codes for what is under: every known code whose concept is under a protocol concept.
    let mut expansions = Vec::new();
    for (system, code, concept_id) in &concepts {
        if let Some(ids) = under.get(concept_id) {
            for cid in ids {
                let own = wanted
                    .get(&(*system, &**code))
                    .is_some_and(|own| own.contains(cid));
                if !own {
                    expansions.push((*cid, *system, code.clone()));
                }
            }
        }
    }
    expansions.sort_unstable();
    expansions.dedup();
    let mut known: Vec<(CodeSystem, Box<str>)> =
        concepts.into_iter().map(|(s, c, _)| (s, c)).collect();
    known.sort_unstable();
    known.dedup();
    stats.known_codes = known.len();
    stats.expanded_codes = expansions.len();
    stats.millis = started.elapsed().as_millis();
    Ok(Vocabulary {
        dir: dir.to_path_buf(),
        expansions,
        known,
        stats,
    })
}
