//! Where each server keeps its settings file, finding the first one present, and reading the file that
//! completes it (Jellyfin's network.xml beside its system.xml).

use super::{ServerKind, Settings, SettingsError, clean, read_one};
use std::path::{Path, PathBuf};

/// Plex's data folder below the application-support directory, as every Linux and Docker layout has it.
const PLEX_PREFS: &str = "Plex Media Server/Preferences.xml";

/// The usual places, in order: Linux packages, Docker images (official and linuxserver), macOS; for Jellyfin
/// /etc/jellyfin/system.xml, /config/config/system.xml (docker), /var/lib/jellyfin/config/system.xml; Emby
/// /var/lib/emby/config/system.xml, /config/config/system.xml.
///
/// Plex also: the snap package, FreeBSD, Synology (DSM 7, then DSM 6), before macOS. Jellyfin also
/// /config/system.xml last, for images that use /config itself as the configuration directory. The macOS
/// place is under `$HOME`, and left out when `HOME` is not set.
pub fn default_locations(kind: ServerKind) -> Vec<PathBuf> {
    match kind {
        ServerKind::Plex => {
            let mut v: Vec<PathBuf> = [
                "/var/lib/plexmediaserver/Library/Application Support",
                "/var/snap/plexmediaserver/common/Library/Application Support",
                "/config/Library/Application Support",
                "/usr/local/plexdata",
                "/volume1/PlexMediaServer/AppData",
                "/volume1/Plex/Library/Application Support",
            ]
            .iter()
            .map(|dir| PathBuf::from(dir).join(PLEX_PREFS))
            .collect();
            if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                v.push(
                    PathBuf::from(home)
                        .join("Library/Preferences/com.plexapp.plexmediaserver.plist"),
                );
            }
            v
        }
        ServerKind::Jellyfin => [
            "/etc/jellyfin/system.xml",
            "/config/config/system.xml",
            "/var/lib/jellyfin/config/system.xml",
            "/config/system.xml",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
        ServerKind::Emby => [
            "/var/lib/emby/config/system.xml",
            "/config/config/system.xml",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
    }
}

/// Settings read from a file and, for Jellyfin, from the file beside it; with what could not be read there.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub settings: Settings,
    /// For the report: the file beside that could not be read, and what telltale judges by instead.
    pub warnings: Vec<String>,
}

/// The format joining two files' names in [`Settings::format`]: `system.xml + network.xml`.
pub(super) const JOINED: &str = " + ";

/// Reads the settings file at `path` and, for Jellyfin, the file that completes it in the same folder.
///
/// Jellyfin 10.8 and later keep the network settings (remote access, UPnP, auto-discovery, the public ports) in
/// `network.xml`, in the folder that holds `system.xml`; the server reads both, so telltale does. Given either
/// file, it reads the other beside it and merges the values; where both name a setting, network.xml's value
/// is the one Jellyfin uses. The result's `path` stays the file given (so `--prefs PATH` reproduces it) and its
/// `format` names both, `system.xml + network.xml`; [`Settings::files`] gives both paths.
///
/// Only `path` must be readable. The file beside is optional (Jellyfin before 10.8 has none, and creates it
/// with its defaults at start): when it is missing, the settings it would hold take the rules' defaults, and
/// the verdicts say so. When it exists but cannot be read (malformed, another file, no permission), the same
/// defaults apply, which is what Jellyfin itself does with a configuration file it cannot parse, and a warning
/// says which file and why.
pub fn read_merged(path: &Path, kind: ServerKind) -> Result<Loaded, SettingsError> {
    let main = read_one(path, kind.clone())?;
    let format = main.format.clone();
    Ok(match read_beside(&main, path, kind) {
        Ok(Some(other)) => Loaded {
            settings: merge(main, other),
            warnings: Vec::new(),
        },
        Ok(None) => Loaded {
            settings: main,
            warnings: Vec::new(),
        },
        Err(e) => Loaded {
            settings: main,
            warnings: vec![format!(
                "{e}; read beside {format}, so the settings it holds (remote access, UPnP, auto-discovery) \
                 take Jellyfin's defaults, as Jellyfin does with a settings file it cannot read"
            )],
        },
    })
}

/// The Jellyfin settings file beside `main` (read from `path`) that completes it: `None` when there is none
/// to read (another server, or no such file); an error when it exists and cannot be read, or holds the wrong
/// file.
pub(super) fn read_beside(
    main: &Settings,
    path: &Path,
    kind: ServerKind,
) -> Result<Option<Settings>, SettingsError> {
    if kind != ServerKind::Jellyfin {
        return Ok(None);
    }
    let Some(other) = companion_name(&main.format) else {
        return Ok(None);
    };
    let beside = path.with_file_name(other);
    if beside == path {
        return Ok(None);
    }
    if std::fs::metadata(&beside).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(None);
    }
    match read_one(&beside, kind) {
        Ok(c) if c.format == other => Ok(Some(c)),
        Ok(c) => Err(SettingsError::WrongFile {
            path: clean(&beside.display().to_string()),
            found: c.format,
            expected: other.to_string(),
        }),
        // Gone between the two looks: as if it had never been.
        Err(SettingsError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file that completes a Jellyfin settings file of this format.
fn companion_name(format: &str) -> Option<&'static str> {
    match format {
        "system.xml" => Some("network.xml"),
        "network.xml" => Some("system.xml"),
        _ => None,
    }
}

/// One settings file completed by the other: values from both, network.xml's winning where both hold a setting.
pub(super) fn merge(main: Settings, other: Settings) -> Settings {
    let (mut values, network) = if main.format == "network.xml" {
        (other.values, main.values)
    } else {
        (main.values, other.values)
    };
    values.extend(network);
    Settings {
        format: format!("{}{JOINED}{}", main.format, other.format),
        path: main.path,
        values,
        signed_in: main.signed_in || other.signed_in,
    }
}

/// The first default location that exists, read (with the file beside it, see [`read_merged`]). A location that cannot be looked at for lack of permission
/// (Plex's folder is readable only by the `plex` user) counts as found, and gives
/// [`SettingsError::PermissionDenied`]. `None` when no location exists.
pub fn find(kind: ServerKind) -> Option<Result<Loaded, SettingsError>> {
    for path in default_locations(kind.clone()) {
        match std::fs::metadata(&path) {
            Ok(_) => return Some(read_merged(&path, kind)),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Some(Err(SettingsError::PermissionDenied {
                    path: clean(&path.display().to_string()),
                }));
            }
            Err(_) => {}
        }
    }
    None
}

/// [`find`], with "found nowhere" as a [`SettingsError::NotFound`] listing the places looked at.
pub fn find_or_error(kind: ServerKind) -> Result<Loaded, SettingsError> {
    find(kind.clone()).unwrap_or_else(|| {
        Err(SettingsError::NotFound {
            server: kind.name().to_string(),
            looked: default_locations(kind)
                .iter()
                .map(|p| clean(&p.display().to_string()))
                .collect(),
        })
    })
}
