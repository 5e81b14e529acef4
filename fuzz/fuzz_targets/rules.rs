//! `rules`: see `telltale::fuzzing::rules` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale::fuzzing::rules(data));
