//! Text to syntax tree: `parse(&Source)` gives an [`ast::Module`] and every syntax error.
//!
//! pest does the parsing (grammar in `grammar/elig.pest`); its types never leave this folder.
//! To report all syntax errors at once, the file is cut into chunks at lines that begin with
//! an item keyword that can never occur inside an expression (`inclusion`, `define`, `set`,
//! ...), and each chunk is parsed on its own: a mistake in one criterion does not hide the
//! mistakes in the others.

mod lower;

use pest::Parser;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{Source, Span};

mod generated {
    //! The parser pest derives from the grammar.
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/elig.pest"]
    pub(crate) struct EligParser;
}
use generated::{EligParser, Rule};

/// Bracket nesting allowed before the parser refuses a file. Deep nesting would overflow
/// the stack of the recursive-descent parser; no protocol needs more than a handful.
pub const MAX_NESTING: usize = 32;

/// The result of parsing one file: a tree of everything that parsed, and the errors.
#[derive(Debug)]
pub struct Parsed {
    /// The items that parsed; chunks with errors are left out.
    pub module: ast::Module,
    /// Syntax errors, in source order.
    pub errors: Vec<Diagnostic>,
    /// Names that chunks with syntax errors seem to declare: the checker does not report
    /// them as unknown, since the real problem is the syntax error.
    pub recovered_names: Vec<String>,
}

/// The reserved words of the grammar's `keyword` rule: they cannot be used as names.
/// (tests/grammar_keywords.rs checks this list against the grammar.)
pub const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "no",
    "unless",
    "applies",
    "if",
    "is",
    "within",
    "before",
    "after",
    "around",
    "attested",
    "attestation",
    "at",
    "from",
    "to",
    "ever",
    "sustained",
    "taken",
    "for",
    "where",
    "as",
    "inclusion",
    "in",
    "latest",
    "average",
    "earliest",
    "any",
    "all",
    "count",
    "distinct",
    "dose",
    "age",
    "sex",
    "condition",
    "medication",
    "immunization",
    "procedure",
    "allergy",
    "encounter",
    "study",
    "except",
    "family",
    "first",
    "last",
    "x",
    "exclusion",
    "define",
    "set",
    "equivalence",
    "observation",
    "score",
    "drug",
    "vaccine",
    "site",
    "anchor",
    "use",
    "protocol",
    "version",
    "unit",
    "codesystem",
    "codes",
    "by",
    "least",
    "of",
];

/// Keywords that start an item and never occur inside an expression: a line beginning with
/// one of them starts a new chunk.
const SYNC_KEYWORDS: &[&str] = &[
    "protocol",
    "anchor",
    "use",
    "codesystem",
    "observation",
    "score",
    "drug",
    "vaccine",
    "attestation",
    "site",
    "set",
    "equivalence",
    "define",
    "inclusion",
    "exclusion",
];

/// Stack for the parser thread: pest's recursive descent uses tens of kilobytes per bracket
/// level in unoptimised builds, more than a test or worker thread's default 2 MiB allows
/// at [`MAX_NESTING`].
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Parses one source file.
pub fn parse(source: &Source) -> Parsed {
    let on_big_stack = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("eligc-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || parse_here(source))
            .ok()
            .and_then(|handle| handle.join().ok())
    });
    // If no thread could be started, parse here: the nesting limit still applies.
    on_big_stack.unwrap_or_else(|| parse_here(source))
}

fn parse_here(source: &Source) -> Parsed {
    let text: &str = &source.text;
    let file = source.id;
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut recovered = Vec::new();
    if let Some(err) = check_nesting(source) {
        return Parsed {
            module: ast::Module {
                items,
                comments: comments(source),
                span: Span::new(file, 0, text.len()),
            },
            errors: vec![err],
            recovered_names: Vec::new(),
        };
    }
    for (start, end) in chunks(text) {
        let chunk = text.get(start..end).unwrap_or("");
        match EligParser::parse(Rule::file, chunk) {
            Ok(mut pairs) => {
                let lowerer = lower::Lowerer {
                    file,
                    offset: start,
                };
                match pairs.next() {
                    Some(pair) => match lowerer.file(pair) {
                        Ok(mut chunk_items) => items.append(&mut chunk_items),
                        Err(e) => errors.push(e),
                    },
                    None => errors.push(Diagnostic::new(
                        Code::Internal,
                        Span::new(file, start, end),
                        "the parser returned no tree",
                        "here",
                    )),
                }
            }
            Err(e) => {
                errors.push(syntax_error(source, start, &e));
                recovered.extend(declared_names(chunk));
            }
        }
    }
    Parsed {
        module: ast::Module {
            items,
            comments: comments(source),
            span: Span::new(file, 0, text.len()),
        },
        errors,
        recovered_names: recovered,
    }
}

