//! Declarations: concepts, sets, equivalence tables, anchors and definitions enter the one
//! namespace; name lookups with "did you mean" and kind checks.

use rust_decimal::Decimal;

use super::{Checker, DefEntry, DefState, Equivalence, SetEntry, Symbol};
use crate::ast::{self, ConceptKind, Item, SetKind, ValueSpec};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::program::{AnchorId, AnchorInfo, CodeSystem, Concept, ConceptId, DefineId, Definition};
use crate::source::{FileId, Span};
use crate::units;

/// Who may attest.
pub(super) const ATTESTERS: &[&str] = &["investigator", "patient"];

/// What a name was looked up as, for messages and for the kind check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// A single concept of this kind, or a set of them.
    ConceptOrSet(ConceptKind),
    /// A concept of one of these kinds.
    Concept(&'static [ConceptKind]),
    /// A set.
    Set,
}

impl Expect {
    fn describe(self) -> String {
        match self {
            Expect::ConceptOrSet(k) => format!("{} or a set of them", with_article(k)),
            Expect::Concept(kinds) => kinds
                .iter()
                .map(|k| with_article(*k))
                .collect::<Vec<_>>()
                .join(" or "),
            Expect::Set => "a set".to_string(),
        }
    }
}

/// "an observation", "a drug".
fn with_article(kind: ConceptKind) -> String {
    let word = kind.keyword();
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}

/// How to declare a missing name of the expected kind.
fn declaration_hint(name: &str, expect: Expect) -> String {
    let example = |kind: ConceptKind| match kind {
        ConceptKind::Observation => {
            format!("observation {name} \"Label\" unit mg/dL codes [loinc:...]")
        }
        ConceptKind::Score => format!("score {name} \"Label\" codes [loinc:...]"),
        ConceptKind::Condition => {
            format!("condition {name} \"Label\" codes [snomed:..., icd10:...]")
        }
        ConceptKind::Drug => format!("drug {name} \"Label\" codes [rxnorm:...]"),
        ConceptKind::Vaccine => format!("vaccine {name} \"Label\" codes [cvx:...]"),
        ConceptKind::Procedure => format!("procedure {name} \"Label\" codes [snomed:...]"),
        ConceptKind::Encounter => format!("encounter {name} \"Label\" codes [actcode:IMP]"),
        ConceptKind::Study => format!("study {name} \"Label\" codes [nct:NCT...]"),
        ConceptKind::Attestation => format!("attestation {name} \"Label\" by investigator"),
        ConceptKind::Site => format!("site {name} \"Label\" codes [snomed:...]"),
    };
    match expect {
        Expect::ConceptOrSet(k) => format!("declare it: `{}`", example(k)),
        Expect::Concept(kinds) => format!(
            "declare it: `{}`",
            kinds.first().map_or_else(String::new, |k| example(*k))
        ),
        Expect::Set => format!("declare it: `set {name} = drugs {{ ... }}`"),
    }
}

/// A resolved name.
#[derive(Clone, Debug)]
pub(super) enum Resolved {
    Concept(ConceptId),
    Set(usize),
}

impl<'a> Checker<'a> {
    pub(super) fn declare(&mut self, file: FileId, item: &'a Item) {
        match item {
            Item::Concept(c) => self.declare_concept(file, c),
            Item::Set(s) => {
                if self.claim_name(&s.name, Symbol::Set(self.sets.len())) {
                    self.sets.push(SetEntry {
                        decl: s,
                        file,
                        members: None,
                        in_progress: false,
                    });
                }
            }
            Item::Define(d) => {
                if self.claim_name(&d.name, Symbol::Define(self.defines.len())) {
                    self.defines.push(DefEntry {
                        decl: d,
                        file,
                        state: DefState::Unchecked,
                    });
                }
            }
            Item::Anchor(a) => {
                for anchor in &a.anchors {
                    if self.reserved(&anchor.name) {
                        continue;
                    }
                    if let Some(id) = self.anchor_ids.get(&anchor.name.name) {
                        let first = self
                            .anchors
                            .get(id.0 as usize)
                            .map_or(anchor.span, |a| a.span);
                        self.error(
                            Diagnostic::new(
                                Code::DuplicateName,
                                anchor.name.span,
                                format!("the anchor `{}` is declared twice", anchor.name.name),
                                "declared again",
                            )
                            .with_related(first, "first declared here")
                            .with_help("remove one of the declarations"),
                        );
                        continue;
                    }
                    let id = AnchorId(u32::try_from(self.anchors.len()).unwrap_or(u32::MAX));
                    self.anchor_ids.insert(anchor.name.name.clone(), id);
                    if anchor.event.is_some() {
                        self.derived_anchors.insert(id);
                    }
                    self.anchors.push(AnchorInfo {
                        name: anchor.name.name.clone(),
                        label: anchor.label.as_ref().map(|l| l.value.clone()),
                        fixed: None,
                        event: None,
                        span: anchor.name.span,
                    });
                }
            }
            Item::Protocol(_)
            | Item::Use(_)
            | Item::CodeSystem(_)
            | Item::Equivalence(_)
            | Item::Criterion(_) => {}
        }
    }

