#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Definitions built on definitions (issue 9): a chain of thousands used to overflow the
//! stack in `check` (declared last-first) and in `run`; a definition used twice by the next,
//! over and over, made screening and `diff` exponential. Now they are refused with
//! `elig::condition-too-complex`, and everything up to the limits runs on a default stack.
//! Sets nested in sets are flattened members first, found with an explicit stack, so a chain
//! of 20,000 declared last-first (which overflowed the stack) checks in a second or two.

use std::path::PathBuf;
use std::process::{Command, Output};

use eligc::check::compile_text;
use eligc::diagnostic::Code;

fn eligc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A fresh folder of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "eligc-deep-definitions-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `d1 = attested a`, `dK = dK-1 and attested a`, and a criterion on the last; declared
/// last-first when `reversed` (so checking `dN` meets `dN-1` before it was checked).
fn chain(n: usize, reversed: bool) -> String {
    let mut defines: Vec<String> = (2..=n)
        .map(|i| format!("define d{i} = d{} and attested a", i - 1))
        .collect();
    defines.insert(0, "define d1 = attested a".to_string());
    if reversed {
        defines.reverse();
    }
    format!(
        "protocol \"p\"\nattestation a \"A\" by patient\ninclusion I1 \"x\": d{n}\n{}\n",
        defines.join("\n")
    )
}

/// `d1 = attested a`, `dK = dK-1 or dK-1`: `dN` stands for 2^(N-1) checks.
fn diamond(n: usize, leaf: &str) -> String {
    let mut text = format!(
        "protocol \"p\"\nattestation a \"A\" by patient\nattestation b \"B\" by patient\ndefine d1 = {leaf}\n"
    );
    for i in 2..=n {
        text.push_str(&format!("define d{i} = d{} or d{}\n", i - 1, i - 1));
    }
    text.push_str(&format!("inclusion I1 \"x\": d{n}\n"));
    text
}

fn codes(text: &str) -> Vec<Code> {
    compile_text("deep.elig", text, None)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn a_chain_of_3000_definitions_is_refused_in_either_order_without_overflow() {
    for reversed in [false, true] {
        let codes = codes(&chain(3000, reversed));
        assert!(codes.contains(&Code::ConditionTooComplex), "{codes:?}");
        // One error for the chain, at the first definition past the limit, not 2,872.
        assert_eq!(codes.len(), 1, "{codes:?}");
    }
}

#[test]
fn a_chain_of_40000_definitions_declared_last_first_is_refused_without_overflow() {
    // Short lines: the unoptimised parser of a test build reads about 100 KB a second.
    let mut text =
        String::from("protocol \"p\"\nattestation a \"A\" by patient\ninclusion I \"x\": d40000\n");
    for i in (2..=40_000).rev() {
        text.push_str(&format!("define d{i}=d{}\n", i - 1));
    }
    text.push_str("define d1=attested a\n");
    let codes = codes(&text);
    assert_eq!(codes, vec![Code::ConditionTooComplex]);
}

#[test]
fn check_and_run_refuse_a_chain_of_3000_definitions_with_a_diagnostic() {
    let dir = scratch("chain");
    let protocol = dir.join("p.elig");
    std::fs::write(&protocol, chain(3000, true)).unwrap();
    let data = dir.join("p.jsonl");
    std::fs::write(
        &data,
        "{\"id\":\"P1\",\"anchors\":{},\"attestations\":{\"a\":true}}\n",
    )
    .unwrap();
    for args in [
        vec!["check", protocol.to_str().unwrap()],
        vec!["run", protocol.to_str().unwrap(), data.to_str().unwrap()],
    ] {
        let out = eligc(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("elig::condition-too-complex"), "{stderr}");
        assert!(stderr.contains("`d129` nests 257 levels deep"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_longest_chain_accepted_screens_explains_documents_and_diffs() {
    let depth = usize::try_from(eligc::check::MAX_DEPTH).unwrap() / 2;
    let text = chain(depth, true);
    assert_eq!(codes(&text), vec![]);
    assert!(codes(&chain(depth + 1, true)).contains(&Code::ConditionTooComplex));
    let dir = scratch("longest");
    let protocol = dir.join("p.elig");
    std::fs::write(&protocol, &text).unwrap();
    let changed = dir.join("q.elig");
    std::fs::write(
        &changed,
        text.replace("inclusion I1 \"x\"", "inclusion I1 \"y\""),
    )
    .unwrap();
    let data = dir.join("p.jsonl");
    std::fs::write(
        &data,
        "{\"id\":\"P1\",\"anchors\":{},\"attestations\":{\"a\":true}}\n",
    )
    .unwrap();
    let (p, d) = (protocol.to_str().unwrap(), data.to_str().unwrap());
    let out = eligc(&["run", "--format", "json", p, d]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"verdict\":\"eligible\""));
    let out = eligc(&["run", "--explain", "P1", p, d]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(in d1)"));
    for args in [vec!["doc", p], vec!["fmt", "--stdout", p]] {
        let out = eligc(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = eligc(&["diff", p, changed.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("I1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_definition_doubled_seventeen_times_over_is_refused_before_it_is_written_out() {
    assert_eq!(
        codes(&diamond(18, "attested a")),
        vec![Code::ConditionTooComplex]
    );
    assert_eq!(codes(&diamond(17, "attested a")), vec![]);
}

#[test]
fn diff_of_doubled_definitions_compares_each_pair_once() {
    // Twelve doublings compared pair by pair, without remembering answers, took 4^12 calls.
    let dir = scratch("diamond");
    let old = dir.join("old.elig");
    let new = dir.join("new.elig");
    std::fs::write(&old, diamond(12, "attested a")).unwrap();
    std::fs::write(&new, diamond(12, "attested b")).unwrap();
    let out = eligc(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("I1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `s1 = drugs { d }`, `sK = drugs { sK-1 }`, declared last-first, and a criterion on `sN`;
/// with `cycle`, `s1` also contains `sN`.
fn nested_sets(n: usize, cycle: bool) -> String {
    let mut text = format!(
        "protocol \"p\"\nanchor screening\ndrug d \"D\" codes [rxnorm:1]\ninclusion I1 \"x\": medication in s{n} before screening\n"
    );
    for i in (2..=n).rev() {
        text.push_str(&format!("set s{i} = drugs {{ s{} }}\n", i - 1));
    }
    if cycle {
        text.push_str(&format!("set s1 = drugs {{ d, s{n} }}\n"));
    } else {
        text.push_str("set s1 = drugs { d }\n");
    }
    text
}

#[test]
fn twenty_thousand_nested_sets_declared_last_first_check_without_overflow() {
    let c = compile_text("p.elig", &nested_sets(20_000, false), None);
    assert_eq!(codes_of(&c), Vec::<Code>::new());
    let program = c.program.unwrap();
    let last = program.sets.iter().find(|s| s.name == "s20000").unwrap();
    assert_eq!(last.members.len(), 1, "the drug reaches the outermost set");
}

#[test]
fn a_cycle_through_twenty_thousand_sets_is_reported_without_overflow() {
    let c = compile_text("p.elig", &nested_sets(20_000, true), None);
    assert!(codes_of(&c).contains(&Code::SetCycle), "{:?}", codes_of(&c));
}

fn codes_of(c: &eligc::check::Compilation) -> Vec<Code> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect()
}
