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

/// The largest protocol or library file read, unless `ELIGC_MAX_PROTOCOL_BYTES` says
/// otherwise: 1 MiB (the standard library is about 50 KB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 20;

/// The size cap on protocol and library files: `ELIGC_MAX_PROTOCOL_BYTES`, or
/// [`DEFAULT_MAX_FILE_BYTES`].
pub fn max_file_bytes() -> u64 {
    std::env::var("ELIGC_MAX_PROTOCOL_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_FILE_BYTES)
}

/// Reads a protocol or library file: a regular file (not a directory, device or FIFO) of at
/// most [`max_file_bytes`], as UTF-8 text.
pub fn read_protocol_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", file_kind(&meta)),
        ));
    }
    let cap = max_file_bytes();
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "larger than {cap} bytes, the most a protocol file may be (set ELIGC_MAX_PROTOCOL_BYTES to allow more)"
            ),
        )
    };
    if meta.len() > cap {
        return Err(too_large());
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(cap.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(text)
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// The folders `use "PATH"` may read from: the main file's folder tree, and the library
/// folders of `ELIGC_PATH` (canonical, so `..` and symbolic links cannot leave them).
struct Roots {
    folders: Vec<PathBuf>,
    libraries: Vec<PathBuf>,
}

impl Roots {
    fn new(sources: &SourceMap, main: FileId) -> Roots {
        let main_dir = sources
            .get(main)
            .and_then(|s| s.dir().map(Path::to_path_buf))
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        let libraries: Vec<PathBuf> = std::env::var_os("ELIGC_PATH")
            .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.as_os_str().is_empty())
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        let folders = std::iter::once(main_dir)
            .filter_map(|d| d.canonicalize().ok())
            .chain(libraries.iter().cloned())
            .collect();
        Roots { folders, libraries }
    }

    fn allows(&self, canonical: &Path) -> bool {
        self.folders.iter().any(|r| canonical.starts_with(r))
    }
}

/// Loads the main file (already in `sources`) and, depth first, everything it uses.
pub fn load_all(
    sources: &mut SourceMap,
    main: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Loaded> {
    let roots = Roots::new(sources, main);
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut stack: Vec<FileId> = Vec::new();
    visit(sources, &roots, main, &mut loaded, &mut stack, diagnostics);
    loaded
}

fn visit(
    sources: &mut SourceMap,
    roots: &Roots,
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
        let target = resolve(sources, roots, &source, use_decl, diagnostics);
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
                visit(sources, roots, target, loaded, stack, diagnostics);
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
    roots: &Roots,
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
            let beside: PathBuf = match from.dir() {
                Some(dir) => dir.join(relative),
                None => relative.to_path_buf(),
            };
            // Beside the importing file first, then in the library folders (ELIGC_PATH).
            let found = std::iter::once(beside.clone())
                .chain(
                    roots
                        .libraries
                        .iter()
                        .filter(|_| relative.is_relative())
                        .map(|lib| lib.join(relative)),
                )
                .find(|p| p.exists())
                .unwrap_or(beside);
            // Shown to people as the importing file's name would lead to it, not as an
            // absolute path.
            let shown = match Path::new(&from.name).parent() {
                Some(parent) if from.path.is_some() => parent.join(relative),
                _ => relative.to_path_buf(),
            };
            let shown = shown.display().to_string();
            let refuse = |code: Code, message: String, help: &str| {
                Diagnostic::new(code, path.span, message, "this file").with_help(help.to_string())
            };
            let canonical = match found.canonicalize() {
                Ok(c) => c,
                Err(e) => {
                    diagnostics.push(refuse(
                        Code::UseNotFound,
                        format!("cannot read `{shown}`: {}", io_reason(&e)),
                        "paths in `use` are relative to the file that contains the `use`",
                    ));
                    return None;
                }
            };
            if let Some(existing) = sources.find_path(&canonical) {
                return Some(existing);
            }
            // `..`, an absolute path or a symbolic link leading out of the protocol's
            // folder would read (and quote) any file: refused.
            if !roots.allows(&canonical) {
                diagnostics.push(refuse(
                    Code::UseOutsideFolder,
                    format!("`{shown}` is outside the protocol's folder"),
                    "a protocol uses files in its own folder and the folders below it (after following `..` and symbolic links), or in a library folder listed in ELIGC_PATH",
                ));
                return None;
            }
            let is_file = std::fs::metadata(&canonical).map(|m| (m.is_file(), m));
            if let Ok((false, meta)) = &is_file {
                diagnostics.push(refuse(
                    Code::UseRefused,
                    format!("`{shown}` is not a regular file ({})", file_kind(meta)),
                    "`use` reads `.elig` files",
                ));
                return None;
            }
            // Only eligc files are read, so a diagnostic never quotes another file's text.
            if canonical.extension().is_none_or(|e| e != "elig") {
                diagnostics.push(refuse(
                    Code::UseRefused,
                    format!("`{shown}` is not a `.elig` file"),
                    "`use` reads `.elig` files",
                ));
                return None;
            }
            match read_protocol_file(&canonical) {
                Ok(text) => Some(sources.add(shown, Some(canonical), text)),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    diagnostics.push(refuse(
                        Code::UseRefused,
                        format!("`{shown}` is {e}"),
                        "`use` reads `.elig` files",
                    ));
                    None
                }
                Err(e) => {
                    diagnostics.push(refuse(
                        Code::UseNotFound,
                        format!("cannot read `{shown}`: {}", io_reason(&e)),
                        "paths in `use` are relative to the file that contains the `use`",
                    ));
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
