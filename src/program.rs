//! The checked program: what [`crate::check`] gives and the interpreter takes. Names are
//! resolved to indices, units parsed, thresholds typed, windows normalised; every node still
//! carries the [`Span`] of the source it came from, so explanations can quote the protocol.

use rust_decimal::Decimal;

use crate::ast::{
    ArithOp, CmpOp, ConceptKind, CriterionKind, Direction, DurationUnit, EventKind, EventSelect,
    RefBound, SelectMode, SetKind,
};
use crate::source::Span;
use crate::units::Unit;

/// Index of a concept in [`Program::concepts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ConceptId(pub u32);

/// Index of an anchor in [`Program::anchors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct AnchorId(pub u32);

/// Index of a definition in [`Program::definitions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct DefineId(pub u32);

/// A checked protocol, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Program {
    /// The protocol's title.
    pub title: String,
    /// Its version.
    pub version: Option<String>,
    /// Named dates each patient's record supplies.
    pub anchors: Vec<AnchorInfo>,
    /// Every declared concept (from the protocol and the libraries it uses).
    pub concepts: Vec<Concept>,
    /// Every concept set, members flattened.
    pub sets: Vec<ConceptSet>,
    /// Boolean definitions, in an order where each only refers to earlier ones.
    pub definitions: Vec<Definition>,
    /// The criteria, in protocol order.
    pub criteria: Vec<Criterion>,
    /// The observation that per-kg doses divide by, if declared (`body_weight`).
    pub body_weight: Option<ConceptId>,
    /// Code systems named by URL (`codesystem NAME = "URL"`), from every file.
    pub code_systems: Vec<DeclaredCodeSystem>,
}

impl Program {
    /// The concept with this id.
    pub fn concept(&self, id: ConceptId) -> Option<&Concept> {
        self.concepts.get(id.0 as usize)
    }

    /// The anchor with this id.
    pub fn anchor(&self, id: AnchorId) -> Option<&AnchorInfo> {
        self.anchors.get(id.0 as usize)
    }

    /// The definition with this id.
    pub fn definition(&self, id: DefineId) -> Option<&Definition> {
        self.definitions.get(id.0 as usize)
    }

    /// All criteria, depth first, parents before their children.
    pub fn all_criteria(&self) -> Vec<&Criterion> {
        fn walk<'a>(c: &'a Criterion, out: &mut Vec<&'a Criterion>) {
            out.push(c);
            if let CriterionBody::Group(children) = &c.body {
                for child in children {
                    walk(child, out);
                }
            }
        }
        let mut out = Vec::new();
        for c in &self.criteria {
            walk(c, &mut out);
        }
        out
    }
}

/// A named date.
#[derive(Clone, Debug)]
pub struct AnchorInfo {
    /// Its name.
    pub name: String,
    /// What it is.
    pub label: Option<String>,
    /// For a calendar date written in a window (`after 2010-01-01`): that date, the same for
    /// every patient. Its name is the date as written.
    pub fixed: Option<chrono::NaiveDate>,
    /// For an anchor taken from the record (`= last procedure in surgery before screening`):
    /// the start of the first or last event the query matches. Its window refers only to
    /// anchors the record supplies.
    pub event: Option<(EventSelect, EventQuery)>,
    /// Its declaration.
    pub span: Span,
}

/// A code system known to eligc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSystem {
    /// LOINC (observations).
    Loinc,
    /// SNOMED CT.
    Snomed,
    /// ICD-10 (WHO or CM).
    Icd10,
    /// RxNorm.
    Rxnorm,
    /// WHO ATC.
    Atc,
    /// CDC CVX vaccine codes.
    Cvx,
    /// HL7 v3 ActCode: the classes of encounter (`IMP` inpatient, `EMER`, `AMB`, ...).
    ActCode,
    /// ClinicalTrials.gov registry numbers (`NCT03868241`): research studies.
    Nct,
    /// A site- or protocol-local code.
    Local,
    /// A system named by its URL (`codesystem NAME = "URL"` in a protocol; a FHIR coding of
    /// a system eligc has no name for): the code is written `URL|code`, FHIR's token form.
    Url,
}

