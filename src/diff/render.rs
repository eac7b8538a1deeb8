//! The differences and the patient impact as text for people (an ethics committee reads
//! it) and as JSON for tools.

use std::fmt::Write as _;

use crate::terminal::escape;

use super::impact::{Impact, OutcomeChange};
use super::{Change, CriterionDiff, Diff, Part, Status};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn version(v: &Option<String>) -> String {
    v.as_deref()
        .map_or_else(|| "(no version)".to_string(), |v| format!("version {v}"))
}

/// The differences as text.
pub fn text(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Protocol: {}", escape(&d.new.title));
    if d.old.title != d.new.title {
        let _ = writeln!(out, "  title changed; was: {}", escape(&d.old.title));
    }
    let _ = writeln!(
        out,
        "Amendment: {} → {}",
        version(&d.old.version),
        version(&d.new.version)
    );
    let c = &d.counts;
    let _ = writeln!(
        out,
        "Criteria: {} added, {} removed, {} changed in meaning, {} changed in wording only",
        c.added, c.removed, c.changed, c.wording_only
    );
    let _ = writeln!(
        out,
        "Effect on who is eligible: {} narrow, {} widen, {} undetermined",
        plural(c.narrows, "criterion", "criteria"),
        c.widens,
        c.undetermined
    );
    if d.criteria.is_empty() {
        let _ = writeln!(out, "\nNo differences in the criteria.");
        return out;
    }
    for cd in &d.criteria {
        out.push('\n');
        criterion(&mut out, cd);
    }
    out
}

fn criterion(out: &mut String, cd: &CriterionDiff) {
    let status = match cd.status {
        Status::Added => "ADDED",
        Status::Removed => "REMOVED",
        Status::Changed => "CHANGED",
        Status::WordingOnly => "WORDING ONLY",
    };
    let parent = cd
        .parent
        .as_ref()
        .map(|p| format!(", in {p}"))
        .unwrap_or_default();
    let effect = cd
        .effect
        .map(|e| format!(": {}", e.word()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} ({}{parent}) {status}{effect}",
        cd.id,
        cd.kind.keyword()
    );
    if let Some(text) = &cd.text {
        let _ = writeln!(out, "  \"{}\"", escape(text));
    }
    if let Some(rule) = &cd.rule {
        let _ = writeln!(out, "  rule: {rule}");
    }
    if let Some(w) = &cd.wording {
        let _ = writeln!(out, "  wording changed:");
        let _ = writeln!(out, "    was: \"{}\"", escape(&w.old));
        let _ = writeln!(out, "    now: \"{}\"", escape(&w.new));
        let _ = writeln!(
            out,
            "    difference: {}",
            escape(&word_diff(&w.old, &w.new))
        );
    }
    if cd.status == Status::WordingOnly {
        let _ = writeln!(out, "  the rule is unchanged: same meaning");
    }
    for ch in &cd.changes {
        if matches!(cd.status, Status::Added | Status::Removed) {
            let _ = writeln!(out, "  - {} [{}]", ch.description, ch.effect.word());
            continue;
        }
        change(out, ch);
    }
}

/// The words that differ between two wordings, with a few words of context either side:
/// `… leflunomide, [-telitacicept,-] Beliumab, …`.
pub fn word_diff(old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.split_whitespace().collect();
    let b: Vec<&str> = new.split_whitespace().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(a.len().min(b.len()) - prefix);
    let slice = |v: &[&str], from: usize, to: usize| -> String {
        v.get(from..to).map(|s| s.join(" ")).unwrap_or_default()
    };
    let mut parts = Vec::new();
    let start = prefix.saturating_sub(CONTEXT);
    if start > 0 {
        parts.push("…".to_string());
    }
    let before = slice(&a, start, prefix);
    if !before.is_empty() {
        parts.push(before);
    }
    let removed = slice(&a, prefix, a.len() - suffix);
    if !removed.is_empty() {
        parts.push(format!("[-{removed}-]"));
    }
    let added = slice(&b, prefix, b.len() - suffix);
    if !added.is_empty() {
        parts.push(format!("{{+{added}+}}"));
    }
    let end = (a.len() - suffix + CONTEXT).min(a.len());
    let after = slice(&a, a.len() - suffix, end);
    if !after.is_empty() {
        parts.push(after);
    }
    if end < a.len() {
        parts.push("…".to_string());
    }
    parts.join(" ")
}

