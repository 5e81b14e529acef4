//! The rules loader: the built-in Plex rules load, and every invalid rules file in
//! `tests/rules_invalid/` fails with the message its `.expected` file names, pointing at
//! `file:line:column` with the offending line and a caret.

use std::path::Path;
use telltale::rules::load;

#[test]
fn builtin_plex_rules_load() {
    let rules = load::load("plex").expect("the built-in rules load");
    assert_eq!(rules.source, "builtin:plex");
    assert_eq!(rules.server, "Plex Media Server");
    for id in [
        "updates",
        "remote_discovery",
        "integrations",
        "plex_pass",
        "cloud_sync",
        "relay",
        "licensor_reporting",
        "metrics",
        "analytics",
        "crash_reports",
        "gdm",
        "metadata",
    ] {
        assert!(
            rules.rules.iter().any(|r| r.id == id),
            "rule {id} is missing"
        );
    }
    // every rule's category is one the file describes
    for r in &rules.rules {
        assert!(
            rules.categories.contains_key(&r.category),
            "{} has undescribed category {}",
            r.id,
            r.category
        );
    }
    assert_eq!(rules.sha256.len(), 64);
}

#[test]
fn the_shipped_file_is_the_builtin_one() {
    let from_disk = load::load(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/plex.toml")).unwrap();
    let builtin = load::load("plex").unwrap();
    assert_eq!(from_disk.sha256, builtin.sha256);
}

#[test]
fn every_invalid_rules_file_fails_with_its_message() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules_invalid"));
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let expected = expected.trim();
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let err = load::parse(&name, &text).expect_err(&format!("{name} should be rejected"));
        let shown = err.to_string();
        let first = shown.lines().next().unwrap();
        assert!(
            first.starts_with(expected),
            "{name}:\n  expected: {expected}\n  got:      {first}"
        );
        // the display shows the offending line and a caret under the column
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 4, "{name}: {shown}");
        assert!(
            lines[2].ends_with(err.source_line.as_deref().unwrap()),
            "{name}: {shown}"
        );
        let caret_col = lines[3].find('^').unwrap() - lines[3].find('|').unwrap() - 1;
        assert_eq!(
            caret_col, err.column,
            "{name}: caret under the column:\n{shown}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures");
}

#[test]
fn a_missing_file_says_so() {
    let err = load::load("/nonexistent/rules.toml").unwrap_err();
    assert_eq!(err.line, 0);
    assert!(err.to_string().contains("no such rules file"), "{err}");
    assert!(
        err.to_string().contains("plex"),
        "suggests the built-in names: {err}"
    );
}

#[test]
fn builtin_jellyfin_and_emby_rules_load_cleanly() {
    for (name, server, process) in [
        ("jellyfin", "Jellyfin", "jellyfin"),
        ("emby", "Emby Server", "EmbyServer"),
    ] {
        let rules = load::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rules.server, server);
        assert!(rules.server_processes.iter().any(|p| p == process));
        // hosts that several rules share are by design ("one of": Emby's mb3admin.com serves
        // licensing and takes the usage reports); anything else is a fault of the file
        let faults: Vec<_> = telltale::rules::check::check(&rules)
            .into_iter()
            .filter(|w| !w.message.starts_with("host pattern `"))
            .collect();
        assert!(faults.is_empty(), "{name}: {faults:?}");
        assert!(
            rules
                .rules
                .iter()
                .any(|r| r.id == "remote_access" && !r.when.is_empty())
        );
    }
}
