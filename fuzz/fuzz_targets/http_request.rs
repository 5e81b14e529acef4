//! `http_request`: see `telltale_testkit::fuzzing::http_request` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale_testkit::fuzzing::http_request(data));
