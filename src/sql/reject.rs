//! The rows `eligc run` rejects when it reads an OMOP export (`src/facts/omop.rs`), found in
//! a database: the script screens every person its views see, so a person whose rows the
//! reader would refuse (an end before its start, `NaN`, a month 13, a second PERSON row,
//! rows of a person PERSON lacks) would get a verdict from rows eligc cannot vouch for.
//!
//! [`rejections_query`] selects the *candidate* rows with plain SQL (a superset: a number
//! is a candidate by the length of its text); [`judge`] then decides each one in Rust with
//! the reader's own rules (`number::parse`, the date and birth-date checks), giving the
//! reader's reasons. `eligc run --db` reports those persons as rejected records, as a run on
//! the export does, instead of their verdicts.

use super::{Dialect, Options, prefix};
use crate::facts::RecordError;

// The reader's table order: a person's rows are read PERSON first, then by table, then by
// row id, and the first that cannot be read rejects the person.
use crate::facts::omop::{CONDITION, DRUG, MEASUREMENT, OBSERVATION, PERSON, PROCEDURE, VISIT};

/// Tables by the reader's order, with their id column.
const TABLES: [(u8, &str, &str); 7] = [
    (PERSON, "person", "person_id"),
    (MEASUREMENT, "measurement", "measurement_id"),
    (CONDITION, "condition_occurrence", "condition_occurrence_id"),
    (DRUG, "drug_exposure", "drug_exposure_id"),
    (PROCEDURE, "procedure_occurrence", "procedure_occurrence_id"),
    (OBSERVATION, "observation", "observation_id"),
    (VISIT, "visit_occurrence", "visit_occurrence_id"),
];

/// The date columns the reader reads, by table.
const DATES: &[(u8, &str)] = &[
    (PERSON, "birth_datetime"),
    (MEASUREMENT, "measurement_date"),
    (CONDITION, "condition_start_date"),
    (CONDITION, "condition_end_date"),
    (DRUG, "drug_exposure_start_date"),
    (DRUG, "drug_exposure_end_date"),
    (DRUG, "verbatim_end_date"),
    (PROCEDURE, "procedure_date"),
    (PROCEDURE, "procedure_end_date"),
    (OBSERVATION, "observation_date"),
    (VISIT, "visit_start_date"),
    (VISIT, "visit_end_date"),
];

/// The dates a row cannot do without, and what the reader says when one is missing.
const REQUIRED: [(u8, &str, &str); 6] = [
    (MEASUREMENT, "measurement_date", "no date"),
    (CONDITION, "condition_start_date", "no start date"),
    (DRUG, "drug_exposure_start_date", "no start date"),
    (PROCEDURE, "procedure_date", "no date"),
    (OBSERVATION, "observation_date", "no date"),
    (VISIT, "visit_start_date", "no start date"),
];

/// The numbers the reader reads exactly (a bound only with a value).
/// An OBSERVATION row of the Condition domain is read as a condition, its value unread.
const NUMBERS: [(u8, &str, Read); 4] = [
    (MEASUREMENT, "value_as_number", Read::Always),
    (MEASUREMENT, "range_low", Read::WithAValue),
    (MEASUREMENT, "range_high", Read::WithAValue),
    (OBSERVATION, "value_as_number", Read::NotAsACondition),
];

/// When the reader reads a number.
#[derive(Clone, Copy)]
enum Read {
    Always,
    /// Only beside a `value_as_number` (a bound).
    WithAValue,
    /// Unless the row's concept is of the Condition domain.
    NotAsACondition,
}

/// Ends that must not come before their starts: (table, end as SQL, end column, start).
const ENDS: [(u8, &str, &str, &str); 4] = [
    (
        CONDITION,
        "condition_end_date",
        "condition_end_date",
        "condition_start_date",
    ),
    (
        DRUG,
        "COALESCE(drug_exposure_end_date, verbatim_end_date)",
        "drug_exposure_end_date",
        "drug_exposure_start_date",
    ),
    (
        PROCEDURE,
        "procedure_end_date",
        "procedure_end_date",
        "procedure_date",
    ),
    (
        VISIT,
        "visit_end_date",
        "visit_end_date",
        "visit_start_date",
    ),
];

