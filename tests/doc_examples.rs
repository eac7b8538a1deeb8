#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Every example in the guides compiles: a protocol writer copies them. Blocks fenced
//! ```` ```elig ```` are items (declarations and criteria), ```` ```elig expr ```` are rules,
//! one per paragraph. A block that is not a whole protocol is compiled after a prelude
//! (anchors, `use std`, and the DMARD set the guide introduces in section 1); a block that
//! declares names std also declares is compiled without std. docs/diagnostics.md is left
//! out: its first example of each code is wrong on purpose. Blocks fenced `elig excerpt` (from
//! the seed protocol) and `elig std-excerpt` (from std) must be found in those files.

use std::path::Path;

use eligc::check::compile_text;
use eligc::report::render_human;

const GUIDES: &[&str] = &[
    "docs/language.md",
    "docs/terminology.md",
    "docs/amendments.md",
    "docs/formatting.md",
    "docs/omop.md",
    "docs/fhir.md",
    "docs/patient-data.md",
    "docs/testing.md",
    "README.md",
];

/// Anchors the examples count from.
const ANCHORS: &[&str] = &[
    "screening",
    "infusion",
    "enrolment",
    "surgery",
    "injury",
    "randomisation",
    "admission",
];

/// Declarations of the seed protocol that the guides' excerpts use: (name, declaration).
const SEED: &[(&str, &str)] = &[
    (
        "dmard",
        "set dmard \"DMARDs listed in I2\" = drugs {\n  cyclophosphamide, mycophenolate_mofetil, azathioprine, methotrexate, cyclosporine, tacrolimus,\n}\n",
    ),
    (
        "mas_risk_ruled_out",
        "attestation mas_risk_ruled_out \"MAS risk ruled out\" by investigator\n",
    ),
];

/// Whether the block declares `name` itself (`set dmard ...`, `anchor x, admission "..."`).
fn declares(body: &str, name: &str) -> bool {
    body.lines().any(|l| {
        let l = l.trim_start().trim_start_matches("anchor ");
        let words: Vec<&str> = l.split_whitespace().collect();
        words.first() == Some(&name) && words.len() > 1
            || words.get(1) == Some(&name) && words.len() > 2
    })
}

/// The examples of one guide: (line of the fence, kind, text).
fn blocks(text: &str) -> Vec<(usize, &str, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let kind = match line.trim_end() {
            "```elig" => "elig",
            "```elig expr" => "expr",
            "```elig excerpt" => "excerpt",
            "```elig std-excerpt" => "std-excerpt",
            _ => continue,
        };
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_end() == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push((n + 1, kind, body));
    }
    out
}

/// The protocol a block is compiled as, with or without std.
fn protocol(kind: &str, body: &str, with_std: bool) -> String {
    if kind == "elig" && body.contains("protocol \"") {
        return body.to_string();
    }
    let anchors: Vec<&str> = ANCHORS
        .iter()
        .copied()
        .filter(|a| !declares(body, a))
        .collect();
    let mut text = format!(
        "protocol \"Example\" version \"1\"\nanchor {}\n",
        anchors.join(", ")
    );
    if with_std {
        text.push_str("use std\n");
        for (name, declaration) in SEED {
            if !declares(body, name) {
                text.push_str(declaration);
            }
        }
    }
    if kind == "expr" {
        for (i, rule) in body
            .split("\n\n")
            .filter(|r| !r.trim().is_empty())
            .enumerate()
        {
            text.push_str(&format!("inclusion X{i} \"example\":\n  {}\n", rule.trim()));
        }
    } else {
        text.push_str(body);
    }
    text
}

/// The errors of a compilation, rendered; empty when it compiles.
fn errors(name: &str, text: &str) -> String {
    let c = compile_text(name, text, None);
    let errors: Vec<_> = c.diagnostics.into_iter().filter(|d| d.is_error()).collect();
    if errors.is_empty() {
        String::new()
    } else {
        render_human(&errors, &c.sources, 100, false)
    }
}

#[test]
fn every_example_in_the_guides_compiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut count = 0;
    for guide in GUIDES {
        let text = std::fs::read_to_string(root.join(guide)).unwrap();
        for (line, kind, body) in blocks(&text) {
            if kind.ends_with("excerpt") {
                continue;
            }
            count += 1;
            let name = format!("{guide}:{line}");
            let with_std = errors(&name, &protocol(kind, &body, true));
            if with_std.is_empty() || errors(&name, &protocol(kind, &body, false)).is_empty() {
                continue;
            }
            failures.push(format!("{name}\n{with_std}"));
        }
    }
    assert!(
        count > 30,
        "only {count} examples found: is the fence still ```elig?"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} examples do not compile:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Words of a text, so that re-wrapping does not matter.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_excerpt_is_copied_from_the_file_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| words(&std::fs::read_to_string(root.join(p)).unwrap());
    let seed = read("protocols/sle-car-t/protocol.elig");
    let std = read("src/stdlib/std.elig");
    let guide = std::fs::read_to_string(root.join("docs/language.md")).unwrap();
    let mut count = 0;
    for (line, kind, body) in blocks(&guide) {
        let source = match kind {
            "excerpt" => &seed,
            "std-excerpt" => &std,
            _ => continue,
        };
        count += 1;
        assert!(
            source.contains(&words(&body)),
            "docs/language.md:{line}: this {kind} is not in its source any more:\n{body}"
        );
    }
    assert!(count > 10, "only {count} excerpts found");
}
