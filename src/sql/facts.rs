//! The OMOP rows as eligc's facts, in SQL: the same mapping as `src/facts/omop.rs` (codes
//! through CONCEPT, units, comparators, answers, ends), and the same placing of codes under
//! the protocol's concepts as the vocabulary loader (`src/vocab/mod.rs`) and the
//! interpreter's matching (`src/eval/facts.rs`).

use super::Gen;
use crate::ast::ConceptKind;
use crate::program::CodeSystem;

/// The event kinds with a table of facts, and the concept kind each matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    Condition,
    Medication,
    Immunization,
    Procedure,
    Encounter,
}

impl Kind {
    /// Every kind.
    pub(super) const ALL: [Kind; 5] = [
        Kind::Condition,
        Kind::Medication,
        Kind::Immunization,
        Kind::Procedure,
        Kind::Encounter,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Condition => "cond",
            Kind::Medication => "med",
            Kind::Immunization => "vacc",
            Kind::Procedure => "proc",
            Kind::Encounter => "visit",
        }
    }

    pub(super) fn concept_kind(self) -> ConceptKind {
        match self {
            Kind::Condition => ConceptKind::Condition,
            Kind::Medication => ConceptKind::Drug,
            Kind::Immunization => ConceptKind::Vaccine,
            Kind::Procedure => ConceptKind::Procedure,
            Kind::Encounter => ConceptKind::Encounter,
        }
    }
}

/// The answer concepts read as result words (`answer_word` of `src/facts/fhir.rs`, which
/// the OMOP reader uses): vocabulary, code, word. Any other answer concept's name, in lower
/// case, is the word.
pub(super) const ANSWERS: &[(&str, &str, &str)] = &[
    ("SNOMED", "10828004", "positive"),
    ("SNOMED", "260385009", "negative"),
    ("SNOMED", "82334004", "indeterminate"),
    ("SNOMED", "260373001", "detected"),
    ("SNOMED", "260415000", "not detected"),
    ("SNOMED", "11214006", "reactive"),
    ("SNOMED", "131194007", "non-reactive"),
    ("SNOMED", "52101004", "present"),
    ("SNOMED", "2667000", "absent"),
    ("SNOMED", "17621005", "normal"),
    ("SNOMED", "263654008", "abnormal"),
    ("SNOMED", "164854000", "normal"),
    ("SNOMED", "102594003", "abnormal"),
    ("SNOMED", "268910001", "improving"),
    ("SNOMED", "359746009", "stable"),
    ("SNOMED", "271299001", "progressing"),
    ("SNOMED", "709137006", "undetermined"),
    ("SNOMED", "550991000124107", "complete remission"),
    ("SNOMED", "551001000124108", "partial remission"),
    ("LOINC", "LA6576-8", "positive"),
    ("LOINC", "LA6577-6", "negative"),
    ("LOINC", "LA11882-0", "detected"),
    ("LOINC", "LA11883-8", "not detected"),
];

/// Relationships that place `concept_id_1` under `concept_id_2` (`link` in
/// `src/vocab/mod.rs`), and those that place it above.
const LINK_UP: &[&str] = &[
    "Is a",
    "Maps to",
    "RxNorm has ing",
    "Has ingredient",
    "Consists of",
    "RxNorm is a",
    "Tradename of",
    "Quantified form of",
    "Marketed form of",
    "Box of",
    "Contains",
    "RxNorm - ATC",
    "RxNorm - ATC pr lat",
    "RxNorm - ATC pr up",
];
const LINK_DOWN: &[&str] = &[
    "Subsumes",
    "Mapped from",
    "RxNorm ing of",
    "Ingredient of",
    "Constitutes",
    "RxNorm inverse is a",
    "Has tradename",
    "Has quantified form",
    "Has marketed form",
    "Available as box",
    "Contained in",
    "ATC - RxNorm",
    "ATC - RxNorm pr lat",
    "ATC - RxNorm pr up",
];

/// How many levels of the hierarchy below the protocol's concepts the Spark SQL script walks
/// when `CONCEPT_ANCESTOR` is empty (a table per level: Spark SQL 3 has no recursive
/// queries). A deeper hierarchy stops the script with an error.
const SPARK_WALK_LEVELS: usize = 16;

