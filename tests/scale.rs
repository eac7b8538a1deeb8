#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Protocols with very many criteria (issue 9): screening one patient against 100,000
//! criteria took 125 s and printing thousands of diagnostics took minutes, because lines,
//! sub-criteria and excerpts were searched for from the start each time. These run in
//! seconds now; if any part turns quadratic again they take minutes. `--jobs 4000` is
//! capped to the cores. Figures: docs/performance.md.

use std::sync::Arc;

use eligc::ast::CriterionKind;
use eligc::check::compile_text;
use eligc::diagnostic::Code;
use eligc::eval::render::{Funnel, explanation, to_settle};
use eligc::eval::{Check, CriterionResult, Node, Outcome, Part, PatientResult, Truth, Verdict};
use eligc::report::{render_human, to_json};
use eligc::source::{LineIndex, Source};

/// `n` exclusion groups, each with one sub-criterion, all unknown, each waiting for its own
/// attestation.
fn unknown_groups(n: usize) -> PatientResult {
    let mut criteria = Vec::with_capacity(2 * n);
    for i in 0..n {
        let id: Arc<str> = format!("E{i}").into();
        let result = |id: Arc<str>, parent: Option<Arc<str>>, checks: Vec<Check>| {
            let logic = if checks.is_empty() {
                vec![]
            } else {
                vec![Node::Check(0)]
            };
            CriterionResult {
                depth: usize::from(parent.is_some()),
                id,
                kind: CriterionKind::Exclusion,
                wording: "x".into(),
                parent,
                outcome: Outcome::Unknown,
                line: 3 + i,
                checks,
                logic,
                unplaced: false,
                quantifier: None,
            }
        };
        criteria.push(result(id.clone(), None, vec![]));
        let check = Check {
            text: format!("attested a{i}"),
            result: Truth::Unknown,
            detail: "not recorded".to_string(),
            part: Part::Rule,
            via: None,
            settle: format!("record attestation a{i}"),
        };
        criteria.push(result(format!("E{i}.1").into(), Some(id), vec![check]));
    }
    PatientResult {
        id: "P1".to_string(),
        verdict: Verdict::NeedsReview,
        criteria,
        unused_facts: 0,
        unplaced_facts: 0,
        to_settle: Vec::new(),
        completed: Vec::new(),
    }
}

#[test]
fn a_result_of_100000_criteria_is_summarised_explained_and_counted() {
    let r = unknown_groups(50_000);
    let unknown = r.unknown();
    assert_eq!(unknown.len(), 50_000);
    assert_eq!(unknown[49_999], "E49999.1");
    assert!(r.excluding().is_empty());
    let settle = to_settle(&r);
    assert_eq!(settle.len(), 50_000);
    assert_eq!(settle[7].action, "record attestation a7");
    assert!(explanation(&r).contains("E49999.1 unknown"));
    let mut funnel = Funnel::default();
    funnel.add(&r);
    assert_eq!(funnel.criteria.len(), 100_000);
    assert_eq!(funnel.criteria[99_999].unknown, 1);
}

#[test]
fn five_thousand_errors_are_rendered_with_their_lines() {
    let n = 5_000;
    let mut text = String::from("protocol \"p\"\nattestation a \"A\" by patient\n");
    for i in 1..=n {
        text.push_str(&format!(
            "inclusion I{i} \"x\": attested a and attested zz\n"
        ));
    }
    let compilation = compile_text("many.elig", &text, None);
    let errors = &compilation.diagnostics;
    assert_eq!(errors.len(), n);
    assert!(errors.iter().all(|d| d.code == Code::UnknownName));
    let human = render_human(errors, &compilation.sources, 100, false);
    assert_eq!(human.matches("elig::unknown-name").count(), n);
    assert!(
        human.contains("[many.elig:5002:46]"),
        "{:?}",
        human.lines().rev().take(12).collect::<Vec<_>>()
    );
    assert!(human.contains(" 5002 │ inclusion I5000 \"x\": attested a and attested zz"));
    let json = to_json(errors, &compilation.sources);
    assert_eq!(json[n - 1]["line"], 5002);
    assert_eq!(json[n - 1]["column"], 46);
}

#[test]
fn the_line_index_agrees_with_counting_from_the_start() {
    let text = "protocol \"é\"\r\n\n// ünïcode ✓\ninclusion I1 \"x\":\n  attested a\n\nlast";
    let source = Source {
        id: eligc::source::FileId(0),
        name: "t.elig".to_string(),
        path: None,
        text: text.into(),
    };
    let index = LineIndex::new(text);
    for offset in 0..=u32::try_from(text.len()).unwrap() + 3 {
        if text.is_char_boundary((offset as usize).min(text.len())) {
            assert_eq!(
                index.line_col(text, offset),
                source.line_col(offset),
                "at {offset}"
            );
        }
    }
}

#[test]
fn jobs_beyond_the_cores_are_capped_with_a_warning_and_the_same_results() {
    // 4,000 worker threads took about a minute for the 98 sample patients.
    let run = |jobs: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eligc"))
            .args([
                "run",
                "protocols/sle-car-t/protocol.elig",
                "protocols/sle-car-t/patients.jsonl",
                "--format",
                "json",
                "--jobs",
                jobs,
            ])
            .output()
            .unwrap()
    };
    let many = run("4000");
    let one = run("1");
    assert_eq!(many.status.code(), one.status.code());
    assert_eq!(many.stdout, one.stdout);
    let stderr = String::from_utf8_lossy(&many.stderr);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        stderr.contains(&format!(
            "warning: --jobs 4000: this machine runs {cores} threads at once; using {cores} worker threads"
        )),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&one.stderr).contains("warning"));
}
