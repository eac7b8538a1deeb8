#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! `eligc diff`: the example amendment's differences and its impact on the sample patients
//! (insta snapshots), and one fixture pair per kind of change with the effect it must have.

use std::path::Path;
use std::process::{Command, Output};

use eligc::check::compile_file;
use eligc::diff::impact::{self, Impact};
use eligc::diff::{self, Aspect, Diff, Effect, Status, render};
use eligc::eval::Plan;
use eligc::facts;

const OLD: &str = "protocols/sle-car-t/protocol.elig";
const NEW: &str = "protocols/sle-car-t/amendments/protocol-1.1.elig";
const PATIENTS: &str = "protocols/sle-car-t/patients.jsonl";

fn plan(path: &str) -> Plan {
    let c = compile_file(Path::new(path)).unwrap();
    assert!(!c.has_errors(), "{path} has errors");
    Plan::new(c.program.unwrap(), c.sources)
}

fn diff_files(old: &str, new: &str) -> Diff {
    diff::diff(&plan(old), &plan(new))
}

fn impact_of(old: &str, new: &str, data: &str) -> Impact {
    let (o, n) = (plan(old), plan(new));
    let mut result = Impact::default();
    for raw in facts::read_file(Path::new(data)).unwrap() {
        assert!(
            result
                .add(impact::screen_both(&o, &n, &raw.unwrap()))
                .is_none()
        );
    }
    result.finish();
    result
}

fn eligc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn the_example_amendment_as_text() {
    insta::assert_snapshot!(render::text(&diff_files(OLD, NEW)));
}

#[test]
fn the_example_amendment_as_json() {
    // As the CLI prints it (insta's JSON serialiser mangles arbitrary-precision numbers).
    let json = serde_json::to_string_pretty(&render::json(&diff_files(OLD, NEW), None)).unwrap();
    insta::assert_snapshot!(json);
}

#[test]
fn the_example_amendment_on_the_sample_patients() {
    let i = impact_of(OLD, NEW, PATIENTS);
    insta::assert_snapshot!(render::impact_text(&i));
    insta::assert_json_snapshot!("impact_json", i);
}

/// Patients made from P01 to move under each change: telitacicept as one of their two
/// DMARDs (I2), prior blinatumomab given by its ATC code (E15), eGFR 40 (I4.2), and P01 as is.
#[test]
fn the_example_amendment_on_patients_made_to_move() {
    let i = impact_of(OLD, NEW, "tests/fixtures/diff/amendment-patients.jsonl");
    insta::assert_snapshot!(render::impact_text(&i));
    let moved: Vec<(&str, Vec<&str>)> = i
        .patients
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.criteria.iter().map(|c| c.id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            ("A1-telitacicept", vec!["I2"]),
            ("A2-blinatumomab", vec!["E15"]),
            ("A3-egfr-40", vec!["I4", "I4.2"]),
        ]
    );
    assert_eq!(i.unchanged, 1);
}

#[test]
fn the_example_amendment_reports_what_the_readme_says() {
    let d = diff_files(OLD, NEW);
    let ids: Vec<(&str, Status)> = d
        .criteria
        .iter()
        .map(|c| (c.id.as_str(), c.status))
        .collect();
    assert_eq!(
        ids,
        [
            ("I2", Status::Changed),
            ("I4.2", Status::Changed),
            ("E15", Status::Added)
        ]
    );
    assert!(d.criteria.iter().all(|c| c.effect == Some(Effect::Narrows)));
    let i2 = &d.criteria[0].changes[0];
    assert_eq!(i2.aspect, Aspect::Members);
    assert_eq!(i2.removed, ["telitacicept"]);
    assert_eq!(d.old.version.as_deref(), Some("1.0"));
    assert_eq!(d.new.version.as_deref(), Some("1.1"));
}

#[test]
fn a_protocol_compared_with_itself_has_no_differences() {
    assert!(diff_files(OLD, OLD).is_empty());
    let i = impact_of(OLD, OLD, PATIENTS);
    assert_eq!((i.changed, i.outcomes_only, i.unchanged), (0, 0, 98));
}

