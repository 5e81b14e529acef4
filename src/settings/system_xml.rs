//! Jellyfin and Emby `system.xml`: `<ServerConfiguration>` with one child element per setting, as .NET's XML
//! serializer writes it. Jellyfin 10.8 and later keep the network settings (UPnP, remote access, ports) in
//! `network.xml`, `<NetworkConfiguration>` of the same shape; it is read the same way.

use super::{ServerKind, Settings, SettingsError, XmlDoc, clean, found_root, xml_text};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, Event};
use std::collections::BTreeMap;

/// Roots accepted, with the format name each gives.
const ROOTS: &[(&str, &str)] = &[
    ("ServerConfiguration", "system.xml"),
    ("NetworkConfiguration", "network.xml"),
];

/// Settings kept: direct children of the root holding one value. `PublicPort` is the public HTTP port's name in
/// Emby and Jellyfin up to 10.8; Jellyfin 10.9 renamed it `PublicHttpPort`.
const KEPT: &[&str] = &[
    "EnableRemoteAccess",
    "PublicPort",
    "PublicHttpPort",
    "PublicHttpsPort",
    "WanDdns",
    "EnableUPnP",
    "EnableAutomaticPortMapping",
    "AutoDiscovery",
    "EnableMetrics",
    "EnableAnonymousUsageReporting",
    "QuickConnectAvailable",
];

/// The kept settings that are booleans. .NET's XML serializer (`XmlConvert.ToBoolean`) reads `1` and `0` as well
/// as `true` and `false`, so a hand-edited `1` is on for the server; it is stored as `true`, the way the server
/// writes it, so that a rule's `EnableRemoteAccess == true` means what the server means. Anything else is kept
/// as written, and matches no condition.
const BOOLEANS: &[&str] = &[
    "EnableRemoteAccess",
    "EnableUPnP",
    "EnableAutomaticPortMapping",
    "AutoDiscovery",
    "EnableMetrics",
    "EnableAnonymousUsageReporting",
    "QuickConnectAvailable",
];

/// `<PluginRepositories><RepositoryInfo><Url>…</Url><Enabled>…</Enabled></RepositoryInfo>…`
const REPOS: &str = "PluginRepositories";
const REPOS_DISABLED: &str = "PluginRepositoriesDisabled";

