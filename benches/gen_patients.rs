//! Deterministic synthetic patients for the screening benchmark: native JSON Lines, about
//! 35 facts each, shaped for protocols/sle-car-t (labs in and out of their windows,
//! conditions, medications with doses, vaccines, attestations). A fixed linear congruential
//! generator makes the same file for the same N on every machine.
//!
//! Usage: cargo run --release --bin gen_patients -- N > patients.jsonl

use std::io::{BufWriter, Write};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or("")
    }
}

/// A date `days` before 2026-03-31, as text (a simple civil-from-days conversion).
fn date_before(days: u64) -> String {
    // Days since 1970-01-01 of 2026-03-31.
    let z = 20543i64 - days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut rng = Lcg(42);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let labs: &[(&str, &str, u64, u64)] = &[
        ("egfr", "mL/min/1.73m2", 20, 120),
        ("ast", "U/L", 10, 150),
        ("alt", "U/L", 10, 150),
        ("bilirubin_total", "mg/dL", 1, 4),
        ("lvef", "%", 40, 75),
        ("spo2", "%", 85, 100),
        ("hemoglobin", "g/dL", 8, 16),
        ("platelets", "10*9/L", 50, 400),
        ("creatinine", "mg/dL", 1, 3),
    ];
    let qualitative: &[&str] = &[
        "hbsag",
        "anti_hbc",
        "anti_hcv",
        "hiv_ab",
        "syphilis_test",
        "hcg_serum",
        "ecg_interpretation",
    ];
    let conditions: &[&str] = &[
        "sle",
        "lupus_nephritis",
        "hypertension",
        "pericardial_effusion",
        "pneumonia",
        "malignancy",
        "graft_versus_host_disease",
    ];
    let drugs: &[&str] = &[
        "prednisone",
        "methylprednisolone",
        "hydroxychloroquine",
        "methotrexate",
        "azathioprine",
        "mycophenolate_mofetil",
        "tacrolimus",
        "rituximab",
        "amlodipine",
    ];
    let attestations: &[&str] = &[
        "moderate_to_severe_activity",
        "intolerant_to_standard_treatment",
        "ecg_abnormality_not_obvious",
        "meets_collection_standards",
        "no_leukapheresis_contraindication",
        "childbearing_potential",
        "agrees_to_contraception",
        "informed_consent",
        "kidney_disease_expected",
        "uncontrollable_infection",
        "mas_risk_ruled_out",
        "prior_car_t_risk_ruled_out",
        "other_study_within_3_months",
        "unsuitable_for_study",
    ];
    for i in 0..n {
        let mut s = String::with_capacity(2048);
        let birth = date_before(2000 + rng.below(20000));
        let sex = if rng.below(2) == 0 { "female" } else { "male" };
        s.push_str(&format!(r#"{{"id":"S{i:07}","birth_date":"{birth}","sex":"{sex}","anchors":{{"screening":"2026-03-31","infusion":"2026-04-28"}},"observations":["#));
        let mut first = true;
        let mut sep = |s: &mut String| {
            if !first {
                s.push(',');
            }
            first = false;
        };
        for (name, unit, lo, hi) in labs {
            for _ in 0..2 {
                sep(&mut s);
                let value = lo + rng.below(hi - lo + 1);
                let frac = rng.below(10);
                let date = date_before(rng.below(60));
                if matches!(*name, "ast" | "alt" | "bilirubin_total") {
                    s.push_str(&format!(r#"{{"concept":"{name}","date":"{date}","value":{value}.{frac},"unit":"{unit}","reference_range":{{"high":{}}}}}"#, hi / 3 + 1));
                } else {
                    s.push_str(&format!(r#"{{"concept":"{name}","date":"{date}","value":{value}.{frac},"unit":"{unit}"}}"#));
                }
            }
        }
        for name in qualitative {
            sep(&mut s);
            let result = if rng.below(20) == 0 {
                "positive"
            } else {
                "negative"
            };
            let result = if *name == "ecg_interpretation" {
                if rng.below(5) == 0 {
                    "abnormal"
                } else {
                    "normal"
                }
            } else {
                result
            };
            s.push_str(&format!(
                r#"{{"concept":"{name}","date":"{}","result":"{result}"}}"#,
                date_before(rng.below(40))
            ));
        }
        sep(&mut s);
        s.push_str(&format!(
            r#"{{"concept":"sledai_2k","date":"{}","value":{}}}"#,
            date_before(rng.below(40)),
            rng.below(20)
        ));
        sep(&mut s);
        s.push_str(&format!(
            r#"{{"concept":"eular_acr_2019_sle","date":"{}","value":{}}}"#,
            date_before(300 + rng.below(2000)),
            5 + rng.below(20)
        ));
        sep(&mut s);
        s.push_str(&format!(
            r#"{{"concept":"body_weight","date":"{}","value":{},"unit":"kg"}}"#,
            date_before(rng.below(200)),
            20 + rng.below(80)
        ));
        s.push_str(r#"],"conditions":["#);
        for k in 0..3 {
            if k > 0 {
                s.push(',');
            }
            let name = if k == 0 { "sle" } else { rng.pick(conditions) };
            s.push_str(&format!(
                r#"{{"concept":"{name}","onset":"{}","status":"active"}}"#,
                date_before(100 + rng.below(3000))
            ));
        }
        s.push_str(r#"],"medications":["#);
        for k in 0..6 {
            if k > 0 {
                s.push(',');
            }
            let start = 100 + rng.below(1500);
            let length = 30 + rng.below(300);
            s.push_str(&format!(
                r#"{{"concept":"{}","start":"{}","end":"{}","daily_dose":{},"daily_dose_unit":"mg/d"}}"#,
                rng.pick(drugs),
                date_before(start),
                date_before(start.saturating_sub(length)),
                5 + rng.below(80)
            ));
        }
        s.push_str(r#"],"immunizations":["#);
        if rng.below(10) == 0 {
            s.push_str(&format!(
                r#"{{"concept":"mmr","date":"{}"}}"#,
                date_before(rng.below(100))
            ));
        }
        s.push_str(r#"],"procedures":[],"attestations":{"#);
        for (k, name) in attestations.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            let value = match *name {
                "kidney_disease_expected"
                | "uncontrollable_infection"
                | "other_study_within_3_months"
                | "unsuitable_for_study" => rng.below(30) == 0,
                _ => rng.below(30) != 0,
            };
            s.push_str(&format!(r#""{name}":{value}"#));
        }
        s.push_str("}}\n");
        out.write_all(s.as_bytes())?;
    }
    out.flush()
}
