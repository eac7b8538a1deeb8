#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Without explaining, evaluation takes fast paths (src/eval/leaf/fast.rs: an event check
//! as one pass over its concepts' facts, no list of events); explaining takes the general
//! path that records every fact it looked at. Both must decide alike: every shipped
//! protocol is run over every sample record both ways, and the verdicts, outcomes and
//! unplaced flags compared.

use std::path::{Path, PathBuf};

use eligc::check::compile_file;
use eligc::eval::Plan;

fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The sample records: the SLE protocol's patients (native, FHIR, OMOP) and the test
/// fixtures' JSON Lines files.
fn records() -> Vec<eligc::facts::RawRecord> {
    let mut paths = vec![
        repo("protocols/sle-car-t/patients.jsonl"),
        repo("protocols/sle-car-t/patients.fhir.ndjson"),
        repo("protocols/sle-car-t/omop"),
    ];
    files(
        &repo("tests/fixtures"),
        &|p| p.extension().is_some_and(|e| e == "jsonl") && !p.to_string_lossy().contains("side"),
        &mut paths,
    );
    let mut out = Vec::new();
    for path in paths {
        for raw in eligc::facts::read_file(&path).unwrap().flatten() {
            out.push(raw);
        }
    }
    out
}

/// What an evaluation decided, without the explanation.
fn decided(r: &eligc::eval::PatientResult) -> String {
    format!(
        "{} {:?} unused {} unplaced {} {:?}",
        r.id,
        r.verdict,
        r.unused_facts,
        r.unplaced_facts,
        r.criteria
            .iter()
            .map(|c| (c.id.to_string(), c.outcome, c.unplaced))
            .collect::<Vec<_>>()
    )
}

#[test]
fn explained_and_unexplained_evaluation_decide_every_sample_record_alike() {
    let raws = records();
    // Parsed once for every protocol.
    let patients: Vec<_> = raws.iter().filter_map(|raw| raw.parse().ok()).collect();
    assert!(
        patients.len() > 50,
        "only {} sample records",
        patients.len()
    );
    let mut protocols = Vec::new();
    files(
        &repo("protocols"),
        &|p| p.extension().is_some_and(|e| e == "elig"),
        &mut protocols,
    );
    assert!(protocols.len() > 10, "only {} protocols", protocols.len());
    let compared = std::sync::atomic::AtomicUsize::new(0);
    // Two threads: a protocol's plan is compiled and run by one.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(protocol) =
                    protocols.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    let c = compile_file(protocol).unwrap();
                    let Some(program) = c.program else { continue };
                    let plan = Plan::new(program, c.sources);
                    for patient in &patients {
                        let explained = decided(&plan.evaluate(patient, true));
                        let quick = decided(&plan.evaluate(patient, false));
                        assert_eq!(quick, explained, "{}", protocol.display());
                        compared.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let compared = compared.into_inner();
    assert!(compared > 5000, "only {compared} evaluations compared");
}