/// Parses the text of a Jellyfin or Emby `system.xml` (or Jellyfin `network.xml`). `label` names the file in
/// messages; `kind` only changes the wording of errors.
pub fn parse_system_xml(
    label: &str,
    text: &[u8],
    kind: ServerKind,
) -> Result<Settings, SettingsError> {
    // Until the root is read, errors name the format the file's name promises.
    let initial = if label.ends_with("network.xml") {
        "network.xml"
    } else {
        ROOTS_FORMAT_DEFAULT
    };
    let (text, bom) = xml_text(label, text, initial, &kind)?;
    let mut doc = XmlDoc {
        label,
        format: initial,
        text,
        bom,
    };
    let mut reader = Reader::from_str(text);
    let mut collected = Collected::default();
    // The names of the open elements, root first.
    let mut stack: Vec<String> = Vec::new();
    // The text of the innermost open element, when it is one whose value is kept.
    let mut capture: Option<String> = None;
    let mut root_seen = false;
    loop {
        let event_start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| doc.xml_error(&reader, &e))?;
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) if stack.is_empty() => {
                if root_seen {
                    return Err(doc.malformed(
                        event_start,
                        "a second element after the root closed; expected the end of the file",
                    ));
                }
                let name = e.name().as_ref().to_string();
                let Some((_, format)) = ROOTS.iter().find(|(root, _)| *root == name) else {
                    return Err(SettingsError::NotSettings {
                        path: clean(label),
                        server: kind.name().to_string(),
                        found: found_root(&name),
                        expected: kind.expected().to_string(),
                    });
                };
                doc.format = format;
                root_seen = true;
                if is_start {
                    stack.push(name);
                }
            }
            Event::Start(e) => {
                stack.push(e.name().as_ref().to_string());
                collected.note_repositories(&stack);
                capture = wants_text(&stack).then(String::new);
            }
            Event::Empty(e) => {
                // `<WanDdns />`: an empty value.
                stack.push(e.name().as_ref().to_string());
                collected.note_repositories(&stack);
                if wants_text(&stack) {
                    collected.finish(&stack, "");
                }
                stack.pop();
                capture = None;
            }
            Event::End(_) => {
                if let Some(value) = capture.take() {
                    collected.finish(&stack, &value);
                }
                if stack.len() == 3 && at(&stack, 1) == REPOS {
                    collected.end_repository();
                }
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(c) = capture.as_mut() {
                    c.push_str(&t.xml10_content());
                } else if stack.is_empty() && !t.trim().is_empty() {
                    return Err(doc.malformed(
                        event_start,
                        "text outside the root element; expected one <ServerConfiguration> element",
                    ));
                }
            }
            Event::CData(t) => {
                if let Some(c) = capture.as_mut() {
                    c.push_str(&t.xml10_content());
                } else if stack.is_empty() {
                    return Err(doc.malformed(event_start, "CDATA outside the root element"));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = capture.as_mut() {
                    if !push_reference(c, &r) {
                        return Err(doc.malformed(event_start, super::ESCAPE_DETAIL));
                    }
                } else if stack.is_empty() {
                    return Err(doc.malformed(event_start, "text outside the root element"));
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    // a mangled tag's "name" may hold an attribute's value (the token): only a
                    // plain XML name is quoted
                    let said = if super::plain_name(open) {
                        format!("the file ends inside <{open}>; expected </{open}>")
                    } else {
                        "the file ends inside an element whose name is not a plain XML name"
                            .to_string()
                    };
                    return Err(doc.malformed(reader.buffer_position(), &said));
                }
                if !root_seen {
                    return Err(doc.malformed(
                        reader.buffer_position(),
                        "no element; expected one <ServerConfiguration> element",
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    Ok(Settings {
        path: clean(label),
        format: doc.format.to_string(),
        values: collected.into_values(),
        signed_in: false,
    })
}

/// The format named in errors before the root is known.
const ROOTS_FORMAT_DEFAULT: &str = "system.xml";

/// Appends what a reference in text stands for: a character reference (`&#10;`; control characters are escaped
/// later, on storing) or one of the five predefined entities. False for anything else.
fn push_reference(out: &mut String, r: &BytesRef<'_>) -> bool {
    match r.resolve_char_ref() {
        Ok(Some(c)) => {
            out.push(c);
            true
        }
        Ok(None) => match resolve_predefined_entity(r.as_ref()) {
            Some(s) => {
                out.push_str(s);
                true
            }
            None => false,
        },
        Err(_) => false,
    }
}

/// The name of the open element at `depth` (0 = root), or "".
fn at(stack: &[String], depth: usize) -> &str {
    stack.get(depth).map_or("", String::as_str)
}

/// Whether the innermost open element is one whose text is kept.
fn wants_text(stack: &[String]) -> bool {
    match stack.len() {
        2 => KEPT.contains(&at(stack, 1)),
        4 => at(stack, 1) == REPOS && matches!(at(stack, 3), "Url" | "Enabled"),
        _ => false,
    }
}

#[derive(Default)]
struct Collected {
    values: BTreeMap<String, String>,
    repos_seen: bool,
    enabled: Vec<String>,
    disabled: Vec<String>,
    url: Option<String>,
    repo_enabled: Option<String>,
}

impl Collected {
    /// Stores the text of the element just closed (the innermost of `stack`).
    fn finish(&mut self, stack: &[String], text: &str) {
        let text = text.trim();
        match stack.len() {
            2 => {
                let name = at(stack, 1);
                let value = match text {
                    "1" if BOOLEANS.contains(&name) => "true",
                    "0" if BOOLEANS.contains(&name) => "false",
                    _ => text,
                };
                self.values.insert(name.to_string(), clean(value));
            }
            4 if at(stack, 3) == "Url" => self.url = Some(text.to_string()),
            4 => self.repo_enabled = Some(text.to_string()),
            _ => {}
        }
    }

    /// Notes `<PluginRepositories>` itself, so an empty list reads as "no repositories".
    fn note_repositories(&mut self, stack: &[String]) {
        if stack.len() == 2 && at(stack, 1) == REPOS {
            self.repos_seen = true;
        }
    }

    /// A `<RepositoryInfo>` closed: file its URL as enabled (the default) or disabled.
    fn end_repository(&mut self) {
        let enabled = self
            .repo_enabled
            .take()
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        if let Some(url) = self.url.take().filter(|u| !u.is_empty()) {
            if enabled {
                self.enabled.push(clean(&url));
            } else {
                self.disabled.push(clean(&url));
            }
        }
    }

    fn into_values(mut self) -> BTreeMap<String, String> {
        if self.repos_seen {
            self.values
                .insert(REPOS.to_string(), self.enabled.join(" "));
            if !self.disabled.is_empty() {
                self.values
                    .insert(REPOS_DISABLED.to_string(), self.disabled.join(" "));
            }
        }
        self.values
    }
}
