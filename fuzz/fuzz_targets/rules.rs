//! `rules`: see `telltale_testkit::fuzzing::rules` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale_testkit::fuzzing::rules(data));
