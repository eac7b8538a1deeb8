//! Fuzz target: any bytes, as one patient record (native JSON, or a FHIR Bundle when it has a
//! `resourceType`), parse to a record or a rejection, without panicking; an accepted record
//! never holds what a strict reader refuses (a date outside `YYYY-MM-DD`, issue 9).
//! Run with `cargo +nightly fuzz run record` from the repository root (see docs/testing.md).
#![no_main]

use chrono::Datelike;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = eligc::facts::RawRecord::new("fuzz.jsonl", 1, text).parse() {
            let dates = record
                .anchors
                .values()
                .copied()
                .chain(record.birth_date)
                .chain(record.observations.iter().flatten().map(|o| o.date));
            for d in dates {
                assert!((0..=9999).contains(&d.year()), "{d} accepted from {text:?}");
            }
        }
    }
});
