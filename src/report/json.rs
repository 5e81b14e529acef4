//! The JSON report (`telltale.report/1`, documented in docs/report.md): the report
//! model serialised, pretty-printed, keys in a fixed order.

use super::Report;
use std::io::{self, Write};

/// Writes the report as it is serialised, never holding the whole text: a report of a
/// million flows is over a gigabyte of JSON. The bytes are exactly [`render`]'s.
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let mut out = EscapeInvisible(w);
    serde_json::to_writer_pretty(&mut out, report).map_err(io::Error::other)?;
    out.0.write_all(b"\n")
}

/// Escapes what [`escape_invisible`] escapes, on the way through. serde_json hands each
/// `write` whole characters (it splits strings only at the ASCII characters it escapes),
/// so each piece can be read as UTF-8 on its own.
struct EscapeInvisible<'a>(&'a mut dyn Write);

impl Write for EscapeInvisible<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) if buf.iter().any(|&b| b >= 0x7f) => {
                self.0
                    .write_all(escape_invisible(text.to_string()).as_bytes())?;
            }
            _ => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub fn render(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(s) => {
            let mut s = escape_invisible(s);
            s.push('\n');
            s
        }
        // Serialising plain data cannot fail; say so rather than panic if it ever does.
        Err(e) => format!(
            "{{\"schema\": \"{}\", \"error\": \"{e}\"}}\n",
            super::SCHEMA
        ),
    }
}

/// serde_json escapes C0 controls, but writes DEL, C1 controls and bidi or invisible
/// formatting characters as they are. Those can only sit inside JSON strings, where
/// `\uXXXX` is the same string: escaped, `cat report.json` cannot reorder or recolour a
/// terminal, and a parser still reads back the captured name exactly.
fn escape_invisible(s: String) -> String {
    // below DEL, serde_json has escaped what needs it, and a newline may be the layout's
    let raw = |c: char| c >= '\u{7f}' && super::text::is_dangerous(c);
    if !s.chars().any(raw) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if raw(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bidi_and_c1_characters_are_escaped_and_round_trip() {
        let raw = "evil\u{202e}gpj\u{9b}31m\u{7f}";
        let text = super::escape_invisible(serde_json::to_string(raw).unwrap_or_default());
        assert_eq!(text, "\"evil\\u202egpj\\u009b31m\\u007f\"");
        let back: String = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, raw);
    }

    #[test]
    fn the_streamed_report_is_byte_for_byte_the_rendered_one() {
        let mut report = crate::cli::audit::demo_report_for_tests();
        // a hostile name among the flows: the streamed text escapes it the same way
        if let Some(f) = report.flows.first_mut() {
            f.names.clear();
        }
        report
            .warnings
            .push("evil\u{202e}gpj\u{9b} and \u{7f}".into());
        let mut streamed = Vec::new();
        super::write(&report, &mut streamed).unwrap();
        let rendered = super::render(&report);
        assert!(rendered.contains("\\u202e"));
        assert_eq!(String::from_utf8(streamed).unwrap(), rendered);
    }
}