#[test]
fn cli_exit_codes() {
    let out = eligc(&["diff", OLD, NEW, "--patients", PATIENTS]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("P27"), "{text}");
    let out = eligc(&["diff", OLD, NEW, "--format", "json", "--patients", PATIENTS]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["impact"]["changed"], 1);
    assert_eq!(json["counts"]["added"], 1);
    // A protocol with errors: reported, exit 2.
    let out = eligc(&["diff", OLD, "tests/fixtures/check/unit-mismatch.elig"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
    // A missing file: exit 1.
    assert_eq!(eligc(&["diff", OLD, "missing.elig"]).status.code(), Some(1));
}

/// Each fixture pair: the effects its changes must have, in order.
const EXPECTED: &[(&str, &[(Aspect, Effect)])] = &[
    ("threshold-raised", &[(Aspect::Threshold, Effect::Narrows)]),
    ("threshold-lowered", &[(Aspect::Threshold, Effect::Widens)]),
    (
        "uln-offset-tightened",
        &[(Aspect::Threshold, Effect::Narrows)],
    ),
    (
        "anchor-event-redefined",
        &[(Aspect::Window, Effect::Undetermined)],
    ),
    (
        "alternative-added-exclusion",
        &[(Aspect::Filters, Effect::Narrows)],
    ),
    ("unit-converted-no-op", &[]),
    ("same-window-other-units", &[]),
    (
        "days-vs-month",
        &[
            (Aspect::Window, Effect::Undetermined),
            (Aspect::Window, Effect::Undetermined),
        ],
    ),
    (
        "window-widened-exclusion",
        &[(Aspect::Window, Effect::Narrows)],
    ),
    (
        "member-added-inclusion",
        &[(Aspect::Members, Effect::Widens)],
    ),
    (
        "member-removed-inclusion",
        &[(Aspect::Members, Effect::Narrows)],
    ),
    (
        "member-added-exclusion",
        &[(Aspect::Members, Effect::Narrows)],
    ),
    (
        "member-removed-exclusion",
        &[(Aspect::Members, Effect::Widens)],
    ),
    (
        "except-added-exclusion",
        &[(Aspect::Filters, Effect::Widens)],
    ),
    ("wording-only", &[]),
    (
        "criterion-added",
        &[(Aspect::CriterionAdded, Effect::Narrows)],
    ),
    (
        "criterion-removed",
        &[(Aspect::CriterionRemoved, Effect::Widens)],
    ),
    (
        "applicability-narrowed",
        &[(Aspect::Condition, Effect::Widens)],
    ),
    (
        "applicability-removed",
        &[(Aspect::Applicability, Effect::Narrows)],
    ),
    ("exception-added", &[(Aspect::Exception, Effect::Widens)]),
    ("condition-added", &[(Aspect::Condition, Effect::Narrows)]),
    ("logic-rewritten", &[(Aspect::Logic, Effect::Undetermined)]),
];

#[test]
fn each_fixture_pair_has_the_expected_effects() {
    let mut names: Vec<String> = std::fs::read_dir("tests/fixtures/diff")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".new.elig").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut expected: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "every fixture pair has its expectation");
    for (name, effects) in EXPECTED {
        let d = diff_files(
            &format!("tests/fixtures/diff/{name}.old.elig"),
            &format!("tests/fixtures/diff/{name}.new.elig"),
        );
        let got: Vec<(Aspect, Effect)> = d
            .criteria
            .iter()
            .flat_map(|c| c.changes.iter().map(|ch| (ch.aspect, ch.effect)))
            .collect();
        assert_eq!(&got, effects, "{name}");
        if *name == "wording-only" {
            assert_eq!(d.criteria.len(), 1);
            assert_eq!(d.criteria[0].status, Status::WordingOnly);
        }
    }
}

#[test]
fn fixture_pairs_as_text() {
    insta::glob!("fixtures/diff/*.new.elig", |path| {
        let new = path.to_str().unwrap();
        let old = new.replace(".new.elig", ".old.elig");
        insta::assert_snapshot!(render::text(&diff::diff(&plan(&old), &plan(new))));
    });
}
