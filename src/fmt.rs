//! The canonical formatter behind `eligc fmt`: one layout for every `.elig` file.
//!
//! [`format`] parses a file, refuses it if it has syntax errors, and prints its syntax tree
//! again with the rules of `docs/formatting.md`. The tree carries no layout, so every
//! layout decision is taken here; the only things read back from the source text are the
//! `//` comments (placed by their positions relative to the nodes' spans), the blank lines
//! between items, and the optional `in` of an event query, which the tree drops.
//!
//! Guarantees, tested in `tests/fmt.rs`: `parse(format(x)) == parse(x)` (spans ignored),
//! `format(format(x)) == format(x)`, and every comment of `x` is in `format(x)`.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::source::{Source, Span};
use crate::syntax;

/// Lines are wrapped at this many columns where the layout allows it.
pub const WIDTH: usize = 100;

/// One level of indentation.
const INDENT: usize = 2;

/// Formats one file. Returns the file's syntax errors instead if it has any: a file that
/// does not parse is never rewritten.
pub fn format(source: &Source) -> Result<String, Vec<Diagnostic>> {
    let parsed = syntax::parse(source);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(format_module(&source.text, &parsed.module))
}

/// Formats a parsed module; `text` is the source it was parsed from (for comments, blank
/// lines and the spans' text).
pub fn format_module(text: &str, module: &Module) -> String {
    let mut printer = Printer::new(text, module);
    printer.module(module);
    printer.render()
}

// ------------------------------------------------------------------------------ output

/// One output line.
enum Out {
    Blank,
    Line {
        indent: usize,
        text: String,
        /// A comment kept at the end of the line.
        trailing: Option<String>,
        /// The line ends with an opening brace: no blank line follows it.
        opens: bool,
    },
}

/// A `//` comment waiting to be placed.
struct Cmt {
    /// Byte offset of the `//`.
    pos: usize,
    /// Byte offset of the end of the comment.
    end: usize,
    /// Where it counts as standing for layout decisions: its own position, or the start of
    /// the one-line construct it is inside (it is printed before that line).
    eff: usize,
    text: String,
}

struct Printer<'a> {
    text: &'a str,
    comments: Vec<Cmt>,
    /// The first comment not yet printed.
    next: usize,
    out: Vec<Out>,
    /// End of the source last printed (code or comment), for finding blank lines.
    last_end: usize,
}

fn start(span: Span) -> usize {
    span.start as usize
}

fn end(span: Span) -> usize {
    span.end as usize
}

fn fits(indent: usize, text: &str) -> bool {
    indent + text.chars().count() <= WIDTH
}

impl<'a> Printer<'a> {
    fn new(text: &'a str, module: &Module) -> Printer<'a> {
        let mut comments: Vec<Cmt> = module
            .comments
            .iter()
            .map(|c| Cmt {
                pos: start(c.span),
                end: end(c.span),
                eff: start(c.span),
                text: c.text.clone(),
            })
            .collect();
        comments.sort_by_key(|c| c.pos);
        let mut atoms = Vec::new();
        for item in &module.items {
            item_atoms(item, &mut atoms);
        }
        for (a_start, a_end) in atoms {
            for c in comments.iter_mut() {
                if c.pos > a_start && c.pos < a_end {
                    c.eff = c.eff.min(a_start);
                }
            }
        }
        Printer {
            text,
            comments,
            next: 0,
            out: Vec::new(),
            last_end: 0,
        }
    }

    // -------------------------------------------------------------- comments and lines

    /// Whether a comment stands strictly inside `[from, to)`.
    fn has_comment_in(&self, from: usize, to: usize) -> bool {
        self.comments.iter().any(|c| c.eff > from && c.eff < to)
    }

    fn next_comment(&self) -> Option<&Cmt> {
        self.comments.get(self.next)
    }

    /// Whether the source between two offsets has an empty line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let gap = self.text.get(from..to).unwrap_or("");
        let parts: Vec<&str> = gap.split('\n').collect();
        parts.len() >= 3
            && parts
                .iter()
                .skip(1)
                .take(parts.len() - 2)
                .any(|p| p.trim().is_empty())
    }

    fn blank(&mut self) {
        if let Some(Out::Line { opens: false, .. }) = self.out.last() {
            self.out.push(Out::Blank);
        }
    }

    /// Prints, on their own lines at `indent`, the comments that stand before `before`.
    /// With `blanks`, a blank line in the source before a comment is kept.
    fn flush(&mut self, before: usize, indent: usize, blanks: bool) {
        while let Some(c) = self.comments.get(self.next) {
            if c.eff >= before {
                break;
            }
            let (pos, c_end, text) = (c.pos, c.end, c.text.clone());
            if blanks && self.blank_between(self.last_end, pos) {
                self.blank();
            }
            self.out.push(Out::Line {
                indent,
                text,
                trailing: None,
                opens: false,
            });
            self.last_end = self.last_end.max(c_end);
            self.next += 1;
        }
    }

