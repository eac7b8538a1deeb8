//! `eligc run --db` with explanations (`--format json`, `--explain ID`): the SQL script
//! decides outcomes but cannot say why in the protocol's words. So the persons to explain
//! are fetched from the database as a small OMOP export (their rows of the clinical tables,
//! and the vocabulary rows that place their concepts), screened by the interpreter exactly
//! as `eligc run PROTOCOL OMOP_DIR` screens an export (the same reader, src/facts/omop.rs,
//! and the same vocabulary loader, src/vocab), and their results checked against the
//! script's: any difference in a verdict or an outcome is a bug, reported, never printed.
//! See docs/sql.md#eligc-run---db.
//!
//! The vocabulary fetched for a batch is what placing its persons' codes needs, not the
//! whole vocabulary (millions of rows in an Athena download): the concepts the rows use,
//! every concept sharing a code with one of them, the concepts of the protocol's codes;
//! the relationships touching those; the ancestor rows above those. The loader's result for
//! every code the persons have is then the same as from the whole vocabulary (the
//! differential tests in tests/sql_postgres.rs compare it with reading the full export).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use eligc::eval::{PatientResult, Plan};
use eligc::facts::{self, RecordError};

/// The persons of the database explained by the interpreter.
pub(crate) struct Explainer {
    program: eligc::program::Program,
    sources: eligc::source::SourceMap,
    /// Explanations as text round computed numbers (as `eligc run` does).
    reading: bool,
    as_of: Option<chrono::NaiveDate>,
    options: Arc<facts::ReadOptions>,
    /// `schema.` of the CDM and of the vocabulary tables (empty: the search path).
    cdm: String,
    vocab: String,
    /// `schema.` of the parameter tables, with `--params-schema`.
    params: Option<String>,
    /// The clinical tables the database has.
    tables: Vec<&'static str>,
    /// The protocol's codes, as an SQL array of text.
    codes: String,
    /// The concepts whose code may not be written as the loader normalises it (it does not
    /// start and end with a letter or digit), as an SQL array: fetched with every batch,
    /// since matching them by code would need the normalisation in SQL, which no index
    /// serves. Usually none.
    padded: String,
    /// Whether the vocabulary has CONCEPT_RELATIONSHIP.
    relationships: bool,
    /// Without CONCEPT_ANCESTOR rows the loader walks the placing relationships down from
    /// the protocol's concepts, through concepts no person has: all of them are fetched
    /// once, into this file.
    walk: Option<PathBuf>,
    temp: facts::PrivateTempDir,
}

/// A person's SQL result, and what the interpreter says of the same person.
pub(crate) type Explained = Result<PatientResult, RecordError>;

