//! Writing reports where they were asked for: standard output, or files. A file is written
//! safely:
//!
//! - atomically: a temporary file in the same folder, flushed to disk, then renamed (or
//!   linked) into place, so a reader never sees half a report;
//! - readable by its owner only (mode 0600): a report says what a household's server does;
//! - never through a symbolic link: the path must not be one, and the temporary file is
//!   created with `create_new`, so nothing already there is followed;
//! - never over an existing file, unless asked (`--force`); placing the file without
//!   `--force` uses a hard link, which fails if the name appeared meanwhile.
//!
//! A failure names the path and leaves no temporary file behind.
//!
//! `--format all` writes a bundle into a folder: every report, the evidence
//! (`evidence.pcapng`) and, last, `manifest.json` with the SHA-256 of each.

use crate::report::evidence::Evidence;
use crate::report::manifest::{MANIFEST_FILE, Manifest, sha256_hex};
use crate::report::{Format, Report};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A report, evidence or manifest that could not be written (or would be refused): the
/// message names the path and what to do. (The command line exits with 2 for it: the audit
/// could not be done.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OutputError {
    pub message: String,
}

impl OutputError {
    pub fn usage(message: impl Into<String>) -> OutputError {
        OutputError {
            message: message.into(),
        }
    }
}

/// The evidence's name in a bundle.
pub const EVIDENCE_FILE: &str = "evidence.pcapng";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

/// Everything an audit writes, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    pub reports: Vec<(Format, Destination)>,
    /// `--evidence PATH`.
    pub evidence: Option<PathBuf>,
    /// `--format all`: the bundle's folder (its evidence and manifest go there).
    pub bundle: Option<PathBuf>,
    /// `--force`: existing files may be replaced.
    pub replace: bool,
}

impl Outputs {
    /// Whether the pipeline must keep packets as evidence.
    pub fn wants_evidence(&self) -> bool {
        self.evidence.is_some() || self.bundle.is_some()
    }

    /// Whether an HTML report is among them (only it charts the history's last days).
    pub fn wants_html(&self) -> bool {
        self.reports.iter().any(|(f, _)| *f == Format::Html)
    }

    /// Every file this will write.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .reports
            .iter()
            .filter_map(|(_, d)| match d {
                Destination::File(p) => Some(p.clone()),
                Destination::Stdout => None,
            })
            .collect();
        files.extend(self.evidence.clone());
        if let Some(dir) = &self.bundle {
            files.push(dir.join(EVIDENCE_FILE));
            files.push(dir.join(MANIFEST_FILE));
        }
        files.dedup();
        files
    }

    /// Refuses, before any work is done, what writing would refuse at the end: a path that
    /// is a symbolic link or a folder, or that exists without `--force`.
    pub fn preflight(&self) -> Result<(), OutputError> {
        self.files()
            .iter()
            .try_for_each(|p| check_target(p, self.replace))
    }
}

/// Writes the reports (replacing existing files; the live view's export and `--report`).
pub fn write_reports(report: &Report, dest: &[(Format, Destination)]) -> Result<(), OutputError> {
    write_outputs(
        report,
        None,
        &Outputs {
            reports: dest.to_vec(),
            replace: true,
            ..Outputs::default()
        },
    )
}