    /// Whether a comment follows `at` on the same source line with only spaces and commas
    /// between: it stays at the end of the line printed up to `at`.
    fn trails(&self, at: usize) -> bool {
        let Some(c) = self.comments.iter().skip(self.next).find(|c| c.pos >= at) else {
            return false;
        };
        self.text
            .get(at..c.pos)
            .is_some_and(|gap| gap.chars().all(|ch| matches!(ch, ' ' | '\t' | ',')))
    }

    /// Prints a line of code. Comments standing before `before` go on their own lines first;
    /// a comment right after `trail` in the source ends the line.
    fn line(&mut self, indent: usize, text: String, before: usize, trail: Option<usize>) {
        self.push_line(indent, text, before, trail, false);
    }

    fn push_line(
        &mut self,
        indent: usize,
        text: String,
        before: usize,
        trail: Option<usize>,
        opens: bool,
    ) {
        self.flush(before, indent, false);
        let mut trailing = None;
        // `8 //` would read the comment as the number's unit (the grammar's `quantity`
        // takes `//` for a unit): a comment after a number goes on the next line instead.
        let ends_in_number = text.ends_with(|c: char| c.is_ascii_digit());
        if let Some(at) = trail.filter(|_| !ends_in_number) {
            self.last_end = self.last_end.max(at);
            if self.trails(at) && self.next_comment().is_some_and(|c| c.pos >= at) {
                if let Some(c) = self.comments.get(self.next) {
                    trailing = Some(c.text.clone());
                    self.last_end = self.last_end.max(c.end);
                }
                self.next += 1;
            }
        }
        self.last_end = self.last_end.max(before);
        self.out.push(Out::Line {
            indent,
            text,
            trailing,
            opens,
        });
    }

    /// A closing bracket at source offset `at` (or where it would be): comments before it
    /// are printed at the inner indentation.
    fn closer(&mut self, indent: usize, text: &str, at: usize) {
        self.flush(at, indent + INDENT, false);
        self.line(indent, text.to_string(), at + 1, Some(at + 1));
    }

