//! The built-in demo capture: five minutes of a Plex Media Server whose owner opted out of data
//! sharing. The program holds only its bytes and its settings; the synthesizer that writes them
//! lives in the dev-only crate `crates/testkit` (`telltale_testkit::demo`), and
//! `cargo run -p telltale-tools --bin make_demo_capture` rewrites the committed
//! `tests/fixtures/demo.pcapng`, which is compiled in as [`DEMO_CAPTURE`].

/// The demo capture as committed (pcapng, Ethernet, nanosecond timestamps).
pub const DEMO_CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/demo.pcapng"
));

/// The demo server's settings: the owner opted out (collectUsageData="0"), relay off,
/// crash reports off, remote access on, cinema trailers on, signed in (with a made-up token).
pub const DEMO_PREFERENCES: &str = include_str!("Preferences.xml");

/// The demo's settings, parsed.
pub fn demo_settings() -> Option<crate::settings::Settings> {
    crate::settings::parse_plex_xml("builtin:demo/Preferences.xml", DEMO_PREFERENCES.as_bytes())
        .ok()
}
