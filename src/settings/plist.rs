//! Plex on macOS keeps its settings in `~/Library/Preferences/com.plexapp.plexmediaserver.plist`: a dictionary
//! of the same keys as `Preferences.xml`, binary (`bplist00`) or XML. Read with the `plist` crate.

use super::plex_xml::{TOKEN, is_kept};
use super::{ServerKind, Settings, SettingsError, check_size, clean};
use ::plist::Value;
use std::collections::BTreeMap;

const FORMAT: &str = "plist";

/// Parses a property list in any of its encodings.
pub(super) fn parse_plist(label: &str, bytes: &[u8]) -> Result<Settings, SettingsError> {
    let kind = ServerKind::Plex;
    check_size(label, bytes.len())?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SettingsError::Empty {
            path: clean(label),
            expected: kind.expected().to_string(),
        });
    }
    let value = Value::from_reader(std::io::Cursor::new(bytes)).map_err(|e| {
        SettingsError::Malformed {
            path: clean(label),
            format: FORMAT.to_string(),
            line: None,
            column: None,
            // The plist crate's messages name the kind of fault and its byte offset, never the content.
            detail: clean(&format!(
                "{e}; expected a property list holding a dictionary"
            )),
        }
    })?;
    let Some(dict) = value.as_dictionary() else {
        return Err(SettingsError::NotSettings {
            path: clean(label),
            server: kind.name().to_string(),
            found: "the property list's top level is not a dictionary".to_string(),
            expected: kind.expected().to_string(),
        });
    };
    let mut values = BTreeMap::new();
    let mut signed_in = false;
    for (key, v) in dict {
        if key == TOKEN {
            signed_in = match v {
                Value::String(s) => !s.trim().is_empty(),
                Value::Data(d) => !d.is_empty(),
                _ => false,
            };
            continue;
        }
        if !is_kept(key) {
            continue;
        }
        if let Some(text) = scalar_text(v) {
            values.insert(key.clone(), clean(&text));
        }
    }
    Ok(Settings {
        path: clean(label),
        format: FORMAT.to_string(),
        values,
        signed_in,
    })
}

/// A scalar as `Preferences.xml` would write it: booleans as `1`/`0`, numbers in decimal. Arrays, dictionaries,
/// data and dates are not settings the rules read.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Boolean(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(r) => Some(r.to_string()),
        _ => None,
    }
}