    /// The first `ch` at or after `from`, outside comments; `from` if there is none.
    fn find_punct(&self, from: usize, ch: u8) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = from;
        while let Some(&b) = bytes.get(i) {
            if b == ch {
                return i;
            }
            if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
                while bytes.get(i).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
                continue;
            }
            i += 1;
        }
        from
    }

    /// The offset just after the first word `word` at or after `from`, outside comments.
    fn after_word(&self, from: usize, word: &str) -> usize {
        let bytes = self.text.as_bytes();
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut i = from;
        while let Some(&b) = bytes.get(i) {
            if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
                while bytes.get(i).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
                continue;
            }
            let after = i + word.len();
            if self.text.get(i..after) == Some(word)
                && !bytes.get(after).is_some_and(|&b| is_word(b))
                && (i == 0 || !bytes.get(i - 1).is_some_and(|&b| is_word(b)))
            {
                return after;
            }
            i += 1;
        }
        from
    }

    fn render(mut self) -> String {
        self.flush(usize::MAX, 0, true);
        while matches!(self.out.last(), Some(Out::Blank)) {
            self.out.pop();
        }
        // Trailing comments on consecutive lines of one indentation are aligned one column
        // after the longest line.
        let mut columns = vec![0usize; self.out.len()];
        let mut i = 0;
        while i < self.out.len() {
            let mut j = i;
            let mut widest = 0;
            let mut run_indent = None;
            while let Some(Out::Line {
                indent,
                text,
                trailing: Some(_),
                ..
            }) = self.out.get(j)
            {
                if run_indent.is_some_and(|r| r != *indent) {
                    break;
                }
                run_indent = Some(*indent);
                widest = widest.max(indent + text.chars().count());
                j += 1;
            }
            for col in columns.iter_mut().take(j).skip(i) {
                *col = widest + 1;
            }
            i = j.max(i + 1);
        }
        let mut s = String::new();
        for (line, col) in self.out.iter().zip(columns) {
            match line {
                Out::Blank => s.push('\n'),
                Out::Line {
                    indent,
                    text,
                    trailing,
                    ..
                } => {
                    let mut l = " ".repeat(*indent);
                    l.push_str(text);
                    if let Some(t) = trailing {
                        let width = l.chars().count();
                        l.push_str(&" ".repeat(col.saturating_sub(width).max(1)));
                        l.push_str(t);
                    }
                    s.push_str(l.trim_end());
                    s.push('\n');
                }
            }
        }
        s
    }

    // ------------------------------------------------------------------------------ items

    fn module(&mut self, module: &Module) {
        let mut previous_was_criterion = false;
        for (i, item) in module.items.iter().enumerate() {
            let is_criterion = matches!(item, Item::Criterion(_));
            self.item_start(
                start(item.span()),
                0,
                i > 0 && (is_criterion || previous_was_criterion),
            );
            self.item(item);
            previous_was_criterion = is_criterion;
        }
    }

    /// Before an item: the comments standing before it, and blank lines (forced, or kept
    /// from the source).
    fn item_start(&mut self, at: usize, indent: usize, force_blank: bool) {
        if force_blank {
            self.blank();
        }
        self.flush(at, indent, true);
        if self.blank_between(self.last_end, at) {
            self.blank();
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Protocol(p) => {
                let mut s = format!("protocol {}", string(&p.title));
                let mut e = end(p.title.span);
                if let Some(v) = &p.version {
                    s.push_str(&format!(" version {}", string(v)));
                    e = end(v.span);
                }
                self.line(0, s, e, Some(e));
            }
            Item::Anchor(a) => self.anchor(a),
            Item::Use(u) => {
                let s = match &u.target {
                    UseTarget::Builtin(i) => format!("use {}", i.name),
                    UseTarget::Path(p) => format!("use {}", string(p)),
                };
                self.line(0, s, end(u.span), Some(end(u.span)));
            }
            Item::CodeSystem(c) => {
                let s = format!("codesystem {} = {}", c.name.name, string(&c.url));
                self.line(0, s, end(c.span), Some(end(c.span)));
            }
            Item::Concept(c) => self.concept(c),
            Item::Set(s) => self.set(s),
            Item::Equivalence(e) => self.equivalence(e),
            Item::Define(d) => {
                let mut lead = format!("define {}", d.name.name);
                if let Some(l) = &d.label {
                    lead.push_str(&format!(" {}", string(l)));
                }
                lead.push_str(" = ");
                let name_end = d.label.as_ref().map_or(end(d.name.span), |l| end(l.span));
                let equals = self.find_punct(name_end, b'=') + 1;
                self.led_operand(&d.body, 0, &lead, false, Some(equals));
            }
            Item::Criterion(c) => self.criterion(c, 0, true),
        }
    }

    fn anchor(&mut self, a: &AnchorDecl) {
        let parts: Vec<String> = a
            .anchors
            .iter()
            .map(|x| {
                let mut s = match &x.label {
                    Some(l) => format!("{} {}", x.name.name, string(l)),
                    None => x.name.name.clone(),
                };
                if let Some(e) = &x.event {
                    s.push_str(&format!(
                        " = {} {}",
                        e.select.keyword(),
                        self.event(&e.query, e.span)
                    ));
                }
                s
            })
            .collect();
        let flat = format!("anchor {}", parts.join(", "));
        // Comments up to the end of the first anchor are printed before the line anyway.
        let first_end = a.anchors.first().map_or(start(a.span), |x| end(x.span));
        if fits(0, &flat) && !self.has_comment_in(first_end, end(a.span)) {
            self.line(0, flat, end(a.span), Some(end(a.span)));
            return;
        }
        let count = parts.len();
        for (i, (part, x)) in parts.into_iter().zip(&a.anchors).enumerate() {
            let (indent, mut text) = if i == 0 {
                (0, format!("anchor {part}"))
            } else {
                ("anchor ".len(), part)
            };
            if i + 1 < count {
                text.push(',');
            }
            self.line(indent, text, end(x.span), Some(end(x.span)));
        }
    }

    fn concept(&mut self, c: &ConceptDecl) {
        let mut head = format!("{} {}", c.kind.keyword(), c.name.name);
        let mut head_end = end(c.name.span);
        if let Some(l) = &c.label {
            head.push_str(&format!(" {}", string(l)));
            head_end = end(l.span);
        }
        match &c.value {
            Some(ValueSpec::Unit(u)) => {
                head.push_str(&format!(" unit {}", u.text));
                head_end = end(u.span);
            }
            Some(ValueSpec::Qualitative(span)) => {
                head.push_str(" qualitative");
                head_end = end(*span);
            }
            None => {}
        }
        if let Some((mass, unit)) = &c.molar_mass {
            head.push_str(&format!(" molar mass {} {}", number(mass), unit.text));
            head_end = end(unit.span);
        }
        if let Some((low, high)) = &c.normal {
            head.push_str(&format!(" normal {} to {}", number(low), number(high)));
            head_end = end(high.span);
        }
        if let Some(by) = &c.by {
            head.push_str(&format!(" by {}", by.name));
            head_end = end(by.span);
        }
        if c.codes.is_empty() {
            self.line(0, head, end(c.span), Some(end(c.span)));
            return;
        }
        let codes: Vec<(String, Span)> = c
            .codes
            .iter()
            .map(|code| (format!("{}:{}", code.system.name, code.value), code.span))
            .collect();
        let open = self.find_punct(head_end, b'[');
        let close = end(c.span).saturating_sub(1);
        self.list(
            format!("{head} codes ["),
            &codes,
            ("[", "]"),
            (open, close),
            end(c.span),
        );
    }

    fn set(&mut self, s: &SetDecl) {
        let mut head = format!("set {}", s.name.name);
        let mut head_end = end(s.name.span);
        if let Some(l) = &s.label {
            head.push_str(&format!(" {}", string(l)));
            head_end = end(l.span);
        }
        head.push_str(&format!(" = {} {{", s.kind.keyword()));
        let members: Vec<(String, Span)> =
            s.members.iter().map(|m| (m.name.clone(), m.span)).collect();
        let open = self.find_punct(head_end, b'{');
        let close = end(s.span).saturating_sub(1);
        self.list(head, &members, ("{ ", " }"), (open, close), end(s.span));
    }

    /// A bracketed list after `head` (which ends with the opening bracket): on one line if it
    /// fits and holds no comment, else filled at one indentation with a trailing comma.
    fn list(
        &mut self,
        head: String,
        members: &[(String, Span)],
        (flat_open, flat_close): (&str, &str),
        (open, close): (usize, usize),
        item_end: usize,
    ) {
        let joined: Vec<&str> = members.iter().map(|(t, _)| t.as_str()).collect();
        let flat = if members.is_empty() {
            format!("{head}{}", flat_close.trim_start())
        } else {
            let bare = head.strip_suffix(flat_open.trim_end()).unwrap_or(&head);
            format!("{bare}{flat_open}{}{flat_close}", joined.join(", "))
        };
        // A single entry stays on the line: breaking it would not make the line shorter.
        let short = members.len() < 2 || fits(0, &flat);
        if members.is_empty() || (short && !self.has_comment_in(open, close)) {
            self.line(0, flat, item_end, Some(item_end));
            return;
        }
        self.push_line(0, head, open + 1, Some(open + 1), true);
        let mut current = String::new();
        let mut current_end = 0;
        for (text, span) in members {
            let piece = format!("{text},");
            let comment_before = self.next_comment().is_some_and(|c| c.eff < start(*span));
            if !current.is_empty()
                && (comment_before || !fits(INDENT, &format!("{current} {piece}")))
            {
                let line = std::mem::take(&mut current);
                self.line(INDENT, line, current_end, Some(current_end));
            }
            if current.is_empty() {
                current = piece;
            } else {
                current.push(' ');
                current.push_str(&piece);
            }
            current_end = end(*span);
            if self.trails(current_end) {
                let line = std::mem::take(&mut current);
                self.line(INDENT, line, current_end, Some(current_end));
            }
        }
        if !current.is_empty() {
            self.line(INDENT, current, current_end, Some(current_end));
        }
        let closing = flat_close.trim_start();
        self.closer(0, closing, close);
    }

    fn equivalence(&mut self, e: &EquivalenceDecl) {
        let head = format!("equivalence {} as {} {{", e.set.name, e.reference.name);
        if e.entries.is_empty() {
            self.line(0, format!("{head}}}"), end(e.span), Some(end(e.span)));
            return;
        }
        let open = self.find_punct(end(e.reference.span), b'{');
        self.push_line(0, head, open + 1, Some(open + 1), true);
        for entry in &e.entries {
            let text = format!("{} {},", entry.drug.name, number(&entry.factor));
            self.line(INDENT, text, end(entry.span), Some(end(entry.span)));
        }
        self.closer(0, "}", end(e.span).saturating_sub(1));
    }

    fn criterion(&mut self, c: &Criterion, indent: usize, top: bool) {
        let head = if top {
            format!("{} {} {}", c.kind.keyword(), c.id.name, string(&c.wording))
        } else {
            format!("{} {}", c.id.name, string(&c.wording))
        };
        let wording_end = end(c.wording.span);
        match &c.body {
            CriterionBody::Rule { expr, unless } => {
                let colon = self.find_punct(wording_end, b':') + 1;
                self.line(indent, format!("{head}:"), colon, Some(colon));
                if let Some(a) = &c.applies {
                    self.applies(a, colon, indent + INDENT);
                }
                self.operand(expr, indent + INDENT, "", false);
                if let Some(u) = unless {
                    let kw = self.after_word(end(expr.span), "unless");
                    self.led_operand(u, indent + INDENT, "unless ", false, Some(kw));
                }
            }
            CriterionBody::Group(subs) => {
                let quantifier = c.quantifier.as_ref().map(|q| match &q.kind {
                    QuantifierKind::All => "all of ".to_string(),
                    QuantifierKind::Any => "any of ".to_string(),
                    QuantifierKind::AtLeast(n) => format!("at least {} of ", number(n)),
                });
                let quantifier_end = c.quantifier.as_ref().map(|q| end(q.span));
                match &c.applies {
                    Some(a) => {
                        self.line(indent, head, wording_end, Some(wording_end));
                        self.applies(a, wording_end, indent + INDENT);
                        let brace =
                            self.find_punct(quantifier_end.unwrap_or(end(a.span)), b'{') + 1;
                        self.push_line(
                            indent,
                            format!("{}{{", quantifier.unwrap_or_default()),
                            brace,
                            Some(brace),
                            true,
                        );
                    }
                    None => {
                        let brace =
                            self.find_punct(quantifier_end.unwrap_or(wording_end), b'{') + 1;
                        self.push_line(
                            indent,
                            format!("{head} {}{{", quantifier.unwrap_or_default()),
                            brace,
                            Some(brace),
                            true,
                        );
                    }
                }
                for (i, sub) in subs.iter().enumerate() {
                    self.item_start(start(sub.span), indent + INDENT, i > 0);
                    self.criterion(sub, indent + INDENT, false);
                }
                let close = end(c.span).saturating_sub(1);
                self.flush(close, indent + INDENT, true);
                self.line(indent, "}".into(), close + 1, Some(close + 1));
            }
        }
    }

    /// `applies if` and its condition; the keywords are searched for after `from`.
    fn applies(&mut self, a: &Expr, from: usize, indent: usize) {
        let kw = self.after_word(self.after_word(from, "applies"), "if");
        self.led_operand(a, indent, "applies if ", false, Some(kw));
    }

    // ------------------------------------------------------------------------ expressions

    /// Prints `lead` and `e` starting a line at `indent`, in parentheses if `paren`.
    /// `lead_end` is where the lead's keywords end in the source, if the lead is a keyword
    /// (`applies if`, `unless`, `define x =`): comments after it stay after it.
    fn operand(&mut self, e: &Expr, indent: usize, lead: &str, paren: bool) {
        self.led_operand(e, indent, lead, paren, None);
    }

    fn led_operand(
        &mut self,
        e: &Expr,
        indent: usize,
        lead: &str,
        paren: bool,
        lead_end: Option<usize>,
    ) {
        let flat = if paren {
            format!("({})", self.flat(e))
        } else {
            self.flat(e)
        };
        let one_line = format!("{lead}{flat}");
        let chain = is_chain(e);
        let not_chain = matches!(&e.kind, ExprKind::Not(x) if is_chain(x)) && !paren;
        if (!chain && !not_chain) || (fits(indent, &one_line) && !self.comment_breaks(e)) {
            if !paren && !fits(indent, &one_line) && ends_with_where(e) {
                if let Some(at) = one_line.rfind(" where ") {
                    self.wrapped_where(indent, &one_line, at, end(e.span));
                    return;
                }
            }
            self.line(indent, one_line, end(e.span), Some(end(e.span)));
            return;
        }
        let opening_paren = self.text.as_bytes().get(start(e.span)) == Some(&b'(');
        let open_trail = opening_paren.then_some(start(e.span) + 1);
        if let ExprKind::Not(inner) = &e.kind {
            self.line(
                indent,
                format!("{lead}not ("),
                start(inner.span),
                Some(start(inner.span))
                    .filter(|_| self.text.as_bytes().get(start(inner.span)) == Some(&b'(')),
            );
            self.chain(inner, indent + INDENT);
            self.closer(indent, ")", end(e.span).saturating_sub(1));
        } else if paren {
            self.line(indent, format!("{lead}("), start(e.span), open_trail);
            self.chain(e, indent + INDENT);
            self.closer(indent, ")", end(e.span).saturating_sub(1));
        } else if lead.is_empty() {
            self.chain(e, indent);
        } else {
            let before = lead_end.unwrap_or(start(e.span));
            self.line(indent, lead.trim_end().to_string(), before, lead_end);
            self.chain(e, indent + INDENT);
        }
    }

    /// An event too long for one line, broken before its `where` clause (at byte `at` of
    /// `text`), which goes on the next line one level in; when that is still too long, one
    /// test per line, each after `and`. The `where` clause joins its terms with `and` at the
    /// top level only (alternatives are in parentheses), so the split is on ` and `.
    fn wrapped_where(&mut self, indent: usize, text: &str, at: usize, end_at: usize) {
        let (head, tail) = text.split_at(at);
        let tail = tail.trim_start();
        self.line(indent, head.to_string(), end_at, None);
        let inner = indent + INDENT;
        if fits(inner, tail) {
            self.line(inner, tail.to_string(), end_at, Some(end_at));
            return;
        }
        let terms: Vec<&str> = tail.split(" and ").collect();
        let last = terms.len().saturating_sub(1);
        for (i, term) in terms.into_iter().enumerate() {
            let text = if i == 0 {
                term.to_string()
            } else {
                format!("and {term}")
            };
            self.line(inner, text, end_at, (i == last).then_some(end_at));
        }
    }

    /// Whether a comment forces chain `e` onto several lines. A comment within the first
    /// operand is printed before the chain's first line, so it does not (unless that operand
    /// is itself a chain broken by a comment); one after the first operand does. This must
    /// match where [`Printer::line`] puts comments, or formatting would not be idempotent.
    fn comment_breaks(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::And(ops) | ExprKind::Or(ops) => match ops.first() {
                Some(first) => {
                    self.has_comment_in(end(first.span), last_leaf(e)) || self.comment_breaks(first)
                }
                None => false,
            },
            ExprKind::Not(x) if is_chain(x) => self.comment_breaks(x),
            _ => false,
        }
    }

    /// An `and` / `or` chain, one operand per line, the operator first.
    fn chain(&mut self, e: &Expr, indent: usize) {
        let (ops, word) = match &e.kind {
            ExprKind::And(ops) => (ops, "and "),
            ExprKind::Or(ops) => (ops, "or "),
            _ => {
                self.operand(e, indent, "", false);
                return;
            }
        };
        for (i, (op, paren)) in with_parens(ops).into_iter().enumerate() {
            let lead = if i == 0 { "" } else { word };
            self.operand(op, indent, lead, paren);
        }
    }

    /// An expression on one line.
    fn flat(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::And(ops) | ExprKind::Or(ops) => {
                let word = if matches!(e.kind, ExprKind::And(_)) {
                    " and "
                } else {
                    " or "
                };
                with_parens(ops)
                    .into_iter()
                    .map(|(op, paren)| self.wrapped(op, paren))
                    .collect::<Vec<_>>()
                    .join(word)
            }
            ExprKind::Not(x) => format!("not {}", self.wrapped(x, is_chain(x))),
            ExprKind::Compare { lhs, op, rhs, .. } => format!(
                "{} {} {}",
                self.wrapped(lhs, lhs_needs_parens(lhs)),
                op.symbol(),
                value(rhs)
            ),
            ExprKind::Is {
                lhs, negated, test, ..
            } => format!(
                "{} is {}{}",
                self.wrapped(lhs, lhs_needs_parens(lhs)),
                if *negated { "not " } else { "" },
                match test {
                    IsTest::Word(w) => w.name.as_str(),
                    IsTest::AboveNormal => "above normal range",
                    IsTest::BelowNormal => "below normal range",
                    IsTest::WithinNormal => "within normal range",
                }
            ),
            ExprKind::Arith { op, lhs, rhs } => format!(
                "{} {} {}",
                self.wrapped(lhs, arith_needs_parens(lhs, op.precedence())),
                op.symbol(),
                self.wrapped(rhs, arith_needs_parens(rhs, op.precedence() + 1))
            ),
            ExprKind::Name(i) => i.name.clone(),
            ExprKind::Attested(i) => format!("attested {}", i.name),
            ExprKind::Age(i) => format!("age at {}", i.name),
            ExprKind::Sex => "sex".into(),
            ExprKind::Select {
                mode,
                target,
                window,
            } => format!(
                "{}{} {}{}",
                mode.keyword(),
                if self.has_in(start(e.span), start(target.span)) {
                    " in"
                } else {
                    ""
                },
                target.name,
                opt_window(window)
            ),
            ExprKind::CountResults { target, window } => {
                format!("count {}{}", target.name, opt_window(window))
            }
            ExprKind::CountDistinct {
                target,
                taken_for,
                window,
            } => format!(
                "count distinct {}{}{}",
                target.name,
                opt_taken_for(taken_for),
                opt_window(window)
            ),
            ExprKind::CountEvents(q) => format!("count {}", self.event(q, e.span)),
            ExprKind::Event(q) => self.event(q, e.span),
            // The query prints as `medication any ...`: the word `any` goes first.
            ExprKind::AnyEvent(q) => self.event(q, e.span).replacen(
                &format!("{} any", q.kind.keyword()),
                &format!("any {}", q.kind.keyword()),
                1,
            ),
            ExprKind::SelectEvent { select, query } => {
                format!("{} {}", select.keyword(), self.event(query, e.span))
            }
            ExprKind::Dose(d) => {
                let mut s = format!("dose {}", d.target.name);
                if let Some(a) = &d.as_drug {
                    s.push_str(&format!(" as {}", a.name));
                }
                s.push_str(&format!(" {} {}", d.op.symbol(), number(&d.threshold)));
                if let Some(u) = &d.unit {
                    s.push_str(&format!(" {}", u.text));
                }
                if let Some(dur) = &d.sustained {
                    s.push_str(&format!(" sustained {}", duration(dur)));
                }
                s.push_str(&opt_window(&d.window));
                s
            }
        }
    }

    fn wrapped(&self, e: &Expr, paren: bool) -> String {
        if paren {
            format!("({})", self.flat(e))
        } else {
            self.flat(e)
        }
    }

    /// An event query; `in` is printed where the source has it (the tree does not say).
    fn event(&self, q: &EventQuery, span: Span) -> String {
        let mut s = q.kind.keyword().to_string();
        if self.has_in(start(span), start(q.target.span)) {
            s.push_str(" in");
        } else if q.kind == EventKind::FamilyHistory && q.target.name != "any" {
            // `family history of breast_cancer` (`any family history` has no `of`).
            s.push_str(" of");
        }
        s.push(' ');
        s.push_str(&q.target.name);
        match q.except.as_slice() {
            [] => {}
            [one] => s.push_str(&format!(" except {}", one.name)),
            many => {
                let names: Vec<&str> = many.iter().map(|v| v.name.as_str()).collect();
                s.push_str(&format!(" except {{{}}}", names.join(", ")));
            }
        }
        s.push_str(&opt_taken_for(&q.taken_for));
        s.push_str(&opt_window(&q.window));
        if !q.filters.is_empty() {
            let tests: Vec<String> = q
                .filters
                .iter()
                .map(|term| match term {
                    WhereTerm::Test(t) => attribute_test(t),
                    WhereTerm::Any { tests, .. } => {
                        let alternatives: Vec<String> = tests.iter().map(attribute_test).collect();
                        if q.filters.len() > 1 {
                            format!("({})", alternatives.join(" or "))
                        } else {
                            alternatives.join(" or ")
                        }
                    }
                })
                .collect();
            s.push_str(&format!(" where {}", tests.join(" and ")));
        }
        s
    }

    /// Whether the word `in` stands between two offsets (comments aside).
    fn has_in(&self, from: usize, to: usize) -> bool {
        let gap = self.text.get(from..to).unwrap_or("");
        gap.lines().any(|line| {
            let code = match line.find("//") {
                Some(p) => line.get(..p).unwrap_or(""),
                None => line,
            };
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == "in")
        })
    }
}

