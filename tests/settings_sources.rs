//! Every default a rules file gives a setting is the vendor's, and says where that is written: a rules file
//! whose `[settings] defaults` names a setting without a `[settings] sources` entry would let telltale judge an
//! untouched install by a guess. The consent settings (the ones `opted_out_when` and `opted_in_when` read)
//! must each have a default, or an install that never touched them would be judged by "unset".

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

const FILES: [&str; 3] = ["plex", "jellyfin", "emby"];

fn settings_table(name: &str) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["settings"].as_table().unwrap().clone()
}

fn keys(t: &toml::Table, name: &str) -> Vec<String> {
    t.get(name)
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_default_has_a_public_source() {
    for name in FILES {
        let settings = settings_table(name);
        let defaults = keys(&settings, "defaults");
        assert!(!defaults.is_empty(), "{name}: no defaults");
        let sources = settings["sources"].as_table().unwrap();
        for d in &defaults {
            let source = sources
                .get(d)
                .and_then(toml::Value::as_str)
                .unwrap_or_else(|| panic!("{name}: default {d} has no source"));
            assert!(
                source.starts_with("https://"),
                "{name}: the source of {d} is not a URL: {source}"
            );
        }
        for s in sources.keys() {
            assert!(
                defaults.contains(s),
                "{name}: a source for {s}, which has no default"
            );
        }
    }
}

#[test]
fn every_consent_setting_has_a_default() {
    for name in FILES {
        let settings = settings_table(name);
        let defaults = keys(&settings, "defaults");
        for list in ["opted_out_when", "opted_in_when"] {
            for c in settings[list].as_array().unwrap() {
                let c = c.as_str().unwrap();
                let setting = c.split(['=', '!']).next().unwrap().trim().to_string();
                assert!(
                    defaults.contains(&setting),
                    "{name}: {list} reads {setting}, which has no default"
                );
            }
        }
    }
}