impl CodeSystem {
    /// Every system with its short name in `.elig` files.
    pub const ALL: &'static [(&'static str, CodeSystem)] = &[
        ("loinc", CodeSystem::Loinc),
        ("snomed", CodeSystem::Snomed),
        ("icd10", CodeSystem::Icd10),
        ("rxnorm", CodeSystem::Rxnorm),
        ("atc", CodeSystem::Atc),
        ("cvx", CodeSystem::Cvx),
        ("actcode", CodeSystem::ActCode),
        ("nct", CodeSystem::Nct),
        ("local", CodeSystem::Local),
    ];

    /// From the short name.
    pub fn from_name(name: &str) -> Option<CodeSystem> {
        CodeSystem::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    /// The short name (`url` for a system named by its URL).
    pub fn name(self) -> &'static str {
        if self == CodeSystem::Url {
            return "url";
        }
        CodeSystem::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("local", |(n, _)| *n)
    }

    /// A code as written in patient data: `loinc:33914-3`, or `URL|code` for a system named
    /// by its URL.
    pub fn code_text(self, value: &str) -> String {
        match self {
            CodeSystem::Url => value.to_string(),
            _ => format!("{}:{value}", self.name()),
        }
    }

    /// The system URL FHIR codings use for a built-in system (the first, when several are
    /// in use); `None` for `local` and `url`.
    pub fn fhir_url(self) -> Option<&'static str> {
        Some(match self {
            CodeSystem::Loinc => "http://loinc.org",
            CodeSystem::Snomed => "http://snomed.info/sct",
            CodeSystem::Icd10 => "http://hl7.org/fhir/sid/icd-10-cm",
            CodeSystem::Rxnorm => "http://www.nlm.nih.gov/research/umls/rxnorm",
            CodeSystem::Atc => "http://www.whocc.no/atc",
            CodeSystem::Cvx => "http://hl7.org/fhir/sid/cvx",
            CodeSystem::ActCode => "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            CodeSystem::Nct => "http://clinicaltrials.gov",
            CodeSystem::Local | CodeSystem::Url => return None,
        })
    }
}

/// A code system a protocol names by URL: `codesystem sledai_site = "http://..."`.
#[derive(Clone, Debug)]
pub struct DeclaredCodeSystem {
    /// The name its codes are written with in `.elig` files.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its declaration.
    pub span: Span,
}

/// A declared concept.
#[derive(Clone, Debug)]
pub struct Concept {
    /// Its kind.
    pub kind: ConceptKind,
    /// Its name in rules.
    pub name: String,
    /// Its human label (the name if none was given).
    pub label: String,
    /// Canonical unit, for quantitative observations and scores (`points`).
    pub unit: Option<Unit>,
    /// Whether results are positive / negative / ...
    pub qualitative: bool,
    /// Default reference range in `unit`, for results that carry none.
    pub normal: Option<ReferenceRange>,
    /// The analyte's molar mass, for quantitative observations that declare one: results
    /// and thresholds in mass and substance concentrations are compared through it.
    pub molar_mass: Option<crate::units::MolarMass>,
    /// Who attests, for attestations.
    pub attested_by: Option<String>,
    /// Codes that map patient data onto it.
    pub codes: Vec<(CodeSystem, String)>,
    /// Its declaration.
    pub span: Span,
}

/// A concept set, flattened.
#[derive(Clone, Debug)]
pub struct ConceptSet {
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: String,
    /// Member kind.
    pub kind: SetKind,
    /// Members, nested sets expanded, duplicates removed, in declaration order.
    pub members: Vec<ConceptId>,
    /// Its declaration.
    pub span: Span,
}

/// A boolean definition.
#[derive(Clone, Debug)]
pub struct Definition {
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: Option<String>,
    /// The condition.
    pub cond: Cond,
    /// Its declaration.
    pub span: Span,
}

/// A checked criterion.
#[derive(Clone, Debug)]
pub struct Criterion {
    /// Inclusion or exclusion.
    pub kind: CriterionKind,
    /// Its id.
    pub id: std::sync::Arc<str>,
    /// The protocol's wording.
    pub wording: std::sync::Arc<str>,
    /// Applicability condition.
    pub applies: Option<Cond>,
    /// For a group: how many sub-criteria must be met, when written.
    pub quantifier: Option<Quantifier>,
    /// The rule or sub-criteria.
    pub body: CriterionBody,
    /// The whole criterion.
    pub span: Span,
}

/// How many of a group's sub-criteria must be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantifier {
    /// Every applicable one (an inclusion group's default).
    All,
    /// At least one (an exclusion group's default).
    Any,
    /// At least this many.
    AtLeast(u32),
}

impl Quantifier {
    /// The words that write it.
    pub fn text(self) -> String {
        match self {
            Quantifier::All => "all of".to_string(),
            Quantifier::Any => "any of".to_string(),
            Quantifier::AtLeast(n) => format!("at least {n} of"),
        }
    }