// -------------------------------------------------------------------------- precedence

/// Where the last operand of an expression ends: a comment after it (before a closing
/// parenthesis, say) does not break the expression.
fn last_leaf(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::And(ops) | ExprKind::Or(ops) => ops.last().map_or(end(e.span), last_leaf),
        ExprKind::Not(x) if is_chain(x) => last_leaf(x),
        _ => end(e.span),
    }
}

fn is_chain(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::And(_) | ExprKind::Or(_))
}

/// An operand of arithmetic needs parentheses when it binds more loosely than `min` (so
/// `a - (b - c)` keeps them and `(a - b) - c` loses them), or is not arithmetic or an operand.
fn arith_needs_parens(e: &Expr, min: u8) -> bool {
    match &e.kind {
        ExprKind::Arith { op, .. } => op.precedence() < min,
        _ => lhs_needs_parens(e),
    }
}

/// The left side of `>=` or `is` is an operand: anything looser needs parentheses.
fn lhs_needs_parens(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::And(_)
            | ExprKind::Or(_)
            | ExprKind::Not(_)
            | ExprKind::Compare { .. }
            | ExprKind::Is { .. }
    )
}

/// The operands of a chain, each with whether it needs parentheses: a chain inside a chain
/// always (an `and` inside an `or` for clarity, the others for meaning), and an operand
/// ending in a `where` clause when the next operand could be read as one more attribute
/// test of that clause (`... where grade >= 2 and sex is female`).
fn with_parens(ops: &[Expr]) -> Vec<(&Expr, bool)> {
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let nested = is_chain(op);
            // `where` continues over `and` and `or`: an operand after one that reads as a
            // test would be taken into the clause.
            let hazard =
                ends_with_where(op) && ops.get(i + 1).is_some_and(starts_like_attribute_test);
            (op, nested || hazard)
        })
        .collect()
}

