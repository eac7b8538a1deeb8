//! The SQL stage: a checked [`Program`] compiled into one SQL script over the tables of an
//! OMOP CDM v5.4 database (PostgreSQL or Spark SQL), giving per person the verdict and each
//! criterion's outcome exactly as the interpreter gives them for the same rows read as an
//! OMOP CSV export (`src/facts/omop.rs` + `src/eval`). [`compile`] is the one entry.
//!
//! Three-valued logic is written with numbers: 0 false, 1 unknown, 2 true (`and` is
//! `LEAST`, `or` `GREATEST`, `not` `2 - x`), never with SQL's NULL, so that a missing row
//! can never turn into a silent "false". A criterion's outcome adds 3, not applicable.
//! A construct the compiler cannot write exactly is refused with `elig::sql-unsupported`
//! at its span: no script is better than one giving other answers. See docs/sql.md.

mod dialect;
mod facts;
mod leaf;
mod reject;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::ast::CriterionKind;
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{Cond, CondKind, Criterion, CriterionBody, Program, Quantifier};
use crate::source::Span;

pub use dialect::Dialect;
pub use reject::{Rejection, RejectionKind, judge, rejections_queries, rejections_query};

/// How to write the script.
#[derive(Clone, Debug)]
pub struct Options {
    /// The dialect.
    pub dialect: Dialect,
    /// The schema of the CDM tables (`cdm`), if not the default search path.
    pub cdm_schema: Option<String>,
    /// The schema of the vocabulary tables (CONCEPT, ...), if not the CDM schema.
    pub vocabulary_schema: Option<String>,
    /// The schema of the parameter tables `eligc_anchor` and `eligc_attestation`; without
    /// one they are session tables (PostgreSQL `TEMPORARY`).
    pub params_schema: Option<String>,
    /// An anchor date for every person (`--anchor NAME=DATE`); the parameter table's own
    /// date for a person comes first.
    pub anchors: BTreeMap<String, NaiveDate>,
    /// `--as-of`: the date the records are known up to (else each person's screening date,
    /// else today).
    pub as_of: Option<NaiveDate>,
    /// Unit spellings the data may use beyond the built-in list (a unit not listed makes a
    /// comparison unknown; the script's `units` query lists those in the data).
    pub units: Vec<String>,
    /// Site vocabularies (`vocabulary_id`) whose concepts are the protocol's `local:` codes
    /// (`--local-vocabulary`, `vocab::code_system`).
    pub local_vocabularies: Vec<String>,
}

impl Options {
    /// `schema.` before a CDM table's name, or nothing for the search path.
    pub fn cdm_prefix(&self) -> String {
        prefix(&self.cdm_schema)
    }

    /// `schema.` before a vocabulary table's name: the vocabulary schema's, else the CDM's.
    pub fn vocabulary_prefix(&self) -> String {
        match &self.vocabulary_schema {
            Some(_) => prefix(&self.vocabulary_schema),
            None => self.cdm_prefix(),
        }
    }

    /// Options for a dialect, everything else default.
    pub fn new(dialect: Dialect) -> Options {
        Options {
            dialect,
            cdm_schema: None,
            vocabulary_schema: None,
            params_schema: None,
            anchors: BTreeMap::new(),
            as_of: None,
            units: Vec::new(),
            local_vocabularies: Vec::new(),
        }
    }
}

/// The compiled script.
#[derive(Clone, Debug)]
pub struct Script {
    /// Statements to run first, in order: the parameter tables, the result view.
    pub setup: Vec<String>,
    /// One row per person: `person_id`, `verdict`, then one column per criterion (its id),
    /// `met` / `not met` / `unknown` / `not applicable`; then `unplaced_criteria`, the ids
    /// of the criteria that are unknown because of facts eligc cannot place
    /// ([`crate::eval::CriterionResult::unplaced`]), separated by spaces, in column order
    /// (empty when none), and `unplaced_facts`, how many such facts the person has
    /// ([`crate::eval::PatientResult::unplaced_facts`]).
    pub result_query: String,
    /// The funnel: per criterion, how many persons it leaves in each outcome.
    pub funnel_query: String,
    /// Unit spellings in the data the script has no conversion for (see [`Options::units`]).
    pub units_query: String,
    /// Rows the script cannot see, per table (see [`rows_without_ids`]): every count must be 0.
    pub ids_query: String,
    /// The rows `eligc run` would reject, by person: candidates, for [`judge`] (see
    /// [`rejections_query`]); those persons' results are not to be used.
    pub rejections_query: String,
    /// The criteria's ids, depth first, in the order of the result's columns.
    pub criteria: Vec<String>,
}

