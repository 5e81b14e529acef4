//! `quic_initial`: see `telltale_testkit::fuzzing::quic_initial` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale_testkit::fuzzing::quic_initial(data));
