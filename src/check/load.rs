//! Loading a protocol and everything it `use`s: files relative to the importing file, the
//! embedded standard library by name. Each file is parsed once; a cycle is a diagnostic.

use std::path::{Path, PathBuf};

use crate::ast::{self, Item, UseTarget};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax;

/// Libraries embedded in eligc, by the name `use` gives them.
pub const BUILTIN_LIBRARIES: &[(&str, &str)] =
    &[("std", include_str!("../../src/stdlib/std.elig"))];

/// A parsed file and the files its `use` lines resolved to.
#[derive(Debug)]
pub struct Loaded {
    /// The file.
    pub file: FileId,
    /// Its syntax tree.
    pub module: ast::Module,
    /// Each `use` item's span and the file it loaded (None when it failed).
    pub imports: Vec<(Span, Option<FileId>)>,
    /// Names declared in parts of the file that did not parse.
    pub recovered_names: Vec<String>,
}

/// Loads the main file (already in `sources`) and, depth first, everything it uses.
pub fn load_all(
    sources: &mut SourceMap,
    main: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Loaded> {
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut stack: Vec<FileId> = Vec::new();
    visit(sources, main, &mut loaded, &mut stack, diagnostics);
    loaded
}

fn visit(
    sources: &mut SourceMap,
    file: FileId,
    loaded: &mut Vec<Loaded>,
    stack: &mut Vec<FileId>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(source) = sources.get(file).cloned() else {
        return;
    };
    let parsed = syntax::parse(&source);
    diagnostics.extend(parsed.errors);
    let recovered_names = parsed.recovered_names;
    stack.push(file);
    let mut imports = Vec::new();
    for item in &parsed.module.items {
        let Item::Use(use_decl) = item else { continue };
        let target = resolve(sources, &source, use_decl, diagnostics);
        if let Some(target) = target {
            if let Some(pos) = stack.iter().position(|f| *f == target) {
                let chain: Vec<String> = stack
                    .get(pos..)
                    .unwrap_or(&[])
                    .iter()
                    .chain(std::iter::once(&target))
                    .filter_map(|f| sources.get(*f).map(|s| s.name.clone()))
                    .collect();
                diagnostics.push(
                    Diagnostic::new(
                        Code::UseCycle,
                        use_decl.span,
                        format!("files use each other in a cycle: {}", chain.join(" -> ")),
                        "this `use` closes the cycle",
                    )
                    .with_help("move the shared declarations into a third file that both use"),
                );
                imports.push((use_decl.span, None));
                continue;
            }
            if !loaded.iter().any(|l| l.file == target) {
                visit(sources, target, loaded, stack, diagnostics);
            }
        }
        imports.push((use_decl.span, target));
    }
    stack.pop();
    loaded.push(Loaded {
        file,
        module: parsed.module,
        imports,
        recovered_names,
    });
}

fn resolve(
    sources: &mut SourceMap,
    from: &crate::source::Source,
    use_decl: &ast::UseDecl,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<FileId> {
    match &use_decl.target {
        UseTarget::Builtin(name) => {
            let Some((lib_name, text)) = BUILTIN_LIBRARIES.iter().find(|(n, _)| *n == name.name)
            else {
                let mut d = Diagnostic::new(
                    Code::UnknownLibrary,
                    name.span,
                    format!("there is no built-in library `{}`", name.name),
                    "unknown library",
                );
                let help = did_you_mean(&name.name, BUILTIN_LIBRARIES.iter().map(|(n, _)| *n))
                    .unwrap_or_else(|| {
                        "to use a file, write its path in quotes: `use \"lib/vocabulary.elig\"`"
                            .to_string()
                    });
                d = d.with_help(help);
                diagnostics.push(d);
                return None;
            };
            let display = format!("<{lib_name}>");
            if let Some(existing) = sources.files().iter().find(|s| s.name == display) {
                return Some(existing.id);
            }
            Some(sources.add(display, None, *text))
        }
        UseTarget::Path(path) => {
            let relative = Path::new(&path.value);
            let full: PathBuf = match from.dir() {
                Some(dir) => dir.join(relative),
                None => relative.to_path_buf(),
            };
            let canonical = full.canonicalize().unwrap_or_else(|_| full.clone());
            // Shown to people as the importing file's name would lead to it, not as an
            // absolute path.
            let shown = match Path::new(&from.name).parent() {
                Some(parent) if from.path.is_some() => parent.join(relative),
                _ => relative.to_path_buf(),
            };
            if let Some(existing) = sources.find_path(&canonical) {
                return Some(existing);
            }
            match std::fs::read_to_string(&canonical) {
                Ok(text) => Some(sources.add(shown.display().to_string(), Some(canonical), text)),
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::UseNotFound,
                            path.span,
                            format!("cannot read `{}`: {}", shown.display(), io_reason(&e)),
                            "this file",
                        )
                        .with_help(
                            "paths in `use` are relative to the file that contains the `use`",
                        ),
                    );
                    None
                }
            }
        }
    }
}

/// The reason a file could not be read, without the OS's error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}
