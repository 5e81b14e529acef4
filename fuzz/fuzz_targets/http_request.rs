//! `http_request`: see `telltale::fuzzing::http_request` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale::fuzzing::http_request(data));