fn table(t: u8) -> (&'static str, &'static str) {
    TABLES
        .iter()
        .find(|(n, _, _)| *n == t)
        .map_or(("?", "?"), |(_, name, id)| (*name, *id))
}

/// The candidate rows of every table in one query, ordered by person (for the script's
/// text; see [`rejections_queries`]).
pub fn rejections_query(options: &Options) -> String {
    let parts: Vec<String> = rejections_queries(options)
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    format!(
        "SELECT person_id, tbl, row_id, chk, col, a, b, c FROM (\n{}\n) r ORDER BY person_id, tbl, row_id",
        parts.join("\nUNION ALL ")
    )
}

/// The candidate rows, one query per table (a database without one of the tables still
/// has the others checked): columns `person_id`, `tbl` (the reader's table order), `row_id`,
/// `chk` (which rule), `col` (the column), `a`, `b`, `c` (values as text).
pub fn rejections_queries(options: &Options) -> Vec<(&'static str, String)> {
    let d = options.dialect;
    let cdm = prefix(&options.cdm_schema);
    let text = |e: &str| match d {
        Dialect::Postgresql => format!("CAST({e} AS VARCHAR)"),
        Dialect::Spark => format!("CAST({e} AS STRING)"),
    };
    let year = |e: &str| format!("EXTRACT(YEAR FROM {e})");
    let row = |t: u8, id: &str, chk: &str, col: &str, a: &str, b: &str, c: &str, from: &str| {
        format!(
            "SELECT person_id, {t} AS tbl, {id} AS row_id, '{chk}' AS chk, '{col}' AS col, {a} AS a, {b} AS b, {c} AS c FROM {from}"
        )
    };
    let null = text("NULL");
    let mut parts: Vec<(u8, String)> = Vec::new();
    let person = format!("{cdm}person");
    // A second PERSON row of a person: the reader screens the first and rejects the others.
    parts.push((
        PERSON,
        row(
            PERSON,
            "CAST(NULL AS BIGINT)",
            "duplicate",
            "person_id",
            &text("COUNT(*)"),
            &null,
            &null,
            &format!("{person} GROUP BY person_id HAVING COUNT(*) > 1"),
        ),
    ));
    parts.push((
        PERSON,
        row(
            PERSON,
            "CAST(NULL AS BIGINT)",
            "gender",
            "gender_concept_id",
            &text("gender_concept_id"),
            &null,
            &null,
            &format!("{person} WHERE gender_concept_id NOT IN (8507, 8532, 8521, 8551, 0)"),
        ),
    ));
    parts.push((PERSON, row(
        PERSON,
        "CAST(NULL AS BIGINT)",
        "birth",
        "day_of_birth",
        &text("year_of_birth"),
        &text("month_of_birth"),
        &text("day_of_birth"),
        &format!(
            "{person} WHERE birth_datetime IS NULL AND year_of_birth IS NOT NULL AND month_of_birth IS NOT NULL AND day_of_birth IS NOT NULL \
             AND (year_of_birth < 1 OR month_of_birth < 1 OR month_of_birth > 12 OR day_of_birth < 1 OR day_of_birth > 28)"
        ),
    )));
    for (t, name, id) in TABLES.iter().skip(1) {
        parts.push((*t, row(
            *t,
            id,
            "orphan",
            "person_id",
            &null,
            &null,
            &null,
            &format!(
                "{cdm}{name} x WHERE NOT EXISTS (SELECT 1 FROM {person} p WHERE p.person_id = x.person_id)"
            ),
        )));
    }
    for (t, column, reason) in REQUIRED {
        let (name, id) = table(t);
        parts.push((
            t,
            row(
                t,
                id,
                "missing",
                column,
                &d.lit(reason),
                &null,
                &null,
                &format!("{cdm}{name} WHERE {column} IS NULL"),
            ),
        ));
    }
    for (t, column) in DATES {
        let (name, id) = table(*t);
        let id = if *t == PERSON {
            "CAST(NULL AS BIGINT)"
        } else {
            id
        };
        parts.push((
            *t,
            row(
                *t,
                id,
                "date",
                column,
                &text(column),
                &null,
                &null,
                &format!(
                    "{cdm}{name} WHERE {} < 1 OR {} > 9999",
                    year(column),
                    year(column)
                ),
            ),
        ));
    }
    let vocab = options.vocabulary_prefix();
    // The domain the reader takes: the standard concept's, else the source concept's.
    let not_condition = format!(
        " AND COALESCE((SELECT MAX(TRIM(c.domain_id)) FROM {vocab}concept c WHERE c.concept_id = x.observation_concept_id), \
         (SELECT MAX(TRIM(c.domain_id)) FROM {vocab}concept c WHERE c.concept_id = x.observation_source_concept_id), '') <> 'Condition'"
    );
    for (t, column, read) in NUMBERS {
        let when = match read {
            Read::Always => "",
            Read::WithAValue => " AND value_as_number IS NOT NULL",
            Read::NotAsACondition => not_condition.as_str(),
        };
        let (name, id) = table(t);
        let as_text = text(column);
        parts.push((t, row(
            t,
            id,
            "number",
            column,
            &as_text,
            &null,
            &null,
            &format!(
                // Plain digits no longer than MAX_DIGITS always read; NaN, Infinity and
                // exponents (floating-point columns) are judged.
                "{cdm}{name} x WHERE {column} IS NOT NULL{when} AND (LENGTH({as_text}) > {} OR UPPER({as_text}) LIKE '%N%' OR UPPER({as_text}) LIKE '%E%')",
                crate::number::MAX_DIGITS
            ),
        )));
    }
    for (t, end, column, start) in ENDS {
        let (name, id) = table(t);
        parts.push((
            t,
            row(
                t,
                id,
                "order",
                column,
                &text(end),
                &text(start),
                &null,
                &format!("{cdm}{name} WHERE {end} < {start}"),
            ),
        ));
    }
    let (drug, drug_id) = table(DRUG);
    parts.push((DRUG, row(
        DRUG,
        drug_id,
        "supply",
        "days_supply",
        &text("days_supply"),
        &null,
        &null,
        &format!(
            "{cdm}{drug} WHERE drug_exposure_end_date IS NULL AND verbatim_end_date IS NULL AND days_supply < 0"
        ),
    )));
    TABLES
        .iter()
        .filter_map(|(t, name, _)| {
            let mine: Vec<&str> = parts
                .iter()
                .filter(|(p, _)| p == t)
                .map(|(_, q)| q.as_str())
                .collect();
            (!mine.is_empty()).then(|| (*name, mine.join("\nUNION ALL ")))
        })
        .collect()
}

