#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Malformed input never panics the compiler: random text, mutated protocols, and
//! pathological nesting all end in diagnostics.

use eligc::check::compile_text;
use eligc::diagnostic::Code;
use proptest::prelude::*;

const SAMPLE: &str = include_str!("fixtures/robustness/sample.elig");

/// Tokens that are likely to build almost-valid programs when spliced in.
const TOKENS: &[&str] = &[
    "inclusion",
    "exclusion",
    "I1",
    "I4.2",
    "\"wording\"",
    ":",
    "{",
    "}",
    "(",
    ")",
    "and",
    "or",
    "not",
    "latest",
    "any",
    "all",
    "no",
    "count",
    "distinct",
    "dose",
    "as",
    "within",
    "30",
    "days",
    "months",
    "before",
    "after",
    "screening",
    "at",
    "ever",
    "from",
    "to",
    ">=",
    "<=",
    "=",
    "!=",
    "mL/min/1.73m2",
    "mg/kg/d",
    "x",
    "ULN",
    "is",
    "positive",
    "above",
    "normal",
    "range",
    "attested",
    "condition",
    "medication",
    "immunization",
    "procedure",
    "where",
    "grade",
    "taken",
    "for",
    "sustained",
    "unless",
    "applies",
    "if",
    "define",
    "set",
    "drugs",
    "equivalence",
    "observation",
    "unit",
    "codes",
    "[",
    "]",
    "loinc:1-1",
    ",",
    "age",
    "sex",
    "female",
    "use",
    "std",
    "\"lib.elig\"",
    "protocol",
    "version",
    "anchor",
    "//",
    "\n",
    "\u{200B}",
    "é",
    "1.5",
    "-3",
    "99999999999999999999999999999",
];

fn assert_no_panic(text: &str) {
    // Diagnostics of every kind are fine; an `internal` error means the grammar and the
    // lowering disagree.
    let compilation = compile_text("fuzz.elig", text, None);
    let internal: Vec<_> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::Internal)
        .collect();
    assert!(
        internal.is_empty(),
        "internal error for input {text:?}: {internal:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        assert_no_panic(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..60)) {
        assert_no_panic(&tokens.join(" "));
    }

    #[test]
    fn mutated_protocol_never_panics(
        cut in 0usize..SAMPLE.len(),
        len in 0usize..80,
        insert in proptest::sample::select(TOKENS),
        at in 0usize..SAMPLE.len(),
    ) {
        let mut text: Vec<char> = SAMPLE.chars().collect();
        let cut = cut.min(text.len());
        let end = (cut + len).min(text.len());
        text.drain(cut..end);
        let at = at.min(text.len());
        for (i, c) in insert.chars().enumerate() {
            text.insert(at + i, c);
        }
        let text: String = text.into_iter().collect();
        assert_no_panic(&text);
    }
}

fn first_code(text: &str) -> Vec<Code> {
    compile_text("deep.elig", text, None)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn ten_thousand_nested_brackets_give_a_diagnostic_not_a_stack_overflow() {
    let text = format!(
        "protocol \"p\"\ninclusion I1 \"x\": {}attested a{}\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(first_code(&text).contains(&Code::NestingTooDeep));
}

#[test]
fn ten_thousand_nots_give_a_diagnostic_not_a_stack_overflow() {
    let text = format!(
        "protocol \"p\"\nattestation a \"A\" by patient\ninclusion I1 \"x\": {}attested a\n",
        "not ".repeat(10_000)
    );
    assert!(first_code(&text).contains(&Code::NestingTooDeep));
}

#[test]
fn a_chain_of_ten_thousand_ands_checks_without_overflow() {
    let text = format!(
        "protocol \"p\"\nattestation a \"A\" by patient\ninclusion I1 \"x\": {}\n",
        vec!["attested a"; 10_000].join(" and ")
    );
    let compilation = compile_text("long.elig", &text, None);
    assert!(
        !compilation.has_errors(),
        "{:?}",
        compilation.diagnostics.first()
    );
}

#[test]
fn nesting_at_the_limit_is_accepted() {
    let depth = eligc::syntax::MAX_NESTING - 2;
    let text = format!(
        "protocol \"p\"\nattestation a \"A\" by patient\ninclusion I1 \"x\": {}attested a{}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let compilation = compile_text("ok.elig", &text, None);
    assert!(
        !compilation.has_errors(),
        "{:?}",
        compilation.diagnostics.first()
    );
}