fn change(out: &mut String, ch: &Change) {
    let part = match ch.part {
        Part::Criterion | Part::Rule => "",
        Part::Applies => "in `applies if`: ",
        Part::Unless => "in `unless`: ",
    };
    let _ = writeln!(
        out,
        "  - {}: {part}{} [{}]",
        ch.aspect.word(),
        ch.description,
        ch.effect.word()
    );
    match (&ch.old, &ch.new) {
        (Some(o), Some(n)) if o.len() + n.len() < 70 => {
            let _ = writeln!(out, "      {o}  →  {n}");
        }
        (o, n) => {
            if let Some(o) = o {
                let _ = writeln!(out, "      was: {o}");
            }
            if let Some(n) = n {
                let _ = writeln!(out, "      now: {n}");
            }
        }
    }
    if !ch.added.is_empty() && ch.aspect == super::Aspect::Codes {
        let _ = writeln!(out, "      added: {}", ch.added.join(", "));
    }
    if !ch.removed.is_empty() && ch.aspect == super::Aspect::Codes {
        let _ = writeln!(out, "      removed: {}", ch.removed.join(", "));
    }
}

/// The differences as JSON.
pub fn json(d: &Diff, impact: Option<&Impact>) -> serde_json::Value {
    let mut value = serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
    if let (Some(impact), serde_json::Value::Object(map)) = (impact, &mut value) {
        map.insert(
            "impact".to_string(),
            serde_json::to_value(impact).unwrap_or(serde_json::Value::Null),
        );
    }
    value
}

fn outcome(o: Option<crate::eval::Outcome>) -> &'static str {
    o.map_or("(not in this version)", crate::eval::Outcome::word)
}

fn outcome_change(c: &OutcomeChange) -> String {
    format!("{} {} → {}", c.id, outcome(c.old), outcome(c.new))
}

/// The impact on patients as text.
pub fn impact_text(i: &Impact) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Impact on patients");
    let screened = i.read - i.rejected;
    let _ = writeln!(
        out,
        "  read {}, screened {screened}, rejected {}",
        i.read, i.rejected
    );
    let _ = writeln!(
        out,
        "  verdict changed: {}; same verdict, some criterion's outcome changed: {}; unchanged: {}",
        i.changed, i.outcomes_only, i.unchanged
    );
    let counts = |c: &super::impact::VerdictCounts| {
        format!(
            "{} eligible, {} ineligible, {} needs review",
            c.eligible, c.ineligible, c.needs_review
        )
    };
    let _ = writeln!(out, "  old version: {}", counts(&i.old_verdicts));
    let _ = writeln!(out, "  new version: {}", counts(&i.new_verdicts));
    if !i.transitions.is_empty() {
        let _ = writeln!(out, "  by transition:");
        for t in &i.transitions {
            let _ = writeln!(
                out,
                "    {:<28} {}",
                format!("{} → {}", t.old.word(), t.new.word()),
                t.count
            );
        }
    }
    if !i.patients.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<16} {:<30} CRITERIA RESPONSIBLE",
            "PATIENT", "VERDICT"
        );
        for p in &i.patients {
            let verdict = format!("{} → {}", p.old.word(), p.new.word());
            let criteria: Vec<String> = p.criteria.iter().map(outcome_change).collect();
            let _ = writeln!(
                out,
                "{:<16} {verdict:<30} {}",
                escape(&p.id),
                criteria.join("; ")
            );
        }
    }
    out
}