/// Writes every output: reports, evidence, and for a bundle its manifest, last.
pub fn write_outputs(
    report: &Report,
    evidence: Option<&Evidence>,
    out: &Outputs,
) -> Result<(), OutputError> {
    out.preflight()?;
    let mut bundled: BTreeMap<String, String> = BTreeMap::new();
    for (format, d) in &out.reports {
        // JSON is streamed as it is serialised; the other formats are a fraction of its size
        let write_report = |w: &mut dyn Write| -> std::io::Result<()> {
            match format {
                Format::Json => crate::report::json::write(report, w),
                _ => w.write_all(format.render(report).as_bytes()),
            }
        };
        match d {
            Destination::Stdout => {
                let mut stdout =
                    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                // A closed pipe (`| head`) is not an error worth reporting.
                let _ = write_report(&mut stdout).and_then(|()| stdout.flush());
            }
            Destination::File(path) => {
                let digest = write_file_with(path, out.replace, &write_report)?;
                if out.bundle.is_some() {
                    bundled.insert(format.file_name().to_string(), digest);
                }
            }
        }
    }
    if out.wants_evidence() {
        let empty = Evidence::default();
        let pcapng = evidence
            .unwrap_or(&empty)
            .to_pcapng()
            .map_err(OutputError::usage)?;
        let in_bundle = out.bundle.as_ref().map(|dir| dir.join(EVIDENCE_FILE));
        if let Some(path) = out
            .evidence
            .as_ref()
            .filter(|p| Some(*p) != in_bundle.as_ref())
        {
            write_file(path, &pcapng, out.replace)?;
        }
        if let Some(path) = &in_bundle {
            write_file(path, &pcapng, out.replace)?;
            bundled.insert(EVIDENCE_FILE.to_string(), sha256_hex(&pcapng));
        }
    }
    if let Some(dir) = &out.bundle {
        let manifest = Manifest::new(report, bundled).to_json();
        write_file(&dir.join(MANIFEST_FILE), manifest.as_bytes(), out.replace)?;
    }
    Ok(())
}

fn cannot(path: &Path, e: std::io::Error) -> OutputError {
    OutputError::usage(format!(
        "cannot write {}: {e}{}",
        path.display(),
        what_to_do(&e)
    ))
}

/// What the user can do about a failed write, for the failures a user can do something about.
fn what_to_do(e: &std::io::Error) -> &'static str {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "; free some space there, or write it somewhere else"
        }
        ErrorKind::ReadOnlyFilesystem => {
            "; that filesystem is mounted read-only: write it somewhere else"
        }
        ErrorKind::PermissionDenied => "; write it to a folder this user may write to",
        ErrorKind::NotADirectory => "; part of that path is a file, not a folder",
        _ => "",
    }
}

fn refuse_existing(path: &Path) -> OutputError {
    OutputError::usage(format!(
        "refusing to overwrite {}: it exists; add --force to replace it",
        path.display()
    ))
}

/// Whether `path` may be written: not a symbolic link (even with `replace`), not a folder
/// or a device, and not an existing file unless `replace`.
fn check_target(path: &Path, replace: bool) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(OutputError::usage(format!(
            "refusing to write {}: it is a symbolic link, and telltale never writes through one",
            path.display()
        ))),
        Ok(m) if m.is_dir() => Err(OutputError::usage(format!(
            "cannot write {}: it is a folder",
            path.display()
        ))),
        Ok(m) if !m.is_file() => Err(OutputError::usage(format!(
            "refusing to write {}: it is not a regular file",
            path.display()
        ))),
        Ok(_) if !replace => Err(refuse_existing(path)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(cannot(path, e)),
    }
}

/// The folder a file goes in.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temporary name beside `path`, unused by this process so far.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "report".into());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    folder_of(path).join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` safely (see the module's comment). `replace` allows replacing
/// an existing file, never a symbolic link.
pub fn write_file(path: &Path, bytes: &[u8], replace: bool) -> Result<(), OutputError> {
    write_file_with(path, replace, &|w: &mut dyn Write| w.write_all(bytes)).map(|_| ())
}

