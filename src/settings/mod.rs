//! The media server's own settings: what the owner chose, as the server wrote it down.
//!
//! Whether a flow is allowed depends on choices the owner made in the server (relay on or off, usage data
//! opted in or out, remote access published or not). The server keeps those choices in one settings file; this
//! module reads that file and keeps only the few settings the rules can use, so a verdict can say "allowed
//! because `RelayEnabled=1`" or "relay traffic while `RelayEnabled=0`".
//!
//! Formats (one file each):
//! - `plex_xml.rs`: Plex's `Preferences.xml`, one self-closing `<Preferences …/>` element whose attributes are
//!   the settings.
//! - `plist.rs`: Plex on macOS, `~/Library/Preferences/com.plexapp.plexmediaserver.plist`, a dictionary of the
//!   same keys, binary or XML.
//! - `system_xml.rs`: Jellyfin and Emby `system.xml` (`<ServerConfiguration>`, one child element per setting);
//!   Jellyfin 10.8 and later moved its network settings to `network.xml` (`<NetworkConfiguration>`, same shape),
//!   which is read the same way.
//! - `locate.rs`: where each server keeps the file, finding the first one present, and [`read_merged`]: for
//!   Jellyfin, the network.xml beside a system.xml (or the system.xml beside a network.xml) is read too and
//!   merged in, since the server reads both. A report then names both files ([`Settings::files`]).
//!
//! # What is kept
//!
//! Plex (attribute names are case-sensitive, as Plex writes them): `collectUsageData`, `sendCrashReports`,
//! `plexMetricsUrl`, `RelayEnabled`, `PublishServerOnPlexOnlineKey`, `ManualPortMappingMode`,
//! `ManualPortMappingPort`, `customConnections`, `customCertificateDomain`, `GdmEnabled`, `DlnaEnabled`,
//! `WebHooksEnabled`, `ButlerUpdateChannel`, `ButlerTaskUpdateServer`, every `CinemaTrailersFrom*`,
//! `PubSubServer`, `PubSubServerRegion`. `PlexOnlineToken` only becomes [`Settings::signed_in`]: its value is
//! never copied out of the parser's buffers. Every other attribute (among them secrets such as
//! `CertificateUUID`, `MachineIdentifier`, `ProcessedMachineIdentifier`, `AnonymousMachineIdentifier`) is
//! skipped without being decoded.
//!
//! Jellyfin and Emby (element names, as the server writes them; whichever are present):
//! - remote access: `EnableRemoteAccess`, `PublicPort` (`PublicHttpPort` from Jellyfin 10.9), `PublicHttpsPort`,
//!   `WanDdns` (the owner's public name);
//! - UPnP / port mapping: `EnableUPnP`, `EnableAutomaticPortMapping`;
//! - local discovery: `AutoDiscovery` (Jellyfin `network.xml`, UDP 7359);
//! - plugin catalogues: `PluginRepositories`, the URLs of the enabled repositories joined by single spaces, and
//!   `PluginRepositoriesDisabled`, those switched off (only when there are any);
//! - telemetry: `EnableMetrics` (Jellyfin's Prometheus `/metrics` endpoint), `EnableAnonymousUsageReporting`
//!   (Emby, and Jellyfin files inherited from Emby);
//! - `QuickConnectAvailable` (Jellyfin Quick Connect sign-in codes).
//!
//! Metadata language and country, folder view and the like say nothing about traffic and are not kept.
//!
//! # Safety of the output
//!
//! Values are kept as strings, XML-unescaped; a `system.xml` boolean written `1` or `0` is kept as `true` or
//! `false`, as the server reads it. A control or bidirectional-formatting character in a value is kept
//! escaped as `\u{…}`, so printing a [`Settings`] can never move the terminal's cursor. Error messages never
//! quote the file's text (a `Preferences.xml` is one line, and that line holds the token). A file is read whole
//! with a cap of [`MAX_FILE_BYTES`]; a bigger one is an error.

pub mod consent;
mod locate;
mod plex_xml;
mod plist;
mod system_xml;

