//! The untyped syntax tree of one `.elig` file, as the parser gives it: names are still
//! strings, units still text. Every node carries a [`Span`]; spans compare equal (see
//! [`Span`]) so trees can be compared regardless of layout.

use rust_decimal::Decimal;

use crate::source::Span;

/// One parsed `.elig` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// Items in source order.
    pub items: Vec<Item>,
    /// `//` comments with their spans, for the formatter.
    pub comments: Vec<Comment>,
    /// The whole file.
    pub span: Span,
}

/// A `//` comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The comment's text including the `//`.
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// A name as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A string literal, escapes resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    /// The value.
    pub value: String,
    /// The literal including its quotes.
    pub span: Span,
}

/// A decimal number literal.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// Its exact value.
    pub value: Decimal,
    /// Where it is written.
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `protocol "title" version "1.0"`
    Protocol(ProtocolDecl),
    /// `anchor screening, infusion`
    Anchor(AnchorDecl),
    /// `use std` or `use "lib/lupus.elig"`
    Use(UseDecl),
    /// `codesystem sledai_site = "http://example.org/fhir/sledai"`
    CodeSystem(CodeSystemDecl),
    /// `observation egfr "eGFR" unit mL/min/1.73m2 codes [...]` and the other concept kinds.
    Concept(ConceptDecl),
    /// `set dmard = drugs { ... }`
    Set(SetDecl),
    /// `equivalence glucocorticoid as prednisone { ... }`
    Equivalence(EquivalenceDecl),
    /// `define name = expr`
    Define(DefineDecl),
    /// `inclusion I1 "..." : expr`
    Criterion(Criterion),
}

impl Item {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            Item::Protocol(d) => d.span,
            Item::Anchor(d) => d.span,
            Item::Use(d) => d.span,
            Item::CodeSystem(d) => d.span,
            Item::Concept(d) => d.span,
            Item::Set(d) => d.span,
            Item::Equivalence(d) => d.span,
            Item::Define(d) => d.span,
            Item::Criterion(d) => d.span,
        }
    }
}

/// `protocol "title" version "1.0"`
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolDecl {
    /// The protocol's title.
    pub title: StrLit,
    /// Its version, if given.
    pub version: Option<StrLit>,
    /// The item.
    pub span: Span,
}

/// `anchor screening "Screening visit", infusion`
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorDecl {
    /// The anchors declared.
    pub anchors: Vec<Anchor>,
    /// The item.
    pub span: Span,
}

/// One named date supplied with each patient's data, or taken from the record.
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    /// Its name.
    pub name: Ident,
    /// What the date is, in words.
    pub label: Option<StrLit>,
    /// `= last procedure in surgery before screening`: the date is the start of the first
    /// or last matching event in the record, not a date the record supplies.
    pub event: Option<AnchorEvent>,
    /// Name and label.
    pub span: Span,
}

/// The event an anchor's date is taken from: `last procedure in surgery before screening`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorEvent {
    /// First or last.
    pub select: EventSelect,
    /// The events it chooses among.
    pub query: EventQuery,
    /// The whole clause after `=`.
    pub span: Span,
}

/// Which of the matching events, by start date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSelect {
    /// The earliest.
    First,
    /// The most recent.
    Last,
}

impl EventSelect {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            EventSelect::First => "first",
            EventSelect::Last => "last",
        }
    }
}

/// What a `use` brings in.
#[derive(Clone, Debug, PartialEq)]
pub enum UseTarget {
    /// A library embedded in eligc, by name (`use std`).
    Builtin(Ident),
    /// A file, relative to the importing file (`use "lib/lupus.elig"`).
    Path(StrLit),
}

/// `use std`
#[derive(Clone, Debug, PartialEq)]
pub struct UseDecl {
    /// What is imported.
    pub target: UseTarget,
    /// The item.
    pub span: Span,
}

