//! Plex's `Preferences.xml`: one `<Preferences attr="value" …/>` element; the attributes are the settings.

use super::{ServerKind, Settings, SettingsError, XmlDoc, clean, found_root, xml_text};
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;

const FORMAT: &str = "Preferences.xml";
const ROOT: &str = "Preferences";

/// The attribute whose presence means "signed in"; its value is a secret and is never copied.
pub(super) const TOKEN: &str = "PlexOnlineToken";

/// The Plex settings kept, besides every `CinemaTrailersFrom*` (see [`is_kept`]).
const KEPT: &[&str] = &[
    "collectUsageData",
    "sendCrashReports",
    "plexMetricsUrl",
    "RelayEnabled",
    "PublishServerOnPlexOnlineKey",
    "ManualPortMappingMode",
    "ManualPortMappingPort",
    "customConnections",
    "customCertificateDomain",
    "GdmEnabled",
    "DlnaEnabled",
    "WebHooksEnabled",
    "ButlerUpdateChannel",
    "ButlerTaskUpdateServer",
    "PubSubServer",
    "PubSubServerRegion",
];

/// Whether a Plex setting is one the rules may use (names are case-sensitive).
pub(super) fn is_kept(name: &str) -> bool {
    KEPT.contains(&name)
        || name
            .strip_prefix("CinemaTrailersFrom")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Parses the text of a `Preferences.xml`. `label` names the file in messages.
pub fn parse_plex_xml(label: &str, text: &[u8]) -> Result<Settings, SettingsError> {
    let kind = ServerKind::Plex;
    let (text, bom) = xml_text(label, text, FORMAT, &kind)?;
    let doc = XmlDoc {
        label,
        format: FORMAT,
        text,
        bom,
    };
    let mut reader = Reader::from_str(text);
    let mut values = BTreeMap::new();
    let mut signed_in = false;
    let mut root_seen = false;
    // Open elements: the root, and any children a hand-edited file may hold (ignored).
    let mut depth = 0usize;
    loop {
        let event_start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| doc.xml_error(&reader, &e))?;
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) if !root_seen => {
                if e.name().as_ref() != ROOT {
                    return Err(SettingsError::NotSettings {
                        path: clean(label),
                        server: kind.name().to_string(),
                        found: found_root(e.name().as_ref()),
                        expected: kind.expected().to_string(),
                    });
                }
                read_attributes(&doc, event_start, &e, &mut values, &mut signed_in)?;
                root_seen = true;
                if is_start {
                    depth = 1;
                }
            }
            Event::Start(_) if depth > 0 => depth += 1,
            Event::Empty(_) if depth > 0 => {}
            Event::Start(_) | Event::Empty(_) => {
                return Err(doc.malformed(
                    event_start,
                    "a second element after </Preferences>; expected the end of the file",
                ));
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) if depth == 0 && !t.trim().is_empty() => {
                return Err(doc.malformed(
                    event_start,
                    "text outside the <Preferences> element; expected one <Preferences .../> element",
                ));
            }
            Event::GeneralRef(_) | Event::CData(_) if depth == 0 => {
                return Err(doc.malformed(
                    event_start,
                    "text outside the <Preferences> element; expected one <Preferences .../> element",
                ));
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(doc.malformed(
                        reader.buffer_position(),
                        "the file ends inside <Preferences>; expected </Preferences>",
                    ));
                }
                if !root_seen {
                    return Err(doc.malformed(
                        reader.buffer_position(),
                        "no element; expected one <Preferences .../> element",
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    Ok(Settings {
        path: clean(label),
        format: FORMAT.to_string(),
        values,
        signed_in,
    })
}

/// Keeps the wanted attributes of `<Preferences>`; notes whether the token is there without copying it.
fn read_attributes(
    doc: &XmlDoc<'_>,
    tag_start: u64,
    element: &BytesStart<'_>,
    values: &mut BTreeMap<String, String>,
    signed_in: &mut bool,
) -> Result<(), SettingsError> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| doc.attr_error(tag_start, &e))?;
        let key: &str = attr.key.as_ref();
        if key == TOKEN {
            // The raw value, borrowed from the parser's buffer: only its emptiness is looked at.
            *signed_in = !attr.value.trim().is_empty();
            continue;
        }
        if !is_kept(key) {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| {
                doc.malformed(tag_start, &format!("in {key}: {}", super::ESCAPE_DETAIL))
            })?;
        values.insert(key.to_string(), clean(&value));
    }
    Ok(())
}