    /// A group's quantifier: the one written, else all for inclusion and any for exclusion.
    pub fn of(kind: CriterionKind, written: Option<Quantifier>) -> Quantifier {
        written.unwrap_or(match kind {
            CriterionKind::Inclusion => Quantifier::All,
            CriterionKind::Exclusion => Quantifier::Any,
        })
    }
}

/// What a checked criterion says.
#[derive(Clone, Debug)]
pub enum CriterionBody {
    /// A rule with an optional exception: met when `cond and not unless`.
    Rule {
        /// The condition.
        cond: Cond,
        /// The exception.
        unless: Option<Cond>,
    },
    /// Sub-criteria.
    Group(Vec<Criterion>),
}

/// A duration with a whole amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Dur {
    /// How many.
    pub amount: u32,
    /// Of what.
    pub unit: DurationUnit,
}

impl std::fmt::Display for Dur {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.unit.word(self.amount != 1))
    }
}

/// A date relative to an anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TimePoint {
    /// The anchor.
    pub anchor: AnchorId,
    /// Offset from it (`Around` never appears here).
    pub offset: Option<(Dur, Direction)>,
}

/// A checked time window: both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Window {
    /// Any date.
    Ever,
    /// On one date (for facts with a period: the period covers it).
    At(AnchorId),
    /// From a point to a point; `None` is unbounded on that side.
    Range {
        /// Start (inclusive).
        from: Option<TimePoint>,
        /// End (inclusive).
        to: Option<TimePoint>,
    },
}

/// Qualitative result values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualitative {
    /// Positive / detected / reactive.
    Positive,
    /// Negative / not detected / non-reactive.
    Negative,
    /// Indeterminate / equivocal.
    Indeterminate,
    /// Normal (e.g. an ECG read as normal).
    Normal,
    /// Abnormal.
    Abnormal,
    /// Disease status: responding, improving.
    Improving,
    /// Disease status: stable.
    Stable,
    /// Disease status: progressing, worsening.
    Progressing,
    /// Disease status: the clinician could not tell.
    Undetermined,
    /// Disease status: complete remission.
    CompleteRemission,
    /// Disease status: partial remission.
    PartialRemission,
}

impl Qualitative {
    /// All values with their words.
    pub const ALL: &'static [(&'static str, Qualitative)] = &[
        ("positive", Qualitative::Positive),
        ("negative", Qualitative::Negative),
        ("indeterminate", Qualitative::Indeterminate),
        ("normal", Qualitative::Normal),
        ("abnormal", Qualitative::Abnormal),
        ("improving", Qualitative::Improving),
        ("stable", Qualitative::Stable),
        ("progressing", Qualitative::Progressing),
        ("undetermined", Qualitative::Undetermined),
        ("complete_remission", Qualitative::CompleteRemission),
        ("partial_remission", Qualitative::PartialRemission),
    ];

    /// Whether a result of `self` answers `is other`: `None` when it does not say (a
    /// result of another family, such as `stable` asked `is positive`; a disease status the
    /// clinician could not determine; a remission asked about a trend, since a patient may
    /// be in partial remission and improving at once).
    pub fn answers(self, other: Qualitative) -> Option<bool> {
        use Qualitative::*;
        let family = |q: Qualitative| match q {
            Positive | Negative | Indeterminate => 0,
            Normal | Abnormal => 1,
            Improving | Stable | Progressing | Undetermined => 2,
            CompleteRemission | PartialRemission => 3,
        };
        if self == other {
            return Some(true);
        }
        match (self, other) {
            (Undetermined, _) | (_, Undetermined) => None,
            // Either remission excludes progression, and the two remissions each other.
            (CompleteRemission | PartialRemission, Progressing)
            | (Progressing, CompleteRemission | PartialRemission) => Some(false),
            _ if family(self) == family(other) => Some(false),
            _ => None,
        }
    }

    /// The word.
    pub fn word(self) -> &'static str {
        Qualitative::ALL
            .iter()
            .find(|(_, q)| *q == self)
            .map_or("", |(w, _)| *w)
    }
}

/// Sex as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
}

/// Range tests against the result's own reference range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeTest {
    /// Above the upper limit.
    AboveNormal,
    /// Below the lower limit.
    BelowNormal,
    /// Between the limits, inclusive.
    WithinNormal,
}

