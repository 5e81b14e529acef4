//! The bundle's manifest (`manifest.json`, `telltale.manifest/1`): the SHA-256 of every
//! other file of the bundle, with what the audit read (the inputs, the rules), the judging
//! it did it under (settings, opt-out) and what it counted. `telltale verify DIR` checks
//! the files against it.

use super::Report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

pub const MANIFEST_SCHEMA: &str = "telltale.manifest/1";
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub tool: ToolInfo,
    pub generated_at: String,
    /// File name (in the bundle's folder) → lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub inputs: Vec<InputInfo>,
    pub rules: RulesRef,
    /// The server's settings in force, as in the report, or null.
    #[serde(default)]
    pub settings: serde_json::Value,
    #[serde(default)]
    pub opt_out: serde_json::Value,
    #[serde(default)]
    pub counters: serde_json::Value,
    /// For a live capture: the interface, filter, duration and drops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    pub path: String,
    /// `None` when the audit ran with `--no-digest`.
    #[serde(default)]
    pub sha256: Option<String>,
    pub bytes: u64,
    pub packets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRef {
    pub path: String,
    pub sha256: String,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(bytes))
}

impl Manifest {
    /// The manifest of a bundle holding `files` (name → SHA-256), made from `report`.
    pub fn new(report: &Report, files: BTreeMap<String, String>) -> Manifest {
        let value =
            |v: Result<serde_json::Value, serde_json::Error>| v.unwrap_or(serde_json::Value::Null);
        Manifest {
            schema: MANIFEST_SCHEMA.to_string(),
            tool: ToolInfo {
                name: report.tool.name.to_string(),
                version: report.tool.version.to_string(),
            },
            generated_at: report.generated_at.rfc3339(),
            files,
            inputs: report
                .inputs
                .iter()
                .map(|i| InputInfo {
                    path: i.path.clone(),
                    sha256: i.sha256.clone(),
                    bytes: i.bytes,
                    packets: i.packets,
                })
                .collect(),
            rules: RulesRef {
                path: report.rules.path.clone(),
                sha256: report.rules.sha256.clone(),
            },
            settings: value(serde_json::to_value(&report.settings)),
            opt_out: value(serde_json::to_value(&report.opt_out)),
            counters: value(serde_json::to_value(&report.counters)),
            live: report.live.as_ref().map(|l| value(serde_json::to_value(l))),
        }
    }

    /// Pretty JSON, with every invisible or control character a captured string may carry
    /// escaped (`\u202e`), so none reaches a terminal or an editor raw.
    pub fn to_json(&self) -> String {
        let raw = serde_json::to_string_pretty(self).unwrap_or_default();
        let mut s = String::with_capacity(raw.len() + 1);
        for c in raw.chars() {
            // such characters can only be inside strings, where an escape means the same
            if c != '\n' && (c.is_control() || is_invisible(c)) {
                s.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                s.push(c);
            }
        }
        s.push('\n');
        s
    }

    /// Reads a manifest, checking its schema and that it names only files of its folder.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| format!("not a manifest: {e}"))?;
        if m.schema != MANIFEST_SCHEMA {
            return Err(format!(
                "schema `{}`, not `{MANIFEST_SCHEMA}`",
                crate::text::neutralise(&m.schema)
            ));
        }
        for name in m.files.keys() {
            if !is_plain_name(name) {
                return Err(format!(
                    "it lists `{}`, which is not a file of the bundle's folder",
                    crate::text::neutralise(name)
                ));
            }
        }
        Ok(m)
    }

    /// Checks every listed file in `dir` against its SHA-256, in name order.
    pub fn check(&self, dir: &Path) -> Vec<(String, FileCheck)> {
        self.files
            .iter()
            .map(|(name, expected)| (name.clone(), check_file(&dir.join(name), expected)))
            .collect()
    }
}

/// Bidi overrides and other invisible formatting characters (all in the BMP).
fn is_invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2069 | 0xfeff | 0xfff9..=0xfffb)
}

