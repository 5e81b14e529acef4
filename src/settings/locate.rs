//! Where each server keeps its settings file, and finding the first one present.

use super::{ServerKind, Settings, SettingsError, clean, read};
use std::path::PathBuf;

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

/// The first default location that exists, read. A location that cannot be looked at for lack of permission
/// (Plex's folder is readable only by the `plex` user) counts as found, and gives
/// [`SettingsError::PermissionDenied`]. `None` when no location exists.
pub fn find(kind: ServerKind) -> Option<Result<Settings, SettingsError>> {
    for path in default_locations(kind.clone()) {
        match std::fs::metadata(&path) {
            Ok(_) => return Some(read(&path, kind)),
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
pub fn find_or_error(kind: ServerKind) -> Result<Settings, SettingsError> {
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
