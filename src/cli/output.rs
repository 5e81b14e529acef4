//! Writing reports where they were asked for: standard output, or files written
//! atomically (a temporary file in the same folder, flushed, then renamed), so a reader
//! never sees half a report.

use super::Failure;
use crate::report::{Format, Report};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

pub fn write_reports(report: &Report, dest: &[(Format, Destination)]) -> Result<(), Failure> {
    for (format, d) in dest {
        let text = format.render(report);
        match d {
            Destination::Stdout => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth reporting.
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
            Destination::File(path) => write_atomic(path, text.as_bytes())
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?,
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
