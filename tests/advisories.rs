//! The dependency check against the RustSec advisories (`scripts/deny.sh advisories`, which
//! `make test` runs), on advisory databases made here: a made-up advisory against a crate in
//! Cargo.lock must fail the check and name the crate, the advisory and the fixed version; the
//! snapshot bundle is cloned once and brought up to date when a newer one replaces it; a missing
//! database fails under CI and is said outside it; an old database is warned about, and fails
//! under CI when it is more than a year old.
//!
//! Needs git and cargo-deny (`make test` installs cargo-deny before the tests run).

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::Command;

const FAKE_ID: &str = "RUSTSEC-2099-0001";

fn can_run() -> bool {
    common::require(
        common::installed("git", "--version"),
        "git",
        "apt-get install git",
    ) && common::require(
        Command::new(env!("CARGO"))
            .args(["deny", "--version"])
            .output()
            .is_ok_and(|o| o.status.success()),
        "cargo-deny",
        "cargo install --locked cargo-deny (make test does it)",
    )
}

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.email=tests@telltale.invalid",
            "-c",
            "user.name=tests",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Adds an advisory against `package` (fixed in `patched`) to the database at `db` (a git
/// repository, made when missing), committed at `date`.
fn advise(db: &Path, package: &str, id: &str, patched: &str, date: &str) {
    if !db.join(".git").exists() {
        std::fs::create_dir_all(db).unwrap();
        git(db, &["init", "--quiet"], date);
    }
    let dir = db.join("crates").join(package);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{id}.md")),
        format!(
            "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\ndate = \"2099-01-01\"\n\
             url = \"https://example.invalid/{id}\"\ncategories = [\"memory-corruption\"]\n\n\
             [versions]\npatched = [\"{patched}\"]\n```\n\n# A made-up advisory, for telltale's tests\n\n\
             Nothing is wrong with {package}: this advisory only checks that the check fails.\n"
        ),
    )
    .unwrap();
    git(db, &["add", "-A"], date);
    git(db, &["commit", "--quiet", "-m", id], date);
}

/// Runs `scripts/deny.sh advisories` with only the databases `env` names: (status, stdout and
/// stderr together).
fn deny(env: &[(&str, &str)], ci: bool) -> (i32, String) {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deny.sh"));
    cmd.arg("advisories")
        .env_remove("TELLTALE_ADVISORY_DB")
        .env_remove("TELLTALE_ADVISORY_BUNDLE")
        .env_remove("TELLTALE_ADVISORY_CACHE")
        .env("TELLTALE_ADVISORY_FALLBACKS", "0")
        .env("CARGO", env!("CARGO"));
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT12:00:00Z"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn an_advisory_against_a_dependency_fails_and_names_crate_advisory_and_fix() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // httparse is in Cargo.lock (the HTTP request parser)
    advise(&db, "httparse", FAKE_ID, ">= 99.0.0", &today());
    let (code, out) = deny(&[("TELLTALE_ADVISORY_DB", db.to_str().unwrap())], false);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("httparse"), "the crate: {out}");
    assert!(out.contains(FAKE_ID), "the advisory: {out}");
    assert!(out.contains("99.0.0"), "the fixed version: {out}");
    assert!(out.contains("(0 days old)"), "the database's age: {out}");
}

#[test]
fn the_bundle_is_cloned_once_and_updated_when_a_newer_one_replaces_it() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upstream");
    let bundle = dir.path().join("advisory-db.bundle");
    let cache = dir.path().join("cache").join("advisory-db");
    let make_bundle = || {
        let out = Command::new("git")
            .arg("-C")
            .arg(&db)
            .args(["bundle", "create", "--quiet"])
            .arg(&bundle)
            .arg("HEAD")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let env = [
        ("TELLTALE_ADVISORY_BUNDLE", bundle.to_str().unwrap()),
        ("TELLTALE_ADVISORY_CACHE", cache.to_str().unwrap()),
    ];
    // the first snapshot: an advisory against a crate telltale does not use
    advise(
        &db,
        "a-crate-telltale-never-uses",
        "RUSTSEC-2099-0002",
        ">= 2.0.0",
        "2026-11-01T12:00:00Z",
    );
    make_bundle();
    let (code, out) = deny(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cloned the advisory database"), "{out}");
    assert!(out.contains("RustSec database of 2026-11-01"), "{out}");
    // again: the clone is used as it is
    let (code, out) = deny(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("cloned") && !out.contains("updated"), "{out}");
    // a newer snapshot replaces the bundle: the clone follows, and its advisory applies
    advise(
        &db,
        "httparse",
        FAKE_ID,
        ">= 99.0.0",
        "2026-11-20T12:00:00Z",
    );
    make_bundle();
    let (code, out) = deny(&env, true);
    assert!(out.contains("updated the advisory database"), "{out}");
    assert!(out.contains("RustSec database of 2026-11-20"), "{out}");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(FAKE_ID), "{out}");
}

#[test]
fn a_missing_database_fails_under_ci_and_is_said_elsewhere() {
    if !can_run() {
        return;
    }
    let env = [(
        "TELLTALE_ADVISORY_BUNDLE",
        "/nonexistent/advisory-db.bundle",
    )];
    let (code, out) = deny(&env, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CI requires one"), "{out}");
    assert!(
        out.contains("TELLTALE_ADVISORY_DB"),
        "says what to do: {out}"
    );
    let (code, out) = deny(&env, false);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("NOT CHECKED").count(), 1, "said once: {out}");
}

#[test]
fn an_old_database_is_warned_about_and_fails_under_ci_after_a_year() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    advise(
        &db,
        "a-crate-telltale-never-uses",
        "RUSTSEC-2099-0003",
        ">= 2.0.0",
        "2020-01-01T12:00:00Z",
    );
    let env = [("TELLTALE_ADVISORY_DB", db.to_str().unwrap())];
    let (code, out) = deny(&env, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: the advisory database is"), "{out}");
    let (code, out) = deny(&env, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("more than 365"), "{out}");
}