/// The kinds of declared concept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConceptKind {
    /// A measurement with a value: lab result, vital sign, imaging measure.
    Observation,
    /// A clinical score (points), e.g. SLEDAI-2K.
    Score,
    /// A diagnosis or clinical event with onset and end.
    Condition,
    /// A medicinal product or ingredient.
    Drug,
    /// A vaccine.
    Vaccine,
    /// A procedure or therapy session.
    Procedure,
    /// A kind of encounter with care: a class (inpatient, emergency, ambulatory) or a type
    /// (admission to intensive care).
    Encounter,
    /// A research study or programme, named by its registry identifiers (`nct:NCT03868241`).
    Study,
    /// A judgement or agreement recorded by a person.
    Attestation,
    /// A body structure (an anatomical site), the value of a `body_site` attribute.
    Site,
}

impl ConceptKind {
    /// The keyword that declares it.
    pub fn keyword(self) -> &'static str {
        match self {
            ConceptKind::Observation => "observation",
            ConceptKind::Score => "score",
            ConceptKind::Condition => "condition",
            ConceptKind::Drug => "drug",
            ConceptKind::Vaccine => "vaccine",
            ConceptKind::Procedure => "procedure",
            ConceptKind::Encounter => "encounter",
            ConceptKind::Study => "study",
            ConceptKind::Attestation => "attestation",
            ConceptKind::Site => "site",
        }
    }
}

/// The value an observation carries.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSpec {
    /// A quantity in this canonical unit.
    Unit(UnitLit),
    /// positive / negative / indeterminate (the span of the word `qualitative`).
    Qualitative(Span),
}

/// A unit as written, e.g. `mL/min/1.73m2`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitLit {
    /// The unit text.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// `codesystem sledai_site = "http://example.org/fhir/sledai"`: a code system named by its
/// URL (the `system` of a FHIR coding), so that `sledai_site:123` codes read FHIR data.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeSystemDecl {
    /// The name its codes are written with.
    pub name: Ident,
    /// Its URL, as FHIR codings give it.
    pub url: StrLit,
    /// The item.
    pub span: Span,
}

/// A code in a code system, `loinc:33914-3`.
#[derive(Clone, Debug, PartialEq)]
pub struct Code {
    /// The code system's short name (loinc, snomed, icd10, rxnorm, atc, cvx, actcode).
    pub system: Ident,
    /// The code.
    pub value: String,
    /// The whole `system:value`.
    pub span: Span,
}

/// `observation egfr "eGFR" unit mL/min/1.73m2 codes [loinc:33914-3]`
#[derive(Clone, Debug, PartialEq)]
pub struct ConceptDecl {
    /// What kind of concept.
    pub kind: ConceptKind,
    /// Its name in rules.
    pub name: Ident,
    /// Its human label.
    pub label: Option<StrLit>,
    /// For observations: the value it carries.
    pub value: Option<ValueSpec>,
    /// For quantitative observations: the default reference range (`normal 0 to 40`), in
    /// the observation's unit, used when a result carries none.
    pub normal: Option<(Number, Number)>,
    /// For quantitative observations: the analyte's molar mass (`molar mass 113.12 g/mol`),
    /// converting mass and substance concentrations.
    pub molar_mass: Option<(Number, UnitLit)>,
    /// For attestations: who attests (`by investigator`).
    pub by: Option<Ident>,
    /// Codes that map patient data onto it.
    pub codes: Vec<Code>,
    /// The item.
    pub span: Span,
}

/// The member kind of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetKind {
    /// `drugs { ... }`
    Drugs,
    /// `conditions { ... }`
    Conditions,
    /// `vaccines { ... }`
    Vaccines,
    /// `procedures { ... }`
    Procedures,
    /// `encounters { ... }`
    Encounters,
    /// `studies { ... }`
    Studies,
    /// `observations { ... }`
    Observations,
    /// `sites { ... }`: body structures.
    Sites,
}