/// A candidate the reader rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The person.
    pub person: i64,
    /// Whether it is a row of a person PERSON lacks (a record of its own), or a second
    /// PERSON row (`extra` more rows), rather than a row of a screened person.
    pub kind: RejectionKind,
    /// The reader's table order, the row's id and the rule's place in the reader's reading
    /// of a row, for choosing a person's first.
    pub order: (u8, Option<i64>, u8),
    /// What the reader says.
    pub error: RecordError,
}

/// What a rejection stands for in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// The person's record is rejected in place of its verdict.
    Person,
    /// A row of a person that PERSON lacks: a rejected record of its own.
    Orphan,
    /// More PERSON rows of one person (how many more): the first is screened, each other
    /// one is a rejected record.
    Duplicate(usize),
}

/// Judges one candidate row (the columns of [`rejections_query`], as text) by the reader's
/// rules: `Ok(None)` when the reader would read it after all; `Err` when the row is not the
/// query's.
pub fn judge(row: &[Option<String>]) -> Result<Option<Rejection>, String> {
    let get = |i: usize| row.get(i).cloned().flatten();
    let person: i64 = get(0)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("a rejection row without a person: {row:?}"))?;
    let t: u8 = get(1)
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("a rejection row without a table: {row:?}"))?;
    let row_id: Option<i64> = get(2).and_then(|r| r.parse().ok());
    let chk = get(3).unwrap_or_default();
    let column = get(4).unwrap_or_default();
    let (a, b, c) = (
        get(5).unwrap_or_default(),
        get(6).unwrap_or_default(),
        get(7).unwrap_or_default(),
    );
    let (name, _) = table(t);
    let rank = match chk.as_str() {
        "gender" => 0,
        "missing" | "date" => 1,
        "birth" => 2,
        "number" => 3,
        "supply" => 4,
        _ => 5,
    };
    let mut kind = RejectionKind::Person;
    let reason = match chk.as_str() {
        "duplicate" => {
            let n: usize = a.parse().unwrap_or(2);
            kind = RejectionKind::Duplicate(n.saturating_sub(1));
            format!("person {person} is already in PERSON ({n} rows have this person_id)")
        }
        "gender" => format!(
            "`{a}` is not an OMOP gender concept (8507 male, 8532 female, 8521 other, 8551 unknown, 0)"
        ),
        "birth" => match birth(&a, &b, &c) {
            Some((col, reason)) => {
                return Ok(Some(Rejection {
                    person,
                    kind,
                    order: (t, row_id, rank),
                    error: error(name, row_id, person, col, reason),
                }));
            }
            None => return Ok(None),
        },
        "orphan" => {
            kind = RejectionKind::Orphan;
            format!("person {person} is not in PERSON")
        }
        "missing" => a,
        "date" => format!("`{a}` is not a date written YYYY-MM-DD (or a date and time)"),
        "number" => match crate::number::parse(&a) {
            Ok(_) => return Ok(None),
            Err(e) => format!("`{a}` is not a number: {e}"),
        },
        "order" => format!("ends ({a}) before it starts ({b})"),
        "supply" => format!("`{a}` is not a number of days (a whole number)"),
        other => return Err(format!("a rejection row of an unknown rule `{other}`")),
    };
    Ok(Some(Rejection {
        person,
        kind,
        order: (t, row_id, rank),
        error: error(name, row_id, person, &column, reason),
    }))
}

