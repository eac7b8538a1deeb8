#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The checker's list of reserved words is the grammar's.

#[test]
fn the_reserved_words_are_the_grammars_keywords() {
    let grammar = std::fs::read_to_string("grammar/elig.pest").unwrap();
    let rule = &grammar[grammar.find("keyword = @{").unwrap()..];
    let rule = &rule[..rule.find('}').unwrap()];
    let mut from_grammar: Vec<&str> = rule.split('"').skip(1).step_by(2).collect();
    let mut listed = eligc::syntax::KEYWORDS.to_vec();
    from_grammar.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, from_grammar);
}

#[test]
fn the_guide_lists_every_reserved_word() {
    let guide = std::fs::read_to_string("docs/language.md").unwrap();
    let at = guide
        .find("These words are part of the language")
        .expect("the guide's list of reserved words");
    let list = guide[at..].lines().nth(2).unwrap();
    let mut listed: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    let mut words = eligc::syntax::KEYWORDS.to_vec();
    listed.sort_unstable();
    words.sort_unstable();
    assert_eq!(listed, words);
}

#[test]
fn a_reserved_word_cannot_be_declared_as_a_name() {
    let c = eligc::check::compile_text(
        "k.elig",
        "protocol \"p\"\nobservation count \"x\" unit mg/dL codes [loinc:1-1]\n",
        None,
    );
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.code == eligc::diagnostic::Code::InvalidDeclaration
                && d.message.contains("reserved"))
    );
}