#[cfg(test)]
mod tests;

pub use locate::{Loaded, default_locations, find, find_or_error, read_merged};
pub use plex_xml::parse_plex_xml;
pub use system_xml::parse_system_xml;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

/// The largest settings file read: a real one is a few KiB.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Which media server the settings belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Plex,
    Jellyfin,
    Emby,
}

impl ServerKind {
    /// The server's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            ServerKind::Plex => "Plex Media Server",
            ServerKind::Jellyfin => "Jellyfin",
            ServerKind::Emby => "Emby",
        }
    }

    /// The vendor's short name, as in "Plex's default".
    pub fn short_name(&self) -> &'static str {
        match self {
            ServerKind::Plex => "Plex",
            ServerKind::Jellyfin => "Jellyfin",
            ServerKind::Emby => "Emby",
        }
    }

    /// What a settings file of this server looks like, for messages.
    fn expected(&self) -> &'static str {
        match self {
            ServerKind::Plex => {
                "a Plex Preferences.xml (one <Preferences .../> element) or the macOS plist"
            }
            ServerKind::Jellyfin => {
                "a Jellyfin system.xml (<ServerConfiguration>) or network.xml (<NetworkConfiguration>)"
            }
            ServerKind::Emby => "an Emby system.xml (<ServerConfiguration>)",
        }
    }
}

/// The owner's choices as the server wrote them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    /// Where they were read from.
    pub path: String,
    /// `Preferences.xml`, `plist`, `system.xml` (or `network.xml`); `system.xml + network.xml` when Jellyfin's
    /// second file completed the first (see [`read_merged`]).
    pub format: String,
    /// Only the settings the rules may need (see the module doc), name → value as written; never a secret.
    pub values: BTreeMap<String, String>,
    /// Whether the server is signed in (PlexOnlineToken present and non-empty). The token's value is never read
    /// into memory beyond the parser's own buffers, never stored here, never printed.
    pub signed_in: bool,
}

impl Settings {
    /// The value of one kept setting, as written.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every file the settings were read from, with its format: the file given, then (for Jellyfin) the one
    /// beside it that completed it. The second's path is not stored: it is, by how it is found, the file of
    /// that name in the first's folder.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut formats = self.format.split(locate::JOINED);
        let first = formats.next().unwrap_or_default().to_string();
        let mut out = vec![(self.path.clone(), first)];
        for other in formats {
            let beside = Path::new(&self.path).with_file_name(other);
            out.push((beside.display().to_string(), other.to_string()));
        }
        out
    }

    /// Where the settings came from, for a sentence: `PATH`, or `PATH and PATH` when a second file completed them.
    pub fn label(&self) -> String {
        let paths: Vec<String> = self.files().into_iter().map(|(p, _)| p).collect();
        paths.join(" and ")
    }

    /// A kept setting read as a switch: `1`/`true` is on, `0`/`false` is off (any case, surrounding spaces
    /// ignored); absent or anything else is `None`.
    pub fn flag(&self, name: &str) -> Option<bool> {
        let value = self.get(name)?.trim();
        if value == "1" || value.eq_ignore_ascii_case("true") {
            Some(true)
        } else if value == "0" || value.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }
}

/// Why the settings could not be read. No message quotes the file's contents.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A path given by the user does not exist.
    #[error("{path}: no such file; pass the server's settings file with --prefs PATH")]
    Missing { path: String },
    /// None of the usual places holds a settings file.
    #[error(
        "no {server} settings file found (looked in: {}); pass its path with --prefs PATH",
        .looked.join(", ")
    )]
    NotFound { server: String, looked: Vec<String> },
    #[error("{path}: permission denied; run with sudo, or make the file readable by this user")]
    PermissionDenied { path: String },
    /// Any other I/O failure (a directory, a device error).
    #[error("{path}: cannot read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: larger than {cap} bytes, too big for a settings file")]
    TooLarge { path: String, cap: usize },
    #[error("{path}: empty file; expected {expected}")]
    Empty { path: String, expected: String },
    /// Not well-formed: `file:line:column` when the position is known.
    #[error("{path}{}: malformed {format}: {detail}", position(*.line, *.column))]
    Malformed {
        path: String,
        format: String,
        line: Option<usize>,
        column: Option<usize>,
        detail: String,
    },
    /// One of the server's settings files, but not the one expected at that place (a system.xml named
    /// network.xml).
    #[error("{path}: holds a {found}, where a {expected} belongs")]
    WrongFile {
        path: String,
        found: String,
        expected: String,
    },
    /// Well-formed, but some other kind of file.
    #[error("{path}: not a {server} settings file: {found}; expected {expected}")]
    NotSettings {
        path: String,
        server: String,
        found: String,
        expected: String,
    },
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