impl SetKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            SetKind::Drugs => "drugs",
            SetKind::Conditions => "conditions",
            SetKind::Vaccines => "vaccines",
            SetKind::Procedures => "procedures",
            SetKind::Encounters => "encounters",
            SetKind::Studies => "studies",
            SetKind::Observations => "observations",
            SetKind::Sites => "sites",
        }
    }

    /// The concept kind its members have.
    pub fn member_kind(self) -> ConceptKind {
        match self {
            SetKind::Drugs => ConceptKind::Drug,
            SetKind::Conditions => ConceptKind::Condition,
            SetKind::Vaccines => ConceptKind::Vaccine,
            SetKind::Procedures => ConceptKind::Procedure,
            SetKind::Encounters => ConceptKind::Encounter,
            SetKind::Studies => ConceptKind::Study,
            SetKind::Observations => ConceptKind::Observation,
            SetKind::Sites => ConceptKind::Site,
        }
    }
}

/// `set dmard "DMARDs" = drugs { methotrexate, azathioprine }`
#[derive(Clone, Debug, PartialEq)]
pub struct SetDecl {
    /// Its name.
    pub name: Ident,
    /// Its label.
    pub label: Option<StrLit>,
    /// Member kind.
    pub kind: SetKind,
    /// Members: concepts of that kind, or other sets of the same kind.
    pub members: Vec<Ident>,
    /// The item.
    pub span: Span,
}

/// `equivalence glucocorticoid as prednisone { methylprednisolone 1.25 }`: mg of the
/// reference drug per mg of each member.
#[derive(Clone, Debug, PartialEq)]
pub struct EquivalenceDecl {
    /// The set of drugs the table covers.
    pub set: Ident,
    /// The drug doses are expressed as.
    pub reference: Ident,
    /// One factor per drug.
    pub entries: Vec<EquivalenceEntry>,
    /// The item.
    pub span: Span,
}

/// `methylprednisolone 1.25`
#[derive(Clone, Debug, PartialEq)]
pub struct EquivalenceEntry {
    /// The drug.
    pub drug: Ident,
    /// mg of the reference drug per mg of this drug.
    pub factor: Number,
    /// The entry.
    pub span: Span,
}

/// `define name "label" = expr`
#[derive(Clone, Debug, PartialEq)]
pub struct DefineDecl {
    /// Its name.
    pub name: Ident,
    /// Its label.
    pub label: Option<StrLit>,
    /// The definition.
    pub body: Expr,
    /// The item.
    pub span: Span,
}

/// Inclusion or exclusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriterionKind {
    /// Must be met.
    Inclusion,
    /// Must not be met.
    Exclusion,
}

impl CriterionKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            CriterionKind::Inclusion => "inclusion",
            CriterionKind::Exclusion => "exclusion",
        }
    }
}

/// A criterion: `inclusion I1 "wording": rule` or a group of sub-criteria in braces.
#[derive(Clone, Debug, PartialEq)]
pub struct Criterion {
    /// Inclusion or exclusion (sub-criteria inherit their parent's).
    pub kind: CriterionKind,
    /// Its id, e.g. `I4.2`.
    pub id: Ident,
    /// The protocol's own wording.
    pub wording: StrLit,
    /// `applies if ...`: outside it the criterion is not applicable.
    pub applies: Option<Expr>,
    /// `any of`, `all of`, `at least N of` before a group's braces.
    pub quantifier: Option<GroupQuantifier>,
    /// The rule or the sub-criteria.
    pub body: CriterionBody,
    /// The whole criterion.
    pub span: Span,
}

/// How many of a group's sub-criteria must be met: `any of`, `all of`, `at least 4 of`.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupQuantifier {
    /// Which.
    pub kind: QuantifierKind,
    /// The words.
    pub span: Span,
}

/// The forms of group quantifier.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantifierKind {
    /// `all of`
    All,
    /// `any of`
    Any,
    /// `at least N of`
    AtLeast(Number),
}

/// What a criterion says.
#[derive(Clone, Debug, PartialEq)]
pub enum CriterionBody {
    /// A rule with an optional exception.
    Rule {
        /// The condition.
        expr: Expr,
        /// `unless ...`
        unless: Option<Expr>,
    },
    /// Sub-criteria: an inclusion group is met when all are; an exclusion group when any is.
    Group(Vec<Criterion>),
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// The canonical spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
        }
    }

    /// Whether `ordering` (of left against right) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
        }
    }
}

