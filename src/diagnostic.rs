//! Diagnostics as data: a stable [`Code`], a severity, a message, a labelled span and help.
//! Every stage returns these; they become `miette` reports only at the edge ([`crate::report`]).
//! Each code is documented, with a bad example and the fix, in `docs/diagnostics.md`.

use crate::source::Span;

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The protocol cannot be used.
    Error,
    /// Probably a mistake; the protocol can still be used.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $severity:ident; )*) => {
        /// Stable diagnostic codes. The name (`elig::...`) never changes once released.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable name, e.g. `elig::unknown-name`.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => concat!("elig::", $name), )* }
            }

            /// The severity the code always has.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    Syntax = "syntax", Error;
    /// Brackets or `not`s nested beyond the limit.
    NestingTooDeep = "nesting-too-deep", Error;
    /// A number literal that does not fit a 28-digit decimal.
    InvalidNumber = "invalid-number", Error;
    /// The parser and the lowering to the syntax tree disagree: a bug in eligc.
    Internal = "internal", Error;
    /// A `use` names a file that cannot be read.
    UseNotFound = "use-not-found", Error;
    /// A `use` path that leads outside the protocol's folder and the library folders.
    UseOutsideFolder = "use-outside-folder", Error;
    /// A `use` path that is not a regular `.elig` file within the size cap.
    UseRefused = "use-refused", Error;
    /// Files `use` each other in a cycle.
    UseCycle = "use-cycle", Error;
    /// `use NAME` names no built-in library.
    UnknownLibrary = "unknown-library", Error;
    /// The main file has no `protocol "..."` line, or has two.
    ProtocolHeader = "protocol-header", Error;
    /// Two declarations with the same name.
    DuplicateName = "duplicate-name", Error;
    /// Two criteria with the same id.
    DuplicateCriterionId = "duplicate-criterion-id", Error;
    /// A name that is declared nowhere.
    UnknownName = "unknown-name", Error;
    /// A name of the wrong kind for its place (a drug where a lab is expected).
    WrongKind = "wrong-kind", Error;
    /// A code system eligc does not know.
    UnknownCodeSystem = "unknown-code-system", Error;
    /// A `codesystem` declaration with a bad URL, a built-in name or URL, or a URL declared
    /// twice.
    InvalidCodeSystem = "invalid-code-system", Error;
    /// A declaration with a part its kind cannot have, or without one it needs.
    InvalidDeclaration = "invalid-declaration", Error;
    /// A unit that cannot be parsed.
    UnknownUnit = "unknown-unit", Error;
    /// Two units of different dimension compared.
    UnitMismatch = "unit-mismatch", Error;
    /// A quantity given without the unit its observation needs.
    MissingUnit = "missing-unit", Error;
    /// A date in a window that is not a day of the calendar (`2023-02-30`).
    InvalidDate = "invalid-date", Error;
    /// Arithmetic on something that is not a single result (a selection of several, a
    /// qualitative result, a count, a condition) or on a shifted temperature.
    ArithmeticOperand = "arithmetic-operand", Error;
    /// A divisor that can be zero (a difference): the value is then unknown.
    ZeroDivisor = "zero-divisor", Warning;
    /// An expression of the wrong type for its place.
    TypeMismatch = "type-mismatch", Error;
    /// A word after `is` that does not fit the value tested.
    InvalidTest = "invalid-test", Error;
    /// A duration that is not a whole number of days, weeks, months or years.
    InvalidDuration = "invalid-duration", Error;
    /// Definitions that refer to each other in a cycle.
    DefinitionCycle = "definition-cycle", Error;
    /// A condition that, with its definitions written out, nests too deep or stands for
    /// too many checks.
    ConditionTooComplex = "condition-too-complex", Error;
    /// Sets that contain each other in a cycle.
    SetCycle = "set-cycle", Error;
    /// A dose over several drugs without an equivalence table to add them up.
    MissingEquivalence = "missing-equivalence", Error;
    /// An equivalence table that does not fit its set.
    InvalidEquivalence = "invalid-equivalence", Error;
    /// An `except` that excludes every concept its event names: nothing can match.
    InvalidExcept = "invalid-except", Error;
    /// A `where` clause on an attribute that the event kind does not have.
    UnknownAttribute = "unknown-attribute", Error;
    /// `or` between attribute tests of a `where` clause.
    OrInWhere = "or-in-where", Error;
    /// A group quantifier no outcome can meet: `at least N of` with N not a whole number
    /// from 1 to the number of sub-criteria.
    InvalidGroup = "invalid-group", Error;
    /// A lab threshold without a time window.
    MissingWindow = "missing-window", Warning;
    /// A definition nothing uses.
    UnusedDefinition = "unused-definition", Warning;
    /// A concept set nothing uses.
    UnusedSet = "unused-set", Warning;
    /// A `use` whose names are never used.
    UnusedImport = "unused-import", Warning;
    /// A window whose start is after its end.
    EmptyWindow = "empty-window", Warning;
    /// A window that reaches past its anchor into the future.
    WindowAfterAnchor = "window-after-anchor", Warning;
    /// Bounds on one value that no patient can satisfy together.
    ContradictoryBounds = "contradictory-bounds", Warning;
    /// The same member twice in a set.
    DuplicateSetMember = "duplicate-set-member", Warning;
    /// A sub-criterion whose id does not extend its parent's.
    SubCriterionId = "sub-criterion-id", Warning;
    /// A set with no members, or a group with no sub-criteria.
    Empty = "empty", Warning;
    /// A bidirectional formatting character in the text, which can make it display in
    /// another order than it reads ("Trojan Source").
    TextDirectionCodepoint = "text-direction-codepoint", Warning;
    /// A construct `eligc sql` cannot write in SQL exactly as the interpreter evaluates it.
    SqlUnsupported = "sql-unsupported", Error;
}

/// A secondary label pointing at related code.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Related {
    /// Where.
    pub span: Span,
    /// What it is.
    pub label: String,
}

/// One problem found in a protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The exact place.
    pub span: Span,
    /// Short text shown at the place.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain the problem.
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic with a message, span and label.
    pub fn new(
        code: Code,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a related label.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    /// The code's severity.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// Sorts diagnostics by file and position, errors before warnings at the same place.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.span.end, d.severity(), d.code));
}

/// "did you mean" help from the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::normalized_damerau_levenshtein(&lower, &c.to_lowercase());
        let better = best.is_none_or(|(s, _)| score > s);
        if score >= 0.6 && better {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}
