//! `eligc test DIR`: the example patients beside a protocol, with the verdicts and criterion
//! outcomes a reader of the protocol expects. DIR holds `protocol.elig`, `patients.jsonl`
//! and `expected.jsonl` (one expectation per line; see docs/testing.md).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::{EXIT_DATA, EXIT_OK, EXIT_TEST_FAILED, EXIT_USAGE};
use eligc::eval::render::explanation;
use eligc::eval::{Outcome, Verdict};
use eligc::facts;
use eligc::terminal::escape;

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Folders with protocol.elig, patients.jsonl and expected.jsonl.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// An OMOP vocabulary folder (CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR as Athena
    /// ships them): codes then match their ancestors' concepts, products their ingredients'.
    /// See docs/terminology.md.
    #[arg(long, value_name = "DIR")]
    vocabulary: Option<PathBuf>,
    /// The largest record (a line of patients.jsonl or expected.jsonl), in bytes or with
    /// K, M, G. A larger patient is rejected.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = super::parse_size)]
    max_record_bytes: u64,
    /// Read absent records of these domains as "none recorded": `all`, or a comma-separated
    /// list of observations, conditions, medications, immunizations, procedures, allergies,
    /// encounters, studies, family_history
    /// (an export known to be complete; see docs/patient-data.md).
    #[arg(long, value_name = "all|DOMAIN,...")]
    complete: Option<String>,
    /// The date the records are known up to: a condition, allergy or medication without an
    /// end lasts until then, not forever (default: each record's screening date, else
    /// today; see docs/language.md).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::parse_as_of)]
    as_of: Option<chrono::NaiveDate>,
}

/// One expectation.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Expected {
    patient: String,
    verdict: Verdict,
    #[serde(default)]
    criteria: BTreeMap<String, Outcome>,
    #[serde(default)]
    why: Option<String>,
}

pub fn run(args: &TestArgs) -> u8 {
    let complete = match args.complete.as_deref().map(facts::parse_complete) {
        None => Default::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            eprintln!("error: --complete: {e}");
            return EXIT_USAGE;
        }
    };
    let mut exit = EXIT_OK;
    for dir in &args.dirs {
        exit = exit.max(run_dir(
            dir,
            args.vocabulary.as_deref(),
            args.max_record_bytes,
            &complete,
            args.as_of,
        ));
    }
    exit
}

fn run_dir(
    dir: &Path,
    vocabulary: Option<&Path>,
    cap: u64,
    complete: &std::collections::BTreeSet<&'static str>,
    as_of: Option<chrono::NaiveDate>,
) -> u8 {
    let protocol = dir.join("protocol.elig");
    let plan = match super::load_plan(&protocol, vocabulary, &[]) {
        Ok(plan) => plan.with_as_of(as_of),
        Err(code) => return code,
    };
    let expected = match read_expected(&dir.join("expected.jsonl"), cap) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let patients = dir.join("patients.jsonl");
    let options = std::sync::Arc::new(facts::ReadOptions {
        max_record_bytes: cap,
        complete: complete.clone(),
        ..facts::ReadOptions::default()
    });
    let records = match facts::read_file_with(&patients, Some(options)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", patients.display());
            return EXIT_USAGE;
        }
    };
    let mut results = HashMap::new();
    let mut rejected = 0;
    for raw in records {
        let raw = match raw {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", patients.display());
                return EXIT_USAGE;
            }
        };
        match plan.screen(&raw, |_| true) {
            Ok(result) => {
                results.insert(result.id.clone(), result);
            }
            Err(e) => {
                eprintln!("rejected: {e}");
                rejected += 1;
            }
        }
    }
    // The report is built whole and written once, so a closed stdout is one error, not a panic.
    let mut report = String::new();
    let (mut passed, mut failed) = (0, 0);
    for exp in &expected {
        let Some(actual) = results.get(&exp.patient) else {
            let _ = writeln!(
                report,
                "FAIL {}: no such patient in {}",
                escape(&exp.patient),
                patients.display()
            );
            failed += 1;
            continue;
        };
        let mut problems = Vec::new();
        if actual.verdict != exp.verdict {
            problems.push(format!(
                "verdict: expected {}, got {}",
                exp.verdict.word(),
                actual.verdict.word()
            ));
        }
        for (id, want) in &exp.criteria {
            match actual.criteria.iter().find(|c| *c.id == **id) {
                Some(c) if c.outcome == *want => {}
                Some(c) => problems.push(format!(
                    "{id}: expected {}, got {}",
                    want.word(),
                    c.outcome.word()
                )),
                None => problems.push(format!("{id}: no such criterion")),
            }
        }
        if problems.is_empty() {
            passed += 1;
        } else {
            failed += 1;
            let _ = writeln!(
                report,
                "FAIL {}{}",
                escape(&exp.patient),
                exp.why
                    .as_ref()
                    .map(|w| format!(" ({})", escape(w)))
                    .unwrap_or_default()
            );
            for p in &problems {
                let _ = writeln!(report, "  {}", escape(p));
            }
            for line in explanation(actual).lines() {
                let _ = writeln!(report, "  | {line}");
            }
        }
    }
    let untested = results
        .keys()
        .filter(|id| !expected.iter().any(|e| &e.patient == *id))
        .count();
    let _ = writeln!(
        report,
        "{}: {passed} passed, {failed} failed ({untested} patients without expectations, {rejected} rejected)",
        dir.display()
    );
    if let Err(code) = super::write_stdout(&report) {
        return code;
    }
    if failed > 0 {
        EXIT_TEST_FAILED
    } else if rejected > 0 {
        EXIT_DATA
    } else {
        EXIT_OK
    }
}

fn read_expected(path: &Path, cap: u64) -> Result<Vec<Expected>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let regular = facts::lines::is_regular(path);
    let mut reader = std::io::BufReader::new(file);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(line) = facts::lines::next_line(&mut reader, cap, regular).map_err(cannot)? {
        i += 1;
        let line = match line {
            facts::lines::Line::Text(bytes) => String::from_utf8(bytes)
                .map_err(|_| format!("{}:{i}: the line is not valid UTF-8 text", path.display()))?,
            facts::lines::Line::TooLong { .. } => {
                return Err(format!(
                    "{}:{i}: the line is larger than {cap} bytes (the limit; raise it with --max-record-bytes)",
                    path.display()
                ));
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let e: Expected =
            serde_json::from_str(&line).map_err(|e| format!("{}:{i}: {e}", path.display()))?;
        out.push(e);
    }
    Ok(out)
}
