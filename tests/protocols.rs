#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Every protocol shipped under `protocols/` checks clean: no errors and no warnings.

use std::path::{Path, PathBuf};

use eligc::check::compile_file;
use eligc::report::render_human;

fn elig_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            elig_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "elig") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_protocol_checks_without_errors_or_warnings() {
    let mut files = Vec::new();
    elig_files(Path::new("protocols"), &mut files);
    assert!(!files.is_empty(), "no protocols found");
    for file in files {
        let compilation = compile_file(&file).unwrap();
        assert!(
            compilation.diagnostics.is_empty(),
            "{} has diagnostics:\n{}",
            file.display(),
            render_human(&compilation.diagnostics, &compilation.sources, 100, false)
        );
    }
}

#[test]
fn the_seed_protocol_has_every_criterion_of_the_seed_in_order() {
    let compilation = compile_file(Path::new("protocols/sle-car-t/protocol.elig")).unwrap();
    let program = compilation.program.unwrap();
    let ids: Vec<&str> = program.all_criteria().iter().map(|c| &*c.id).collect();
    assert_eq!(
        ids,
        [
            "I1", "I2", "I3", "I4", "I4.1", "I4.2", "I4.3", "I4.4", "I5", "I6", "I7", "E1", "E2",
            "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11", "E12", "E13", "E14"
        ]
    );
    // Each criterion carries the seed's own wording.
    let seed = std::fs::read_to_string("../shared/seed/sle-car-t-criteria.txt").ok();
    if let Some(seed) = seed {
        for c in program.all_criteria() {
            assert!(
                seed.contains(c.wording.trim_end_matches(';')),
                "{}'s wording is not the seed's: {:?}",
                c.id,
                c.wording
            );
        }
    }
}
