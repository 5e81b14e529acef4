//! The JSON report (`telltale.report/1`, documented in docs/report.md): the report
//! model serialised, pretty-printed, keys in a fixed order.

use super::Report;

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
}