impl Explainer {
    /// Looks at which tables the database has; without CONCEPT_ANCESTOR rows, fetches the
    /// relationships once.
    pub(crate) fn new(
        client: &mut postgres::Client,
        compiled: &super::sql::Compiled,
        sql: &eligc::sql::Options,
        options: Arc<facts::ReadOptions>,
        reading: bool,
    ) -> Result<Explainer, String> {
        let (cdm, vocab) = (sql.cdm_prefix(), sql.vocabulary_prefix());
        let exists = |client: &mut postgres::Client, table: &str| -> Result<bool, String> {
            Ok(super::db::value(
                client,
                &format!("SELECT to_regclass('{table}') IS NOT NULL"),
            )?
            .as_deref()
                == Some("t"))
        };
        let mut tables = Vec::new();
        for t in facts::omop::clinical_tables() {
            if exists(client, &format!("{cdm}{t}"))? {
                tables.push(t);
            }
        }
        let relationships = exists(client, &format!("{vocab}concept_relationship"))?;
        let ancestors = exists(client, &format!("{vocab}concept_ancestor"))?
            && super::db::value(
                client,
                &format!("SELECT EXISTS (SELECT 1 FROM {vocab}concept_ancestor)"),
            )?
            .as_deref()
                == Some("t");
        let mut codes: Vec<String> = compiled
            .program
            .concepts
            .iter()
            .flat_map(|c| c.codes.iter())
            .filter(|(system, _)| !matches!(system, eligc::program::CodeSystem::Url))
            .map(|(_, code)| format!("'{}'", code.replace('\'', "''")))
            .collect();
        codes.sort();
        codes.dedup();
        // Patient rows: removed also when the run is interrupted.
        let temp = facts::PrivateTempDir::create("eligc-db")
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let padded = super::db::column(
            client,
            &format!(
                "SELECT concept_id FROM {vocab}concept WHERE concept_code !~ '^[[:alnum:]]' OR concept_code !~ '[[:alnum:]]$'"
            ),
        )?;
        let walk = if !ancestors && relationships {
            let path = temp.path().join("relationships.csv");
            super::db::copy_to_file(
                client,
                &format!(
                    "COPY (SELECT * FROM {vocab}concept_relationship) TO STDOUT WITH (FORMAT csv, HEADER)"
                ),
                &path,
            )?;
            Some(path)
        } else {
            None
        };
        Ok(Explainer {
            program: compiled.program.clone(),
            sources: compiled.sources.clone(),
            reading,
            as_of: sql.as_of,
            options,
            cdm,
            vocab,
            params: sql.params_schema.as_ref().map(|s| format!("{s}.")),
            tables,
            codes: format!("ARRAY[{}]::text[]", codes.join(", ")),
            padded: format!("'{{{}}}'::bigint[]", padded.join(",")),
            relationships,
            walk,
            temp,
        })
    }

    /// What the reading of the rows counted (for the summary line).
    pub(crate) fn options(&self) -> &facts::ReadOptions {
        &self.options
    }

    /// Screens `persons` (person ids, as the result gives them) with the interpreter, on
    /// their rows fetched from the database; the results are in no particular order.
    pub(crate) fn screen(
        &self,
        client: &mut postgres::Client,
        persons: &[&str],
    ) -> Result<Vec<Explained>, String> {
        let mut ids = Vec::with_capacity(persons.len());
        for p in persons {
            let id: i64 = p
                .trim()
                .parse()
                .map_err(|_| format!("the result's person_id `{p}` is not a whole number"))?;
            ids.push(id.to_string());
        }
        let dir = self.temp.path().join("batch");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
        }
        std::fs::create_dir(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        self.fetch(client, &ids, &dir)?;
        let vocabulary =
            eligc::vocab::load(&dir, &self.program, &self.options.omop.local_vocabularies)
                .map_err(|e| format!("cannot read the vocabulary rows fetched: {e}"))?;
        let plan = Plan::new(self.program.clone(), self.sources.clone())
            .round_for_reading(self.reading)
            .with_as_of(self.as_of)
            .with_vocabulary(vocabulary);
        // With --params-schema the script takes anchors and attestations from its tables:
        // so do the explanations, a side file of the batch made from them.
        let options = match &self.params {
            None => self.options.clone(),
            Some(params) => Arc::new(facts::ReadOptions {
                omop: facts::omop::OmopOptions {
                    local_vocabularies: self.options.omop.local_vocabularies.clone(),
                    ..facts::omop::OmopOptions::default()
                },
                anchors: self.options.anchors.clone(),
                side: self.side_of(client, params, &ids)?,
                max_record_bytes: self.options.max_record_bytes,
                ..facts::ReadOptions::default()
            }),
        };
        let records: Vec<facts::RawRecord> =
            facts::read_omop_export(&dir, Some(options.clone()), facts::BulkSettings::default())
                .and_then(|records| records.collect())
                .map_err(|e| format!("cannot read the rows fetched: {e}"))?;
        if self.params.is_some() {
            let counted = options
                .omop
                .stats
                .lock()
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default();
            if let Ok(mut total) = self.options.omop.stats.lock() {
                total.add(counted);
            }
        }
        let results: Vec<Explained> = records
            .par_iter()
            .map(|raw| plan.screen(raw, |_| true))
            .map(|r| {
                r.map_err(|mut e| {
                    // The line of a temporary copy would say nothing.
                    e.file = self.table_of(&e.file, &dir);
                    e.line = 0;
                    e
                })
            })
            .collect();
        Ok(results)
    }

