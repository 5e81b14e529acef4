//! `tls_client_hello`: see `telltale_testkit::fuzzing::tls_client_hello` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telltale_testkit::fuzzing::tls_client_hello(data));