impl Script {
    /// The whole script as text, statements ended by `;`.
    pub fn text(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("-- ");
            out.push_str(line);
            out.push('\n');
        }
        for s in &self.setup {
            out.push_str(s);
            out.push_str(";\n\n");
        }
        out.push_str("-- Per person: the verdict and each criterion's outcome.\n");
        out.push_str(&self.result_query);
        out.push_str(";\n\n-- The funnel.\n");
        out.push_str(&self.funnel_query);
        out.push_str(";\n\n-- Unit spellings in the data this script cannot convert (compile again with --unit).\n");
        out.push_str(&self.units_query);
        out.push_str(";\n\n-- Rows this script cannot see: without their id or person_id (the CDM forbids both). Every count must be 0.\n");
        out.push_str(&self.ids_query);
        out.push_str(";\n\n-- Rows `eligc run` may reject (a NaN, an end before its start, a month 13, a second PERSON row,\n-- rows of a person PERSON lacks, ...): do not use the results above of the persons listed.\n-- `eligc run --db` judges each exactly and reports them as rejected records.\n");
        out.push_str(&self.rejections_query);
        out.push_str(";\n");
        out
    }
}

/// Compiles a checked program into a script, or says which constructs it cannot write.
pub fn compile(program: &Program, options: &Options) -> Result<Script, Vec<Diagnostic>> {
    for schema in [
        &options.cdm_schema,
        &options.vocabulary_schema,
        &options.params_schema,
    ]
    .into_iter()
    .flatten()
    {
        if !is_identifier(schema) {
            return Err(vec![Diagnostic::new(
                Code::SqlUnsupported,
                Span::default(),
                format!("`{schema}` is not a schema name eligc can write unquoted"),
                "schema",
            )]);
        }
    }
    let cdm = prefix(&options.cdm_schema);
    let vocab = options.vocabulary_prefix();
    let params = prefix(&options.params_schema);
    let mut g = Gen {
        p: program,
        o: options,
        d: options.dialect,
        cdm,
        vocab,
        params,
        ctes: Vec::new(),
        made: BTreeSet::new(),
        leaves: Vec::new(),
        joins: Vec::new(),
        errors: Vec::new(),
        unit_texts: unit_catalogue(program, options),
        next: 0,
        recursive: false,
        persons: "eligc_p".to_string(),
        empty: None,
        without: false,
        paired: None,
        operands: BTreeMap::new(),
    };
    g.base_ctes();
    g.person_cte();
    let all = program.all_criteria();
    let mut outcomes = Vec::new();
    for c in &program.criteria {
        g.criterion(c, &mut outcomes);
    }
    if !g.errors.is_empty() {
        crate::diagnostic::sort(&mut g.errors);
        return Err(g.errors);
    }
    let d = g.d;
    // Leaves as columns k1..kn (and an event check's value without the facts eligc cannot
    // place as wN), per kind whether the person has such facts (hu_K), and how many are
    // unplaced (uf); then the criteria as columns c1..cm with their unplaced hits x1..xm.
    let mut leaves: Vec<String> = Vec::new();
    for (i, (value, without)) in g.leaves.iter().enumerate() {
        leaves.push(format!("{value} AS k{i}"));
        if let Some((w, _)) = without {
            leaves.push(format!("{w} AS w{i}"));
        }
    }
    let mut counts = Vec::new();
    for kind in facts::Kind::ALL {
        let name = kind.name();
        if g.made.contains(name) {
            g.joins.push(format!(
                " LEFT JOIN eligc_u_{name} eu_{name} ON eu_{name}.person_id = p.person_id"
            ));
            leaves.push(format!(
                "CASE WHEN eu_{name}.person_id IS NULL THEN 0 ELSE 1 END AS hu_{name}"
            ));
            counts.push(format!("COALESCE(eu_{name}.n, 0)"));
        } else {
            let count = g.unplaced_count(kind);
            g.cte(&format!("uf_{name}"), count);
            g.joins.push(format!(
                " LEFT JOIN uf_{name} ON uf_{name}.person_id = p.person_id"
            ));
            counts.push(format!("COALESCE(uf_{name}.n, 0)"));
        }
    }
    leaves.push(format!("{} AS uf", counts.join(" + ")));
    g.cte(
        "eligc_k",
        format!(
            "SELECT p.person_id, {} FROM eligc_p p{}",
            leaves.join(", "),
            g.joins.concat()
        ),
    );
    let mut crit_cols: Vec<String> = Vec::new();
    for (i, (_, e, hit)) in outcomes.iter().enumerate() {
        crit_cols.push(format!("{e} AS c{i}"));
        crit_cols.push(format!("{} AS x{i}", hit.as_deref().unwrap_or("0")));
    }
    g.cte(
        "eligc_c",
        format!(
            "SELECT person_id, {}, uf FROM eligc_k",
            crit_cols.join(", ")
        ),
    );
    // Top-level criteria decide the verdict.
    let mut excludes = Vec::new();
    let mut unknown = Vec::new();
    for (i, (c, _, _)) in outcomes.iter().enumerate() {
        if !program.criteria.iter().any(|t| std::ptr::eq(t, *c)) {
            continue;
        }
        excludes.push(match c.kind {
            CriterionKind::Inclusion => format!("c{i} = 0"),
            CriterionKind::Exclusion => format!("c{i} = 2"),
        });
        unknown.push(format!("c{i} = 1"));
    }
    let or = |v: &[String]| {
        if v.is_empty() {
            "1 = 0".to_string()
        } else {
            v.join(" OR ")
        }
    };
    let verdict = format!(
        "CASE WHEN {} THEN 'ineligible' WHEN {} THEN 'needs review' ELSE 'eligible' END",
        or(&excludes),
        or(&unknown)
    );
    // Columns in `all_criteria` order (the order `outcomes` was filled in, depth first).
    let mut columns = Vec::new();
    let mut ids = Vec::new();
    // A criterion is unplaced when it is unknown and one of its event checks was unknown
    // because of facts eligc cannot place (`criterion` in src/eval/mod.rs).
    let mut unplaced = Vec::new();
    for (i, c) in all.iter().enumerate() {
        ids.push(c.id.to_string());
        columns.push(format!(
            "CASE c{i} WHEN 0 THEN 'not met' WHEN 1 THEN 'unknown' WHEN 2 THEN 'met' ELSE 'not applicable' END AS {}",
            d.ident(&c.id)
        ));
        if outcomes.get(i).is_some_and(|(_, _, hit)| hit.is_some()) {
            unplaced.push(format!(
                "(CASE WHEN x{i} = 1 AND c{i} = 1 THEN {} ELSE '' END)",
                d.lit(&format!("{} ", c.id))
            ));
        }
    }
    columns.push(if unplaced.is_empty() {
        "'' AS unplaced_criteria".to_string()
    } else {
        format!("TRIM({}) AS unplaced_criteria", unplaced.join(" || "))
    });
    columns.push("uf AS unplaced_facts".to_string());
    let with = g
        .ctes
        .iter()
        .map(|(n, q)| format!("{n} AS (\n  {q}\n)"))
        .collect::<Vec<_>>()
        .join(",\n");
    let select = format!(
        "SELECT person_id, {verdict} AS verdict{} FROM eligc_c",
        columns
            .iter()
            .map(|c| format!(",\n  {c}"))
            .collect::<String>()
    );
    let mut steps = Vec::new();
    let view = match d {
        Dialect::Postgresql => format!(
            "CREATE OR REPLACE TEMPORARY VIEW eligc_result AS\nWITH {}{with}\n{select}",
            if g.recursive { "RECURSIVE " } else { "" },
        ),
        // Spark inlines a CTE or a view wherever it is named: with the compiler's shared
        // subqueries the plan of one query outgrew the driver's memory (a heap of 1 GB on the
        // seed protocol). Each step is materialised as a table first.
        // The facts and the vocabulary's placing, used by many leaves, are materialised as
        // tables first; the leaves, used once each, stay subqueries of the view.
        Dialect::Spark => {
            let mut inline = Vec::new();
            for (name, query) in &g.ctes {
                if name.starts_with("eligc_") && name != "eligc_k" && name != "eligc_c" {
                    steps.push(format!("DROP TABLE IF EXISTS {name}"));
                    steps.push(format!("CREATE TABLE {name} USING parquet AS\n{query}"));
                } else {
                    inline.push(format!("{name} AS (\n  {query}\n)"));
                }
            }
            format!(
                "CREATE OR REPLACE TEMPORARY VIEW eligc_result AS\nWITH {}\n{select}",
                inline.join(",\n")
            )
        }
    };
    let mut setup = d.parameter_tables(&g.params);
    setup.extend(steps);
    setup.push(view);
    let result_query = "SELECT * FROM eligc_result ORDER BY person_id".to_string();
    let mut funnel = vec![format!(
        "SELECT 'verdict' AS criterion, SUM(CASE WHEN verdict = 'eligible' THEN 1 ELSE 0 END) AS eligible_or_met, SUM(CASE WHEN verdict = 'ineligible' THEN 1 ELSE 0 END) AS ineligible_or_not_met, SUM(CASE WHEN verdict = 'needs review' THEN 1 ELSE 0 END) AS unknown, 0 AS not_applicable, SUM(CASE WHEN verdict = 'needs review' AND unplaced_criteria <> '' THEN 1 ELSE 0 END) AS unplaced, 0 AS ord FROM eligc_result"
    )];
    for (i, id) in ids.iter().enumerate() {
        let col = d.ident(id);
        funnel.push(format!(
            "SELECT {}, SUM(CASE WHEN {col} = 'met' THEN 1 ELSE 0 END), SUM(CASE WHEN {col} = 'not met' THEN 1 ELSE 0 END), SUM(CASE WHEN {col} = 'unknown' THEN 1 ELSE 0 END), SUM(CASE WHEN {col} = 'not applicable' THEN 1 ELSE 0 END), SUM(CASE WHEN ' ' || unplaced_criteria || ' ' LIKE {} THEN 1 ELSE 0 END), {} FROM eligc_result",
            d.lit(id),
            d.lit(&format!("% {id} %")),
            i + 1
        ));
    }
    let funnel_query = format!(
        "SELECT criterion, eligible_or_met, ineligible_or_not_met, unknown, not_applicable, unplaced FROM (\n  {}\n) f ORDER BY ord",
        funnel.join("\n  UNION ALL ")
    );
    let known: Vec<String> = g.unit_texts.iter().map(|u| d.lit(u)).collect();
    let units_query = format!(
        "SELECT DISTINCT COALESCE(CASE WHEN uc.vocabulary_id = 'UCUM' THEN uc.concept_code END, m.unit_source_value) AS unit FROM {cdm}measurement m LEFT JOIN {vocab}concept uc ON uc.concept_id = m.unit_concept_id AND m.unit_concept_id <> 0 WHERE m.value_as_number IS NOT NULL AND COALESCE(CASE WHEN uc.vocabulary_id = 'UCUM' THEN uc.concept_code END, NULLIF(m.unit_source_value, '')) IS NOT NULL AND COALESCE(CASE WHEN uc.vocabulary_id = 'UCUM' THEN uc.concept_code END, m.unit_source_value) NOT IN ({})",
        if known.is_empty() {
            "''".to_string()
        } else {
            known.join(", ")
        },
        cdm = g.cdm,
        vocab = g.vocab
    );
    let ids_query = rows_without_ids(options)
        .into_iter()
        .map(|(_, q)| q)
        .collect::<Vec<_>>()
        .join("\nUNION ALL ");
    Ok(Script {
        setup,
        result_query,
        funnel_query,
        units_query,
        ids_query,
        rejections_query: rejections_query(options),
        criteria: ids,
    })
}

