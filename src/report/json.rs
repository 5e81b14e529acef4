//! The JSON report (`telltale.report/1`, documented in docs/report.md): the report
//! model serialised, pretty-printed, keys in a fixed order.

use super::Report;
use std::io::{self, Write};

/// Writes the report as it is serialised, never holding the whole text: a report of a
/// million flows is over a gigabyte of JSON. The bytes are exactly [`render`]'s.
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let mut out = EscapeInvisible {
        out: w,
        pending: Vec::with_capacity(CHUNK + 1024),
    };
    serde_json::to_writer_pretty(&mut out, report).map_err(io::Error::other)?;
    out.pending.push(b'\n');
    out.pass_on(true)
}

/// How much serialised text is gathered before it is escaped and passed on.
const CHUNK: usize = 64 << 10;

/// Escapes what [`escape_invisible`] escapes, on the way through. serde_json writes in small
/// pieces (a key, a quote, an indent); they are gathered into chunks, and a chunk with no
/// byte at or above DEL (nearly all of them) is passed on untouched.
struct EscapeInvisible<'a> {
    out: &'a mut dyn Write,
    pending: Vec<u8>,
}

impl EscapeInvisible<'_> {
    /// Passes on the gathered text; all of it at the end, else up to the last whole character.
    fn pass_on(&mut self, at_end: bool) -> io::Result<()> {
        let escape = may_need_escaping(&self.pending);
        let cut = if at_end || !escape {
            self.pending.len()
        } else {
            whole_characters(&self.pending)
        };
        let (text, _) = self.pending.split_at(cut);
        if escape {
            let text = String::from_utf8_lossy(text).into_owned();
            self.out.write_all(escape_invisible(text).as_bytes())?;
        } else {
            self.out.write_all(text)?;
        }
        self.pending.drain(..cut);
        Ok(())
    }
}

/// Whether `bytes` hold DEL or anything beyond ASCII (without stopping at the first: the
/// check runs over whole words).
fn may_need_escaping(bytes: &[u8]) -> bool {
    bytes
        .chunks(64)
        .any(|c| c.iter().fold(0u8, |acc, &b| acc | b | b.wrapping_add(1)) & 0x80 != 0)
}

/// The length of the longest prefix of `bytes` that ends at a character boundary (serde_json
/// writes valid UTF-8, so only the last character can be incomplete).
fn whole_characters(bytes: &[u8]) -> usize {
    let mut cut = bytes.len();
    // step back over continuation bytes to the start of the last character
    while cut > 0 && bytes.len() - cut < 4 {
        match bytes.get(cut - 1) {
            Some(&b) if b & 0xc0 == 0x80 => cut -= 1,
            _ => break,
        }
    }
    let Some(&lead) = cut.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return bytes.len();
    };
    let needed = match lead {
        0x00..=0x7f => return bytes.len(),
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    if bytes.len() - (cut - 1) >= needed {
        bytes.len()
    } else {
        cut - 1
    }
}

impl Write for EscapeInvisible<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    /// What serde_json calls for every piece (the default loops over `write`).
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.pass_on(false)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
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
    let raw = |c: char| c >= '\u{7f}' && crate::text::is_dangerous(c);
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
    fn a_character_cut_by_a_chunk_boundary_waits_for_its_last_bytes() {
        let text = "ab\u{202e}\u{e9}";
        let bytes = text.as_bytes();
        // every prefix is cut back to a character boundary, never into one
        for n in 0..=bytes.len() {
            let cut = super::whole_characters(&bytes[..n]);
            assert!(cut <= n);
            assert!(text.is_char_boundary(cut), "prefix {n}: cut {cut}");
            assert!(
                n - cut < 3,
                "prefix {n}: cut {cut} holds back a whole character"
            );
        }
        assert!(!super::may_need_escaping(b"plain ascii, even ~ at the top"));
        assert!(super::may_need_escaping(b"del \x7f"));
        assert!(super::may_need_escaping("\u{e9}".as_bytes()));
    }

    #[test]
    fn a_long_report_escapes_names_that_straddle_chunks() {
        // names of every length around the chunk size put the bidi character on each boundary
        let mut report = crate::audit::demo_report_for_tests();
        for i in 0..40 {
            report.warnings.push(format!(
                "{}\u{202e}{}",
                "x".repeat(1637 * i % 4093),
                "\u{e9}".repeat(i)
            ));
        }
        report.warnings.push("y".repeat(super::CHUNK * 2 + 3));
        let mut streamed = Vec::new();
        super::write(&report, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(streamed, super::render(&report));
        assert!(!streamed.contains('\u{202e}'));
    }

    #[test]
    fn the_streamed_report_is_byte_for_byte_the_rendered_one() {
        let mut report = crate::audit::demo_report_for_tests();
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

    #[test]
    fn the_summary_counts_flagged_flows_by_class_with_every_class_present() {
        use crate::rules::verdict::VerdictClass;
        let count = |v: &serde_json::Value, c: VerdictClass| v[c.as_str()].as_u64();
        let v: serde_json::Value =
            serde_json::from_str(&super::render(&crate::report::testing::four_classes())).unwrap();
        let by = &v["summary"]["flagged_by_class"];
        assert_eq!(count(by, VerdictClass::Collection), Some(2));
        assert_eq!(count(by, VerdictClass::VendorUndeclared), Some(1));
        assert_eq!(count(by, VerdictClass::ThirdParty), Some(1));
        assert_eq!(count(by, VerdictClass::CannotJudge), Some(1));
        // every class is there, those with no flow as 0, and nothing else
        for c in VerdictClass::ALL {
            assert!(count(by, c).is_some(), "{} missing from {by}", c.as_str());
        }
        assert_eq!(
            by.as_object().map(|o| o.len()),
            Some(VerdictClass::ALL.len())
        );
        assert_eq!(count(by, VerdictClass::OverBudget), Some(0));
        // the flows' own verdicts say the same, one by one
        let class_of = |id: u64| {
            v["flows"]
                .as_array()
                .and_then(|fs| fs.iter().find(|f| f["id"] == id))
                .map(|f| f["verdict"]["class"].clone())
        };
        assert_eq!(class_of(15), Some("vendor_undeclared".into()));
        assert_eq!(class_of(41), Some("cannot_judge".into()));
        // a declared flow has no class at all, not a null one
        assert_eq!(class_of(9), Some(serde_json::Value::Null));
        let text = super::render(&crate::report::testing::four_classes());
        assert!(!text.contains("\"class\": null"));
        // nothing is allowed while the owner has opted out: all zeros, keys still present
        let allowed = &v["summary"]["allowed_by_class"];
        assert!(
            VerdictClass::ALL
                .iter()
                .all(|c| count(allowed, *c) == Some(0))
        );
        // the existing totals are untouched
        assert_eq!(v["summary"]["verdicts"]["flagged"]["flows"], 5);
    }
}