/// A threshold for one result value.
#[derive(Clone, Debug, PartialEq)]
pub enum Threshold {
    /// A quantity, in the unit it was written in (commensurable with the observation's).
    Quantity {
        /// The number.
        value: Decimal,
        /// The unit as written.
        unit: Unit,
    },
    /// A multiple of the result's reference limit.
    RefMultiple {
        /// The multiplier.
        factor: Decimal,
        /// Upper or lower limit.
        bound: RefBound,
    },
    /// The result's reference limit moved by a quantity (`ULN + 4 s`).
    RefOffset {
        /// Upper or lower limit.
        bound: RefBound,
        /// The quantity added (negative when taken away), in `unit`.
        offset: Decimal,
        /// The unit as written (commensurable with the observation's, never affine).
        unit: Unit,
    },
}

/// A test applied to one result.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueTest {
    /// Compared with a threshold.
    Compare {
        /// Operator.
        op: CmpOp,
        /// Threshold.
        threshold: Threshold,
    },
    /// A qualitative result equal (or, negated, not equal) to a value.
    Qualitative {
        /// `is not`.
        negated: bool,
        /// The value.
        value: Qualitative,
    },
    /// Against the reference range.
    Range {
        /// `is not`.
        negated: bool,
        /// Which test.
        test: RangeTest,
    },
    /// Any result at all (`any egfr within ...` alone).
    Exists,
}

/// Attribute filters on events.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// A numeric attribute (`grade >= 2`).
    Number {
        /// The attribute's name.
        attribute: String,
        /// Operator.
        op: CmpOp,
        /// Value.
        value: Decimal,
    },
    /// An attribute with a fixed list of words (`status is active`,
    /// `laterality in {left, bilateral}`): true when the record's word is one of `values`.
    Word {
        /// The attribute's name.
        attribute: String,
        /// `is not`, `not in`.
        negated: bool,
        /// The words, in the order written.
        values: Vec<String>,
    },
    /// A coded attribute (`body_site in lower_limb`, `reason in hypertension`): true when
    /// one of the record's codes for it matches one of `concepts`.
    Code {
        /// The attribute's name.
        attribute: String,
        /// `is not`, `not in`.
        negated: bool,
        /// The names written (concepts or sets), for explanations.
        names: Vec<String>,
        /// The concepts they stand for (sets flattened).
        concepts: Vec<ConceptId>,
    },
    /// Alternatives (`grade >= 3 or severity is severe`): true when one holds, false when
    /// none can, else unknown. Never nested.
    Any(Vec<Filter>),
}

impl Filter {
    /// The attribute tested; none for alternatives, which may test several.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            Filter::Number { attribute, .. }
            | Filter::Word { attribute, .. }
            | Filter::Code { attribute, .. } => Some(attribute),
            Filter::Any(_) => None,
        }
    }

    /// The test as eligc writes it (`grade >= 2`, `laterality in {left, right}`).
    pub fn text(&self) -> String {
        let values = |negated: bool, values: &[String]| match values {
            [one] if negated => format!("is not {one}"),
            [one] => format!("is {one}"),
            many => format!(
                "{}in {{{}}}",
                if negated { "not " } else { "" },
                many.join(", ")
            ),
        };
        match self {
            Filter::Number {
                attribute,
                op,
                value,
            } => format!("{attribute} {} {value}", op.symbol()),
            Filter::Word {
                attribute,
                negated,
                values: v,
            } => format!("{attribute} {}", values(*negated, v)),
            Filter::Code {
                attribute,
                negated,
                names,
                ..
            } => format!("{attribute} {}", values(*negated, names)),
            Filter::Any(alternatives) => alternatives
                .iter()
                .map(Filter::text)
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }

    /// The single tests: the filter itself, or its alternatives.
    pub fn tests(&self) -> &[Filter] {
        match self {
            Filter::Any(alternatives) => alternatives,
            one => std::slice::from_ref(one),
        }
    }
}

/// A number with its unit as eligc writes it; no unit for UCUM's number one.
pub fn quantity_text(value: Decimal, unit: &Unit) -> String {
    if unit.text() == "1" || unit.text().is_empty() {
        value.to_string()
    } else {
        format!("{value} {}", unit.text())
    }
}