/// Writes what `fill` writes to `path`, safely (see the module documentation), and returns
/// its SHA-256.
pub fn write_file_with(
    path: &Path,
    replace: bool,
    fill: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<String, OutputError> {
    check_target(path, replace)?;
    std::fs::create_dir_all(folder_of(path)).map_err(|e| cannot(path, e))?;
    write_via(path, &temp_path(path), fill, replace)
}

/// Hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Why a finished temporary file could not take its place.
enum PlaceError {
    Exists,
    Io(std::io::Error),
}

fn write_via(
    path: &Path,
    tmp: &Path,
    fill: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
    replace: bool,
) -> Result<String, OutputError> {
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let what = match std::fs::symlink_metadata(tmp) {
                Ok(m) if m.file_type().is_symlink() => "a symbolic link",
                _ => "a file",
            };
            return Err(OutputError::usage(format!(
                "refusing to write {}: its temporary file {} is already there, as {what}",
                path.display(),
                tmp.display()
            )));
        }
        Err(e) => return Err(cannot(path, e)),
    };
    let mut out = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        hasher: <sha2::Sha256 as sha2::Digest>::new(),
    };
    let written = fill(&mut out).and_then(|()| out.flush());
    let digest = crate::text::hex(&sha2::Digest::finalize(out.hasher));
    let written = written.and_then(|()| {
        out.inner
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
    });
    let written = written.and_then(|file| file.sync_all());
    let result = match written {
        Ok(()) => place(tmp, path, replace),
        Err(e) => Err(PlaceError::Io(e)),
    };
    match result {
        Ok(()) => {
            // the rename itself reaches the disk with its folder (best effort)
            let _ = std::fs::File::open(folder_of(path)).and_then(|d| d.sync_all());
            Ok(digest)
        }
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            Err(match e {
                PlaceError::Exists => refuse_existing(path),
                PlaceError::Io(e) => cannot(path, e),
            })
        }
    }
}

/// Moves the finished temporary file to `path`.
fn place(tmp: &Path, path: &Path, replace: bool) -> Result<(), PlaceError> {
    if replace {
        // rename replaces a symbolic link itself, never what it points to
        return std::fs::rename(tmp, path).map_err(PlaceError::Io);
    }
    match std::fs::hard_link(tmp, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(PlaceError::Exists),
        // a filesystem without hard links: check, then rename
        Err(_) => match std::fs::symlink_metadata(path) {
            Ok(_) => Err(PlaceError::Exists),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::rename(tmp, path).map_err(PlaceError::Io)
            }
            Err(e) => Err(PlaceError::Io(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn writes_owner_only_and_refuses_to_replace_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/r.md");
        write_file(&p, b"one", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let e = write_file(&p, b"two", false).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "refusing to overwrite {}: it exists; add --force to replace it",
                p.display()
            )
        );
        write_file(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert!(leftovers(&dir.path().join("sub")).is_empty());
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("r.json");
        symlink(&target, &link).unwrap();
        for replace in [false, true] {
            let e = write_file(&link, b"x", replace).unwrap_err();
            assert!(e.message.contains("symbolic link"), "{}", e.message);
        }
        // a dangling link too
        let dangling = dir.path().join("d.json");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(write_file(&dangling, b"x", true).is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn a_temporary_file_already_there_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let path = dir.path().join("r.md");
        let tmp = dir.path().join(".r.md.tmp-x");
        symlink(&target, &tmp).unwrap();
        let e =
            write_via(&path, &tmp, &|w: &mut dyn Write| w.write_all(b"evil"), true).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(!path.exists());
    }

    #[test]
    fn an_unwritable_place_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let p = file.join("r.md");
        let e = write_file(&p, b"x", true).unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("cannot write {}: ", p.display()))
        );
        assert!(
            e.message
                .ends_with("; part of that path is a file, not a folder"),
            "{}",
            e.message
        );
        let e = write_file(dir.path(), b"x", true).unwrap_err();
        assert!(e.message.contains("is a folder"), "{}", e.message);
        let e = write_file(Path::new("/dev/null"), b"x", true).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
    }

    #[test]
    fn the_bundle_lists_what_it_writes() {
        let o = Outputs {
            reports: vec![(Format::Json, Destination::File("b/report.json".into()))],
            evidence: Some("e.pcapng".into()),
            bundle: Some("b".into()),
            replace: false,
        };
        assert!(o.wants_evidence());
        assert_eq!(
            o.files(),
            [
                PathBuf::from("b/report.json"),
                "e.pcapng".into(),
                "b/evidence.pcapng".into(),
                "b/manifest.json".into()
            ]
        );
    }
}
