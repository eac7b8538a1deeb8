//! Fuzz target: any bytes, as a protocol, compile without panicking and without an
//! internal error (which would mean the grammar and the lowering disagree).
//! Run with `cargo +nightly fuzz run compile` from the repository root (see docs/testing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let compilation = eligc::check::compile_text("fuzz.elig", text, None);
        assert!(
            !compilation.diagnostics.iter().any(|d| d.code == eligc::diagnostic::Code::Internal),
            "internal error on {text:?}"
        );
    }
});