/// An event query, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct EventQuery {
    /// The kind of event.
    pub kind: EventKind,
    /// The concepts that match (a set flattened, or one concept).
    pub concepts: Vec<ConceptId>,
    /// The name written (concept or set), for explanations.
    pub target: String,
    /// `any medication ...`: every record of the kind matches, whatever its code
    /// (`concepts` is then empty).
    pub every: bool,
    /// `except {...}`: records placed under one of these concepts (sets flattened) do not
    /// count.
    pub except: Vec<ConceptId>,
    /// The names written after `except`, for explanations.
    pub except_names: Vec<String>,
    /// Minimum total exposure.
    pub taken_for: Option<(CmpOp, Dur)>,
    /// When.
    pub window: Window,
    /// Attribute filters.
    pub filters: Vec<Filter>,
}

/// A three-valued condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    /// What it tests.
    pub kind: CondKind,
    /// The source it came from.
    pub span: Span,
}

/// The forms of condition.
#[derive(Clone, Debug, PartialEq)]
pub enum CondKind {
    /// Kleene conjunction.
    And(Vec<Cond>),
    /// Kleene disjunction.
    Or(Vec<Cond>),
    /// Kleene negation.
    Not(Box<Cond>),
    /// A boolean definition.
    Define(DefineId),
    /// An attestation is recorded as true.
    Attested(ConceptId),
    /// The patient's recorded sex.
    SexIs(Sex),
    /// Age at an anchor compared with a duration (whole units, calendar arithmetic).
    Age {
        /// The anchor.
        anchor: AnchorId,
        /// Operator.
        op: CmpOp,
        /// The duration.
        duration: Dur,
    },
    /// Results of an observation in a window.
    Observation {
        /// latest / earliest / any / all / no.
        mode: SelectMode,
        /// The observation or score, or the members of a set of observations: their results
        /// are taken together.
        concepts: Vec<ConceptId>,
        /// The name written (concept or set), for explanations.
        target: String,
        /// When.
        window: Window,
        /// The test on each selected result.
        test: ValueTest,
    },
    /// A value computed from single results (`latest hb ... - earliest hb ...`), compared
    /// with a quantity.
    Arithmetic {
        /// The computation.
        value: Arith,
        /// Operator.
        op: CmpOp,
        /// The threshold.
        threshold: Decimal,
        /// Its unit, of the computation's dimension (`1` for a pure number).
        unit: Unit,
    },
    /// Number of results of an observation in a window.
    CountResults {
        /// The observation.
        concept: ConceptId,
        /// When.
        window: Window,
        /// Operator.
        op: CmpOp,
        /// The count.
        n: Decimal,
    },
    /// Some event matches.
    Event(EventQuery),
    /// The first or last event the query matches (ignoring its window) starts inside the
    /// query's window.
    SelectEvent {
        /// First or last.
        select: EventSelect,
        /// The events, and the window the chosen one must start in.
        query: EventQuery,
    },
    /// Number of matching events.
    CountEvents {
        /// The query.
        query: EventQuery,
        /// Operator.
        op: CmpOp,
        /// The count.
        n: Decimal,
    },
    /// Number of distinct concepts with a matching event.
    CountDistinct {
        /// The query.
        query: EventQuery,
        /// Operator.
        op: CmpOp,
        /// The count.
        n: Decimal,
    },
    /// Daily dose, summed through an equivalence table.
    Dose(DoseQuery),
}

/// A value computed from single results.
#[derive(Clone, Debug, PartialEq)]
pub enum Arith {
    /// The latest or earliest result of an observation or score in a window.
    Result {
        /// `latest` or `earliest`.
        mode: SelectMode,
        /// The observation or score.
        concept: ConceptId,
        /// When.
        window: Window,
    },
    /// Two values combined.
    Binary {
        /// The operator.
        op: ArithOp,
        /// The left operand.
        lhs: Box<Arith>,
        /// The right operand.
        rhs: Box<Arith>,
    },
}

impl Arith {
    /// The single results it is computed from, left to right.
    pub fn results(&self) -> Vec<(SelectMode, ConceptId, Window)> {
        match self {
            Arith::Result {
                mode,
                concept,
                window,
            } => vec![(*mode, *concept, *window)],
            Arith::Binary { lhs, rhs, .. } => {
                let mut all = lhs.results();
                all.extend(rhs.results());
                all
            }
        }
    }
}

/// A daily-dose test, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct DoseQuery {
    /// Each drug with its factor to the reference drug (1 without a table).
    pub drugs: Vec<(ConceptId, Decimal)>,
    /// The target as written.
    pub target: String,
    /// The reference drug's name, when an equivalence table is used.
    pub as_drug: Option<String>,
    /// Whether the threshold is per kg of body weight.
    pub per_kg: bool,
    /// Operator.
    pub op: CmpOp,
    /// The threshold, in the unit written.
    pub threshold: Decimal,
    /// Its unit (mass per time, or mass per mass per time).
    pub unit: Unit,
    /// How long it must hold without a break.
    pub sustained: Option<Dur>,
    /// When.
    pub window: Window,
}