/// Names a chunk that failed to parse appears to declare: `observation egfr ...`,
/// `set dmard = ...`, `define x = ...`, `anchor a, b`.
fn declared_names(chunk: &str) -> Vec<String> {
    const DECLARERS: &[&str] = &[
        "observation",
        "score",
        "condition",
        "drug",
        "vaccine",
        "procedure",
        "encounter",
        "study",
        "attestation",
        "set",
        "define",
    ];
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for line in chunk.lines() {
        let line = line.trim_start();
        let first = word(line);
        let rest = line.get(first.len()..).unwrap_or("").trim_start();
        if DECLARERS.contains(&first.as_str()) {
            let name = word(rest);
            if !name.is_empty() {
                names.push(name);
            }
        } else if first == "anchor" {
            names.extend(
                rest.split(',')
                    .map(|part| word(part.trim_start()))
                    .filter(|n| !n.is_empty()),
            );
        }
    }
    names
}

/// Byte ranges of the chunks: each starts at a line whose first word is a sync keyword.
fn chunks(text: &str) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let word: String = trimmed
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if offset > 0 && SYNC_KEYWORDS.contains(&word.as_str()) {
            starts.push(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        ranges.push((s, e));
    }
    ranges
}

/// Finds bracket nesting deeper than [`MAX_NESTING`] before the recursive parser sees it.
fn check_nesting(source: &Source) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut prev = '\0';
    for (i, c) in source.text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' || c == '\n' {
                in_string = false;
            }
        } else {
            match c {
                '"' => in_string = true,
                '/' if prev == '/' => in_comment = true,
                '(' | '{' | '[' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(
                            Diagnostic::new(
                                Code::NestingTooDeep,
                                Span::new(source.id, i, i + 1),
                                format!("brackets are nested more than {MAX_NESTING} deep"),
                                "too deep here",
                            )
                            .with_help(
                                "split the expression into `define`s and refer to them by name",
                            ),
                        );
                    }
                }
                ')' | '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    None
}

/// All `//` comments, for the formatter.
fn comments(source: &Source) -> Vec<ast::Comment> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in source.text.split_inclusive('\n') {
        if let Some(pos) = comment_start(line) {
            let text = line.get(pos..).unwrap_or("").trim_end().to_string();
            let start = offset + pos;
            out.push(ast::Comment {
                span: Span::new(source.id, start, start + text.len()),
                text,
            });
        }
        offset += line.len();
    }
    out
}

/// Byte position of a `//` outside a string literal.
pub(super) fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    let mut prev_slash = false;
    for (i, c) in line.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if prev_slash => return Some(i - 1),
            _ => {}
        }
        prev_slash = c == '/' && !prev_slash;
    }
    None
}

/// Turns a pest error into a diagnostic with the expected tokens in words.
fn syntax_error(source: &Source, chunk_start: usize, e: &pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    let start = chunk_start + start;
    // Point at the offending token rather than at an empty position.
    let rest = source.text.get(start..).unwrap_or("");
    let token_len = token_length(rest);
    let end = (chunk_start + end).max(start + token_len);
    let span = Span::new(source.id, start, end);
    if rest.starts_with('"')
        && !rest
            .lines()
            .next()
            .unwrap_or("")
            .get(1..)
            .unwrap_or("")
            .contains('"')
    {
        return Diagnostic::new(
            Code::Syntax,
            Span::new(source.id, start, start + 1),
            "this string is never closed",
            "opening quote",
        )
        .with_help("close it with `\"` on the same line; strings cannot span lines");
    }
    let found = if token_len == 0 {
        "end of file".to_string()
    } else {
        format!("`{}`", rest.get(..token_len).unwrap_or(""))
    };
    let (message, help) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            expected.sort_unstable();
            expected.dedup();
            let message = if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", one_of(&expected))
            };
            (
                message,
                hint(positives, rest, source.text.get(..start).unwrap_or("")),
            )
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let d = Diagnostic::new(Code::Syntax, span, message, "unexpected here");
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

fn token_length(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    match chars.next() {
        None => 0,
        Some((_, c)) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
            .map_or(rest.len(), |(i, _)| i),
        Some((_, c)) if c.is_whitespace() => 0,
        Some((_, c)) => c.len_utf8(),
    }
}

fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Help for the commonest slips.
fn hint(positives: &[Rule], rest: &str, before: &str) -> Option<String> {
    let after_equals = before.ends_with('=');
    let line_before = before.rsplit('\n').next().unwrap_or("").trim_end();
    if rest.starts_with(['<', '>', '=', '≥', '≤']) && !after_equals {
        return Some("comparisons do not chain: join two comparisons with `and`, e.g. `age at screening >= 5 years and age at screening < 18 years`".into());
    }
    if line_before.ends_with("sex =") || line_before.ends_with("sex !=") {
        return Some("the patient's sex is tested with `is`: `sex is female`".into());
    }
    if positives.contains(&Rule::string) && !rest.starts_with('"') {
        return Some("a criterion's wording is a string in double quotes, after its id".into());
    }
    if rest.starts_with("==") || (rest.starts_with('=') && after_equals) {
        return Some("equality is written `=`".into());
    }
    if rest.starts_with("&&") || rest.starts_with("||") {
        return Some("write `and` / `or`".into());
    }
    if positives.contains(&Rule::criterion_body) || positives.contains(&Rule::rule_body) {
        return Some("a criterion is `inclusion ID \"wording\": rule` or a group `{ ... }`".into());
    }
    None
}

/// Words for the grammar rules a user may be told were expected.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::protocol_decl
        | Rule::concept_kind
        | Rule::criterion_kind
        | Rule::anchor_decl
        | Rule::use_decl
        | Rule::concept_decl
        | Rule::set_decl
        | Rule::equivalence_decl
        | Rule::define_decl
        | Rule::criterion => "an item (`inclusion`, `exclusion`, `define`, `set`, ...)",
        Rule::string => "a string in double quotes",
        Rule::ident | Rule::name_ref => "a name",
        Rule::criterion_id => "a criterion id such as `I4.2`",
        Rule::sub_criterion => "a sub-criterion",
        Rule::criterion_body | Rule::rule_body | Rule::group_body => "`:` or `{`",
        Rule::expr | Rule::and_expr | Rule::not_expr | Rule::test_expr => "an expression",
        Rule::comparison | Rule::cmp_op => "a comparison (`>=`, `<`, ...)",
        Rule::is_test => "`is`",
        Rule::and_op => "`and`",
        Rule::or_op => "`or`",
        Rule::not_op => "`not`",
        Rule::unless => "`unless`",
        Rule::applies => "`applies if`",
        Rule::value | Rule::quantity | Rule::ref_multiple => "a value such as `30 mL/min/1.73m2`",
        Rule::number => "a number",
        Rule::duration => "a duration such as `30 days`",
        Rule::duration_unit => "`days`, `weeks`, `months` or `years`",
        Rule::unit => "a unit",
        Rule::window
        | Rule::within_window
        | Rule::at_window
        | Rule::between_window
        | Rule::ever_window
        | Rule::open_window => "a time window (`within 30 days before screening`, ...)",
        Rule::direction => "`before`, `after` or `around`",
        Rule::side => "`before` or `after`",
        Rule::codes => "`codes [...]`",
        Rule::code => "a code such as `loinc:33914-3`",
        Rule::set_kind => {
            "`drugs`, `conditions`, `vaccines`, `procedures`, `observations` or `sites`"
        }
        Rule::value_list => "a value or `{...}` of values",
        Rule::value_spec | Rule::unit_spec => "`unit ...` or `qualitative`",
        Rule::test_word | Rule::range_test => "a test such as `positive` or `above normal`",
        Rule::where_clause => "`where`",
        Rule::taken_for => "`taken for`",
        Rule::sustained => "`sustained`",
        Rule::dose_as => "`as`",
        Rule::event_kind => "`condition`, `medication`, `immunization` or `procedure`",
        Rule::select_mode => "`latest`, `any`, `all` or `no`",
        Rule::equivalence_entry => "a drug and its factor",
        Rule::quantifier => "`any of`, `all of` or `at least N of`",
        Rule::attribute_test => {
            "an attribute test such as `grade >= 2` or `laterality in {left, bilateral}`"
        }
        Rule::time_point => "a date such as `6 months before screening`",
        Rule::date_lit => "a date such as `2010-01-01`",
        Rule::anchor_item => "an anchor name",
        Rule::ref_bound => "`ULN` or `LLN`",
        Rule::molar_mass => "`molar mass ... g/mol`",
        Rule::kw_mass => "`mass` (`molar mass 113.12 g/mol`)",
        _ => return None,
    })
}