/// One bare file name: no folder, no `..`, not the manifest itself.
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) && name != MANIFEST_FILE
        && !name.contains('/')
}

/// What one file of a bundle turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCheck {
    Ok,
    Changed {
        actual: String,
        expected: String,
    },
    Missing,
    /// There, but not a plain file (a symbolic link, a folder), or unreadable.
    Unreadable(String),
}

impl FileCheck {
    pub fn is_ok(&self) -> bool {
        *self == FileCheck::Ok
    }
}

fn check_file(path: &Path, expected: &str) -> FileCheck {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileCheck::Missing,
        Err(e) => return FileCheck::Unreadable(e.to_string()),
        Ok(m) if m.file_type().is_symlink() => {
            return FileCheck::Unreadable("a symbolic link, not the file written".into());
        }
        Ok(m) if !m.is_file() => return FileCheck::Unreadable("not a plain file".into()),
        Ok(_) => {}
    }
    match hash_file(path) {
        Ok(actual) if actual.eq_ignore_ascii_case(expected) => FileCheck::Ok,
        Ok(actual) => FileCheck::Changed {
            actual,
            expected: expected.to_string(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileCheck::Missing,
        Err(e) => FileCheck::Unreadable(e.to_string()),
    }
}

/// SHA-256 of a file, read in pieces.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(crate::text::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, &str)]) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            tool: ToolInfo {
                name: "telltale".into(),
                version: "0".into(),
            },
            generated_at: "2026-01-01T00:00:00.000000Z".into(),
            files: files
                .iter()
                .map(|(n, h)| (n.to_string(), h.to_string()))
                .collect(),
            inputs: Vec::new(),
            rules: RulesRef {
                path: "builtin:plex".into(),
                sha256: String::new(),
            },
            settings: serde_json::Value::Null,
            opt_out: serde_json::Value::Null,
            counters: serde_json::Value::Null,
            live: None,
        }
    }

    #[test]
    fn round_trips_and_checks_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("b.txt"), b"changed").unwrap();
        let m = manifest(&[
            ("a.txt", &sha256_hex(b"hello")),
            ("b.txt", &sha256_hex(b"original")),
            ("c.txt", &sha256_hex(b"gone")),
        ]);
        let back = Manifest::parse(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let checks = back.check(dir.path());
        assert_eq!(checks[0], ("a.txt".into(), FileCheck::Ok));
        assert!(matches!(checks[1].1, FileCheck::Changed { .. }));
        assert_eq!(checks[2], ("c.txt".into(), FileCheck::Missing));
    }

    #[test]
    fn invisible_and_control_characters_are_escaped_and_read_back() {
        let mut m = manifest(&[]);
        m.rules.path = "a\u{202e}b\u{1b}c\u{85}d".into();
        let json = m.to_json();
        assert!(json.contains("a\\u202eb\\u001bc\\u0085d"), "{json}");
        assert!(!json.contains('\u{202e}') && !json.contains('\u{85}'));
        assert_eq!(Manifest::parse(&json).unwrap(), m);
    }

    #[test]
    fn refuses_names_outside_the_folder_and_other_schemas() {
        for bad in ["../x", "/etc/passwd", "a/b", "manifest.json", "", "."] {
            let m = manifest(&[(bad, "00")]);
            assert!(Manifest::parse(&m.to_json()).is_err(), "{bad}");
        }
        let mut m = manifest(&[]);
        m.schema = "other/1".into();
        assert!(Manifest::parse(&m.to_json()).is_err());
        assert!(Manifest::parse("{").is_err());
    }

    #[test]
    fn a_symlink_in_place_of_a_file_does_not_pass() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("a")).unwrap();
        let m = manifest(&[("a", &sha256_hex(b"x"))]);
        assert!(matches!(m.check(dir.path())[0].1, FileCheck::Unreadable(_)));
    }
}