    /// `codesystem NAME = "URL"`: a name not taken by a built-in system or another
    /// declaration, and an absolute URI that no built-in system or other name has.
    pub(super) fn declare_code_system(&mut self, c: &ast::CodeSystemDecl) {
        let name = &c.name.name;
        let url = c.url.value.as_str();
        let invalid = |span: Span, message: String, label: &str, help: String| {
            Diagnostic::new(Code::InvalidCodeSystem, span, message, label).with_help(help)
        };
        if CodeSystem::from_name(name).is_some() || name == "url" {
            self.error(invalid(
                c.name.span,
                format!("`{name}` is a code system eligc already has"),
                "built-in name",
                format!(
                    "write its codes `{name}:...` without declaring it, or choose another name"
                ),
            ));
            return;
        }
        if let Some(first) = self.code_systems.iter().find(|s| s.name == *name) {
            let first = first.span;
            self.error(
                Diagnostic::new(
                    Code::DuplicateName,
                    c.name.span,
                    format!("the code system `{name}` is declared twice"),
                    "declared again",
                )
                .with_related(first, "first declared here")
                .with_help("remove one of the declarations"),
            );
            return;
        }
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        let absolute = !scheme.is_empty()
            && scheme.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'))
            && url.len() > scheme.len() + 1;
        if !absolute || url.chars().any(|ch| ch.is_whitespace() || ch == '|') {
            self.error(invalid(
                c.url.span,
                format!("`{url}` is not a code system URL"),
                "not an absolute URI",
                "write the `system` URL FHIR codings give, e.g. `\"http://example.org/fhir/sledai\"` or `\"urn:oid:2.16.840.1.113883.6.1\"` (no spaces, no `|`)".to_string(),
            ));
            return;
        }
        if let Some(builtin) = crate::facts::fhir::known_system(url) {
            self.error(invalid(
                c.url.span,
                format!("`{url}` is {builtin}, a code system eligc already has"),
                "built-in system",
                format!("write its codes `{builtin}:...` without declaring it"),
            ));
            return;
        }
        let normalised = url.trim_end_matches('/');
        if let Some(first) = self
            .code_systems
            .iter()
            .find(|s| s.url.trim_end_matches('/') == normalised)
        {
            let (first_name, first_span) = (first.name.clone(), first.span);
            self.error(
                invalid(
                    c.url.span,
                    format!("`{url}` is already the code system `{first_name}`"),
                    "declared again",
                    format!("write its codes `{first_name}:...` and remove this declaration"),
                )
                .with_related(first_span, "first declared here"),
            );
            return;
        }
        self.code_systems.push(crate::program::DeclaredCodeSystem {
            name: name.clone(),
            url: normalised.to_string(),
            span: c.span,
        });
    }

    /// Reports a declared name that is a reserved word (it could never be referred to).
    fn reserved(&mut self, name: &ast::Ident) -> bool {
        if !crate::syntax::KEYWORDS.contains(&name.name.as_str()) {
            return false;
        }
        self.error(
            Diagnostic::new(
                Code::InvalidDeclaration,
                name.span,
                format!("`{}` is a reserved word and cannot be a name", name.name),
                "reserved word",
            )
            .with_help(format!("choose another name, e.g. `{}_value`", name.name)),
        );
        true
    }