/// A result's reference range, in the result's own unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ReferenceRange {
    /// Lower limit of normal.
    pub low: Option<Decimal>,
    /// Upper limit of normal.
    pub high: Option<Decimal>,
}

/// Why a result could not be compared with a threshold: the fact becomes unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareError {
    /// The result's unit is not commensurable with the threshold's.
    Incommensurable {
        /// The result's unit.
        value_unit: String,
        /// The threshold's unit.
        threshold_unit: String,
    },
    /// `x ULN` / `x LLN` with no such limit on the result (or a default).
    NoReferenceLimit(RefBound),
    /// The arithmetic overflowed 28 digits.
    Overflow,
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompareError::Incommensurable {
                value_unit,
                threshold_unit,
            } => {
                write!(
                    f,
                    "the result is in `{value_unit}`, which cannot be converted to `{threshold_unit}`"
                )
            }
            CompareError::NoReferenceLimit(bound) => write!(
                f,
                "the result has no {} in its reference range",
                bound.keyword()
            ),
            CompareError::Overflow => f.write_str("the numbers are too large to compare exactly"),
        }
    }
}

impl Threshold {
    /// Orders a result (`value` in `unit`, with its reference range) against this threshold,
    /// exactly: decimal arithmetic, no binary floating point, so `1.8 <= 1.5 x 1.2` holds.
    /// A mass concentration meets a substance concentration through the analyte's
    /// `molar_mass`, when it has one.
    pub fn order(
        &self,
        value: Decimal,
        unit: &Unit,
        range: &ReferenceRange,
        molar_mass: Option<&crate::units::MolarMass>,
    ) -> Result<std::cmp::Ordering, CompareError> {
        match self {
            Threshold::Quantity {
                value: threshold,
                unit: threshold_unit,
            } => unit
                .compare_via(value, threshold_unit, *threshold, molar_mass)
                .ok_or_else(|| CompareError::Incommensurable {
                    value_unit: unit.text().to_string(),
                    threshold_unit: threshold_unit.text().to_string(),
                }),
            Threshold::RefMultiple { bound, .. } | Threshold::RefOffset { bound, .. } => {
                let limit = match bound {
                    RefBound::Uln => range.high,
                    RefBound::Lln => range.low,
                }
                .ok_or(CompareError::NoReferenceLimit(*bound))?;
                let moved = self.from_limit(limit, unit)?;
                Ok(value.cmp(&moved))
            }
        }
    }

    /// The threshold as written (`30 mL/min/1.73m2`, `3 x ULN`, `ULN + 4 s`).
    pub fn text(&self) -> String {
        match self {
            Threshold::Quantity { value, unit } => quantity_text(*value, unit),
            Threshold::RefMultiple { factor, bound } => format!("{factor} x {}", bound.keyword()),
            Threshold::RefOffset {
                bound,
                offset,
                unit,
            } => {
                let sign = if offset.is_sign_negative() { "-" } else { "+" };
                format!(
                    "{} {sign} {}",
                    bound.keyword(),
                    quantity_text(offset.abs(), unit)
                )
            }
        }
    }

    /// The threshold a reference limit (in `limit_unit`) gives: the limit times the factor,
    /// or moved by the offset converted exactly into the limit's unit.
    pub fn from_limit(&self, limit: Decimal, limit_unit: &Unit) -> Result<Decimal, CompareError> {
        match self {
            Threshold::RefMultiple { factor, .. } => {
                factor.checked_mul(limit).ok_or(CompareError::Overflow)
            }
            Threshold::RefOffset { offset, unit, .. } => {
                // A difference between temperatures is not converted like a temperature.
                let converted = if unit == limit_unit {
                    Some(*offset)
                } else if unit.is_affine() || limit_unit.is_affine() {
                    None
                } else {
                    unit.convert(*offset, limit_unit)
                };
                let converted = converted.ok_or_else(|| CompareError::Incommensurable {
                    value_unit: limit_unit.text().to_string(),
                    threshold_unit: unit.text().to_string(),
                })?;
                limit.checked_add(converted).ok_or(CompareError::Overflow)
            }
            Threshold::Quantity { value, .. } => Ok(*value),
        }
    }
}
