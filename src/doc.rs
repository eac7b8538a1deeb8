//! The criteria as numbered prose for the protocol document (`eligc doc`): each criterion's
//! id, the protocol's wording, and the rule in plain language with its units and windows, as
//! Markdown or as one self-contained HTML file that prints well.

use std::fmt::Write as _;

use crate::ast::{ArithOp, CmpOp, CriterionKind, Direction, EventKind, RefBound, SelectMode};
use crate::program::{
    Arith, Cond, CondKind, Criterion, CriterionBody, DefineId, DoseQuery, Dur, EventQuery, Filter,
    Program, Qualitative, RangeTest, Sex, Threshold, TimePoint, ValueTest, Window,
};

/// A rule in plain language: a sentence, or a list of them joined by all / any / none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prose {
    /// One sentence (no final full stop).
    Line(String),
    /// A heading sentence with items under it.
    List {
        /// "all of the following", ...
        head: String,
        /// The items.
        items: Vec<Prose>,
    },
}

/// One criterion in prose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriterionDoc {
    /// Its id.
    pub id: String,
    /// Inclusion or exclusion.
    pub kind: CriterionKind,
    /// The protocol's wording.
    pub wording: String,
    /// Whom it applies to, if not everyone.
    pub applies: Option<Prose>,
    /// The rule (for a group: how the sub-criteria combine).
    pub rule: Prose,
    /// The exception.
    pub unless: Option<Prose>,
    /// Sub-criteria.
    pub children: Vec<CriterionDoc>,
}

/// A protocol in prose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The title.
    pub title: String,
    /// The version.
    pub version: Option<String>,
    /// Inclusion criteria, then exclusion criteria, each in protocol order.
    pub criteria: Vec<CriterionDoc>,
    /// Definitions the criteria use: name, label, prose.
    pub definitions: Vec<(String, Option<String>, Prose)>,
}

/// Renders a checked program in prose.
pub fn document(p: &Program) -> Document {
    let mut w = Writer {
        p,
        used: Vec::new(),
    };
    let criteria = p.criteria.iter().map(|c| w.criterion(c)).collect();
    let mut definitions = Vec::new();
    let mut i = 0;
    // Definitions used by definitions are found while rendering: keep going until none new.
    while let Some(id) = w.used.get(i).copied() {
        i += 1;
        if let Some(def) = p.definition(id) {
            let prose = w.cond(&def.cond);
            definitions.push((def.name.clone(), def.label.clone(), prose));
        }
    }
    Document {
        title: p.title.clone(),
        version: p.version.clone(),
        criteria,
        definitions,
    }
}

struct Writer<'a> {
    p: &'a Program,
    used: Vec<DefineId>,
}

fn op_words(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Ge => "at least",
        CmpOp::Gt => "more than",
        CmpOp::Le => "at most",
        CmpOp::Lt => "less than",
        CmpOp::Eq => "exactly",
        CmpOp::Ne => "other than",
    }
}

fn number_words(op: CmpOp, n: rust_decimal::Decimal) -> String {
    format!("{} {n}", op_words(op))
}

/// A quantity with its unit; `%` is written against the number.
fn quantity(value: rust_decimal::Decimal, unit: &str) -> String {
    match unit {
        "" | "1" => value.to_string(),
        "%" => format!("{value}%"),
        _ => format!("{value} {unit}"),
    }
}