    /// The anchors and attestations of `ids` in the parameter tables of `params` (`schema.`),
    /// as a side file, read as the script reads them: an anchor's latest date, an
    /// attestation true if any row says true, else false if any says false, else not
    /// recorded.
    fn side_of(
        &self,
        client: &mut postgres::Client,
        params: &str,
        ids: &[String],
    ) -> Result<facts::SideFile, String> {
        let persons = format!("'{{{}}}'::bigint[]", ids.join(","));
        let mut entries: std::collections::BTreeMap<String, serde_json::Value> =
            std::collections::BTreeMap::new();
        let rows = super::db::rows(
            client,
            &format!(
                "SELECT person_id, 'anchors', anchor, CAST(MAX(anchor_date) AS TEXT) FROM {params}eligc_anchor \
                 WHERE person_id = ANY({persons}) AND anchor IS NOT NULL AND anchor_date IS NOT NULL GROUP BY person_id, anchor \
                 UNION ALL SELECT person_id, 'attestations', attestation, CAST(bool_or(value) AS TEXT) FROM {params}eligc_attestation \
                 WHERE person_id = ANY({persons}) AND attestation IS NOT NULL GROUP BY person_id, attestation"
            ),
        )?;
        for row in rows {
            let mut fields = row.into_iter();
            let (Some(Some(person)), Some(Some(map)), Some(Some(name)), Some(value)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let value = match (map.as_str(), value.as_deref()) {
                ("anchors", Some(date)) => serde_json::Value::from(date),
                (_, Some("true")) => serde_json::Value::Bool(true),
                (_, Some("false")) => serde_json::Value::Bool(false),
                _ => serde_json::Value::Null,
            };
            let entry = entries
                .entry(person.clone())
                .or_insert_with(|| serde_json::json!({"patient": person}));
            if let Some(object) = entry.as_object_mut() {
                if let Some(names) = object
                    .entry(map)
                    .or_insert_with(|| serde_json::json!({}))
                    .as_object_mut()
                {
                    names.insert(name, value);
                }
            }
        }
        let path = self.temp.path().join("side.jsonl");
        let text: String = entries.values().map(|e| format!("{e}\n")).collect();
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        facts::ReadOptions::read_side_file_capped(&path, self.options.max_record_bytes)
            .map_err(|e| format!("the parameter tables of {params}: {e}"))
    }

    /// A rejection names the database's table, not the temporary file.
    fn table_of(&self, file: &str, dir: &Path) -> String {
        Path::new(file)
            .strip_prefix(dir)
            .ok()
            .and_then(|f| f.file_stem())
            .map_or_else(
                || file.to_string(),
                |t| format!("{}{} (--db)", self.cdm, t.to_string_lossy()),
            )
    }

    /// Copies the persons' clinical rows and the vocabulary rows they need into `dir`, as
    /// an OMOP export's CSV files.
    fn fetch(
        &self,
        client: &mut postgres::Client,
        ids: &[String],
        dir: &Path,
    ) -> Result<(), String> {
        let persons = format!("'{{{}}}'::bigint[]", ids.join(","));
        let csv = "TO STDOUT WITH (FORMAT csv, HEADER)";
        for t in &self.tables {
            super::db::copy_to_file(
                client,
                &format!(
                    "COPY (SELECT * FROM {}{t} WHERE person_id = ANY({persons})) {csv}",
                    self.cdm
                ),
                &dir.join(format!("{t}.csv")),
            )?;
        }
        let used = facts::omop::used_concepts(dir)
            .map_err(|e| format!("cannot read the rows fetched: {e}"))?;
        let used = format!(
            "'{{{}}}'::bigint[]",
            used.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let v = &self.vocab;
        // The concepts the rows use, those sharing a code with them (the loader knows codes,
        // not ids), and those of the protocol's codes: by id and by code as written, so that
        // the indexes of CONCEPT serve (the codes normalised here as the loader does; the
        // concepts whose code may need it come with every batch).
        let mut codes: Vec<String> = super::db::column(
            client,
            &format!("SELECT concept_code FROM {v}concept WHERE concept_id = ANY({used})"),
        )?
        .iter()
        .filter_map(|c| facts::codes::normalise(c).ok())
        .map(|c| format!("'{}'", c.replace('\'', "''")))
        .collect();
        codes.sort();
        codes.dedup();
        super::db::execute(
            client,
            &format!(
                "DROP TABLE IF EXISTS eligc_explain_concept; \
                 CREATE TEMPORARY TABLE eligc_explain_concept AS SELECT * FROM {v}concept c \
                 WHERE c.concept_id = ANY({used}) OR c.concept_id = ANY({padded}) \
                 OR c.concept_code = ANY({protocol}) OR c.concept_code = ANY(ARRAY[{codes}]::text[])",
                padded = self.padded,
                protocol = self.codes,
                codes = codes.join(", ")
            ),
        )?;
        super::db::copy_to_file(
            client,
            &format!("COPY eligc_explain_concept {csv}"),
            &dir.join("concept.csv"),
        )?;
        let chosen = "(SELECT concept_id FROM eligc_explain_concept)";
        match &self.walk {
            Some(all) => {
                let to = dir.join("concept_relationship.csv");
                std::fs::hard_link(all, &to)
                    .or_else(|_| std::fs::copy(all, &to).map(|_| ()))
                    .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
            }
            None => {
                if self.relationships {
                    super::db::copy_to_file(
                        client,
                        &format!(
                            "COPY (SELECT r.* FROM {v}concept_relationship r WHERE r.concept_id_1 IN {chosen} OR r.concept_id_2 IN {chosen}) {csv}"
                        ),
                        &dir.join("concept_relationship.csv"),
                    )?;
                }
                // The rows above the chosen concepts; and one row whatever it is, so that
                // the loader sees the table is not empty (it would walk the relationships).
                super::db::copy_to_file(
                    client,
                    &format!(
                        "COPY (SELECT a.* FROM {v}concept_ancestor a WHERE a.descendant_concept_id IN {chosen} \
                         UNION ALL (SELECT * FROM {v}concept_ancestor LIMIT 1)) {csv}"
                    ),
                    &dir.join("concept_ancestor.csv"),
                )?;
            }
        }
        super::db::execute(client, "DROP TABLE eligc_explain_concept")
    }
}

/// Where the SQL script's result and the interpreter's differ for one person: each
/// criterion whose outcome differs, and the verdict, as `person P, CRITERION: SQL X,
/// interpreter Y`; each criterion unknown because of facts eligc cannot place by one and
/// not the other, and the number of such facts. Empty when they agree.
pub(crate) fn disagreements(sql: &PatientResult, interpreter: &PatientResult) -> Vec<String> {
    let mut out = Vec::new();
    let sql_ids: Vec<&str> = sql.criteria.iter().map(|c| &*c.id).collect();
    let interp_ids: Vec<&str> = interpreter.criteria.iter().map(|c| &*c.id).collect();
    if sql.id != interpreter.id || sql_ids != interp_ids {
        out.push(format!(
            "person {}: SQL gives criteria {sql_ids:?} for person {}, the interpreter {interp_ids:?} for person {}",
            sql.id, sql.id, interpreter.id
        ));
        return out;
    }
    let word = |c: &eligc::eval::CriterionResult| {
        if c.unplaced {
            format!("{} (unplaced)", c.outcome.word())
        } else {
            c.outcome.word().to_string()
        }
    };
    for (s, i) in sql.criteria.iter().zip(&interpreter.criteria) {
        if s.outcome != i.outcome || s.unplaced != i.unplaced {
            out.push(format!(
                "person {}, {}: SQL {}, interpreter {}",
                sql.id,
                s.id,
                word(s),
                word(i)
            ));
        }
    }
    if sql.unplaced_facts != interpreter.unplaced_facts {
        out.push(format!(
            "person {}, unplaced facts: SQL {}, interpreter {}",
            sql.id, sql.unplaced_facts, interpreter.unplaced_facts
        ));
    }
    if sql.verdict != interpreter.verdict {
        out.push(format!(
            "person {}, verdict: SQL {}, interpreter {}",
            sql.id,
            sql.verdict.word(),
            interpreter.verdict.word()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use eligc::eval::{CriterionResult, Outcome, PatientResult, Verdict};

    fn person(verdict: Verdict, outcomes: &[(&str, Outcome)]) -> PatientResult {
        PatientResult {
            id: "12".to_string(),
            verdict,
            criteria: outcomes
                .iter()
                .map(|(id, outcome)| CriterionResult {
                    id: (*id).into(),
                    kind: eligc::ast::CriterionKind::Inclusion,
                    wording: "".into(),
                    parent: None,
                    depth: 0,
                    outcome: *outcome,
                    line: 1,
                    checks: Vec::new(),
                    logic: Vec::new(),
                    unplaced: false,
                    quantifier: None,
                })
                .collect(),
            unused_facts: 0,
            unplaced_facts: 0,
            to_settle: Vec::new(),
            completed: Vec::new(),
        }
    }

    #[test]
    fn the_same_outcomes_are_no_disagreement_whatever_the_explanation() {
        let sql = person(Verdict::Eligible, &[("I1", Outcome::Met)]);
        let mut interpreter = sql.clone();
        interpreter.unused_facts = 3;
        assert!(super::disagreements(&sql, &interpreter).is_empty());
    }

    #[test]
    fn a_disagreement_names_the_person_the_criterion_and_both_outcomes() {
        let sql = person(
            Verdict::Ineligible,
            &[("I1", Outcome::Met), ("E2", Outcome::Met)],
        );
        let interpreter = person(
            Verdict::NeedsReview,
            &[("I1", Outcome::Met), ("E2", Outcome::Unknown)],
        );
        assert_eq!(
            super::disagreements(&sql, &interpreter),
            [
                "person 12, E2: SQL met, interpreter unknown",
                "person 12, verdict: SQL ineligible, interpreter needs review"
            ]
        );
    }

    #[test]
    fn an_unplaced_flag_or_count_is_a_disagreement_too() {
        let sql = person(Verdict::NeedsReview, &[("I1", Outcome::Unknown)]);
        let mut interpreter = sql.clone();
        if let Some(c) = interpreter.criteria.first_mut() {
            c.unplaced = true;
        }
        interpreter.unplaced_facts = 2;
        assert_eq!(
            super::disagreements(&sql, &interpreter),
            [
                "person 12, I1: SQL unknown, interpreter unknown (unplaced)",
                "person 12, unplaced facts: SQL 0, interpreter 2"
            ]
        );
    }

    #[test]
    fn different_criteria_are_a_disagreement() {
        let sql = person(Verdict::Eligible, &[("I1", Outcome::Met)]);
        let interpreter = person(Verdict::Eligible, &[("I2", Outcome::Met)]);
        let found = super::disagreements(&sql, &interpreter);
        assert_eq!(found.len(), 1);
        assert!(
            found
                .first()
                .is_some_and(|f| f.starts_with("person 12: SQL gives criteria [\"I1\"]"))
        );
    }
}