/// Arithmetic between values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl ArithOp {
    /// The symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        }
    }

    /// How tightly it binds: `*` and `/` (2) before `+` and `-` (1).
    pub fn precedence(self) -> u8 {
        match self {
            ArithOp::Add | ArithOp::Sub => 1,
            ArithOp::Mul | ArithOp::Div => 2,
        }
    }

    /// What its result is called in explanations.
    pub fn result_word(self) -> &'static str {
        match self {
            ArithOp::Add => "sum",
            ArithOp::Sub => "difference",
            ArithOp::Mul => "product",
            ArithOp::Div => "ratio",
        }
    }
}

/// How values are selected from an observation's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectMode {
    /// The most recent result in the window.
    Latest,
    /// The first result in the window: a baseline.
    Earliest,
    /// The mean of the results in the window: a value, compared like one.
    Average,
    /// Some result in the window satisfies the test.
    Any,
    /// Every result in the window satisfies the test.
    All,
    /// No result in the window satisfies the test.
    No,
}

impl SelectMode {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            SelectMode::Latest => "latest",
            SelectMode::Earliest => "earliest",
            SelectMode::Average => "average",
            SelectMode::Any => "any",
            SelectMode::All => "all",
            SelectMode::No => "no",
        }
    }
}

/// Kinds of dated clinical events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Conditions (diagnoses), with onset and end.
    Condition,
    /// Medication exposures, with start and end.
    Medication,
    /// Immunizations, on a date.
    Immunization,
    /// Procedures, on a date (or over a period).
    Procedure,
    /// Allergies and intolerances to a drug, with onset and end, like conditions.
    Allergy,
    /// Encounters with care (visits, admissions), with a start and an end.
    Encounter,
    /// Enrolment in a research study or programme, from enrolment to leaving it.
    Study,
    /// A condition of a relative (family history), with the relationship.
    FamilyHistory,
}

impl EventKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            EventKind::Condition => "condition",
            EventKind::Medication => "medication",
            EventKind::Immunization => "immunization",
            EventKind::Procedure => "procedure",
            EventKind::Allergy => "allergy",
            EventKind::Encounter => "encounter",
            EventKind::Study => "study",
            EventKind::FamilyHistory => "family history",
        }
    }

    /// The concept kind its names refer to.
    pub fn concept_kind(self) -> ConceptKind {
        match self {
            EventKind::Condition => ConceptKind::Condition,
            EventKind::Medication => ConceptKind::Drug,
            EventKind::Immunization => ConceptKind::Vaccine,
            EventKind::Procedure => ConceptKind::Procedure,
            EventKind::Allergy => ConceptKind::Drug,
            EventKind::Encounter => ConceptKind::Encounter,
            EventKind::Study => ConceptKind::Study,
            EventKind::FamilyHistory => ConceptKind::Condition,
        }
    }
}

/// An event query: `condition gvhd within 2 weeks before screening where grade >= 2`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventQuery {
    /// What kind of event.
    pub kind: EventKind,
    /// A concept or a set of concepts of that kind.
    pub target: Ident,
    /// `except {nmsc, carcinoma_in_situ}`: records placed under one of these concepts (or
    /// sets) do not count.
    pub except: Vec<Ident>,
    /// `taken for >= 3 months`: minimum total exposure.
    pub taken_for: Option<TakenFor>,
    /// When.
    pub window: Option<Window>,
    /// `where grade >= 2 and status is active`: every term must hold.
    pub filters: Vec<WhereTerm>,
}

/// `taken for >= 3 months`
#[derive(Clone, Debug, PartialEq)]
pub struct TakenFor {
    /// Comparison against the total exposure.
    pub op: CmpOp,
    /// The duration.
    pub duration: Duration,
    /// The clause.
    pub span: Span,
}

/// One term of a `where` clause: a test, or alternatives joined with `or`
/// (`(grade >= 3 or severity is severe)`).
#[derive(Clone, Debug, PartialEq)]
pub enum WhereTerm {
    /// One attribute test.
    Test(AttributeTest),
    /// Tests of which at least one must hold.
    Any {
        /// The alternatives, in the order written (at least two).
        tests: Vec<AttributeTest>,
        /// The alternatives, with their parentheses if written.
        span: Span,
    },
}