/// Reads the settings file at `path` and, for Jellyfin, the file beside it that completes it (see
/// [`read_merged`]). Here a file beside that exists but cannot be read is an error, naming that file: a caller
/// that re-reads settings (`watch`) then keeps the ones it had rather than lose half of them. [`read_merged`]
/// makes it a warning instead.
pub fn read(path: &Path, kind: ServerKind) -> Result<Settings, SettingsError> {
    let main = read_one(path, kind.clone())?;
    Ok(match locate::read_beside(&main, path, kind)? {
        Some(other) => locate::merge(main, other),
        None => main,
    })
}

/// Reads the one settings file at `path`. The format is told by content: a binary plist (`bplist`), an XML
/// plist (root `<plist>`), else the kind's own XML.
pub fn read_one(path: &Path, kind: ServerKind) -> Result<Settings, SettingsError> {
    let label = path.display().to_string();
    let mut bytes = read_capped(path, &label)?;
    let result = parse_bytes(&label, &bytes, &kind);
    // The buffer held the token: clear it before it goes back to the allocator.
    bytes.fill(0);
    std::hint::black_box(&bytes);
    result
}

/// Parses a settings file already in memory, telling the format by content (as [`read`] does).
pub fn parse_bytes(
    label: &str,
    bytes: &[u8],
    kind: &ServerKind,
) -> Result<Settings, SettingsError> {
    if bytes.starts_with(b"bplist") || root_is_plist(bytes) {
        if *kind == ServerKind::Plex {
            return plist::parse_plist(label, bytes);
        }
        return Err(SettingsError::NotSettings {
            path: clean(label),
            server: kind.name().to_string(),
            found: "a property list (the macOS Plex format)".to_string(),
            expected: kind.expected().to_string(),
        });
    }
    match kind {
        ServerKind::Plex => parse_plex_xml(label, bytes),
        ServerKind::Jellyfin | ServerKind::Emby => parse_system_xml(label, bytes, kind.clone()),
    }
}

/// Parses a Plex macOS property list (binary or XML), a dictionary of the `Preferences.xml` keys.
pub fn parse_plist(label: &str, bytes: &[u8]) -> Result<Settings, SettingsError> {
    plist::parse_plist(label, bytes)
}

/// The listing `telltale prefs` prints: where from, signed in or not, then each kept setting, sorted.
pub fn describe(s: &Settings) -> String {
    let mut out = String::new();
    let files: Vec<String> = s
        .files()
        .iter()
        .map(|(path, format)| format!("{} ({})", clean(path), clean(format)))
        .collect();
    let _ = writeln!(out, "settings: {}", files.join(" and "));
    if s.format != "Preferences.xml" && s.format != "plist" {
        let _ = writeln!(out, "signed in: not recorded in {}", clean(&s.format));
    } else {
        let answer = if s.signed_in { "yes" } else { "no" };
        let _ = writeln!(out, "signed in: {answer}");
    }
    if s.values.is_empty() {
        out.push_str(
            "none of the settings telltale reads are set (the server uses its defaults)\n",
        );
        return out;
    }
    let width = s
        .values
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    for (name, value) in &s.values {
        // Values are escaped when stored; escaping again here guards a hand-built Settings.
        let shown = if value.is_empty() {
            "\"\"".to_string()
        } else {
            clean(value)
        };
        let _ = writeln!(out, "  {:<width$} = {}", clean(name), shown);
    }
    out
}

