//! `telltale verify DIR`: checks an audit bundle against its manifest. One line per file
//! (`ok report.json`, `CHANGED report.html: sha256 ... expected ...`, `MISSING flows.csv`);
//! exit 0 when all match, 1 when any differs or is missing, 2 without a readable manifest.

use super::{EXIT_CLEAN, Failure};
use std::io::Write;
use std::path::Path;
use telltale::report::manifest::{FileCheck, MANIFEST_FILE, Manifest};
use telltale::text::neutralise;

/// Exit status: a file changed or is missing.
pub const EXIT_MISMATCH: i32 = 1;

/// The lines `verify` prints, and whether every file matched.
pub fn report(dir: &Path) -> Result<(Vec<String>, bool), Failure> {
    let path = dir.join(MANIFEST_FILE);
    let no_manifest = |why: String| {
        Failure::usage(format!(
            "{} has no readable manifest ({}: {why}); a bundle comes from `telltale audit --format all -o DIR`",
            dir.display(),
            path.display()
        ))
    };
    let text = std::fs::read_to_string(&path).map_err(|e| no_manifest(e.to_string()))?;
    let manifest = Manifest::parse(&text).map_err(no_manifest)?;
    let mut all_ok = true;
    let lines = manifest
        .check(dir)
        .into_iter()
        .map(|(name, check)| {
            all_ok &= check.is_ok();
            let name = neutralise(&name);
            match check {
                FileCheck::Ok => format!("ok {name}"),
                FileCheck::Changed { actual, expected } => format!(
                    "CHANGED {name}: sha256 {actual} expected {}",
                    neutralise(&expected)
                ),
                FileCheck::Missing => format!("MISSING {name}"),
                FileCheck::Unreadable(why) => format!("CHANGED {name}: {why}"),
            }
        })
        .collect();
    Ok((lines, all_ok))
}

pub fn run(dir: &Path) -> Result<i32, Failure> {
    let (lines, all_ok) = report(dir)?;
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    Ok(if all_ok { EXIT_CLEAN } else { EXIT_MISMATCH })
}