/// The clinical tables the script reads, each with its id column.
const IDS: [(&str, &str); 7] = [
    ("person", "person_id"),
    ("measurement", "measurement_id"),
    ("observation", "observation_id"),
    ("condition_occurrence", "condition_occurrence_id"),
    ("drug_exposure", "drug_exposure_id"),
    ("procedure_occurrence", "procedure_occurrence_id"),
    ("visit_occurrence", "visit_occurrence_id"),
];

/// Per clinical table, a query counting its rows without their id or `person_id`
/// (`table_name`, `id_column`, `missing`). The script tells facts apart by table and id, and
/// gives outcomes per `person_id`: such a row would be left out without a word, where `eligc
/// run` reads it (or rejects its person). The CDM makes both `NOT NULL`; a table loaded
/// without the CDM's constraints may still hold them. `eligc run --db` refuses a database
/// where any count is not 0.
pub fn rows_without_ids(options: &Options) -> Vec<(&'static str, String)> {
    let cdm = prefix(&options.cdm_schema);
    IDS.iter()
        .map(|(table, id)| {
            let person = if *id == "person_id" {
                String::new()
            } else {
                " OR person_id IS NULL".to_string()
            };
            (
                *table,
                format!(
                    "SELECT '{table}' AS table_name, '{id}' AS id_column, COUNT(*) AS missing FROM {cdm}{table} WHERE {id} IS NULL{person}"
                ),
            )
        })
        .collect()
}