/// Reads at most [`MAX_FILE_BYTES`] (plus one byte, to tell a bigger file).
fn read_capped(path: &Path, label: &str) -> Result<Vec<u8>, SettingsError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(label, &e))?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_FILE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(label, &e))?;
    check_size(label, bytes.len())?;
    Ok(bytes)
}

fn check_size(label: &str, len: usize) -> Result<(), SettingsError> {
    if len > MAX_FILE_BYTES {
        return Err(SettingsError::TooLarge {
            path: clean(label),
            cap: MAX_FILE_BYTES,
        });
    }
    Ok(())
}

fn io_error(label: &str, e: &std::io::Error) -> SettingsError {
    let path = clean(label);
    match e.kind() {
        std::io::ErrorKind::NotFound => SettingsError::Missing { path },
        std::io::ErrorKind::PermissionDenied => SettingsError::PermissionDenied { path },
        _ => SettingsError::Unreadable {
            path,
            reason: clean(&e.to_string()),
        },
    }
}

/// The text of an XML settings file: cap checked, UTF-8 BOM dropped, UTF-8 checked, and not blank.
/// Returns the text and whether a BOM was dropped (for columns on line 1).
fn xml_text<'a>(
    label: &str,
    bytes: &'a [u8],
    format: &str,
    kind: &ServerKind,
) -> Result<(&'a str, bool), SettingsError> {
    check_size(label, bytes.len())?;
    let (body, bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let text = std::str::from_utf8(body).map_err(|e| {
        let (line, column) = line_column(body, e.valid_up_to(), bom);
        SettingsError::Malformed {
            path: clean(label),
            format: format.to_string(),
            line: Some(line),
            column: Some(column),
            detail: "not UTF-8 text (binary data, or another encoding); expected an XML document"
                .to_string(),
        }
    })?;
    if text.trim().is_empty() {
        return Err(SettingsError::Empty {
            path: clean(label),
            expected: kind.expected().to_string(),
        });
    }
    Ok((text, bom))
}

/// 1-based line and column (in characters) of byte `offset` in `text`. Valid UTF-8 up to `offset` is assumed;
/// anything else only makes the column approximate.
fn line_column(text: &[u8], offset: usize, bom: bool) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let on_line = before.get(line_start..).unwrap_or_default();
    // Count characters: every byte that does not continue a UTF-8 sequence starts one.
    let mut column = 1 + on_line.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
    if bom && line == 1 {
        column += 1;
    }
    (line, column)
}

/// An XML settings file being parsed, for error messages.
struct XmlDoc<'a> {
    label: &'a str,
    format: &'a str,
    text: &'a str,
    bom: bool,
}

impl XmlDoc<'_> {
    /// A [`SettingsError::Malformed`] at byte `offset` of the text.
    fn malformed(&self, offset: u64, detail: &str) -> SettingsError {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        let (line, column) = line_column(self.text.as_bytes(), offset, self.bom);
        SettingsError::Malformed {
            path: clean(self.label),
            format: self.format.to_string(),
            line: Some(line),
            column: Some(column),
            detail: clean(detail),
        }
    }

    /// The error quick-xml reported, at the position it points to.
    fn xml_error(&self, reader: &quick_xml::Reader<&[u8]>, e: &quick_xml::Error) -> SettingsError {
        use quick_xml::Error as E;
        let detail = match e {
            E::Syntax(s) => s.to_string(),
            E::IllFormed(i) => ill_formed_detail(i),
            E::InvalidAttr(a) => attr_error_detail(a).1,
            E::Escape(_) => ESCAPE_DETAIL.to_string(),
            E::Encoding(_) => "text that is not UTF-8; expected UTF-8".to_string(),
            E::Io(io) => io.to_string(),
            E::Namespace(_) => "a namespace prefix that is not declared or not allowed".to_string(),
        };
        self.malformed(reader.error_position(), &detail)
    }

    /// A bad attribute in the tag that starts (at its `<`) at byte `tag_start`.
    fn attr_error(
        &self,
        tag_start: u64,
        e: &quick_xml::events::attributes::AttrError,
    ) -> SettingsError {
        let (pos, detail) = attr_error_detail(e);
        // Attribute positions count from the byte after the tag's `<`.
        let pos = u64::try_from(pos).unwrap_or(0);
        self.malformed(tag_start.saturating_add(1).saturating_add(pos), &detail)
    }
}