/// `grade >= 2`, `status is active` or `body_site in {femoral_region, groin}` in a `where`
/// clause.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeTest {
    /// The attribute.
    pub attribute: Ident,
    /// What it must be.
    pub test: AttributeCheck,
    /// The test.
    pub span: Span,
}

/// The forms of attribute test.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeCheck {
    /// A numeric attribute compared with a number.
    Compare(CmpOp, Number),
    /// `is WORD`, `is not WORD`: an attribute equal (or not) to a word or a named concept or
    /// set.
    Is {
        /// `is not`.
        negated: bool,
        /// The word, concept or set.
        value: Ident,
    },
    /// `in {A, B}`, `not in {A, B}`, `in NAME`: an attribute equal (or not) to one of the
    /// values. One value is written without braces.
    In {
        /// `not in`.
        negated: bool,
        /// The words, concepts or sets.
        values: Vec<Ident>,
    },
}

/// Calendar units of a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    /// Days.
    Days,
    /// Weeks of 7 days.
    Weeks,
    /// Calendar months (clamped at month end).
    Months,
    /// Calendar years (12 calendar months).
    Years,
}

impl DurationUnit {
    /// Singular or plural word.
    pub fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (DurationUnit::Days, false) => "day",
            (DurationUnit::Days, true) => "days",
            (DurationUnit::Weeks, false) => "week",
            (DurationUnit::Weeks, true) => "weeks",
            (DurationUnit::Months, false) => "month",
            (DurationUnit::Months, true) => "months",
            (DurationUnit::Years, false) => "year",
            (DurationUnit::Years, true) => "years",
        }
    }
}

/// `30 days`, `3 months`.
#[derive(Clone, Debug, PartialEq)]
pub struct Duration {
    /// How many.
    pub amount: Number,
    /// Of what.
    pub unit: DurationUnit,
    /// The literal.
    pub span: Span,
}

/// Before, after or around an anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Earlier than the anchor.
    Before,
    /// Later than the anchor.
    After,
    /// Either side of the anchor.
    Around,
}

impl Direction {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::Before => "before",
            Direction::After => "after",
            Direction::Around => "around",
        }
    }
}

/// A time window relative to anchors.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Its form.
    pub kind: WindowKind,
    /// The whole window clause.
    pub span: Span,
}

/// The forms of time window.
#[derive(Clone, Debug, PartialEq)]
pub enum WindowKind {
    /// `within 30 days before screening`
    Within {
        /// Length.
        length: Duration,
        /// Side of the anchor.
        direction: Direction,
        /// The anchor.
        anchor: Ident,
    },
    /// `at screening`: on that date (for events with a period: active on it).
    At(Ident),
    /// `before screening` / `after infusion`: any time up to / from the anchor, inclusive.
    Open {
        /// Side of the anchor.
        direction: Direction,
        /// The anchor.
        anchor: Ident,
    },
    /// `from 6 months before screening to infusion`
    Between {
        /// Start, inclusive.
        from: TimePoint,
        /// End, inclusive.
        to: TimePoint,
    },
    /// `ever`: any date.
    Ever,
}

/// `6 months before screening`, or just `screening`.
#[derive(Clone, Debug, PartialEq)]
pub struct TimePoint {
    /// The offset from the anchor.
    pub offset: Option<(Duration, Direction)>,
    /// The anchor.
    pub anchor: Ident,
    /// The point.
    pub span: Span,
}

/// Qualitative and range tests after `is`.
#[derive(Clone, Debug, PartialEq)]
pub enum IsTest {
    /// A word: positive, negative, indeterminate, female, male, ...
    Word(Ident),
    /// `above normal` (range)
    AboveNormal,
    /// `below normal`
    BelowNormal,
    /// `within normal`
    WithinNormal,
}

/// Upper or lower limit of normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum RefBound {
    /// Upper limit of normal.
    Uln,
    /// Lower limit of normal.
    Lln,
}

