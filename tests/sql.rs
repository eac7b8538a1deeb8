#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! `eligc sql`: the script for a small protocol (reviewed snapshot), the seed protocol
//! compiled whole in both dialects, and what is refused. Running the scripts on a database
//! and comparing with the interpreter is tests/sql_postgres.rs.

use std::path::Path;
use std::process::Command;

use eligc::sql::{Dialect, Options, compile};

fn program(path: &str) -> eligc::program::Program {
    let c = eligc::check::compile_file(Path::new(path)).unwrap();
    assert!(!c.has_errors(), "{path} has errors");
    c.program.unwrap()
}

fn eligc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
}

#[test]
fn the_script_of_a_small_protocol_is_the_reviewed_one() {
    let mut options = Options::new(Dialect::Postgresql);
    options.cdm_schema = Some("cdm".into());
    let script = compile(&program("tests/fixtures/sql/small.elig"), &options).unwrap();
    insta::assert_snapshot!(script.text("SQL small"));
}

#[test]
fn the_seed_protocol_compiles_whole_in_both_dialects() {
    let p = program("protocols/sle-car-t/protocol.elig");
    for dialect in [Dialect::Postgresql, Dialect::Spark] {
        let script = compile(&p, &Options::new(dialect)).unwrap();
        // One column per criterion, depth first, after the verdict.
        let ids: Vec<String> = p.all_criteria().iter().map(|c| c.id.to_string()).collect();
        assert_eq!(script.criteria, ids);
        assert!(
            script
                .setup
                .last()
                .unwrap()
                .starts_with("CREATE OR REPLACE TEMPORARY VIEW eligc_result AS")
        );
    }
}

#[test]
fn spark_scripts_use_spark_date_functions_quoting_and_no_recursion() {
    let p = program("tests/fixtures/sql/small.elig");
    let spark = compile(&p, &Options::new(Dialect::Spark)).unwrap().text("");
    assert!(spark.contains("add_months("), "months through add_months");
    assert!(
        spark.contains("`I3.1`"),
        "criterion columns quoted with backticks"
    );
    assert!(!spark.contains("RECURSIVE"));
    assert!(
        spark.contains("raise_error("),
        "an empty CONCEPT_ANCESTOR stops the script"
    );
    assert!(!spark.contains("SET jit"));
    let pg = compile(&p, &Options::new(Dialect::Postgresql))
        .unwrap()
        .text("");
    assert!(pg.contains("INTERVAL '3 months'"));
    assert!(pg.contains("\"I3.1\""));
    assert!(pg.contains("WITH RECURSIVE"));
    assert!(pg.starts_with("SET jit = off"));
}

#[test]
fn a_threshold_too_large_to_compare_exactly_is_refused_at_its_span() {
    let out = eligc()
        .args(["sql", "tests/fixtures/sql/sql-unsupported.elig"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no script on stdout");
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}

#[test]
fn first_last_events_anchors_from_events_except_arithmetic_and_moved_limits_compile_in_both_dialects()
 {
    let p = program("tests/fixtures/sql/reach.elig");
    for dialect in [Dialect::Postgresql, Dialect::Spark] {
        let script = compile(&p, &Options::new(dialect)).unwrap().text("");
        // Anchors taken from events are computed from the anchors the record supplies.
        assert!(script.contains("eligc_p0"), "{dialect:?}");
        assert!(script.contains("eligc_ea2"), "{dialect:?}");
        // The empty window (no such event) is written as the interpreter's empty span.
        assert!(script.contains("DATE '9999-12-31'"), "{dialect:?}");
        // `except` leaves out records placed under the excluded concepts: a hashed `NOT IN`
        // on PostgreSQL (its anti-join was a nested loop), an anti-join on Spark.
        let left_out = match dialect {
            Dialect::Postgresql => "AND (ev.tbl, ev.rid) NOT IN (SELECT tbl, rid FROM eligc_pm_",
            Dialect::Spark => " xo ON xo.tbl = ev.tbl AND xo.rid = ev.rid",
        };
        assert!(script.contains(left_out), "{dialect:?}");
    }
}

#[test]
fn every_real_trial_compiles_whole_in_both_dialects() {
    let mut refused = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir("protocols/trials").unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "elig") {
            continue;
        }
        n += 1;
        let p = program(path.to_str().unwrap());
        for dialect in [Dialect::Postgresql, Dialect::Spark] {
            if let Err(d) = compile(&p, &Options::new(dialect)) {
                refused.push(format!(
                    "{} ({dialect:?}): {}",
                    path.display(),
                    d[0].message
                ));
            }
        }
    }
    assert!(n >= 30, "{n} trials");
    assert!(refused.is_empty(), "{refused:#?}");
}

#[test]
fn a_schema_name_that_is_not_an_identifier_is_refused() {
    let out = eligc()
        .args([
            "sql",
            "tests/fixtures/sql/small.elig",
            "--schema",
            "cdm; DROP TABLE person",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("elig::sql-unsupported"));
}

#[test]
fn anchors_and_as_of_given_on_the_command_line_are_defaults_in_the_script() {
    let out = eligc()
        .args([
            "sql",
            "tests/fixtures/sql/small.elig",
            "--anchor",
            "screening=2024-03-01",
            "--as-of",
            "2024-03-02",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("COALESCE(an.a0, DATE '2024-03-01') AS a0"));
    assert!(text.contains("DATE '2024-03-02' AS as_of"));
}

#[test]
fn a_local_vocabulary_is_read_as_local_codes_in_both_dialects() {
    for dialect in ["postgresql", "spark"] {
        let out = eligc()
            .args([
                "sql",
                "tests/fixtures/omop/local.elig",
                "--dialect",
                dialect,
            ])
            .args(["--local-vocabulary", "SITE_SLE"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{dialect}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("WHEN 'CVX' THEN 'cvx' WHEN 'SITE_SLE' THEN 'local' END AS sys"),
            "{dialect}"
        );
    }
}