/// The SQL that lists the unit spellings of measurements and observations with a value
/// (for `eligc run --db`, which compiles with every spelling its database holds).
pub fn distinct_units_query(options: &Options) -> String {
    let cdm = prefix(&options.cdm_schema);
    let vocab = options.vocabulary_prefix();
    let one = |table: &str| {
        format!(
            "SELECT DISTINCT CASE WHEN TRIM(uc.vocabulary_id) = 'UCUM' THEN TRIM(uc.concept_code) ELSE t.unit_source_value END AS unit FROM {cdm}{table} t LEFT JOIN {vocab}concept uc ON uc.concept_id = t.unit_concept_id AND t.unit_concept_id <> 0 WHERE t.value_as_number IS NOT NULL"
        )
    };
    format!(
        "SELECT DISTINCT unit FROM ({} UNION {}) u WHERE unit IS NOT NULL",
        one("measurement"),
        one("observation")
    )
}

/// `schema.` before a table's name, or nothing for the search path.
fn prefix(schema: &Option<String>) -> String {
    schema.as_ref().map(|s| format!("{s}.")).unwrap_or_default()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The unit spellings the script converts: eligc's common units, a few UCUM spellings OMOP
/// data use, the protocol's own, and `--unit`.
fn unit_catalogue(program: &Program, options: &Options) -> Vec<String> {
    let mut out: Vec<String> = crate::units::common_units()
        .into_iter()
        .map(str::to_string)
        .collect();
    for extra in [
        "{score}",
        "{points}",
        "[lb_av]",
        "[in_i]",
        "kg/m2",
        "mL/min/{1.73_m2}",
        "{beats}/min",
        "{breaths}/min",
        "mm[Hg]",
        "10*3/uL",
        "10*6/uL",
        "g/dL",
        "mg/dL",
        "[iU]/L",
        "U/L",
        "%",
        "fL",
        "pg",
        "mmol/L",
        "umol/L",
        "ng/mL",
        "/min",
        "Cel",
        "[degF]",
        "[oz_av]",
        "mL/min",
        "{ratio}",
        "1",
    ] {
        out.push(extra.to_string());
    }
    for c in &program.concepts {
        if let Some(u) = &c.unit {
            out.push(u.text().to_string());
        }
    }
    out.extend(options.units.iter().cloned());
    let mut seen = BTreeSet::new();
    out.retain(|u| crate::units::parse_unit(u).is_ok() && seen.insert(u.clone()));
    out
}

/// The generator's state.
pub(crate) struct Gen<'p> {
    p: &'p Program,
    o: &'p Options,
    d: Dialect,
    cdm: String,
    vocab: String,
    params: String,
    /// Named subqueries, in order.
    ctes: Vec<(String, String)>,
    /// Fact CTEs already written.
    made: BTreeSet<String>,
    /// Each leaf's value as an expression over `eligc_p p` and its joined CTE; for an event
    /// check, also its value without the facts eligc cannot place, and its kind.
    leaves: Vec<(String, Option<(String, facts::Kind)>)>,
    /// `LEFT JOIN lN ON ...` for the leaves' CTEs.
    joins: Vec<String>,
    errors: Vec<Diagnostic>,
    unit_texts: Vec<String>,
    next: usize,
    /// Whether the WITH clause needs RECURSIVE (the vocabulary walk, PostgreSQL).
    recursive: bool,
    /// The person table event rows are joined to: `eligc_p`, or `eligc_p0` (the anchors
    /// the record supplies) while the anchors taken from events are computed.
    persons: String,
    /// While a leaf whose window may be empty is written twice: `Some(true)` writes it for
    /// the empty window, `Some(false)` for the placed one (see `Gen::leaf`).
    empty: Option<bool>,
    /// While an event check is written a second time without the facts eligc cannot place
    /// (`Ctx::without_unplaced` of the interpreter; see `Gen::leaf`).
    without: bool,
    /// An event check's value without the facts eligc cannot place, when its leaf computed
    /// it with its value from the same rows (see `Gen::event`).
    paired: Option<String>,
    /// The per-person CTEs of arithmetic's operands already written (`num`, `den`), by
    /// mode, concept and window: a protocol often uses one result in several computations.
    operands: BTreeMap<String, (String, String)>,
}

