#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Patient data never panics the screener: random and mutated records against the seed
//! protocol end as a result or a rejected record, never a crash.

use eligc::check::compile_file;
use eligc::eval::Plan;
use eligc::facts::RawRecord;
use proptest::prelude::*;
use std::sync::OnceLock;

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let c = compile_file(std::path::Path::new("protocols/sle-car-t/protocol.elig")).unwrap();
        Plan::new(c.program.unwrap(), c.sources)
    })
}

fn sample_lines() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        std::fs::read_to_string("protocols/sle-car-t/patients.jsonl")
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    })
}

// Valid shapes only, with extreme values: every such record must be screened, not rejected.
const OBSERVATIONS: &[&str] = &[
    "egfr",
    "alt",
    "ast",
    "bilirubin_total",
    "body_weight",
    "sledai_2k",
    "lvef",
    "spo2",
];
const CONDITIONS: &[&str] = &[
    "sle",
    "graft_versus_host_disease",
    "malignancy",
    "macrophage_activation_syndrome",
];
const DRUGS: &[&str] = &[
    "prednisone",
    "methylprednisolone",
    "methotrexate",
    "hydroxychloroquine",
    "rituximab",
];
const UNITS: &[&str] = &[
    "mL/min/1.73m2",
    "U/L",
    "mg/dL",
    "kg",
    "%",
    "furlong",
    "mg/kg/d",
    "10*9/L",
    "mL/s/{1.73_m2}",
    "ukat/L",
];
const DATES: &[&str] = &[
    "2026-03-31",
    "2026-02-28",
    "2024-02-29",
    "1900-01-01",
    "9999-12-31",
    "0001-01-01",
    "2026-03-03",
];
const NUMBERS: &[&str] = &[
    "0",
    "30",
    "3.0",
    "1e3",
    "0.0000000000000000000000000001",
    "9999999999999999999999999999",
    "55.5",
];

fn record() -> impl Strategy<Value = String> {
    let obs = (prop::sample::select(OBSERVATIONS), prop::sample::select(DATES), prop::sample::select(NUMBERS), prop::sample::select(UNITS)).prop_map(
        |(n, d, v, u)| format!(r#"{{"concept":"{n}","date":"{d}","value":{v},"unit":"{u}","reference_range":{{"high":{v}}}}}"#),
    );
    let cond = (
        prop::sample::select(CONDITIONS),
        prop::sample::select(DATES),
        prop::sample::select(NUMBERS),
    )
        .prop_map(|(n, a, g)| {
            format!(r#"{{"concept":"{n}","onset":"{a}","grade":{g},"status":"active"}}"#)
        });
    let med = (prop::sample::select(DRUGS), prop::sample::select(DATES), prop::sample::select(DATES), prop::sample::select(NUMBERS), prop::sample::select(UNITS))
        .prop_map(|(n, a, b, v, u)| if a <= b {
            format!(r#"{{"concept":"{n}","start":"{a}","end":"{b}","daily_dose":{v},"daily_dose_unit":"{u}"}}"#)
        } else {
            format!(r#"{{"concept":"{n}","start":"{b}","daily_dose":{v},"daily_dose_unit":"{u}"}}"#)
        });
    (
        prop::sample::select(DATES),
        prop::sample::select(DATES),
        prop::collection::vec(obs, 0..6),
        prop::collection::vec(cond, 0..3),
        prop::collection::vec(med, 0..4),
        any::<bool>(),
    )
        .prop_map(|(birth, screening, obs, cond, med, consent)| {
            format!(
                r#"{{"id":"r","birth_date":"{birth}","sex":"female","anchors":{{"screening":"{screening}","infusion":"{screening}"}},"observations":[{}],"conditions":[{}],"medications":[{}],"attestations":{{"informed_consent":{consent}}}}}"#,
                obs.join(","),
                cond.join(","),
                med.join(",")
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_records_with_extreme_values_are_always_screened(text in record(), explain in any::<bool>()) {
        let result = plan().screen(&RawRecord::new("r.jsonl", 1, text.clone()), |_| explain);
        prop_assert!(result.is_ok(), "{text}: {:?}", result.err());
    }

    /// Issue 9: a key given twice in any map or object is refused, never last-wins.
    #[test]
    fn a_repeated_key_anywhere_rejects_the_record(
        text in record(),
        which in 0usize..4,
    ) {
        let (from, to) = [
            ("\"anchors\":{", "\"anchors\":{\"screening\":\"2000-01-01\","),
            ("\"attestations\":{", "\"attestations\":{\"informed_consent\":true,"),
            ("\"sex\":\"female\"", "\"sex\":\"female\",\"sex\":\"male\""),
            ("\"attestations\":{\"informed_consent\":", "\"attestations\":{\"informed_consent\":{\"value\":true,\"value\":false},\"x\":"),
        ][which];
        let bad = text.replacen(from, to, 1);
        prop_assert_ne!(&bad, &text);
        let result = plan().screen(&RawRecord::new("r.jsonl", 1, bad.clone()), |_| false);
        let e = result.err().map(|e| e.reason);
        prop_assert!(
            e.as_deref().is_some_and(|r| r.contains("repeated key") || r.contains("duplicate field")),
            "{bad}: {e:?}"
        );
    }

    /// Issue 9: a lenient date or a number eligc would round rejects the record.
    #[test]
    fn lenient_dates_and_rounded_numbers_reject_the_record(
        text in record(),
        date in prop::sample::select(&["-2025-03-03", "+12345-01-01", "2025-03-03 ", " 2025-03-03", "2025-3-3"][..]),
        digits in 29usize..40,
        date_or_number in any::<bool>(),
    ) {
        let bad = if date_or_number {
            // The birth date is always there.
            let start = text.find("\"birth_date\":\"").unwrap() + 14;
            format!("{}{date}{}", &text[..start], &text[start + 10..])
        } else {
            // One more observation, first in the list, whose value has too many digits.
            let long = format!("2.{}", "9".repeat(digits - 1));
            let obs = format!(r#"{{"concept":"egfr","date":"2026-03-31","value":{long},"unit":"%"}}"#);
            let at = text.find("\"observations\":[").unwrap() + 16;
            let comma = if text[at..].starts_with(']') { "" } else { "," };
            format!("{}{obs}{comma}{}", &text[..at], &text[at..])
        };
        let result = plan().screen(&RawRecord::new("r.jsonl", 1, bad.clone()), |_| false);
        let e = result.err().map(|e| e.reason);
        prop_assert!(
            e.as_deref().is_some_and(|r| r.contains("YYYY-MM-DD") || r.contains("more than 28 significant digits")),
            "{bad}: {e:?}"
        );
    }

    #[test]
    fn mutated_sample_records_are_screened_or_rejected_never_a_panic(
        line in 0usize..98,
        cut in 0usize..4000,
        len in 0usize..40,
        insert in prop::sample::select(&["", "0", "-", "\"", "}", "[", "null", "9999-99-99", "\u{200B}", "1e999"][..]),
    ) {
        let lines = sample_lines();
        let mut text: Vec<char> = lines[line % lines.len()].chars().collect();
        let cut = cut.min(text.len());
        let end = (cut + len).min(text.len());
        text.splice(cut..end, insert.chars());
        let text: String = text.into_iter().collect();
        let _ = plan().screen(&RawRecord::new("p.jsonl", line + 1, text), |_| true);
    }
}