/// The reader's check of a date of birth from its parts; `None` when it is a date.
fn birth(y: &str, m: &str, d: &str) -> Option<(&'static str, String)> {
    let part = |c: &'static str, t: &str| {
        t.parse::<u32>()
            .map_err(|_| (c, format!("`{t}` is not a whole number")))
    };
    let parts = part("year_of_birth", y).and_then(|y| {
        part("month_of_birth", m).and_then(|m| part("day_of_birth", d).map(|d| (y, m, d)))
    });
    match parts {
        Err(e) => Some(e),
        Ok((y, m, d)) => {
            let valid = i32::try_from(y)
                .ok()
                .filter(|y| *y >= 1)
                .and_then(|yy| chrono::NaiveDate::from_ymd_opt(yy, m, d));
            match valid {
                Some(_) => None,
                None => Some(("day_of_birth", format!("{y}-{m}-{d} is not a date"))),
            }
        }
    }
}

/// The record error, placed at `table:row id` (a database has no lines).
fn error(
    table: &str,
    row_id: Option<i64>,
    person: i64,
    column: &str,
    reason: String,
) -> RecordError {
    RecordError {
        file: match row_id {
            Some(id) => format!("{table} row {id}"),
            None => table.to_string(),
        },
        line: 0,
        patient: Some(person.to_string()),
        path: column.to_string(),
        reason,
    }
}