impl Writer<'_> {
    fn criterion(&mut self, c: &Criterion) -> CriterionDoc {
        let applies = c.applies.as_ref().map(|a| self.cond(a));
        let (rule, unless, children) = match &c.body {
            CriterionBody::Rule { cond, unless } => (
                self.cond(cond),
                unless.as_ref().map(|u| self.cond(u)),
                Vec::new(),
            ),
            CriterionBody::Group(children) => {
                use crate::program::Quantifier;
                let head = match Quantifier::of(c.kind, c.quantifier) {
                    Quantifier::All => {
                        "every sub-criterion below that applies to the patient is met".to_string()
                    }
                    Quantifier::Any => {
                        "any sub-criterion below that applies to the patient is met".to_string()
                    }
                    Quantifier::AtLeast(n) => format!(
                        "at least {n} of the sub-criteria below that apply to the patient are met"
                    ),
                };
                let docs = children.iter().map(|ch| self.criterion(ch)).collect();
                (Prose::Line(head), None, docs)
            }
        };
        CriterionDoc {
            id: c.id.to_string(),
            kind: c.kind,
            wording: c.wording.to_string(),
            applies,
            rule,
            unless,
            children,
        }
    }

    fn cond(&mut self, c: &Cond) -> Prose {
        match &c.kind {
            CondKind::And(items) => Prose::List {
                head: "all of the following".to_string(),
                items: items.iter().map(|i| self.cond(i)).collect(),
            },
            CondKind::Or(items) => Prose::List {
                head: "at least one of the following".to_string(),
                items: items.iter().map(|i| self.cond(i)).collect(),
            },
            CondKind::Not(inner) => match self.cond(inner) {
                Prose::Line(s) => Prose::Line(format!("it is not the case that {s}")),
                Prose::List { head, items } => {
                    let head = if head.starts_with("all") {
                        "not all of the following".to_string()
                    } else {
                        "none of the following".to_string()
                    };
                    Prose::List { head, items }
                }
            },
            CondKind::Define(id) => {
                if !self.used.contains(id) {
                    self.used.push(*id);
                }
                let (name, label) = self.p.definition(*id).map_or(("?".to_string(), None), |d| {
                    (d.name.clone(), d.label.clone())
                });
                Prose::Line(match label {
                    Some(l) => format!("the definition “{name}” holds ({l}; see Definitions)"),
                    None => format!("the definition “{name}” holds (see Definitions)"),
                })
            }
            _ => Prose::Line(self.leaf(c)),
        }
    }

    fn concept_label(&self, id: crate::program::ConceptId) -> String {
        self.p
            .concept(id)
            .map_or_else(|| "?".to_string(), |c| lower_first(&c.label))
    }

    fn anchor(&self, id: crate::program::AnchorId) -> String {
        match self.p.anchor(id) {
            Some(a) if a.fixed.is_some() => a.name.clone(),
            Some(a) if a.event.is_some() => match &a.label {
                Some(l) => format!("the start of the {}", lower_first(l)),
                None => format!("the {} date", a.name.replace('_', " ")),
            },
            Some(a) => match &a.label {
                Some(l) => format!("the {}", lower_first(l)),
                None => format!("the {} date", a.name.replace('_', " ")),
            },
            None => "?".to_string(),
        }
    }

    fn point(&self, t: &TimePoint) -> String {
        match t.offset {
            None => self.anchor(t.anchor),
            Some((d, dir)) => format!("{d} {} {}", dir.keyword(), self.anchor(t.anchor)),
        }
    }

    /// The window as a phrase starting with a preposition (empty for `ever`).
    fn window(&self, w: &Window, at_phrase: &str) -> String {
        match w {
            Window::Ever => "at any time".to_string(),
            Window::At(a) => format!("{at_phrase} {}", self.anchor(*a)),
            Window::Range { from, to } => match (from, to) {
                (None, None) => "at any time".to_string(),
                (None, Some(t)) => format!("at any time up to {}", self.point(t)),
                (Some(f), None) => format!("at any time from {}", self.point(f)),
                (Some(f), Some(t)) => {
                    let same = f.anchor == t.anchor;
                    match (f.offset, t.offset) {
                        (Some((d, Direction::Before)), None) if same => {
                            format!("in the {} before {}", plural_dur(d), self.anchor(t.anchor))
                        }
                        (None, Some((d, Direction::After))) if same => {
                            format!("in the {} after {}", plural_dur(d), self.anchor(f.anchor))
                        }
                        (Some((d, Direction::Before)), Some((e, Direction::After)))
                            if same && d == e =>
                        {
                            format!("within {d} either side of {}", self.anchor(f.anchor))
                        }
                        _ => format!("from {} to {}", self.point(f), self.point(t)),
                    }
                }
            },
        }
    }

    fn test(&self, t: &ValueTest) -> String {
        match t {
            ValueTest::Compare { op, threshold } => {
                let value = match threshold {
                    Threshold::Quantity { value, unit } => quantity(*value, unit.text()),
                    Threshold::RefMultiple { factor, bound } => match bound {
                        RefBound::Uln => format!("{factor} × the upper limit of normal (ULN)"),
                        RefBound::Lln => format!("{factor} × the lower limit of normal (LLN)"),
                    },
                    Threshold::RefOffset {
                        bound,
                        offset,
                        unit,
                    } => {
                        let limit = match bound {
                            RefBound::Uln => "the upper limit of normal (ULN)",
                            RefBound::Lln => "the lower limit of normal (LLN)",
                        };
                        let (amount, word) = if offset.is_sign_negative() {
                            (-*offset, "below")
                        } else {
                            (*offset, "above")
                        };
                        format!("{} {word} {limit}", quantity(amount, unit.text()))
                    }
                };
                format!("{} {value}", op_words(*op))
            }
            ValueTest::Qualitative { negated, value } => {
                let word = match value {
                    Qualitative::Positive => "positive",
                    Qualitative::Negative => "negative",
                    Qualitative::Indeterminate => "indeterminate",
                    Qualitative::Normal => "normal",
                    Qualitative::Abnormal => "abnormal",
                    Qualitative::Improving => "improving",
                    Qualitative::Stable => "stable",
                    Qualitative::Progressing => "progressing",
                    Qualitative::Undetermined => "undetermined",
                    Qualitative::CompleteRemission => "in complete remission",
                    Qualitative::PartialRemission => "in partial remission",
                };
                if *negated {
                    format!("not {word}")
                } else {
                    word.to_string()
                }
            }
            ValueTest::Range { negated, test } => {
                let words = match test {
                    RangeTest::AboveNormal => "above the upper limit of its reference range",
                    RangeTest::BelowNormal => "below the lower limit of its reference range",
                    RangeTest::WithinNormal => "within its reference range",
                };
                if *negated {
                    format!("not {words}")
                } else {
                    words.to_string()
                }
            }
            ValueTest::Exists => "recorded".to_string(),
        }
    }

    /// The concepts an event query names: a concept's label, or a set's label with its
    /// members listed.
    fn target(&self, target: &str, concepts: &[crate::program::ConceptId]) -> String {
        if let Some(set) = self.p.sets.iter().find(|s| s.name == target) {
            let members: Vec<String> = concepts.iter().map(|c| self.concept_label(*c)).collect();
            return format!("any of “{}” ({})", set.label, members.join(", "));
        }
        match concepts {
            [one] => self.concept_label(*one),
            _ => target.to_string(),
        }
    }

    fn filters(&self, filters: &[Filter]) -> String {
        let parts: Vec<String> = filters.iter().map(|f| self.filter(f)).collect();
        // `either A or B, and C`: the comma closes the alternatives.
        let sep = if parts.len() > 1 && filters.iter().any(|f| matches!(f, Filter::Any(_))) {
            ", and "
        } else {
            " and "
        };
        if parts.is_empty() {
            String::new()
        } else {
            format!(", with {}", parts.join(sep))
        }
    }

    /// One `where` test in words.
    fn filter(&self, f: &Filter) -> String {
        match f {
            Filter::Any(alternatives) => {
                let words: Vec<String> = alternatives.iter().map(|a| self.filter(a)).collect();
                format!("either {}", words.join(" or "))
            }
            Filter::Number {
                attribute,
                op,
                value,
            } => format!("{attribute} {}", number_words(*op, *value)),
            Filter::Word {
                attribute,
                negated,
                values,
            } => format!(
                "{} {}{}",
                attribute.replace('_', " "),
                if *negated { "not " } else { "" },
                values.join(" or ")
            ),
            Filter::Code {
                attribute,
                negated,
                names,
                concepts,
            } => {
                // One concept reads by its label; a set by its name.
                let values = match (names.as_slice(), concepts.as_slice()) {
                    ([_], [one]) => self.concept_label(*one),
                    _ => names.join(" or "),
                };
                format!(
                    "{} {}{values}",
                    attribute.replace('_', " "),
                    if *negated { "not " } else { "" }
                )
            }
        }
    }

    fn event(&self, q: &EventQuery) -> String {
        let target = if q.every {
            "anything".to_string()
        } else {
            self.target(&q.target, &q.concepts)
        };
        let target = if q.except.is_empty() {
            target
        } else {
            let excluded: Vec<String> = match (q.except_names.as_slice(), q.except.as_slice()) {
                ([_], [one]) => vec![self.concept_label(*one)],
                (names, _) => names.to_vec(),
            };
            format!("{target} other than {}", excluded.join(" or "))
        };
        let taken = q
            .taken_for
            .map(|(op, d)| format!(", taken for {} {d} in total", op_words(op)))
            .unwrap_or_default();
        let filters = self.filters(&q.filters);
        match q.kind {
            EventKind::Condition => format!(
                "a recorded diagnosis of {target}{filters}, {}",
                self.window(&q.window, "active on the date of")
            ),
            EventKind::Medication => format!(
                "treatment with {target}{taken}{filters}, {}",
                self.window(&q.window, "ongoing on the date of")
            ),
            EventKind::Immunization => format!(
                "a vaccination with {target}{filters}, {}",
                self.window(&q.window, "on the date of")
            ),
            EventKind::Procedure => format!(
                "a procedure: {target}{filters}, {}",
                self.window(&q.window, "on the date of")
            ),
            EventKind::Allergy => format!(
                "a recorded allergy or intolerance to {target}{filters}, {}",
                self.window(&q.window, "active on the date of")
            ),
            EventKind::Encounter => format!(
                "an encounter with care: {target}{filters}, {}",
                self.window(&q.window, "in progress on the date of")
            ),
            EventKind::FamilyHistory => format!(
                "a relative with {target}{filters} (family history), {}",
                self.window(&q.window, "recorded by the date of")
            ),
            EventKind::Study => format!(
                "enrolment in a research study: {target}{filters}, {}",
                self.window(&q.window, "on the study on the date of")
            ),
        }
    }

    fn dose(&self, q: &DoseQuery) -> String {
        let drugs: Vec<crate::program::ConceptId> = q.drugs.iter().map(|(d, _)| *d).collect();
        let target = self.target(&q.target, &drugs);
        let equivalent = q
            .as_drug
            .as_ref()
            .map(|d| format!(" (counted as {d}-equivalent dose)"))
            .unwrap_or_default();
        let per_kg = if q.per_kg {
            " per kg of body weight"
        } else {
            ""
        };
        let sustained = q
            .sustained
            .map(|d| format!(", held every day for {d}"))
            .unwrap_or_default();
        format!(
            "a daily dose of {target}{equivalent} of {} {}{per_kg}{sustained}, {}",
            op_words(q.op),
            quantity(q.threshold, q.unit.text()),
            self.window(&q.window, "on the date of")
        )
    }

    /// A computation in words: "the most recent haemoglobin ... minus the first
    /// haemoglobin ...", bracketed where the order of operations needs it.
    fn arith(&self, a: &Arith, outer: u8) -> String {
        match a {
            Arith::Result {
                mode,
                concept,
                window,
            } => {
                let which = match mode {
                    SelectMode::Earliest => "first",
                    SelectMode::Average => "average",
                    _ => "most recent",
                };
                format!(
                    "the {which} {} {}",
                    self.concept_label(*concept),
                    self.window(window, "on the date of")
                )
            }
            Arith::Binary { op, lhs, rhs } => {
                let word = match op {
                    ArithOp::Add => "plus",
                    ArithOp::Sub => "minus",
                    ArithOp::Mul => "times",
                    ArithOp::Div => "divided by",
                };
                let text = format!(
                    "{} {word} {}",
                    self.arith(lhs, op.precedence()),
                    self.arith(rhs, op.precedence() + 1)
                );
                if op.precedence() < outer {
                    format!("({text})")
                } else {
                    text
                }
            }
        }
    }

    fn leaf(&self, c: &Cond) -> String {
        match &c.kind {
            CondKind::Attested(id) => {
                let (by, label) = self.p.concept(*id).map_or(
                    ("investigator".to_string(), "?".to_string()),
                    |c| {
                        (
                            c.attested_by
                                .clone()
                                .unwrap_or_else(|| "investigator".to_string()),
                            c.label.clone(),
                        )
                    },
                );
                format!("the {by} confirms: {}", lower_first(&label))
            }
            CondKind::SexIs(s) => {
                let word = match s {
                    Sex::Female => "female",
                    Sex::Male => "male",
                    Sex::Other => "other",
                };
                format!("the patient's recorded sex is {word}")
            }
            CondKind::Age {
                anchor,
                op,
                duration,
            } => format!(
                "the patient's age at {} is {} {duration}",
                self.anchor(*anchor),
                op_words(*op)
            ),
            CondKind::Observation {
                mode,
                concepts,
                target,
                window,
                test,
            } => {
                let label = self.target(target, concepts);
                let window = self.window(window, "on the date of");
                let test = self.test(test);
                match mode {
                    SelectMode::Latest => format!("the most recent {label} {window} is {test}"),
                    SelectMode::Earliest => format!("the first {label} {window} is {test}"),
                    SelectMode::Average => {
                        format!("the average of the {label} results {window} is {test}")
                    }
                    SelectMode::Any => format!("some {label} result {window} is {test}"),
                    SelectMode::All => format!("every {label} result {window} is {test}"),
                    SelectMode::No => format!("no {label} result {window} is {test}"),
                }
            }
            CondKind::Arithmetic {
                value,
                op,
                threshold,
                unit,
            } => format!(
                "{} is {} {}",
                self.arith(value, 0),
                op_words(*op),
                quantity(*threshold, unit.text())
            ),
            CondKind::CountResults {
                concept,
                window,
                op,
                n,
            } => format!(
                "the number of {} results {} is {}",
                self.concept_label(*concept),
                self.window(window, "on the date of"),
                number_words(*op, *n)
            ),
            CondKind::Event(q) => format!("there is {}", self.event(q)),
            CondKind::SelectEvent { select, query } => {
                let unwindowed = EventQuery {
                    window: Window::Ever,
                    ..query.clone()
                };
                let which = match select {
                    crate::ast::EventSelect::First => "the first",
                    crate::ast::EventSelect::Last => "the most recent",
                };
                format!(
                    "{which} record of {} began {}",
                    self.event(&unwindowed).trim_end_matches(", at any time"),
                    self.window(&query.window, "on")
                )
            }
            CondKind::CountEvents { query, op, n } => format!(
                "the number of records of {} is {}",
                self.event(query),
                number_words(*op, *n)
            ),
            CondKind::CountDistinct { query, op, n } => {
                let target = self.target(&query.target, &query.concepts);
                let taken = query
                    .taken_for
                    .map(|(op, d)| format!(", each taken for {} {d} in total", op_words(op)))
                    .unwrap_or_default();
                format!(
                    "{} different ones of {target} were used{taken}, {}",
                    number_words(*op, *n),
                    self.window(&query.window, "on the date of")
                )
            }
            CondKind::Dose(q) => format!("there is {}", self.dose(q)),
            CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) | CondKind::Define(_) => {
                String::new()
            }
        }
    }
}

