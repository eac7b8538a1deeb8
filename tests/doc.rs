#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! `eligc doc`: the seed protocol and the amendment in prose (Markdown snapshots), and the
//! HTML well-formed, self-contained and escaped.

use std::path::Path;

use eligc::check::{compile_file, compile_text};
use eligc::doc;

fn document(path: &str) -> doc::Document {
    let c = compile_file(Path::new(path)).unwrap();
    doc::document(&c.program.unwrap())
}

#[test]
fn the_seed_protocol_as_markdown() {
    insta::assert_snapshot!(doc::markdown(&document(
        "protocols/sle-car-t/protocol.elig"
    )));
}

#[test]
fn the_amendment_as_markdown() {
    insta::assert_snapshot!(doc::markdown(&document(
        "protocols/sle-car-t/amendments/protocol-1.1.elig"
    )));
}

/// Checks that every element opened is closed in order (void elements aside), and returns
/// the tag names seen.
fn balanced(html: &str) -> Vec<String> {
    const VOID: &[&str] = &["meta", "br", "hr", "img", "link", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unclosed tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "bad tag <{tag}>");
        seen.push(name.clone());
        if let Some(closing) = tag.strip_prefix('/') {
            let _ = closing;
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name, "</{name}> closes <{open}>");
        } else if !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
    seen
}

#[test]
fn html_is_well_formed_self_contained_and_prints_well() {
    for path in [
        "protocols/sle-car-t/protocol.elig",
        "protocols/sle-car-t/amendments/protocol-1.1.elig",
    ] {
        let html = doc::html(&document(path));
        let tags = balanced(&html);
        for external in [
            "<script", "<link", "<img", "<iframe", "http://", "https://", "url(",
        ] {
            assert!(!html.contains(external), "{path}: {external}");
        }
        assert!(tags.contains(&"style".to_string()));
        assert!(html.contains("@media print"));
        assert!(html.contains("break-inside: avoid"));
        assert!(html.contains("Version"));
    }
}

#[test]
fn html_escapes_the_wording() {
    let text = r#"protocol "A <b>bold</b> & title" version "1 <2>"
anchor screening
use std
inclusion I1 "eGFR <30 & \"x\" is <script>alert(1)</script>":
  latest egfr within 28 days before screening >= 30 mL/min/1.73m2
"#;
    let c = compile_text("escape.elig", text, None);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let html = doc::html(&doc::document(&c.program.unwrap()));
    balanced(&html);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("eGFR &lt;30 &amp; &quot;x&quot; is &lt;script&gt;"));
    assert!(html.contains("A &lt;b&gt;bold&lt;/b&gt; &amp; title"));
    let md = doc::markdown(&doc::document(
        &compile_text("escape.elig", text, None).program.unwrap(),
    ));
    assert!(md.contains(r"eGFR \<30"));
}

#[test]
fn the_rule_is_in_plain_language_with_units_and_windows() {
    let md = doc::markdown(&document("protocols/sle-car-t/protocol.elig"));
    assert!(md.contains(
        "the most recent estimated glomerular filtration rate in the 28 days before the screening visit is at least 30 mL/min/1.73m2"
    ), "{md}");
    assert!(md.contains("the investigator confirms"));
}