impl RefBound {
    /// `ULN` or `LLN`.
    pub fn keyword(self) -> &'static str {
        match self {
            RefBound::Uln => "ULN",
            RefBound::Lln => "LLN",
        }
    }
}

/// A literal on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `30 mL/min/1.73m2`, `8`, `55 %`.
    Quantity {
        /// The number.
        number: Number,
        /// The unit, if any.
        unit: Option<UnitLit>,
    },
    /// `3.0 x ULN`
    RefMultiple {
        /// The multiplier.
        factor: Number,
        /// Which limit.
        bound: RefBound,
    },
    /// `ULN + 4 s`, `LLN - 10 g/L`
    RefOffset {
        /// Which limit.
        bound: RefBound,
        /// `-` rather than `+`.
        minus: bool,
        /// The number added or taken away.
        number: Number,
        /// Its unit.
        unit: Option<UnitLit>,
    },
    /// `5 years`
    Duration(Duration),
}

/// The forms of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `a and b and c` (flattened, so long chains are not deep trees).
    And(Vec<Expr>),
    /// `a or b or c`
    Or(Vec<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// `lhs >= value`
    Compare {
        /// A value-producing operand.
        lhs: Box<Expr>,
        /// The operator.
        op: CmpOp,
        /// The literal it is compared with.
        rhs: Value,
        /// Where the literal is.
        rhs_span: Span,
    },
    /// `lhs is [not] test`
    Is {
        /// The operand.
        lhs: Box<Expr>,
        /// `is not`
        negated: bool,
        /// The test.
        test: IsTest,
    },
    /// A defined name.
    Name(Ident),
    /// `attested informed_consent`
    Attested(Ident),
    /// `age at screening`
    Age(Ident),
    /// `sex`
    Sex,
    /// `latest hb ... - earliest hb ...`: arithmetic between values (left-associative).
    Arith {
        /// The operator.
        op: ArithOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// `latest egfr within 30 days before screening`
    Select {
        /// latest / any / all / no.
        mode: SelectMode,
        /// The observation or score.
        target: Ident,
        /// When.
        window: Option<Window>,
    },
    /// `count egfr within 1 year before screening`: the number of results.
    CountResults {
        /// The observation.
        target: Ident,
        /// When.
        window: Option<Window>,
    },
    /// `count distinct dmard taken for >= 3 months before screening`
    CountDistinct {
        /// A set.
        target: Ident,
        /// Minimum exposure per member.
        taken_for: Option<TakenFor>,
        /// When.
        window: Option<Window>,
    },
    /// `count immunization in live_vaccines within 1 year before screening`
    CountEvents(EventQuery),
    /// `condition sle`, `medication glucocorticoid at screening`
    Event(EventQuery),
    /// `any medication within 1 month before screening`: a record of that kind, whatever
    /// it is. The query's target is the word `any`.
    AnyEvent(EventQuery),
    /// `last condition stroke from 5 years before screening to 3 months before screening`:
    /// the first or last matching event starts inside the window.
    SelectEvent {
        /// First or last.
        select: EventSelect,
        /// The events (the window is where the chosen one must start).
        query: EventQuery,
    },
    /// `dose glucocorticoid as prednisone >= 1 mg/kg/d sustained 3 months within 6 months before screening`
    Dose(DoseQuery),
}

/// A daily-dose test.
#[derive(Clone, Debug, PartialEq)]
pub struct DoseQuery {
    /// A drug or a set of drugs.
    pub target: Ident,
    /// `as prednisone`: the reference drug of an equivalence table.
    pub as_drug: Option<Ident>,
    /// The operator.
    pub op: CmpOp,
    /// The daily dose threshold (mg/d, or mg/kg/d per body weight).
    pub threshold: Number,
    /// Its unit.
    pub unit: Option<UnitLit>,
    /// Where the threshold is.
    pub threshold_span: Span,
    /// `sustained 3 months`: the threshold must hold every day of a run this long.
    pub sustained: Option<Duration>,
    /// When.
    pub window: Option<Window>,
}