fn plural_dur(d: Dur) -> String {
    if d.amount == 1 {
        d.unit.word(false).to_string()
    } else {
        d.to_string()
    }
}

/// "Screening visit" → "screening visit"; an acronym ("ECG") is kept.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            a.to_lowercase().chain(s.chars().skip(1)).collect()
        }
        _ => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// Escapes text for Markdown (characters that would start markup or HTML).
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn md_prose(out: &mut String, p: &Prose, indent: usize, lead: &str) {
    let pad = "  ".repeat(indent);
    match p {
        Prose::Line(s) => {
            let _ = writeln!(out, "{pad}- {lead}{}", md_escape(s));
        }
        Prose::List { head, items } => {
            let _ = writeln!(out, "{pad}- {lead}{}:", md_escape(head));
            for item in items {
                md_prose(out, item, indent + 1, "");
            }
        }
    }
}

fn md_criterion(out: &mut String, c: &CriterionDoc, depth: usize) {
    let hashes = "#".repeat((depth + 3).min(6));
    let _ = writeln!(out, "{hashes} {}\n", md_escape(&c.id));
    let _ = writeln!(out, "> {}\n", md_escape(&c.wording));
    if let Some(a) = &c.applies {
        md_prose(out, a, 0, "**Applies only if** ");
    }
    let lead = match c.kind {
        CriterionKind::Inclusion => "**Met when** ",
        CriterionKind::Exclusion => "**Excludes the patient when** ",
    };
    md_prose(out, &c.rule, 0, lead);
    if let Some(u) = &c.unless {
        md_prose(out, u, 0, "**Unless** ");
    }
    out.push('\n');
    for child in &c.children {
        md_criterion(out, child, depth + 1);
    }
}

