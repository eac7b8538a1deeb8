//! A FHIR Bulk Data export (a folder of `Patient.ndjson`, `Observation.ndjson`, ...: one
//! resource per line) read as one record per patient: each patient's resources, found by
//! their `subject` (or `patient`) reference, assembled into a Bundle that the FHIR converter
//! reads like any other.
//!
//! Each file is read once. The lines of the resource types eligc uses are kept in memory,
//! grouped by patient, until the export has been read: memory grows with the export's
//! clinical resources (not with Encounter, Claim, ... lines, which are only counted).
//! A resource whose patient cannot be found becomes a rejected record naming its file and
//! line, so nothing is dropped silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::fhir::DOMAIN_TYPES;
use super::{BulkOrigin, JsonLines, RawRecord, ReadOptions, Records};

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
}

#[derive(Deserialize)]
struct Ref {
    reference: Option<String>,
}

/// One line of the export.
struct Line {
    file: Arc<str>,
    line: usize,
    text: String,
}

/// Reads the export in `dir` (see the module documentation).
pub(super) fn read_export(
    dir: &Path,
    options: Option<Arc<ReadOptions>>,
) -> std::io::Result<Records> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    // Patient files first, so that every reference can be checked as it is read.
    files.sort_by_key(|p| type_of_file(p).is_none_or(|t| t != "Patient"));
    let recorded: Arc<[&'static str]> = DOMAIN_TYPES
        .iter()
        .copied()
        .filter(|t| files.iter().any(|f| type_of_file(f) == Some(t)))
        .collect();
    let mut patients: Vec<(Line, Vec<Line>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut medications: HashMap<String, Line> = HashMap::new();
    let mut wanted_medications: Vec<(usize, String)> = Vec::new();
    let mut errors: Vec<RawRecord> = Vec::new();
    let mut skipped: HashMap<String, usize> = HashMap::new();
    for file in &files {
        let name: Arc<str> = file.display().to_string().into();
        let lines = JsonLines {
            file: name.clone(),
            reader: std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file)?),
            line: 0,
            options: None,
        };
        for raw in lines {
            let raw = raw?;
            let bad = |reason: String| RawRecord {
                unreadable: Some(reason),
                options: options.clone(),
                ..RawRecord::new(name.clone(), raw.line, String::new())
            };
            if let Some(reason) = &raw.unreadable {
                errors.push(bad(reason.clone()));
                continue;
            }
            let head: Head = match serde_json::from_str(&raw.text) {
                Ok(h) => h,
                Err(e) => {
                    errors.push(bad(format!("not a FHIR resource: {e}")));
                    continue;
                }
            };
            let Some(rtype) = head.resource_type else {
                errors.push(bad("not a FHIR resource: no `resourceType`".into()));
                continue;
            };
            let line = Line {
                file: name.clone(),
                line: raw.line,
                text: raw.text,
            };
            match rtype.as_str() {
                "Patient" => {
                    let Some(id) = head.id.filter(|i| !i.trim().is_empty()) else {
                        errors.push(bad("the Patient has no `id`".into()));
                        continue;
                    };
                    if index.contains_key(&id) {
                        errors.push(bad(format!("patient `{id}` is already in the export")));
                        continue;
                    }
                    index.insert(id, patients.len());
                    patients.push((line, Vec::new()));
                }
                "Medication" => {
                    if let Some(id) = head.id {
                        medications.insert(id, line);
                    }
                }
                t if DOMAIN_TYPES.contains(&t) => {
                    let field = if t == "Immunization" {
                        "patient"
                    } else {
                        "subject"
                    };
                    let reference = if t == "Immunization" {
                        head.patient
                    } else {
                        head.subject
                    }
                    .and_then(|r| r.reference);
                    let Some(reference) = reference else {
                        errors.push(bad(format!(
                            "the {t} has no `{field}` reference to its patient (field `{field}`)"
                        )));
                        continue;
                    };
                    let id = super::fhir::reference_target(&reference);
                    let Some(&p) = index.get(id) else {
                        errors.push(bad(format!(
                            "the {t}'s `{field}` `{reference}` is not a patient of Patient.ndjson"
                        )));
                        continue;
                    };
                    if let Some(m) = head.medication_reference.and_then(|r| r.reference) {
                        wanted_medications.push((p, m));
                    }
                    if let Some((_, group)) = patients.get_mut(p) {
                        group.push(line);
                    }
                }
                other => *skipped.entry(other.to_string()).or_default() += 1,
            }
        }
    }
    if let Some(options) = &options {
        if let Ok(mut stats) = options.fhir.lock() {
            for (t, n) in skipped {
                *stats.skipped.entry(t).or_default() += n;
                stats.resources += n;
            }
        }
    }
    // Medications referred to are copied into the Bundles of the patients that refer to them.
    let mut extra: HashMap<usize, Vec<&Line>> = HashMap::new();
    for (p, reference) in &wanted_medications {
        if let Some(m) = medications.get(super::fhir::reference_target(reference)) {
            extra.entry(*p).or_default().push(m);
        }
    }
    let mut records: Vec<RawRecord> = errors;
    for (p, (patient, group)) in patients.iter().enumerate() {
        let meds = extra.get(&p).map(Vec::as_slice).unwrap_or_default();
        let size = patient.text.len() + group.iter().map(|l| l.text.len() + 16).sum::<usize>();
        let mut text = String::with_capacity(size + 64);
        text.push_str(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
        let mut origins = Vec::with_capacity(group.len() + 1 + meds.len());
        for (k, line) in std::iter::once(patient)
            .chain(group)
            .chain(meds.iter().copied())
            .enumerate()
        {
            if k > 0 {
                text.push(',');
            }
            text.push_str(r#"{"resource":"#);
            text.push_str(&line.text);
            text.push('}');
            origins.push((line.file.clone(), line.line));
        }
        text.push_str("]}");
        records.push(RawRecord {
            options: options.clone(),
            bulk: Some(Box::new(BulkOrigin {
                origins,
                recorded: recorded.clone(),
            })),
            ..RawRecord::new(patient.file.clone(), patient.line, text)
        });
    }
    Ok(Box::new(records.into_iter().map(Ok)))
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