/// quick-xml's wording, except that a name is quoted only when it is a plain XML name ([`plain_name`]): the
/// parser's "name" runs to the first space or `>`, so in a mangled file it can hold text, the token included
/// (`</PlexOnlineToken="…">`).
fn ill_formed_detail(i: &quick_xml::errors::IllFormedError) -> String {
    use quick_xml::errors::IllFormedError as I;
    match i {
        I::MissingDeclVersion(Some(attr)) if !plain_name(attr) => {
            "an XML declaration must start with `version` attribute".to_string()
        }
        I::MissingEndTag(tag) if !plain_name(tag) => {
            "start tag not closed before end of input".to_string()
        }
        I::UnmatchedEndTag(tag) if !plain_name(tag) => {
            "a close tag that does not match any open tag".to_string()
        }
        I::MismatchedEndTag { expected, found } if !plain_name(expected) || !plain_name(found) => {
            "a close tag that does not match the open tag".to_string()
        }
        other => other.to_string(),
    }
}

/// Whether `name` is a plain XML name (a letter, then letters, digits, `_`, `-`, `.`, `:`; at most 64), which
/// may be quoted in a message.
fn plain_name(name: &str) -> bool {
    name.chars().count() <= 64
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

const ESCAPE_DETAIL: &str = "an unknown entity or a stray '&'; expected &amp; &lt; &gt; &quot; &apos; or a character reference";

fn attr_error_detail(e: &quick_xml::events::attributes::AttrError) -> (usize, String) {
    use quick_xml::events::attributes::AttrError as A;
    match e {
        A::ExpectedEq(p) => (*p, "an attribute name not followed by '='".to_string()),
        A::ExpectedValue(p) => (*p, "'=' not followed by a value".to_string()),
        A::UnquotedValue(p) => (*p, "an attribute value without quotes".to_string()),
        A::ExpectedQuote(p, q) => (
            *p,
            format!(
                "an attribute value with no closing quote; expected {}",
                char::from(*q)
            ),
        ),
        A::Duplicated(p, _) => (*p, "the same attribute twice".to_string()),
    }
}

/// Whether the document's root element is `<plist>` (an XML property list). Errors count as no.
fn root_is_plist(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The root comes after the declaration and the DOCTYPE: the first KiB is plenty, and a cut in the middle
    // of a multi-byte character only loses that character.
    let head = body.get(..1024).unwrap_or(body);
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => head
            .get(..e.valid_up_to())
            .and_then(|h| std::str::from_utf8(h).ok())
            .unwrap_or_default(),
    };
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                return e.name().as_ref() == "plist";
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Describes a root element that is not the one expected, naming the file it looks like.
fn found_root(name: &str) -> String {
    let hint = match name {
        "Preferences" => " (a Plex Preferences.xml)",
        "ServerConfiguration" => " (a Jellyfin or Emby system.xml)",
        "NetworkConfiguration" => " (a Jellyfin network.xml)",
        "plist" => " (a property list)",
        _ => "",
    };
    // The parser's "name" runs to the first space, so a mangled file can put text (the token:
    // `<PlexOnlineToken="…">`) in it; only a plain XML name is quoted.
    if !plain_name(name) {
        return "the root element's name is not a plain XML name".to_string();
    }
    format!("the root element is <{}>{hint}", clean(name))
}

/// A value safe to print: control characters and bidirectional-formatting characters become `\u{…}`.
pub(crate) fn clean(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || c == '\u{FEFF}'
}