impl Gen<'_> {
    fn cte(&mut self, name: &str, query: String) {
        self.ctes.push((name.to_string(), query));
    }

    fn fresh(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    fn unsupported(&mut self, span: Span, what: &str, help: &str) {
        self.errors.push(
            Diagnostic::new(
                Code::SqlUnsupported,
                span,
                format!("{what} cannot be compiled to SQL"),
                "not compiled",
            )
            .with_help(help.to_string()),
        );
    }

    /// `eligc_p`: one row per person with birth date, sex, anchors (`a0`, ...), as-of date;
    /// `eligc_at`: attestations per person (`t0`, ... as 0/2).
    fn person_cte(&mut self) {
        let d = self.d;
        let s = self.cdm.clone();
        let prm = self.params.clone();
        let mut anchor_cols = Vec::new();
        let mut anchor_aggs = vec!["person_id".to_string()];
        let mut from_events = Vec::new();
        for (i, a) in self.p.anchors.iter().enumerate() {
            if let Some((select, query)) = &a.event {
                from_events.push((i, *select, query.clone()));
                continue;
            }
            if let Some(f) = a.fixed {
                anchor_cols.push(format!("{} AS a{i}", d.date(f)));
                continue;
            }
            anchor_aggs.push(format!(
                "MAX(CASE WHEN anchor = {} THEN anchor_date END) AS a{i}",
                d.lit(&a.name)
            ));
            let default = self
                .o
                .anchors
                .get(&a.name)
                .map_or("CAST(NULL AS DATE)".to_string(), |x| d.date(*x));
            anchor_cols.push(format!("COALESCE(an.a{i}, {default}) AS a{i}"));
        }
        anchor_aggs.push(
            "MAX(CASE WHEN anchor = 'screening' THEN anchor_date END) AS screening".to_string(),
        );
        let screening_default = self
            .o
            .anchors
            .get("screening")
            .map_or("CAST(NULL AS DATE)".to_string(), |x| d.date(*x));
        let as_of = match self.o.as_of {
            Some(x) => d.date(x),
            None => format!("COALESCE(an.screening, {screening_default}, CURRENT_DATE)"),
        };
        self.cte(
            "eligc_an",
            format!(
                "SELECT {} FROM {prm}eligc_anchor GROUP BY person_id",
                anchor_aggs.join(", ")
            ),
        );
        // Only a real date is made: `make_date` of a month 13 stops the whole script. The
        // reader rejects such a person; `run --db` reports it so (sql::judge).
        let (y, m, day) = ("pe.year_of_birth", "pe.month_of_birth", "pe.day_of_birth");
        let days_in_month = format!(
            "CASE WHEN {m} IN (1, 3, 5, 7, 8, 10, 12) THEN 31 WHEN {m} IN (4, 6, 9, 11) THEN 30 WHEN ({y} % 4 = 0 AND {y} % 100 <> 0) OR {y} % 400 = 0 THEN 29 ELSE 28 END"
        );
        let birth = format!(
            "COALESCE(CAST(pe.birth_datetime AS DATE), CASE WHEN {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {day} >= 1 AND {day} <= {days_in_month} THEN make_date(CAST({y} AS INT), CAST({m} AS INT), CAST({day} AS INT)) END)"
        );
        let mut cols = vec![
            "pe.person_id".to_string(),
            format!("{birth} AS birth"),
            "CASE pe.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' WHEN 8521 THEN 'other' END AS sex".to_string(),
            format!("{as_of} AS as_of"),
        ];
        cols.extend(anchor_cols);
        // Anchors taken from the record's events are computed from the persons with the
        // anchors the record supplies (`eligc_p0`): their windows refer only to those.
        let base = if from_events.is_empty() {
            "eligc_p"
        } else {
            "eligc_p0"
        };
        self.cte(
            base,
            format!(
                "SELECT {} FROM {s}person pe LEFT JOIN eligc_an an ON an.person_id = pe.person_id",
                cols.join(", ")
            ),
        );
        if !from_events.is_empty() {
            self.persons = base.to_string();
            let mut cols = vec!["p.*".to_string()];
            let mut joins = String::new();
            for (i, select, query) in &from_events {
                let (state, date) = self.event_anchor(*i, *select, query, &mut joins);
                cols.push(format!("{state} AS e{i}"));
                cols.push(format!("{date} AS a{i}"));
            }
            // The same anchors without the facts eligc cannot place (`weN`, `waN`), for the
            // event checks written without them (the interpreter resolves windows again then).
            self.without = true;
            for (i, select, query) in &from_events {
                let (state, date) = self.event_anchor(*i, *select, query, &mut joins);
                cols.push(format!("{state} AS we{i}"));
                cols.push(format!("{date} AS wa{i}"));
            }
            self.without = false;
            self.persons = "eligc_p".to_string();
            self.cte(
                "eligc_p",
                format!("SELECT {} FROM eligc_p0 p{joins}", cols.join(", ")),
            );
        }
        let mut att = vec!["person_id".to_string()];
        for (i, c) in self.p.concepts.iter().enumerate() {
            if c.kind == crate::ast::ConceptKind::Attestation {
                att.push(format!(
                    "MAX(CASE WHEN attestation = {} THEN (CASE WHEN value THEN 2 WHEN NOT value THEN 0 END) END) AS t{i}",
                    d.lit(&c.name)
                ));
            }
        }
        self.cte(
            "eligc_at",
            format!(
                "SELECT {} FROM {prm}eligc_attestation GROUP BY person_id",
                att.join(", ")
            ),
        );
        self.joins
            .push(" LEFT JOIN eligc_at at ON at.person_id = p.person_id".to_string());
    }

    /// Adds a leaf; returns its column (`kN`) for the criteria and, for an event check, its
    /// unplaced hit over the columns of `eligc_k`: 1 when it is unknown, the person has facts
    /// of its kind eligc cannot place, and without them it is decided (`placing` of
    /// `src/eval/leaf.rs`), else 0.
    fn add_leaf(
        &mut self,
        leaf: (String, Option<(String, facts::Kind)>),
    ) -> (String, Option<String>) {
        let i = match self.leaves.iter().position(|e| *e == leaf) {
            Some(i) => i,
            None => {
                self.leaves.push(leaf);
                self.leaves.len() - 1
            }
        };
        let hit = self
            .leaves
            .get(i)
            .and_then(|(_, w)| w.as_ref())
            .map(|(_, kind)| {
                format!(
                    "(CASE WHEN k{i} = 1 AND hu_{} = 1 AND w{i} <> 1 THEN 1 ELSE 0 END)",
                    kind.name()
                )
            });
        (format!("k{i}"), hit)
    }

    /// A condition as an expression over the leaf columns (0/1/2), and whether facts eligc
    /// cannot place made one of the event checks it evaluates unknown (1, else 0; `None`
    /// when it has no event check). The interpreter stops an `and` at its first false item
    /// and an `or` at its first true one: the checks after those are not evaluated and
    /// cannot count (`unplaced_hit` in `src/eval/mod.rs`).
    fn cond(&mut self, c: &Cond) -> (String, Option<String>) {
        match &c.kind {
            CondKind::And(items) | CondKind::Or(items) => {
                // `and`: the least, true when empty, stopped by a false item; `or`: the
                // greatest, false when empty, stopped by a true one.
                let (function, empty, stop) = match &c.kind {
                    CondKind::And(_) => ("LEAST", "2", 0),
                    _ => ("GREATEST", "0", 2),
                };
                let parts: Vec<(String, Option<String>)> =
                    items.iter().map(|i| self.cond(i)).collect();
                let hit = stopping(&parts, stop);
                let value = match parts.as_slice() {
                    [] => empty.to_string(),
                    [one] => one.0.clone(),
                    _ => format!(
                        "{function}({})",
                        parts
                            .iter()
                            .map(|p| p.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                (value, hit)
            }
            CondKind::Not(inner) => {
                let (value, hit) = self.cond(inner);
                (format!("(2 - {value})"), hit)
            }
            CondKind::Define(id) => match self.p.definition(*id) {
                Some(def) => {
                    let cond = def.cond.clone();
                    self.cond(&cond)
                }
                None => ("1".to_string(), None),
            },
            _ => match self.leaf(c) {
                Some(leaf) => self.add_leaf(leaf),
                None => ("1".to_string(), None),
            },
        }
    }

    /// A criterion's outcome (0 not met, 1 unknown, 2 met, 3 not applicable) and its
    /// unplaced hit (as [`Gen::cond`]'s: from its `applies if`, rule and `unless`, which are
    /// all evaluated, or its sub-criteria); pushes them and its sub-criteria's, depth first,
    /// onto `out`.
    fn criterion<'c>(
        &mut self,
        c: &'c Criterion,
        out: &mut Vec<Outcome<'c>>,
    ) -> (String, Option<String>) {
        let index = out.len();
        out.push((c, String::new(), None));
        let (applies, mut hits) = match c.applies.as_ref().map(|a| self.cond(a)) {
            Some((a, hit)) => (Some(a), vec![hit]),
            None => (None, Vec::new()),
        };
        let body = match &c.body {
            CriterionBody::Rule { cond, unless } => {
                let (holds, hit) = self.cond(cond);
                hits.push(hit);
                match unless {
                    Some(u) => {
                        let (u, hit) = self.cond(u);
                        hits.push(hit);
                        format!("LEAST({holds}, 2 - {u})")
                    }
                    None => holds,
                }
            }
            CriterionBody::Group(children) => {
                let kids: Vec<String> = children
                    .iter()
                    .map(|child| {
                        let (outcome, hit) = self.criterion(child, out);
                        hits.push(hit);
                        format!("({outcome})")
                    })
                    .collect();
                group(c.kind, c.quantifier, &kids)
            }
        };
        let hits: Vec<String> = hits.into_iter().flatten().collect();
        let hit = match hits.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => Some(format!("GREATEST({})", hits.join(", "))),
        };
        let outcome = match applies {
            None => body,
            Some(a) => {
                let keep = match c.kind {
                    CriterionKind::Inclusion => 2,
                    CriterionKind::Exclusion => 0,
                };
                format!(
                    "CASE {a} WHEN 2 THEN {body} WHEN 0 THEN 3 ELSE (CASE WHEN {body} = 3 THEN 3 WHEN {body} = {keep} THEN {keep} ELSE 1 END) END"
                )
            }
        };
        if let Some(slot) = out.get_mut(index) {
            slot.1 = outcome.clone();
            slot.2 = hit.clone();
        }
        (outcome, hit)
    }
}

/// A criterion, its outcome and its unplaced hit as expressions (see [`Gen::criterion`]).
type Outcome<'c> = (&'c Criterion, String, Option<String>);

