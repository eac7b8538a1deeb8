#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Snapshot tests of diagnostics: every `tests/fixtures/check/*.elig` is compiled and its
//! source and rendered diagnostics are kept together in one snapshot. Fixtures that `use`
//! other files keep them in `tests/fixtures/check/lib/`.

use std::collections::BTreeSet;
use std::path::Path;

use eligc::check::compile_file;
use eligc::diagnostic::Code;
use eligc::report::{render_human, summary};

/// Compiles a fixture by its path relative to the crate (the tests' working directory), so
/// file names in the output do not depend on where the repository is checked out.
fn rendered(path: &Path) -> (String, Vec<Code>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = path.strip_prefix(root).unwrap_or(path);
    let compilation =
        compile_file(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = render_human(&compilation.diagnostics, &compilation.sources, 100, false);
    let codes = compilation.diagnostics.iter().map(|d| d.code).collect();
    (
        format!("{text}{}\n", summary(&compilation.diagnostics)),
        codes,
    )
}

#[test]
fn diagnostics_match_snapshots() {
    insta::glob!("fixtures/check/*.elig", |path| {
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let (output, _) = rendered(path);
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| {
            insta::assert_snapshot!(format!("{source}\n---- eligc check ----\n{output}"));
        });
    });
}

#[test]
fn every_code_has_a_fixture_that_produces_it() {
    let mut seen = BTreeSet::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "elig") {
            let (_, codes) = rendered(&path);
            seen.extend(codes);
        }
    }
    // `sql-unsupported` comes from the SQL compiler (`eligc sql`), not the checker: its
    // fixtures are in tests/fixtures/sql/.
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sql");
    for entry in std::fs::read_dir(&sql)
        .unwrap_or_else(|e| panic!("{}: {e}", sql.display()))
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "elig") {
            let compilation = compile_file(&path).unwrap();
            let program = compilation.program.expect("the SQL fixtures check clean");
            let options = eligc::sql::Options::new(eligc::sql::Dialect::Postgresql);
            if let Err(diagnostics) = eligc::sql::compile(&program, &options) {
                seen.extend(diagnostics.iter().map(|d| d.code));
            }
        }
    }
    // `internal` means the grammar and the lowering disagree: no input produces it while
    // they agree, which the proptests in robustness.rs check.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| **c != Code::Internal && !seen.contains(c))
        .map(|c| c.name())
        .collect();
    assert!(
        missing.is_empty(),
        "codes with no fixture producing them: {missing:?}"
    );
}

#[test]
fn every_code_is_documented() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
            .unwrap_or_default();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.name())
        .filter(|name| !docs.contains(&format!("## `{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a `## `elig::...`` section in docs/diagnostics.md: {missing:?}"
    );
}
