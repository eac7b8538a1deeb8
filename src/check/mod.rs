//! Syntax trees to a checked [`Program`]: loads the files a protocol uses, resolves every
//! name, checks units by dimension, types every expression, and runs the lints. All
//! problems are collected, sorted by position; a program is produced only without errors.

mod decls;
mod expr;
mod lints;
mod load;
mod order;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::ast::{self, Item};
use crate::diagnostic::{self, Code, Diagnostic};
use crate::program::{
    AnchorId, AnchorInfo, Concept, ConceptId, ConceptSet, Criterion, DefineId, Definition, Program,
};
use crate::source::{FileId, SourceMap, Span};

pub use load::BUILTIN_LIBRARIES;
pub use order::{MAX_CHECKS, MAX_DEPTH};

/// The result of compiling one protocol.
#[derive(Debug)]
pub struct Compilation {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// The main file.
    pub main: FileId,
    /// The program, when there are no errors.
    pub program: Option<Program>,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the protocol in a file. I/O errors on the main file are returned as `Err`.
pub fn compile_file(path: &Path) -> std::io::Result<Compilation> {
    let text = load::read_protocol_file(path)?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut sources = SourceMap::new();
    let main = sources.add(path.display().to_string(), Some(canonical), text);
    Ok(compile(sources, main))
}

/// Compiles a protocol given as text; `use "file"` paths resolve relative to `dir` if given.
pub fn compile_text(name: &str, text: &str, dir: Option<&Path>) -> Compilation {
    let mut sources = SourceMap::new();
    let path = dir.map(|d| d.join(name));
    let main = sources.add(name, path, text);
    compile(sources, main)
}

/// Compiles the file `main` of `sources` and everything it uses.
pub fn compile(mut sources: SourceMap, main: FileId) -> Compilation {
    let mut diagnostics = Vec::new();
    let loaded = load::load_all(&mut sources, main, &mut diagnostics);
    for l in &loaded {
        if let Some(source) = sources.get(l.file) {
            lints::text_direction(source, &mut diagnostics);
        }
    }
    let program = {
        let mut checker = Checker::new(main, &loaded);
        let program = checker.run();
        diagnostics.append(&mut checker.diags);
        program
    };
    diagnostic::sort(&mut diagnostics);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Compilation {
        sources,
        main,
        program: if has_errors { None } else { program },
        diagnostics,
    }
}

/// What a name in the shared namespace refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Symbol {
    Concept(ConceptId),
    Set(usize),
    Define(usize),
}

/// A set declaration and its flattening state.
struct SetEntry<'a> {
    decl: &'a ast::SetDecl,
    file: FileId,
    members: Option<Vec<ConceptId>>,
    in_progress: bool,
}

/// The state of a definition's check.
#[derive(Clone)]
enum DefState {
    Unchecked,
    InProgress,
    Failed,
    Bool(DefineId),
    Value(expr::ValueExpr),
}

struct DefEntry<'a> {
    decl: &'a ast::DefineDecl,
    file: FileId,
    state: DefState,
}

/// An equivalence table, resolved.
struct Equivalence {
    set: String,
    reference: String,
    factors: HashMap<ConceptId, rust_decimal::Decimal>,
    /// Whether every member has a valid factor.
    complete: bool,
}

/// The checker's state over all loaded files.
struct Checker<'a> {
    main: FileId,
    loaded: &'a [load::Loaded],
    diags: Vec<Diagnostic>,
    names: HashMap<String, (Symbol, Span)>,
    concepts: Vec<Concept>,
    concept_files: Vec<FileId>,
    sets: Vec<SetEntry<'a>>,
    defines: Vec<DefEntry<'a>>,
    definitions: Vec<Definition>,
    anchors: Vec<AnchorInfo>,
    anchor_ids: HashMap<String, AnchorId>,
    equivalences: Vec<Equivalence>,
    used: HashSet<Symbol>,
    used_anchors: HashSet<AnchorId>,
    /// Anchors taken from the record's events (`anchor x = last ...`).
    derived_anchors: HashSet<AnchorId>,
    criterion_ids: HashMap<String, Span>,
    /// Names declared in parts that did not parse: not reported again as unknown.
    recovered: HashSet<String>,
    /// Definitions being checked, innermost last, to report cycles as chains.
    define_stack: Vec<usize>,
    /// Code systems named by URL (`codesystem NAME = "URL"`), from every file.
    code_systems: Vec<crate::program::DeclaredCodeSystem>,
}