/// eligc's name for each OMOP vocabulary it has a code system for (`vocab::code_system`).
const SYSTEM_CASE: &str = "CASE TRIM(vocabulary_id) WHEN 'SNOMED' THEN 'snomed' WHEN 'ICD10' THEN 'icd10' WHEN 'ICD10CM' THEN 'icd10' WHEN 'RxNorm' THEN 'rxnorm' WHEN 'ATC' THEN 'atc' WHEN 'LOINC' THEN 'loinc' WHEN 'CVX' THEN 'cvx'";

impl Gen<'_> {
    /// [`SYSTEM_CASE`] with the site vocabularies of `local:` codes (`--local-vocabulary`).
    fn system_case(&self) -> String {
        let mut case = SYSTEM_CASE.to_string();
        for v in &self.o.local_vocabularies {
            case.push_str(&format!(" WHEN {} THEN 'local'", self.d.lit(v)));
        }
        case.push_str(" END");
        case
    }

    fn in_list(&self, column: &str, items: &[String]) -> String {
        if items.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("{column} IN ({})", items.join(", "))
        }
    }

    /// Systems (as SQL literals) the protocol codes concepts of `kind` in; `None` for every
    /// placed kind (the vocabulary's `systems`).
    fn systems_of(&self, kind: Option<ConceptKind>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.p.concepts {
            let wanted = match kind {
                Some(k) => c.kind == k,
                None => crate::vocab::placed_kind(c.kind),
            };
            if !wanted {
                continue;
            }
            for (system, _) in &c.codes {
                let lit = self.d.lit(system.name());
                if !out.contains(&lit) {
                    out.push(lit);
                }
            }
        }
        out
    }

    /// Concept indices (as SQL) of a kind.
    pub(super) fn idx_of_kind(&self, kind: ConceptKind) -> Vec<String> {
        self.p
            .concepts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == kind)
            .map(|(i, _)| i.to_string())
            .collect()
    }

    /// The common CTEs: concepts with eligc's systems, the protocol's codes and what the
    /// vocabulary places under them, the concepts it can place.
    pub(super) fn base_ctes(&mut self) {
        let v = self.vocab.clone();
        let system_case = self.system_case();
        self.cte(
            "eligc_concept",
            format!(
                "SELECT concept_id, TRIM(vocabulary_id) AS vocabulary_id, TRIM(concept_code) AS concept_code, concept_name, TRIM(domain_id) AS domain_id, {system_case} AS sys FROM {v}concept"
            ),
        );
        // The protocol's own codes (all kinds), `URL|code` codes left out: no OMOP row has one.
        let mut rows = Vec::new();
        for (i, c) in self.p.concepts.iter().enumerate() {
            for (system, code) in &c.codes {
                if matches!(system, CodeSystem::Url) {
                    continue;
                }
                rows.push(format!(
                    "({i}, {}, {}, {})",
                    self.d.lit(system.name()),
                    self.d.lit(code),
                    u8::from(crate::vocab::placed_kind(c.kind))
                ));
            }
        }
        let own = self
            .d
            .values(&["idx", "sys", "code", "placed"], &rows, "0, '', '', 0");
        self.cte("eligc_own", own);
        // The vocabulary loader: seeds, what they map to, their descendants, source codes
        // mapped to those (CONCEPT_ANCESTOR; see src/vocab/mod.rs).
        let valid = "COALESCE(TRIM(r.invalid_reason), '') = ''";
        self.cte(
            "eligc_seed",
            "SELECT DISTINCT c.concept_id, o.idx FROM eligc_concept c JOIN eligc_own o ON o.sys = c.sys AND o.code = c.concept_code WHERE o.placed = 1".to_string(),
        );
        self.cte(
            "eligc_target",
            format!(
                "SELECT concept_id, idx FROM eligc_seed \
                 UNION SELECT r.concept_id_2, s.idx FROM {v}concept_relationship r JOIN eligc_seed s ON s.concept_id = r.concept_id_1 WHERE r.relationship_id = 'Maps to' AND r.concept_id_1 <> r.concept_id_2 AND {valid} \
                 UNION SELECT r.concept_id_1, s.idx FROM {v}concept_relationship r JOIN eligc_seed s ON s.concept_id = r.concept_id_2 WHERE r.relationship_id = 'Mapped from' AND r.concept_id_1 <> r.concept_id_2 AND {valid}"
            ),
        );
        self.cte(
            "eligc_under0",
            format!(
                "SELECT concept_id, idx FROM eligc_target \
                 UNION SELECT a.descendant_concept_id, t.idx FROM {v}concept_ancestor a JOIN eligc_target t ON t.concept_id = a.ancestor_concept_id"
            ),
        );
        self.cte(
            "eligc_under",
            format!(
                "SELECT concept_id, idx FROM eligc_under0 \
                 UNION SELECT r.concept_id_1, u.idx FROM {v}concept_relationship r JOIN eligc_under0 u ON u.concept_id = r.concept_id_2 WHERE r.relationship_id = 'Maps to' AND {valid} \
                 UNION SELECT r.concept_id_2, u.idx FROM {v}concept_relationship r JOIN eligc_under0 u ON u.concept_id = r.concept_id_1 WHERE r.relationship_id = 'Mapped from' AND {valid}"
            ),
        );
        // Without CONCEPT_ANCESTOR rows the loader walks the placing relationships down
        // from the targets: a recursive query (PostgreSQL). Spark SQL 3 has none (Spark 4's
        // allows no UNION), so its script walks a level per table, [`SPARK_WALK_LEVELS`]
        // deep, and stops with an error if the last level still found concepts, rather than
        // place fewer codes.
        let ups = LINK_UP
            .iter()
            .map(|r| self.d.lit(r))
            .collect::<Vec<_>>()
            .join(", ");
        let downs = LINK_DOWN
            .iter()
            .map(|r| self.d.lit(r))
            .collect::<Vec<_>>()
            .join(", ");
        match self.d {
            super::Dialect::Postgresql => {
                self.recursive = true;
                self.cte(
                    "eligc_edge",
                    format!(
                        "SELECT r.concept_id_2 AS upper_id, r.concept_id_1 AS lower_id FROM {v}concept_relationship r WHERE r.relationship_id IN ({ups}) AND {valid} \
                         UNION SELECT r.concept_id_1, r.concept_id_2 FROM {v}concept_relationship r WHERE r.relationship_id IN ({downs}) AND {valid}"
                    ),
                );
                self.cte(
                    "eligc_walk",
                    "SELECT concept_id, idx FROM eligc_target \
                     UNION SELECT e.lower_id, w.idx FROM eligc_walk w JOIN eligc_edge e ON e.upper_id = w.concept_id"
                        .to_string(),
                );
                self.cte(
                    "eligc_placed",
                    format!(
                        "SELECT concept_id, idx FROM eligc_under WHERE EXISTS (SELECT 1 FROM {v}concept_ancestor) \
                         UNION SELECT concept_id, idx FROM eligc_walk WHERE NOT EXISTS (SELECT 1 FROM {v}concept_ancestor)"
                    ),
                );
            }
            super::Dialect::Spark => {
                // Empty, and so cheap, when CONCEPT_ANCESTOR has rows.
                let no_ancestors = format!("NOT EXISTS (SELECT 1 FROM {v}concept_ancestor)");
                self.cte(
                    "eligc_edge",
                    format!(
                        "SELECT r.concept_id_2 AS upper_id, r.concept_id_1 AS lower_id FROM {v}concept_relationship r WHERE r.relationship_id IN ({ups}) AND {valid} AND {no_ancestors} \
                         UNION SELECT r.concept_id_1, r.concept_id_2 FROM {v}concept_relationship r WHERE r.relationship_id IN ({downs}) AND {valid} AND {no_ancestors}"
                    ),
                );
                self.cte(
                    "eligc_walk0",
                    format!("SELECT concept_id, idx FROM eligc_target WHERE {no_ancestors}"),
                );
                for level in 1..=SPARK_WALK_LEVELS {
                    let below = level - 1;
                    self.cte(
                        &format!("eligc_walk{level}"),
                        format!(
                            "SELECT concept_id, idx FROM eligc_walk{below} \
                             UNION SELECT e.lower_id, w.idx FROM eligc_walk{below} w JOIN eligc_edge e ON e.upper_id = w.concept_id"
                        ),
                    );
                }
                let (last, before) = (SPARK_WALK_LEVELS, SPARK_WALK_LEVELS - 1);
                self.cte(
                    "eligc_placed",
                    format!(
                        "SELECT concept_id, idx FROM eligc_under WHERE EXISTS (SELECT 1 FROM {v}concept_ancestor) \
                         UNION SELECT concept_id, idx FROM eligc_walk{last} \
                         UNION ALL SELECT CAST(raise_error('eligc: without CONCEPT_ANCESTOR rows the Spark SQL script walks the hierarchy {last} levels below the concepts of the protocol, and it goes deeper: load CONCEPT_ANCESTOR (docs/sql.md)') AS INT), 0 \
                         FROM (SELECT COUNT(*) AS n FROM eligc_walk{last}) a CROSS JOIN (SELECT COUNT(*) AS n FROM eligc_walk{before}) b WHERE a.n <> b.n"
                    ),
                );
            }
        }
        let systems = self.systems_of(None);
        self.cte(
            "eligc_match",
            format!(
                "SELECT idx, sys, code FROM eligc_own \
                 UNION SELECT u.idx, c.sys, c.concept_code FROM eligc_placed u JOIN eligc_concept c ON c.concept_id = u.concept_id WHERE {}",
                self.in_list("c.sys", &systems)
            ),
        );
        // Concepts the vocabulary can place under: one of their codes is in it.
        self.cte(
            "eligc_anchored",
            "SELECT DISTINCT o.idx FROM eligc_own o JOIN eligc_concept c ON c.sys = o.sys AND c.concept_code = o.code WHERE o.placed = 1".to_string(),
        );
    }

    /// A row's codes: the standard concept's and the source concept's, each when eligc has
    /// a system for its vocabulary; `named` when the standard concept has one.
    fn coded(&self, from: &str) -> String {
        format!(
            "SELECT r.*, sc.sys AS std_sys, sc.concept_code AS std_code, src.sys AS src_sys, src.concept_code AS src_code, \
             CASE WHEN sc.sys IS NULL THEN 0 ELSE 1 END AS named, \
             COALESCE(NULLIF(sc.domain_id, ''), src.domain_id) AS domain \
             FROM ({from}) r \
             LEFT JOIN eligc_concept sc ON sc.concept_id = r.cid AND r.cid <> 0 \
             LEFT JOIN eligc_concept src ON src.concept_id = r.scid AND r.scid <> 0"
        )
    }

    /// Code rows of a fact CTE for matching: each code, and for ICD-10 and ATC its prefixes
    /// (the interpreter matches a recorded `C50.911` to `C50`).
    fn code_rows(&mut self, facts: &str, name: &str) {
        let digits: Vec<String> = (1..=20).map(|n| format!("({n})")).collect();
        let numbers = self.d.values(&["k"], &digits, "0");
        self.cte(
            &format!("eligc_fc_{name}"),
            format!(
                "SELECT tbl, rid, std_sys AS sys, std_code AS code FROM {facts} WHERE std_sys IS NOT NULL \
                 UNION SELECT tbl, rid, src_sys, src_code FROM {facts} WHERE src_sys IS NOT NULL"
            ),
        );
        self.cte(
            &format!("eligc_fp_{name}"),
            format!(
                "SELECT tbl, rid, sys, code FROM eligc_fc_{name} \
                 UNION SELECT f.tbl, f.rid, f.sys, SUBSTR(f.code, 1, n.k) FROM eligc_fc_{name} f CROSS JOIN ({numbers}) n \
                 WHERE f.sys IN ('icd10', 'atc') AND n.k < LENGTH(f.code) AND n.k >= CASE f.sys WHEN 'icd10' THEN 3 ELSE 1 END AND SUBSTR(f.code, n.k, 1) <> '.'"
            ),
        );
    }

    /// Fact-concept pairs of a kind: a fact stands for each concept of that kind one of its
    /// codes (or a prefix) matches.
    fn pairs(&mut self, name: &str, kinds: &[ConceptKind]) {
        let idx: Vec<String> = kinds.iter().flat_map(|k| self.idx_of_kind(*k)).collect();
        let list = self.in_list("m.idx", &idx);
        self.cte(
            &format!("eligc_pm_{name}"),
            format!(
                "SELECT DISTINCT f.tbl, f.rid, m.idx FROM eligc_fp_{name} f JOIN eligc_match m ON m.sys = f.sys AND m.code = f.code WHERE {list}"
            ),
        );
    }

    /// Observations: MEASUREMENT and OBSERVATION rows with a value or an answer (not the
    /// OBSERVATION rows of the Condition domain), as `eligc_ob`; pairs as `eligc_pm_obs`.
    pub(super) fn observation_facts(&mut self) {
        if self.made.contains("obs") {
            return;
        }
        self.made.insert("obs".into());
        let s = self.cdm.clone();
        let d = self.d;
        let mv = d.decimal("value_as_number");
        let lo = d.decimal("range_low");
        let hi = d.decimal("range_high");
        let raw = format!(
            "SELECT person_id, 1 AS tbl, measurement_id AS rid, CAST(measurement_date AS DATE) AS d, measurement_concept_id AS cid, measurement_source_concept_id AS scid, \
             {mv} AS v, unit_concept_id AS ucid, unit_source_value AS usv, operator_concept_id AS opid, value_as_concept_id AS acid, \
             CAST(NULL AS VARCHAR(60)) AS vstr, value_source_value AS vsrc, {lo} AS lo, {hi} AS hi FROM {s}measurement \
             UNION ALL SELECT person_id, 5, observation_id, CAST(observation_date AS DATE), observation_concept_id, observation_source_concept_id, \
             {mv}, unit_concept_id, unit_source_value, CAST(NULL AS INT), value_as_concept_id, value_as_string, value_source_value, CAST(NULL AS {dec}), CAST(NULL AS {dec}) FROM {s}observation",
            dec = match d {
                super::Dialect::Postgresql => "NUMERIC",
                super::Dialect::Spark => "DECIMAL(38, 12)",
            }
        );
        let raw = if d == super::Dialect::Spark {
            raw.replace("VARCHAR(60)", "STRING")
        } else {
            raw
        };
        self.cte("eligc_obraw", self.coded(&raw));
        let answers = ANSWERS;
        let mut cases = String::new();
        for (vocabulary, code, word) in answers {
            cases.push_str(&format!(
                " WHEN ac.vocabulary_id = {} AND ac.concept_code = {} THEN {}",
                d.lit(vocabulary),
                d.lit(code),
                d.lit(word)
            ));
        }
        let x = "COALESCE(NULLIF(r.vstr, ''), NULLIF(r.vsrc, ''))";
        let text = format!(
            "CASE WHEN LOWER({x}) LIKE '% (qualifier value)' THEN SUBSTR(LOWER({x}), 1, LENGTH({x}) - 18) ELSE LOWER({x}) END"
        );
        self.cte(
            "eligc_ob1",
            format!(
                "SELECT r.person_id, r.tbl, r.rid, r.d, r.v, r.std_sys, r.std_code, r.src_sys, r.src_code, r.named, r.domain, \
                 CASE WHEN r.v IS NULL THEN NULL WHEN uc.vocabulary_id = 'UCUM' THEN uc.concept_code ELSE NULLIF(r.usv, '') END AS unit, \
                 CASE WHEN r.v IS NULL THEN NULL WHEN r.opid = 4171756 THEN '<' WHEN r.opid = 4171754 THEN '<=' WHEN r.opid = 4171755 THEN '>=' WHEN r.opid = 4172704 THEN '>' END AS cmp, \
                 CASE WHEN r.v IS NOT NULL THEN NULL ELSE COALESCE(CASE WHEN ac.concept_id IS NULL THEN NULL{cases} ELSE NULLIF(LOWER(ac.concept_name), '') END, {text}) END AS word, \
                 CASE WHEN r.v IS NULL OR (r.lo IS NOT NULL AND r.hi IS NOT NULL AND r.lo > r.hi) THEN NULL ELSE r.lo END AS lo, \
                 CASE WHEN r.v IS NULL OR (r.lo IS NOT NULL AND r.hi IS NOT NULL AND r.lo > r.hi) THEN NULL ELSE r.hi END AS hi \
                 FROM eligc_obraw r \
                 LEFT JOIN eligc_concept uc ON uc.concept_id = r.ucid AND r.ucid <> 0 \
                 LEFT JOIN eligc_concept ac ON ac.concept_id = r.acid AND r.acid <> 0 \
                 WHERE NOT (r.tbl = 5 AND COALESCE(r.domain, '') = 'Condition')"
            ),
        );
        self.cte(
            "eligc_ob",
            "SELECT * FROM eligc_ob1 WHERE v IS NOT NULL OR word IS NOT NULL".to_string(),
        );
        self.code_rows("eligc_ob", "obs");
        self.pairs("obs", &[ConceptKind::Observation, ConceptKind::Score]);
    }

    /// The facts of an event kind as `eligc_fx_K` (one row per fact: person, key, start `s`,
    /// end `e`, end kind `ek` K known / O ongoing / U ended on a day not recorded, the
    /// attributes filters read, and `cls`: how a fact that matches no concept stands: U might
    /// be any concept of its kind, E placed elsewhere by the vocabulary, I irrelevant) and the
    /// events of a query as `eligc_ev_K` (placed pairs with their concept, then the U and E
    /// facts with concept -1).
    pub(super) fn event_facts(&mut self, kind: Kind) {
        let name = kind.name();
        if self.made.contains(name) {
            return;
        }
        self.made.insert(name.into());
        let facts = format!("eligc_f_{name}");
        let select = self.fact_rows(kind);
        self.cte(&facts, select);
        self.code_rows(&facts, name);
        self.pairs(name, &[kind.concept_kind()]);
        let cls0 = self.cls0(kind);
        // Whether a fact matched a concept is a column, not an anti-join in each query: with
        // a CTE's row estimate of 1, PostgreSQL planned the anti-join as a nested loop
        // (308 million comparisons, 52 s of a 60 s run on 20,000 persons).
        self.cte(
            &format!("eligc_fx_{name}"),
            format!(
                "SELECT f.*, {cls0} AS cls0, \
                 CASE WHEN x.rid IS NULL THEN 0 ELSE 1 END AS matched FROM {facts} f \
                 LEFT JOIN (SELECT DISTINCT tbl, rid FROM eligc_pm_{name}) x ON x.tbl = f.tbl AND x.rid = f.rid"
            ),
        );
        self.cte(
            &format!("eligc_ev_{name}"),
            format!(
                "SELECT f.person_id, f.tbl, f.rid, f.s, f.e, f.ek, f.route, f.mstatus, pm.idx, 'P' AS cls FROM eligc_fx_{name} f JOIN eligc_pm_{name} pm ON pm.tbl = f.tbl AND pm.rid = f.rid \
                 UNION ALL SELECT f.person_id, f.tbl, f.rid, f.s, f.e, f.ek, f.route, f.mstatus, -1, f.cls0 FROM eligc_fx_{name} f \
                 WHERE f.matched = 0 AND f.cls0 IN ('U', 'E')"
            ),
        );
        // The persons with facts of this kind eligc cannot place (the interpreter's
        // `has_unplaced`: unplaced or placed elsewhere), and how many are unplaced (its
        // `unplaced_facts`, summed over the kinds).
        self.cte(
            &format!("eligc_u_{name}"),
            format!(
                "SELECT person_id, SUM(CASE WHEN cls0 = 'U' THEN 1 ELSE 0 END) AS n FROM eligc_fx_{name} WHERE matched = 0 AND cls0 IN ('U', 'E') GROUP BY person_id"
            ),
        );
    }

    /// Per person, how many facts of a kind the protocol asks nothing about eligc cannot
    /// place (no concept of the kind to match, so each fact is unplaced, elsewhere or
    /// irrelevant by its codes alone): `person_id, n`.
    pub(super) fn unplaced_count(&self, kind: Kind) -> String {
        format!(
            "SELECT person_id, COUNT(*) AS n FROM ({}) f WHERE {} = 'U' GROUP BY person_id",
            self.fact_rows(kind),
            self.cls0(kind)
        )
    }

    /// How a fact that matches no concept stands (`cls0` over the facts `f`): I irrelevant,
    /// E placed elsewhere by the vocabulary, U unplaced (`Plan::placement`).
    fn cls0(&self, kind: Kind) -> String {
        let relevant_systems = self.systems_of(Some(kind.concept_kind()));
        let all_systems = self.systems_of(None);
        let relevant = format!(
            "({} OR ({} AND named = 1) OR named = 0)",
            self.in_list("src_sys", &relevant_systems),
            self.in_list("std_sys", &relevant_systems)
        );
        let known = format!(
            "(({} AND named = 1) OR {})",
            self.in_list("std_sys", &all_systems),
            self.in_list("src_sys", &all_systems)
        );
        format!("CASE WHEN f.act = 1 OR NOT {relevant} THEN 'I' WHEN {known} THEN 'E' ELSE 'U' END")
    }

    /// The query of a kind's facts (`eligc_f_K`).
    fn fact_rows(&self, kind: Kind) -> String {
        let s = self.cdm.clone();
        let d = self.d;
        let null_text = match d {
            super::Dialect::Postgresql => "CAST(NULL AS VARCHAR(20))",
            super::Dialect::Spark => "CAST(NULL AS STRING)",
        };
        let drug_raw = || {
            let supply_end = d.add_days("CAST(drug_exposure_start_date AS DATE)", 0);
            format!(
                "SELECT person_id, 3 AS tbl, drug_exposure_id AS rid, CAST(drug_exposure_start_date AS DATE) AS s, \
                 COALESCE(CAST(drug_exposure_end_date AS DATE), CAST(verbatim_end_date AS DATE), CASE WHEN days_supply > 0 THEN {} END) AS e, \
                 drug_concept_id AS cid, drug_source_concept_id AS scid, route_concept_id AS rcid FROM {s}drug_exposure",
                match d {
                    super::Dialect::Postgresql => format!("{supply_end} + (days_supply - 1)"),
                    super::Dialect::Spark => format!("date_add({supply_end}, days_supply - 1)"),
                }
            )
        };
        let raw = match kind {
            Kind::Condition => format!(
                "SELECT person_id, 2 AS tbl, condition_occurrence_id AS rid, CAST(condition_start_date AS DATE) AS s, CAST(condition_end_date AS DATE) AS e, condition_concept_id AS cid, condition_source_concept_id AS scid FROM {s}condition_occurrence \
                 UNION ALL SELECT person_id, 5, observation_id, CAST(observation_date AS DATE), CAST(NULL AS DATE), observation_concept_id, observation_source_concept_id FROM {s}observation"
            ),
            Kind::Medication | Kind::Immunization => drug_raw(),
            Kind::Procedure => format!(
                "SELECT person_id, 4 AS tbl, procedure_occurrence_id AS rid, CAST(procedure_date AS DATE) AS s, COALESCE(CAST(procedure_end_date AS DATE), CAST(procedure_date AS DATE)) AS e, procedure_concept_id AS cid, procedure_source_concept_id AS scid FROM {s}procedure_occurrence"
            ),
            Kind::Encounter => format!(
                "SELECT person_id, 6 AS tbl, visit_occurrence_id AS rid, CAST(visit_start_date AS DATE) AS s, CAST(visit_end_date AS DATE) AS e, visit_concept_id AS cid, 0 AS scid FROM {s}visit_occurrence"
            ),
        };
        let coded = self.coded(&raw);
        // Encounters: the OMOP visit concepts are HL7 ActCode classes (irrelevant when
        // unmatched: a closed list); another visit concept keeps its code.
        let (select, filter) = match kind {
            Kind::Condition => (
                format!(
                    "r.person_id, r.tbl, r.rid, r.s, r.e, CASE WHEN r.e IS NULL THEN 'O' ELSE 'K' END AS ek, {null_text} AS route, {null_text} AS mstatus, r.std_sys, r.std_code, r.src_sys, r.src_code, r.named, 0 AS act"
                ),
                "r.tbl = 2 OR COALESCE(r.domain, '') = 'Condition'".to_string(),
            ),
            Kind::Medication | Kind::Immunization => (
                "r.person_id, r.tbl, r.rid, r.s, r.e, CASE WHEN r.e IS NULL THEN 'U' ELSE 'K' END AS ek, \
                 CASE WHEN r.rcid IS NULL OR r.rcid = 0 OR rc.concept_id IS NULL THEN NULL WHEN rc.concept_code = '26643006' THEN 'oral' WHEN rc.concept_code = '47625008' THEN 'intravenous' WHEN rc.concept_code = '34206005' THEN 'subcutaneous' WHEN rc.concept_code = '78421000' THEN 'intramuscular' WHEN rc.concept_code = '6064005' THEN 'topical' WHEN rc.concept_code IN ('447694001', '18679011000001101') THEN 'inhaled' ELSE 'other' END AS route, \
                 CASE WHEN r.e IS NULL THEN 'completed' END AS mstatus, r.std_sys, r.std_code, r.src_sys, r.src_code, r.named, 0 AS act".to_string(),
                if kind == Kind::Immunization {
                    "COALESCE(r.std_sys, '') = 'cvx'".to_string()
                } else {
                    "COALESCE(r.std_sys, '') <> 'cvx'".to_string()
                },
            ),
            Kind::Procedure => (
                format!(
                    "r.person_id, r.tbl, r.rid, r.s, r.e, 'K' AS ek, {null_text} AS route, 'completed' AS mstatus, r.std_sys, r.std_code, r.src_sys, r.src_code, r.named, 0 AS act"
                ),
                "1 = 1".to_string(),
            ),
            Kind::Encounter => (
                format!(
                    "r.person_id, r.tbl, r.rid, r.s, r.e, CASE WHEN r.e IS NULL THEN 'U' ELSE 'K' END AS ek, {null_text} AS route, {null_text} AS mstatus, \
                     CASE WHEN sc.vocabulary_id = 'Visit' AND sc.concept_code IN ('IP', 'OP', 'ER', 'ERIP') THEN 'actcode' ELSE r.std_sys END AS std_sys, \
                     CASE WHEN sc.vocabulary_id = 'Visit' AND sc.concept_code IN ('IP', 'OP', 'ER', 'ERIP') THEN (CASE sc.concept_code WHEN 'IP' THEN 'IMP' WHEN 'OP' THEN 'AMB' ELSE 'EMER' END) ELSE r.std_code END AS std_code, \
                     CASE WHEN sc.vocabulary_id = 'Visit' AND sc.concept_code = 'ERIP' THEN 'actcode' END AS src_sys, \
                     CASE WHEN sc.vocabulary_id = 'Visit' AND sc.concept_code = 'ERIP' THEN 'IMP' END AS src_code, \
                     CASE WHEN r.std_sys IS NOT NULL OR (sc.vocabulary_id = 'Visit' AND sc.concept_code IN ('IP', 'OP', 'ER', 'ERIP')) THEN 1 ELSE 0 END AS named, \
                     CASE WHEN sc.vocabulary_id = 'Visit' AND sc.concept_code IN ('IP', 'OP', 'ER', 'ERIP') THEN 1 ELSE 0 END AS act"
                ),
                "1 = 1".to_string(),
            ),
        };
        let joins = match kind {
            Kind::Medication | Kind::Immunization => {
                " LEFT JOIN eligc_concept rc ON rc.concept_id = r.rcid AND r.rcid <> 0"
            }
            Kind::Encounter => {
                " LEFT JOIN eligc_concept sc ON sc.concept_id = r.cid AND r.cid <> 0"
            }
            _ => "",
        };
        format!("SELECT {select} FROM ({coded}) r{joins} WHERE {filter}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn answer_concepts_read_as_the_fhir_reader_reads_them() {
        for (vocabulary, code, word) in super::ANSWERS {
            let system = match *vocabulary {
                "SNOMED" => "http://snomed.info/sct",
                _ => "http://loinc.org",
            };
            assert_eq!(
                crate::facts::fhir::answer_word(system, code),
                Some(*word),
                "{vocabulary} {code}"
            );
        }
    }
}