/// One `where` test as written canonically.
fn attribute_test(t: &AttributeTest) -> String {
    match &t.test {
        AttributeCheck::Compare(op, n) => {
            format!("{} {} {}", t.attribute.name, op.symbol(), number(n))
        }
        AttributeCheck::Is { negated, value } => format!(
            "{} is {}{}",
            t.attribute.name,
            if *negated { "not " } else { "" },
            value.name
        ),
        AttributeCheck::In { negated, values } => {
            let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
            let list = match names.as_slice() {
                [one] => (*one).to_string(),
                many => format!("{{{}}}", many.join(", ")),
            };
            format!(
                "{} {}in {list}",
                t.attribute.name,
                if *negated { "not " } else { "" }
            )
        }
    }
}

fn ends_with_where(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Event(q)
        | ExprKind::AnyEvent(q)
        | ExprKind::CountEvents(q)
        | ExprKind::SelectEvent { query: q, .. } => !q.filters.is_empty(),
        ExprKind::Not(x) => ends_with_where(x),
        _ => false,
    }
}

fn starts_like_attribute_test(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Compare { lhs, .. } | ExprKind::Is { lhs, .. } => {
            matches!(lhs.kind, ExprKind::Name(_) | ExprKind::Sex)
        }
        _ => false,
    }
}