/// The document as Markdown.
pub fn markdown(d: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_escape(&d.title));
    if let Some(v) = &d.version {
        let _ = writeln!(out, "Version {}\n", md_escape(v));
    }
    let _ = writeln!(
        out,
        "Eligibility criteria: each criterion's id, the protocol's wording, and the rule \
         eligc applies, in plain language. Windows include both ends.\n"
    );
    for (kind, heading) in [
        (CriterionKind::Inclusion, "Inclusion criteria"),
        (CriterionKind::Exclusion, "Exclusion criteria"),
    ] {
        let of_kind: Vec<&CriterionDoc> = d.criteria.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {heading}\n");
        for c in of_kind {
            md_criterion(&mut out, c, 0);
        }
    }
    if !d.definitions.is_empty() {
        let _ = writeln!(out, "## Definitions\n");
        for (name, label, prose) in &d.definitions {
            let title = label
                .as_ref()
                .map_or_else(|| name.clone(), |l| format!("{name}: {l}"));
            let _ = writeln!(out, "### {}\n", md_escape(&title));
            md_prose(&mut out, prose, 0, "**Holds when** ");
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

const CSS: &str = "\
body { font-family: Georgia, 'Times New Roman', serif; max-width: 48em; margin: 2em auto; \
padding: 0 1em; line-height: 1.45; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #999; margin-top: 1.6em; }
.version { color: #444; margin-top: 0; }
section.criterion { margin: 1em 0; padding-left: 0.8em; border-left: 3px solid #ccc; }
section.criterion section.criterion { margin-left: 0.6em; }
.id { font-weight: bold; font-family: Menlo, Consolas, monospace; }
blockquote { margin: 0.3em 0 0.5em 0; font-style: italic; color: #333; }
ul { margin: 0.2em 0; padding-left: 1.4em; }
.lead { font-weight: bold; }
@media print {
  body { max-width: none; margin: 0; font-size: 10.5pt; }
  section.criterion { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
";

fn html_prose(out: &mut String, p: &Prose, lead: &str) {
    match p {
        Prose::Line(s) => {
            let _ = write!(out, "<li>{lead}{}</li>", html_escape(s));
        }
        Prose::List { head, items } => {
            let _ = write!(out, "<li>{lead}{}:<ul>", html_escape(head));
            for item in items {
                html_prose(out, item, "");
            }
            out.push_str("</ul></li>");
        }
    }
}

fn html_criterion(out: &mut String, c: &CriterionDoc, depth: usize) {
    let level = (depth + 3).min(6);
    let _ = write!(
        out,
        "<section class=\"criterion\"><h{level}><span class=\"id\">{}</span></h{level}>\
         <blockquote>{}</blockquote><ul>",
        html_escape(&c.id),
        html_escape(&c.wording)
    );
    if let Some(a) = &c.applies {
        html_prose(out, a, "<span class=\"lead\">Applies only if</span> ");
    }
    let lead = match c.kind {
        CriterionKind::Inclusion => "<span class=\"lead\">Met when</span> ",
        CriterionKind::Exclusion => "<span class=\"lead\">Excludes the patient when</span> ",
    };
    html_prose(out, &c.rule, lead);
    if let Some(u) = &c.unless {
        html_prose(out, u, "<span class=\"lead\">Unless</span> ");
    }
    out.push_str("</ul>\n");
    for child in &c.children {
        html_criterion(out, child, depth + 1);
    }
    out.push_str("</section>\n");
}

/// The document as one self-contained HTML file (inline CSS, no external resources).
pub fn html(d: &Document) -> String {
    let mut out = String::new();
    let title = html_escape(&d.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if let Some(v) = &d.version {
        let _ = writeln!(out, "<p class=\"version\">Version {}</p>", html_escape(v));
    }
    out.push_str(
        "<p>Eligibility criteria: each criterion's id, the protocol's wording, and the rule \
         eligc applies, in plain language. Windows include both ends.</p>\n",
    );
    for (kind, heading) in [
        (CriterionKind::Inclusion, "Inclusion criteria"),
        (CriterionKind::Exclusion, "Exclusion criteria"),
    ] {
        let of_kind: Vec<&CriterionDoc> = d.criteria.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2>{heading}</h2>");
        for c in of_kind {
            html_criterion(&mut out, c, 0);
        }
    }
    if !d.definitions.is_empty() {
        out.push_str("<h2>Definitions</h2>\n");
        for (name, label, prose) in &d.definitions {
            let title = label
                .as_ref()
                .map_or_else(|| name.clone(), |l| format!("{name}: {l}"));
            let _ = write!(
                out,
                "<section class=\"criterion\"><h3>{}</h3><ul>",
                html_escape(&title)
            );
            html_prose(&mut out, prose, "<span class=\"lead\">Holds when</span> ");
            out.push_str("</ul></section>\n");
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}