/// The unplaced hit of an `and` (`stop` 0: it stops at a false item) or an `or` (`stop` 2)
/// over its items' values and hits: an item's hit counts when no item before it stopped it.
fn stopping(parts: &[(String, Option<String>)], stop: u8) -> Option<String> {
    let mut rest: Option<String> = None;
    for (value, hit) in parts.iter().rev() {
        rest = match (hit, rest) {
            (None, None) => None,
            (Some(hit), None) => Some(hit.clone()),
            (None, Some(rest)) => Some(format!(
                "(CASE WHEN {value} = {stop} THEN 0 ELSE {rest} END)"
            )),
            (Some(hit), Some(rest)) => Some(format!(
                "(CASE WHEN {hit} = 1 THEN 1 WHEN {value} = {stop} THEN 0 ELSE {rest} END)"
            )),
        };
    }
    rest
}

/// A group's outcome from its children's (0..3), as [`crate::eval`]'s `group_outcome`.
fn group(kind: CriterionKind, quantifier: Option<Quantifier>, kids: &[String]) -> String {
    if kids.is_empty() {
        return "3".to_string();
    }
    let count = |pred: &str| {
        kids.iter()
            .map(|k| format!("(CASE WHEN {k} {pred} THEN 1 ELSE 0 END)"))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let applicable = count("<> 3");
    let value = match Quantifier::of(kind, quantifier) {
        Quantifier::All => {
            let items: Vec<String> = kids
                .iter()
                .map(|k| format!("(CASE WHEN {k} = 3 THEN 2 ELSE {k} END)"))
                .collect();
            if items.len() == 1 {
                items.concat()
            } else {
                format!("LEAST({})", items.join(", "))
            }
        }
        Quantifier::Any => {
            let items: Vec<String> = kids
                .iter()
                .map(|k| format!("(CASE WHEN {k} = 3 THEN 0 ELSE {k} END)"))
                .collect();
            if items.len() == 1 {
                items.concat()
            } else {
                format!("GREATEST({})", items.join(", "))
            }
        }
        Quantifier::AtLeast(n) => {
            let met = count("= 2");
            let maybe = count("= 1");
            format!(
                "(CASE WHEN {met} >= {n} THEN 2 WHEN ({met}) + ({maybe}) < {n} THEN 0 ELSE 1 END)"
            )
        }
    };
    format!("(CASE WHEN {applicable} = 0 THEN 3 ELSE {value} END)")
}