/// Spans of the constructs always printed on one line: a comment inside one is printed
/// before its line, so it counts as standing at its start.
fn item_atoms(item: &Item, out: &mut Vec<(usize, usize)>) {
    match item {
        Item::Define(d) => expr_atoms(&d.body, out),
        Item::Criterion(c) => criterion_atoms(c, out),
        _ => {}
    }
}

fn criterion_atoms(c: &Criterion, out: &mut Vec<(usize, usize)>) {
    if let Some(a) = &c.applies {
        expr_atoms(a, out);
    }
    match &c.body {
        CriterionBody::Rule { expr, unless } => {
            expr_atoms(expr, out);
            if let Some(u) = unless {
                expr_atoms(u, out);
            }
        }
        CriterionBody::Group(subs) => {
            for s in subs {
                criterion_atoms(s, out);
            }
        }
    }
}

fn expr_atoms(e: &Expr, out: &mut Vec<(usize, usize)>) {
    match &e.kind {
        ExprKind::And(ops) | ExprKind::Or(ops) => {
            for op in ops {
                expr_atoms(op, out);
            }
        }
        ExprKind::Not(x) if is_chain(x) => expr_atoms(x, out),
        _ => out.push((start(e.span), end(e.span))),
    }
}

// ----------------------------------------------------------------------------- literals