    /// Enters a name; reports a duplicate and returns false if taken.
    fn claim_name(&mut self, name: &ast::Ident, symbol: Symbol) -> bool {
        if self.reserved(name) {
            return false;
        }
        if let Some((_, first)) = self.names.get(&name.name) {
            let first = *first;
            self.error(
                Diagnostic::new(Code::DuplicateName, name.span, format!("`{}` is declared twice", name.name), "declared again")
                    .with_related(first, "first declared here")
                    .with_help("names of concepts, sets and definitions share one namespace; rename or remove one"),
            );
            return false;
        }
        self.names.insert(name.name.clone(), (symbol, name.span));
        true
    }

    fn declare_concept(&mut self, file: FileId, c: &ast::ConceptDecl) {
        let id = ConceptId(u32::try_from(self.concepts.len()).unwrap_or(u32::MAX));
        if !self.claim_name(&c.name, Symbol::Concept(id)) {
            return;
        }
        let mut unit = None;
        let mut qualitative = false;
        match (c.kind, &c.value) {
            (ConceptKind::Observation, Some(ValueSpec::Unit(u))) => unit = self.unit(u),
            (ConceptKind::Observation, Some(ValueSpec::Qualitative(_))) => qualitative = true,
            (ConceptKind::Observation, None) => self.error(
                Diagnostic::new(
                    Code::InvalidDeclaration,
                    c.name.span,
                    format!(
                        "observation `{}` says neither its unit nor that it is qualitative",
                        c.name.name
                    ),
                    "no value type",
                )
                .with_help(
                    "add `unit mg/dL` (its canonical unit) or `qualitative` after the label",
                ),
            ),
            (ConceptKind::Score, None) => unit = units::parse_unit("points").ok(),
            (kind, Some(spec)) => {
                let span = match spec {
                    ValueSpec::Unit(u) => u.span,
                    ValueSpec::Qualitative(span) => *span,
                };
                self.error(
                    Diagnostic::new(
                        Code::InvalidDeclaration,
                        span,
                        format!("a {} has no value type", kind.keyword()),
                        "not allowed here",
                    )
                    .with_help(if kind == ConceptKind::Score {
                        "scores are in points; remove the value type"
                    } else {
                        "only observations carry `unit ...` or `qualitative`"
                    }),
                );
            }
            (_, None) => {}
        }
        let normal = match (&c.normal, &unit) {
            (None, _) => None,
            (Some((low, high)), Some(_)) if !qualitative && c.kind == ConceptKind::Observation => {
                if low.value > high.value {
                    self.error(
                        Diagnostic::new(
                            Code::InvalidDeclaration,
                            low.span.to(high.span),
                            "the lower limit of the normal range is above the upper limit",
                            "reversed range",
                        )
                        .with_help(format!("write `normal {} to {}`", high.value, low.value)),
                    );
                }
                Some(crate::program::ReferenceRange {
                    low: Some(low.value),
                    high: Some(high.value),
                })
            }
            (Some((low, high)), _) => {
                self.error(
                    Diagnostic::new(
                        Code::InvalidDeclaration,
                        low.span.to(high.span),
                        format!(
                            "`{}` has no numeric results, so no normal range",
                            c.name.name
                        ),
                        "not allowed here",
                    )
                    .with_help("`normal LOW to HIGH` belongs on observations with a unit"),
                );
                None
            }
        };
        let molar_mass = match &c.molar_mass {
            None => None,
            Some((mass, written)) => self.molar_mass(c, unit.as_ref(), qualitative, mass, written),
        };
        let attested_by = match (&c.by, c.kind) {
            (Some(by), ConceptKind::Attestation) => {
                if !ATTESTERS.contains(&by.name.as_str()) {
                    let help = did_you_mean(&by.name, ATTESTERS.iter().copied())
                        .unwrap_or_else(|| format!("write one of: {}", ATTESTERS.join(", ")));
                    self.error(
                        Diagnostic::new(
                            Code::InvalidDeclaration,
                            by.span,
                            format!("`{}` cannot attest", by.name),
                            "unknown attester",
                        )
                        .with_help(help),
                    );
                }
                Some(by.name.clone())
            }
            (Some(by), kind) => {
                self.error(
                    Diagnostic::new(
                        Code::InvalidDeclaration,
                        by.span,
                        format!("a {} is not attested by anyone", kind.keyword()),
                        "not allowed here",
                    )
                    .with_help("`by investigator` / `by patient` belongs on attestations"),
                );
                None
            }
            (None, _) => None,
        };
        let mut codes = Vec::new();
        for code in &c.codes {
            let declared = self
                .code_systems
                .iter()
                .find(|s| s.name == code.system.name)
                .map(|s| s.url.clone());
            match (CodeSystem::from_name(&code.system.name), declared) {
                (Some(system), _) => codes.push((system, code.value.clone())),
                (None, Some(url)) => {
                    codes.push((CodeSystem::Url, format!("{url}|{}", code.value)));
                }
                (None, None) => {
                    let declared: Vec<String> =
                        self.code_systems.iter().map(|s| s.name.clone()).collect();
                    let names = CodeSystem::ALL
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(declared.iter().map(String::as_str));
                    let help = did_you_mean(&code.system.name, names).unwrap_or_else(|| {
                        format!(
                            "known systems: {}; a system eligc has no name for is declared by its URL: `codesystem {} = \"http://...\"`",
                            CodeSystem::ALL
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", "),
                            code.system.name
                        )
                    });
                    self.error(
                        Diagnostic::new(
                            Code::UnknownCodeSystem,
                            code.system.span,
                            format!("unknown code system `{}`", code.system.name),
                            "unknown system",
                        )
                        .with_help(help),
                    );
                }
            }
        }
        self.concepts.push(Concept {
            kind: c.kind,
            name: c.name.name.clone(),
            label: c
                .label
                .as_ref()
                .map_or_else(|| c.name.name.clone(), |l| l.value.clone()),
            unit,
            qualitative,
            normal,
            molar_mass,
            attested_by,
            codes,
            span: c.name.span,
        });
        self.concept_files.push(file);
    }

    /// Parses a unit, reporting it if it is not one.
    /// Checks `molar mass M g/mol` on a concept: a quantitative observation, a positive
    /// value, a mass per amount of substance.
    fn molar_mass(
        &mut self,
        c: &ast::ConceptDecl,
        unit: Option<&units::Unit>,
        qualitative: bool,
        mass: &ast::Number,
        written: &ast::UnitLit,
    ) -> Option<units::MolarMass> {
        let span = mass.span.to(written.span);
        if c.kind != ConceptKind::Observation || qualitative || unit.is_none() {
            self.error(
                Diagnostic::new(
                    Code::InvalidDeclaration,
                    span,
                    format!("`{}` has no numeric results, so no molar mass", c.name.name),
                    "not allowed here",
                )
                .with_help("`molar mass ... g/mol` belongs on observations with a unit"),
            );
            return None;
        }
        let mass_unit = self.unit(written)?;
        if !units::MolarMass::is_mass_per_amount(&mass_unit) {
            self.error(
                Diagnostic::new(
                    Code::UnitMismatch,
                    written.span,
                    format!(
                        "a molar mass is a mass per amount of substance, not `{}`",
                        written.text
                    ),
                    mass_unit.dimension().describe(),
                )
                .with_help(format!(
                    "write it as a mass per amount of substance: `molar mass {} g/mol`",
                    mass.value
                )),
            );
            return None;
        }
        if mass.value <= Decimal::ZERO {
            self.error(
                Diagnostic::new(
                    Code::InvalidDeclaration,
                    mass.span,
                    "a molar mass is positive",
                    "not positive",
                )
                .with_help(
                    "write the analyte's molar mass in g/mol, e.g. `molar mass 113.12 g/mol`",
                ),
            );
            return None;
        }
        Some(units::MolarMass {
            value: mass.value,
            unit: mass_unit,
        })
    }

    pub(super) fn unit(&mut self, u: &ast::UnitLit) -> Option<units::Unit> {
        if matches!(u.text.as_str(), "ULN" | "LLN" | "xULN" | "xLLN") {
            let bound = u.text.trim_start_matches('x');
            self.error(
                Diagnostic::new(
                    Code::UnknownUnit,
                    u.span,
                    format!("`{}` is a reference limit, not a unit", u.text),
                    "not a unit",
                )
                .with_help(format!(
                    "a multiple of the limit is written with `x`: `3 x {bound}`"
                )),
            );
            return None;
        }
        match units::parse_unit(&u.text) {
            Ok(unit) => Some(unit),
            Err(e) => {
                let mut d = Diagnostic::new(
                    Code::UnknownUnit,
                    u.span,
                    format!("`{}` is not a unit eligc knows: {}", u.text, e.message),
                    "unknown unit",
                );
                if let Some(s) = e.suggestion {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_help("units follow UCUM: `mg/dL`, `10*9/L`, `mL/min/1.73m2`, `%`; see docs/language.md");
                }
                self.error(d);
                None
            }
        }
    }

    /// Looks a name up, marks it used and checks its kind.
    pub(super) fn resolve(&mut self, name: &ast::Ident, expect: Expect) -> Option<Resolved> {
        let Some((symbol, _)) = self.names.get(&name.name).copied() else {
            self.unknown_name(name, expect);
            return None;
        };
        self.mark_used(symbol);
        let resolved = match symbol {
            Symbol::Concept(id) => {
                let kind = self.concepts.get(id.0 as usize).map(|c| c.kind);
                let fits = match (expect, kind) {
                    (Expect::ConceptOrSet(k), Some(kind)) => k == kind,
                    (Expect::Concept(kinds), Some(kind)) => kinds.contains(&kind),
                    _ => false,
                };
                if fits {
                    return Some(Resolved::Concept(id));
                }
                kind.map(with_article)
            }
            Symbol::Set(i) => {
                let set_kind = self.sets.get(i).map(|s| s.decl.kind);
                let fits = match (expect, set_kind) {
                    (Expect::ConceptOrSet(k), Some(sk)) => sk.member_kind() == k,
                    (Expect::Set, Some(_)) => true,
                    _ => false,
                };
                if fits {
                    return Some(Resolved::Set(i));
                }
                set_kind.map(|k| format!("a set of {}", k.keyword()))
            }
            Symbol::Define(_) => Some("a definition".to_string()),
        };
        let is = resolved.unwrap_or_else(|| "something else".to_string());
        self.error(
            Diagnostic::new(
                Code::WrongKind,
                name.span,
                format!(
                    "`{}` is {is}, but {} is needed here",
                    name.name,
                    expect.describe()
                ),
                format!("this is {is}"),
            )
            .with_help(format!("use {} here", expect.describe())),
        );
        None
    }

    fn unknown_name(&mut self, name: &ast::Ident, expect: Expect) {
        if self.recovered.contains(&name.name) {
            return;
        }
        let fits = |checker: &Checker<'_>, symbol: &Symbol| -> bool {
            match (symbol, expect) {
                (Symbol::Concept(id), Expect::ConceptOrSet(k)) => checker
                    .concepts
                    .get(id.0 as usize)
                    .is_some_and(|c| c.kind == k),
                (Symbol::Concept(id), Expect::Concept(kinds)) => checker
                    .concepts
                    .get(id.0 as usize)
                    .is_some_and(|c| kinds.contains(&c.kind)),
                (Symbol::Set(i), Expect::ConceptOrSet(k)) => checker
                    .sets
                    .get(*i)
                    .is_some_and(|s| s.decl.kind.member_kind() == k),
                (Symbol::Set(_), Expect::Set) => true,
                _ => false,
            }
        };
        let candidates: Vec<String> = self
            .names
            .iter()
            .filter(|(_, (s, _))| fits(self, s))
            .map(|(n, _)| n.clone())
            .collect();
        let mut sorted = candidates;
        sorted.sort();
        let help = did_you_mean(&name.name, sorted.iter().map(String::as_str))
            .or_else(|| {
                // A near match of another kind still helps.
                let mut all: Vec<&str> = self.names.keys().map(String::as_str).collect();
                all.sort_unstable();
                did_you_mean(&name.name, all)
            })
            .unwrap_or_else(|| declaration_hint(&name.name, expect));
        self.error(
            Diagnostic::new(
                Code::UnknownName,
                name.span,
                format!(
                    "unknown name `{}`: expected {}",
                    name.name,
                    expect.describe()
                ),
                "not declared",
            )
            .with_help(help),
        );
    }

    /// The concepts a resolved name stands for.
    pub(super) fn members(&self, resolved: &Resolved) -> Vec<ConceptId> {
        match resolved {
            Resolved::Concept(id) => vec![*id],
            Resolved::Set(i) => self
                .sets
                .get(*i)
                .and_then(|s| s.members.clone())
                .unwrap_or_default(),
        }
    }

    /// Flattens set `i`, following nested sets, reporting cycles and duplicates.
    /// The sets in an order where each comes after the sets it contains, found with an
    /// explicit stack: a chain of thousands of nested sets must not overflow the call stack.
    /// Flattened in this order, a set meets an unflattened member only through a cycle.
    pub(super) fn set_order(&self) -> Vec<usize> {
        let children: Vec<Vec<usize>> = self
            .sets
            .iter()
            .map(|s| {
                s.decl
                    .members
                    .iter()
                    .filter_map(|m| match self.names.get(&m.name) {
                        Some((Symbol::Set(j), _)) => Some(*j),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut seen = vec![false; self.sets.len()];
        let mut order = Vec::with_capacity(self.sets.len());
        for root in 0..self.sets.len() {
            if seen.get(root).copied().unwrap_or(true) {
                continue;
            }
            if let Some(s) = seen.get_mut(root) {
                *s = true;
            }
            // (set, index of its next member set to visit)
            let mut stack = vec![(root, 0usize)];
            while let Some((i, next)) = stack.last_mut() {
                let (i, child) = (*i, children.get(*i).and_then(|c| c.get(*next)).copied());
                *next += 1;
                match child {
                    Some(j) => {
                        if let Some(s) = seen.get_mut(j).filter(|s| !**s) {
                            *s = true;
                            stack.push((j, 0));
                        }
                    }
                    None => {
                        order.push(i);
                        stack.pop();
                    }
                }
            }
        }
        order
    }

    fn set_cycle(&mut self, decl: &ast::SetDecl) {
        self.error(
            Diagnostic::new(
                Code::SetCycle,
                decl.name.span,
                format!(
                    "the set `{}` contains itself through its members",
                    decl.name.name
                ),
                "part of a cycle",
            )
            .with_help("a set may include other sets, but not in a circle"),
        );
    }

    pub(super) fn flatten_set(&mut self, i: usize) -> Option<Vec<ConceptId>> {
        let (decl, in_progress, done) = {
            let entry = self.sets.get(i)?;
            (entry.decl, entry.in_progress, entry.members.clone())
        };
        if let Some(done) = done {
            return Some(done);
        }
        if in_progress {
            self.set_cycle(decl);
            return None;
        }
        if let Some(entry) = self.sets.get_mut(i) {
            entry.in_progress = true;
        }
        let kind = decl.kind.member_kind();
        if decl.members.is_empty() {
            self.error(
                Diagnostic::new(Code::Empty, decl.name.span, format!("the set `{}` has no members", decl.name.name), "empty set")
                    .with_help("list its members between the braces, or remove the set: a query on it can never match"),
            );
        }
        let mut members: Vec<ConceptId> = Vec::new();
        let mut seen_names: Vec<&ast::Ident> = Vec::new();
        for member in &decl.members {
            if let Some(first) = seen_names.iter().find(|m| m.name == member.name) {
                self.error(
                    Diagnostic::new(
                        Code::DuplicateSetMember,
                        member.span,
                        format!("`{}` is listed twice in `{}`", member.name, decl.name.name),
                        "listed again",
                    )
                    .with_related(first.span, "first listed here")
                    .with_help("remove the repeated entry"),
                );
                continue;
            }
            seen_names.push(member);
            let resolved = self.resolve(member, Expect::ConceptOrSet(kind));
            let ids = match resolved {
                // Sets are flattened members first (`set_order`): one not flattened yet, or
                // being flattened, leads back here.
                Some(super::decls::Resolved::Set(j)) => {
                    match self.sets.get(j).and_then(|s| s.members.clone()) {
                        Some(done) => done,
                        None => {
                            self.set_cycle(decl);
                            Vec::new()
                        }
                    }
                }
                Some(super::decls::Resolved::Concept(id)) => vec![id],
                None => Vec::new(),
            };
            for id in ids {
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        if let Some(entry) = self.sets.get_mut(i) {
            entry.in_progress = false;
            entry.members = Some(members.clone());
        }
        Some(members)
    }

    pub(super) fn equivalence(&mut self, eq: &ast::EquivalenceDecl) {
        let set = self.resolve(&eq.set, Expect::ConceptOrSet(ConceptKind::Drug));
        let reference = self.resolve(&eq.reference, Expect::Concept(&[ConceptKind::Drug]));
        let (Some(set), Some(super::decls::Resolved::Concept(reference_id))) = (set, reference)
        else {
            return;
        };
        let members = self.members(&set);
        if let super::decls::Resolved::Set(i) = set {
            if self
                .sets
                .get(i)
                .is_some_and(|s| s.decl.kind != SetKind::Drugs)
            {
                return;
            }
        }
        let mut invalid: Vec<ConceptId> = Vec::new();
        let mut factors = std::collections::HashMap::new();
        for entry in &eq.entries {
            let Some(super::decls::Resolved::Concept(drug)) =
                self.resolve(&entry.drug, Expect::Concept(&[ConceptKind::Drug]))
            else {
                continue;
            };
            if !members.contains(&drug) {
                self.error(
                    Diagnostic::new(
                        Code::InvalidEquivalence,
                        entry.drug.span,
                        format!("`{}` is not in `{}`", entry.drug.name, eq.set.name),
                        "not a member",
                    )
                    .with_help(format!(
                        "add it to the set `{}` or remove the entry",
                        eq.set.name
                    )),
                );
                continue;
            }
            if entry.factor.value <= Decimal::ZERO {
                self.error(
                    Diagnostic::new(
                        Code::InvalidEquivalence,
                        entry.factor.span,
                        "an equivalence factor must be greater than zero",
                        "not positive",
                    )
                    .with_help("give mg of the reference drug per mg of this drug"),
                );
                invalid.push(drug);
                continue;
            }
            if factors.insert(drug, entry.factor.value).is_some() {
                self.error(
                    Diagnostic::new(
                        Code::InvalidEquivalence,
                        entry.drug.span,
                        format!("`{}` has two factors", entry.drug.name),
                        "second factor",
                    )
                    .with_help("keep one factor per drug"),
                );
            }
        }
        if !members.contains(&reference_id) {
            self.error(
                Diagnostic::new(Code::InvalidEquivalence, eq.reference.span, format!("the reference drug `{}` is not in `{}`", eq.reference.name, eq.set.name), "not a member")
                    .with_help("the reference is the drug doses are expressed as; it belongs to the set with factor 1"),
            );
        } else if factors
            .get(&reference_id)
            .is_some_and(|f| *f != Decimal::ONE)
        {
            self.error(
                Diagnostic::new(Code::InvalidEquivalence, eq.reference.span, format!("the reference drug `{}` must have the factor 1", eq.reference.name), "reference")
                    .with_help("factors are mg of the reference drug per mg of each drug, so the reference's own is 1"),
            );
        } else {
            factors.insert(reference_id, Decimal::ONE);
        }
        let missing: Vec<String> = members
            .iter()
            .filter(|m| !factors.contains_key(m) && !invalid.contains(m))
            .filter_map(|m| self.concepts.get(m.0 as usize).map(|c| c.name.clone()))
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::InvalidEquivalence,
                    eq.set.span,
                    format!(
                        "no factor for {} in this table",
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "incomplete table",
                )
                .with_help(
                    "every drug in the set needs a factor, or doses of it could not be added up",
                ),
            );
        }
        self.equivalences.push(Equivalence {
            set: eq.set.name.clone(),
            reference: eq.reference.name.clone(),
            complete: missing.is_empty() && invalid.is_empty(),
            factors,
        });
    }

    /// Checks definition `i` (once), following references depth first.
    pub(super) fn check_define(&mut self, i: usize) -> DefState {
        let Some(entry) = self.defines.get(i) else {
            return DefState::Failed;
        };
        match entry.state.clone() {
            DefState::Unchecked => {}
            DefState::InProgress => {
                // Cycles are found before definitions are checked (`order::definitions`);
                // this is the fallback should one be reached anyway.
                let from = self.define_stack.iter().position(|d| *d == i).unwrap_or(0);
                let chain: Vec<usize> = self.define_stack.get(from..).unwrap_or(&[]).to_vec();
                self.report_define_cycle(&chain, i);
                if let Some(e) = self.defines.get_mut(i) {
                    e.state = DefState::Failed;
                }
                return DefState::Failed;
            }
            done => return done,
        }
        let decl = entry.decl;
        if let Some(e) = self.defines.get_mut(i) {
            e.state = DefState::InProgress;
        }
        self.define_stack.push(i);
        let body = self.expr(&decl.body);
        self.define_stack.pop();
        let state = match body {
            Some(super::expr::Typed::Cond(cond)) => {
                let id = DefineId(u32::try_from(self.definitions.len()).unwrap_or(u32::MAX));
                self.definitions.push(Definition {
                    name: decl.name.name.clone(),
                    label: decl.label.as_ref().map(|l| l.value.clone()),
                    cond,
                    span: decl.name.span,
                });
                DefState::Bool(id)
            }
            Some(super::expr::Typed::Value(v)) => DefState::Value(v),
            None => DefState::Failed,
        };
        if let Some(e) = self.defines.get_mut(i) {
            // A cycle found inside marks the entry failed; keep that.
            if !matches!(e.state, DefState::Failed) {
                e.state = state.clone();
            }
            return e.state.clone();
        }
        state
    }

    /// Reports a cycle of definitions: `chain` runs from `i` through the definitions it
    /// refers to, back to the one that refers to `i`.
    pub(super) fn report_define_cycle(&mut self, chain: &[usize], i: usize) {
        let Some(entry) = self.defines.get(i) else {
            return;
        };
        let span = entry.decl.name.span;
        let name = entry.decl.name.name.clone();
        let names: Vec<String> = chain
            .iter()
            .chain(std::iter::once(&i))
            .filter_map(|d| self.defines.get(*d).map(|e| e.decl.name.name.clone()))
            .collect();
        let message = if chain.len() <= 1 {
            format!("the definition `{name}` refers to itself")
        } else {
            format!(
                "definitions refer to each other in a cycle: {}",
                names.join(" -> ")
            )
        };
        let mut d = Diagnostic::new(Code::DefinitionCycle, span, message, "part of a cycle")
            .with_help("definitions cannot be recursive: evaluation must always terminate");
        for other in chain.iter().filter(|d| **d != i) {
            if let Some(e) = self.defines.get(*other) {
                d = d.with_related(
                    e.decl.name.span,
                    format!("`{}` is part of the cycle", e.decl.name.name),
                );
            }
        }
        self.error(d);
    }

    /// Checks the body of a definition that is part of a cycle, for the other mistakes in
    /// it; the definition itself has failed already.
    pub(super) fn check_cyclic_define(&mut self, i: usize) {
        let Some(entry) = self.defines.get(i) else {
            return;
        };
        let decl = entry.decl;
        self.define_stack.push(i);
        let _ = self.expr(&decl.body);
        self.define_stack.pop();
    }

    /// The equivalence factors for a dose of `members` expressed as `reference`: `None`
    /// when no table fits, `Some(None)` when the fitting table is itself invalid (and already
    /// reported).
    pub(super) fn equivalence_for(
        &self,
        target: &str,
        reference: &str,
        members: &[ConceptId],
    ) -> Option<Option<Vec<(ConceptId, Decimal)>>> {
        let table = self
            .equivalences
            .iter()
            .find(|e| e.set == target && e.reference == reference)
            .or_else(|| {
                self.equivalences.iter().find(|e| {
                    e.reference == reference && members.iter().all(|m| e.factors.contains_key(m))
                })
            })?;
        if !table.complete {
            return Some(None);
        }
        Some(
            members
                .iter()
                .map(|m| table.factors.get(m).map(|f| (*m, *f)))
                .collect(),
        )
    }

    /// Spans of definitions, for the unused lint.
    pub(super) fn define_decl_span(&self, i: usize) -> Option<(Span, FileId, String)> {
        self.defines
            .get(i)
            .map(|d| (d.decl.name.span, d.file, d.decl.name.name.clone()))
    }
}
