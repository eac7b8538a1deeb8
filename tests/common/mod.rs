//! What the differential tests (tests/seed_omop.rs, tests/sql_postgres.rs,
//! tests/sql_spark.rs) share: the binary, and screening results read as outcomes.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses part of it; tests fail by panicking

use std::collections::BTreeMap;
use std::process::Command;

/// Per person: the verdict, then each criterion's id and outcome, in order.
pub type Outcomes = BTreeMap<String, Vec<(String, String)>>;

/// The eligc binary under test.
pub fn eligc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
}

/// The outcomes in `eligc run --format json` output (or Spark's file of the same shape);
/// lines without an `id` are left out.
pub fn outcomes(json: &str) -> Outcomes {
    let mut out = BTreeMap::new();
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(id) = v["id"].as_str() else { continue };
        let mut row = vec![(
            "verdict".to_string(),
            v["verdict"].as_str().unwrap().to_string(),
        )];
        for c in v["criteria"].as_array().unwrap() {
            row.push((
                c["id"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            ));
        }
        out.insert(id.to_string(), row);
    }
    out
}

/// Per person: how many facts eligc cannot place (`unplaced_facts`), and the ids of the
/// criteria unknown because of such facts (`unplaced`), in order.
pub type Unplaced = BTreeMap<String, (u64, Vec<String>)>;

/// The unplaced facts and criteria in `eligc run --format json` output (or Spark's file of
/// the same shape); lines without an `id` are left out.
pub fn unplaced(json: &str) -> Unplaced {
    let mut out = BTreeMap::new();
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(id) = v["id"].as_str() else { continue };
        let criteria = v["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["unplaced"].as_bool() == Some(true))
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let facts = v["unplaced_facts"].as_u64().unwrap_or(0);
        out.insert(id.to_string(), (facts, criteria));
    }
    out
}
