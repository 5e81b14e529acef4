//! `dns`: see `telltale_testkit::fuzzing::dns` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale_testkit::fuzzing::dns(data));
