//! Fuzz target, differential: any bytes as one native record, read by the fast reader
//! (`src/facts/fast.rs`) and by serde_json (`src/facts/native.rs`). The fast reader may
//! decline anything (serde then reads it), but when it gives a record, serde_json must give
//! the same record: never one serde refuses, never a different value.
//! Run with `cargo +nightly fuzz run native` from the repository root (see docs/testing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (fast, slow) = eligc::facts::read_both_ways(text);
        if let Some(fast) = fast {
            match slow {
                Some(slow) => assert_eq!(fast, slow, "the readers differ on {text:?}"),
                None => panic!("the fast reader took what serde_json refuses: {text:?}"),
            }
        }
    }
});
