//! `quic_initial`: see `telltale::fuzzing::quic_initial` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale::fuzzing::quic_initial(data));