impl<'a> Checker<'a> {
    fn new(main: FileId, loaded: &'a [load::Loaded]) -> Checker<'a> {
        Checker {
            main,
            loaded,
            diags: Vec::new(),
            names: HashMap::new(),
            concepts: Vec::new(),
            concept_files: Vec::new(),
            sets: Vec::new(),
            defines: Vec::new(),
            definitions: Vec::new(),
            anchors: Vec::new(),
            anchor_ids: HashMap::new(),
            equivalences: Vec::new(),
            used: HashSet::new(),
            used_anchors: HashSet::new(),
            derived_anchors: HashSet::new(),
            criterion_ids: HashMap::new(),
            define_stack: Vec::new(),
            code_systems: Vec::new(),
            recovered: loaded
                .iter()
                .flat_map(|l| l.recovered_names.iter().cloned())
                .collect(),
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(&mut self) -> Option<Program> {
        let loaded = self.loaded;
        // Pass 0: code systems, which concepts' codes refer to.
        for l in loaded {
            for item in &l.module.items {
                if let Item::CodeSystem(c) = item {
                    self.declare_code_system(c);
                }
            }
        }
        // Pass 1: declare every name, so order of declaration never matters.
        for l in loaded {
            for item in &l.module.items {
                self.declare(l.file, item);
            }
        }
        // Pass 2: sets, equivalences, definitions, then criteria.
        for i in self.set_order() {
            self.flatten_set(i);
        }
        for l in loaded {
            for item in &l.module.items {
                if let Item::Equivalence(eq) = item {
                    self.equivalence(eq);
                }
            }
        }
        self.derived_anchor_events();
        self.check_definitions();
        let (title, version) = self.header();
        let mut criteria = Vec::new();
        for l in loaded {
            for item in &l.module.items {
                if let Item::Criterion(c) = item {
                    if l.file != self.main {
                        self.error(
                            Diagnostic::new(Code::InvalidDeclaration, c.id.span, "criteria belong in the protocol file, not in a library", "criterion in a library")
                                .with_help("move the criterion into the protocol, or turn it into a `define` the protocol can use"),
                        );
                        continue;
                    }
                    if let Some(checked) = self.criterion(c, None) {
                        criteria.push(checked);
                    }
                }
            }
        }
        let definitions = std::mem::take(&mut self.definitions);
        self.definition_limits(&definitions, &criteria);
        self.definitions = definitions;
        self.unused_lints();
        let body_weight = match self.names.get("body_weight") {
            Some((Symbol::Concept(id), _)) => Some(*id),
            _ => None,
        };
        let sets = self
            .sets
            .iter()
            .map(|s| ConceptSet {
                name: s.decl.name.name.clone(),
                label: s
                    .decl
                    .label
                    .as_ref()
                    .map_or_else(|| s.decl.name.name.clone(), |l| l.value.clone()),
                kind: s.decl.kind,
                members: s.members.clone().unwrap_or_default(),
                span: s.decl.span,
            })
            .collect();
        Some(Program {
            title,
            version,
            anchors: self.anchors.clone(),
            concepts: self.concepts.clone(),
            sets,
            definitions: std::mem::take(&mut self.definitions),
            criteria,
            body_weight,
            code_systems: std::mem::take(&mut self.code_systems),
        })
    }

    /// The main file's `protocol` line; exactly one, and only there.
    fn header(&mut self) -> (String, Option<String>) {
        let mut found: Option<&ast::ProtocolDecl> = None;
        let loaded = self.loaded;
        for l in loaded {
            for item in &l.module.items {
                let Item::Protocol(p) = item else { continue };
                if l.file != self.main {
                    self.error(
                        Diagnostic::new(
                            Code::ProtocolHeader,
                            p.span,
                            "a library file cannot have a `protocol` line",
                            "in a library",
                        )
                        .with_help(
                            "only the protocol file that is checked or run says `protocol \"...\"`",
                        ),
                    );
                } else if let Some(first) = found {
                    self.error(
                        Diagnostic::new(
                            Code::ProtocolHeader,
                            p.span,
                            "a second `protocol` line",
                            "second header",
                        )
                        .with_related(first.span, "first header here")
                        .with_help("keep one `protocol \"title\" version \"...\"` line"),
                    );
                } else {
                    found = Some(p);
                }
            }
        }
        match found {
            Some(p) => (
                p.title.value.clone(),
                p.version.as_ref().map(|v| v.value.clone()),
            ),
            None => {
                let has_criteria = loaded.iter().filter(|l| l.file == self.main).any(|l| {
                    l.module
                        .items
                        .iter()
                        .any(|i| matches!(i, Item::Criterion(_)))
                });
                if has_criteria {
                    self.error(
                        Diagnostic::new(
                            Code::ProtocolHeader,
                            Span::new(self.main, 0, 0),
                            "the protocol has no `protocol` line",
                            "expected at the top",
                        )
                        .with_help("start the file with `protocol \"Title\" version \"1.0\"`"),
                    );
                }
                (String::new(), None)
            }
        }
    }

    /// Resolves an anchor name.
    fn anchor(&mut self, name: &ast::Ident) -> Option<AnchorId> {
        if let Some(id) = self.anchor_ids.get(&name.name) {
            self.used_anchors.insert(*id);
            return Some(*id);
        }
        if self.recovered.contains(&name.name) {
            return None;
        }
        // A calendar date (the grammar allows only `YYYY-MM-DD` here): an anchor whose date
        // is the same for every patient.
        if name.name.starts_with(|c: char| c.is_ascii_digit()) {
            let Ok(date) = chrono::NaiveDate::parse_from_str(&name.name, "%Y-%m-%d") else {
                self.error(
                    Diagnostic::new(
                        Code::InvalidDate,
                        name.span,
                        format!("`{}` is not a date of the calendar", name.name),
                        "no such day",
                    )
                    .with_help("write a day that exists, as YEAR-MONTH-DAY: `2010-01-01`"),
                );
                return None;
            };
            let id = AnchorId(u32::try_from(self.anchors.len()).unwrap_or(u32::MAX));
            self.anchor_ids.insert(name.name.clone(), id);
            self.used_anchors.insert(id);
            self.anchors.push(AnchorInfo {
                name: name.name.clone(),
                label: None,
                fixed: Some(date),
                event: None,
                span: name.span,
            });
            return Some(id);
        }
        let mut d = Diagnostic::new(
            Code::UnknownName,
            name.span,
            format!("unknown anchor `{}`", name.name),
            "no anchor has this name",
        );
        let help =
            diagnostic::did_you_mean(&name.name, self.anchors.iter().map(|a| a.name.as_str()))
                .unwrap_or_else(|| format!("declare it: `anchor {}`", name.name));
        d = d.with_help(help);
        self.error(d);
        None
    }

    /// Marks a symbol as used.
    fn mark_used(&mut self, symbol: Symbol) {
        self.used.insert(symbol);
    }

    /// The file a symbol is declared in.
    fn symbol_file(&self, symbol: Symbol) -> Option<FileId> {
        match symbol {
            Symbol::Concept(id) => self.concept_files.get(id.0 as usize).copied(),
            Symbol::Set(i) => self.sets.get(i).map(|s| s.file),
            Symbol::Define(i) => self.defines.get(i).map(|d| d.file),
        }
    }

    fn criterion(&mut self, c: &ast::Criterion, parent: Option<&str>) -> Option<Criterion> {
        if let Some(first) = self.criterion_ids.get(&c.id.name).copied() {
            self.error(
                Diagnostic::new(
                    Code::DuplicateCriterionId,
                    c.id.span,
                    format!("two criteria have the id `{}`", c.id.name),
                    "second use of the id",
                )
                .with_related(first, "first used here")
                .with_help(
                    "ids must be unique: they are how amendments and reports refer to criteria",
                ),
            );
        } else {
            self.criterion_ids.insert(c.id.name.clone(), c.id.span);
        }
        if let Some(parent) = parent {
            if !c.id.name.starts_with(&format!("{parent}.")) {
                self.error(
                    Diagnostic::new(Code::SubCriterionId, c.id.span, format!("sub-criterion `{}` of `{parent}` has an id that does not start with `{parent}.`", c.id.name), "unexpected id")
                        .with_help(format!("number sub-criteria under their parent, e.g. `{parent}.1`")),
                );
            }
        }
        let applies = c.applies.as_ref().and_then(|e| self.cond(e));
        let body = match &c.body {
            ast::CriterionBody::Rule { expr, unless } => {
                let cond = self.cond(expr);
                let unless = unless.as_ref().and_then(|e| self.cond(e));
                if let Some(cond) = &cond {
                    lints::contradictory_bounds(self, cond);
                }
                crate::program::CriterionBody::Rule {
                    cond: cond?,
                    unless,
                }
            }
            ast::CriterionBody::Group(children) => {
                if children.is_empty() {
                    self.error(
                        Diagnostic::new(Code::Empty, c.id.span, format!("the group `{}` has no sub-criteria", c.id.name), "empty group")
                            .with_help("add sub-criteria such as `I4.1 \"wording\": rule`, or give the criterion a rule after `:`; an empty group is never applicable"),
                    );
                }
                let checked: Vec<Criterion> = children
                    .iter()
                    .filter_map(|child| self.criterion(child, Some(&c.id.name)))
                    .collect();
                crate::program::CriterionBody::Group(checked)
            }
        };
        let quantifier = c
            .quantifier
            .as_ref()
            .and_then(|q| self.quantifier(q, &c.body));
        Some(Criterion {
            kind: c.kind,
            id: c.id.name.as_str().into(),
            wording: c.wording.value.as_str().into(),
            applies,
            quantifier,
            body,
            span: c.span,
        })
    }

    /// `at least N of`: N a whole number from 1 to the number of sub-criteria.
    fn quantifier(
        &mut self,
        q: &ast::GroupQuantifier,
        body: &ast::CriterionBody,
    ) -> Option<crate::program::Quantifier> {
        use crate::program::Quantifier;
        let children = match body {
            ast::CriterionBody::Group(children) => children.len(),
            ast::CriterionBody::Rule { .. } => 0,
        };
        match &q.kind {
            ast::QuantifierKind::All => Some(Quantifier::All),
            ast::QuantifierKind::Any => Some(Quantifier::Any),
            ast::QuantifierKind::AtLeast(n) => {
                let whole = u32::try_from(n.value.trunc().mantissa())
                    .ok()
                    .filter(|_| n.value.fract().is_zero() && n.value.scale() == 0);
                match whole {
                    Some(k) if k >= 1 && (k as usize) <= children => Some(Quantifier::AtLeast(k)),
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::InvalidGroup,
                                n.span,
                                format!(
                                    "`at least {}` does not fit a group of {children} sub-criteria: it counts how many must be met",
                                    n.value
                                ),
                                "not a count from 1 to the number of sub-criteria",
                            )
                            .with_help(format!(
                                "write a whole number from 1 to {children}, or `any of` / `all of`"
                            )),
                        );
                        None
                    }
                }
            }
        }
    }

    fn unused_lints(&mut self) {
        lints::unused(self);
    }
}