/// A string literal with `\`, `"`, newline and tab escaped.
pub fn string(s: &StrLit) -> String {
    let mut out = String::with_capacity(s.value.len() + 2);
    out.push('"');
    for c in s.value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// A number with the digits after the point it was written with (`3.0` stays `3.0`).
fn number(n: &Number) -> String {
    n.value.to_string()
}

fn duration(d: &Duration) -> String {
    let plural = d.amount.value.abs() != rust_decimal::Decimal::ONE;
    format!("{} {}", number(&d.amount), d.unit.word(plural))
}

fn value(v: &Value) -> String {
    match v {
        Value::Quantity { number: n, unit } => match unit {
            Some(u) => format!("{} {}", number(n), u.text),
            None => number(n),
        },
        Value::RefMultiple { factor, bound } => format!("{} x {}", number(factor), bound.keyword()),
        Value::RefOffset {
            bound,
            minus,
            number: n,
            unit,
        } => format!(
            "{} {} {}{}",
            bound.keyword(),
            if *minus { "-" } else { "+" },
            number(n),
            unit.as_ref()
                .map(|u| format!(" {}", u.text))
                .unwrap_or_default()
        ),
        Value::Duration(d) => duration(d),
    }
}

fn opt_taken_for(t: &Option<TakenFor>) -> String {
    match t {
        Some(t) => format!(" taken for {} {}", t.op.symbol(), duration(&t.duration)),
        None => String::new(),
    }
}

fn opt_window(w: &Option<Window>) -> String {
    match w {
        Some(w) => format!(" {}", window(w)),
        None => String::new(),
    }
}

fn window(w: &Window) -> String {
    match &w.kind {
        WindowKind::Within {
            length,
            direction,
            anchor,
        } => format!(
            "within {} {} {}",
            duration(length),
            direction.keyword(),
            anchor.name
        ),
        WindowKind::At(a) => format!("at {}", a.name),
        WindowKind::Open { direction, anchor } => {
            format!("{} {}", direction.keyword(), anchor.name)
        }
        WindowKind::Between { from, to } => {
            format!("from {} to {}", time_point(from), time_point(to))
        }
        WindowKind::Ever => "ever".into(),
    }
}

fn time_point(t: &TimePoint) -> String {
    match &t.offset {
        Some((d, dir)) => format!("{} {} {}", duration(d), dir.keyword(), t.anchor.name),
        None => t.anchor.name.clone(),
    }
}

/// Replaces the file at `path` with `text` so that a failure (a full disk, an I/O error, a
/// signal) leaves either the old file or the new one, never a truncated protocol: the text is
/// written to a temporary file in the same folder, flushed to disk, given the old file's
/// permissions, and renamed over it. A symbolic link is followed: its target is replaced and
/// the link stays.
pub fn write_in_place(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    replace_file_with(path, |w| std::io::Write::write_all(w, text.as_bytes()))
}

/// [`write_in_place`] with the writing step given (tests inject a failing writer).
#[doc(hidden)]
pub fn replace_file_with(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    // Removed when dropped, so an error below leaves no temporary file behind.
    let mut temp = tempfile::Builder::new()
        .prefix(".eligc-fmt-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), permissions)?;
    temp.persist(&target).map_err(|e| e.error)?;
    // The rename itself, on disk (not possible on every platform: best effort).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
