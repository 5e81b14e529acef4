//! Text helpers shared by the renderers: captured strings made safe for where they land,
//! and sizes, durations and counts of flows by class in words.

use crate::rules::verdict::VerdictClass;

/// The first 16 hex digits of a digest, as the reports show it in passing.
pub fn short_hash(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

/// A captured string with every control character (C0, DEL, C1), bidi override and
/// other invisible formatting character replaced by a visible `\u{..}` escape, so it can
/// reach neither a terminal nor a report raw.
pub fn neutralise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(u32::from(c),
            0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2069 | 0xfeff | 0xfff9..=0xfffb)
}

/// Standard base64 with padding (RFC 4648 §4): the HTML report's CSP hashes, the demo's OCSP GET.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |v: u32| {
        ALPHABET
            .get((v & 63) as usize)
            .map_or('=', |&b| char::from(b))
    };
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().map_or(0, u32::from);
        let b1 = chunk.get(1).copied().map_or(0, u32::from);
        let b2 = chunk.get(2).copied().map_or(0, u32::from);
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

/// For a Markdown table cell or inline text: neutralised, and Markdown and HTML
/// syntax escaped so a name cannot close a cell, open a link or inject a tag.
pub fn md(s: &str) -> String {
    let s = neutralise(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// For a Markdown code span: neutralised, with backticks (which would end the span)
/// and characters that would break a table cell replaced.
pub fn md_code(s: &str) -> String {
    neutralise(s).replace('`', "'").replace('|', "\\|")
}

/// `3 to known collection endpoints`, `1 that cannot be judged`: `n` flows of a class (or of
/// none) in words, for the summaries that count flows by class. The words say what the flows
/// went to, not what they are, so that a count of flows never reads as a count of hosts.
pub fn class_count(class: Option<VerdictClass>, n: u64) -> String {
    let one = n == 1;
    let pick = |a: &'static str, b: &'static str| if one { a } else { b };
    let words = match class {
        Some(VerdictClass::Collection) => pick(
            "to a known collection endpoint",
            "to known collection endpoints",
        ),
        Some(VerdictClass::VendorUndeclared) => pick(
            "to the vendor's own host with no declared purpose",
            "to the vendor's own hosts with no declared purpose",
        ),
        Some(VerdictClass::ThirdParty) => pick(
            "to a third party that no rule explains",
            "to third parties that no rule explains",
        ),
        Some(VerdictClass::CannotJudge) => "that cannot be judged",
        Some(VerdictClass::LocalOnly) => "of a local-only protocol on the internet",
        Some(VerdictClass::TurnedOff) => pick(
            "of a declared exception the owner's settings turn off",
            "of declared exceptions the owner's settings turn off",
        ),
        Some(VerdictClass::OverBudget) => pick(
            "of a declared exception beyond its budget",
            "of declared exceptions beyond their budgets",
        ),
        None => "with no class",
    };
    format!("{n} {words}")
}

/// The flagged flows, and the allowed ones, counted by class: one sentence for each kind that has
/// any (`Flagged, by class: 3 to known collection endpoints, ...; the other 2 are explained by
/// declared exceptions`), the first thing a reader needs after how many is which kind they are.
pub fn class_sentences(
    r: &super::model::Report,
) -> Vec<(crate::rules::verdict::VerdictKind, String)> {
    use crate::rules::verdict::VerdictKind;
    let mut out = Vec::new();
    for (kind, title) in [
        (VerdictKind::Flagged, "Flagged"),
        (
            VerdictKind::Allowed,
            "Allowed (the owner has not opted out)",
        ),
    ] {
        let rows = r.by_class(kind);
        let folded = r.folded(kind);
        if rows.is_empty() && folded == 0 {
            continue;
        }
        let explained = match r.by_exception(kind) {
            0 => String::new(),
            1 => "; the other 1 is explained by a declared exception".to_string(),
            n => format!("; the other {n} are explained by declared exceptions"),
        };
        out.push((
            kind,
            format!(
                "{title}, by class: {}{explained}.",
                class_counts(&rows, folded)
            ),
        ));
    }
    out
}

/// The counts of [`class_count`] in one sentence's list (`3 to known collection endpoints, 1
/// to a third party that no rule explains, and 2 folded into groups, which keep no class`), for
/// flows of one verdict kind: each class present, those with none, and those folded into groups.
pub fn class_counts(rows: &[super::model::ClassRow], folded: u64) -> String {
    let mut parts: Vec<String> = rows.iter().map(|r| class_count(r.class, r.flows)).collect();
    if folded > 0 {
        parts.push(format!("{folded} folded into groups, which keep no class"));
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, [first])) => format!("{first} and {last}"),
        Some((last, rest)) => format!("{}, and {last}", rest.join(", ")),
    }
}

/// `1.5 KiB`, `12 B`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// `0.4 s`, `12 s`, `3 min 5 s`, `2 h 1 min`.
pub fn duration(secs: f64) -> String {
    if secs < 0.0 {
        return format!("-{}", duration(-secs));
    }
    if secs < 10.0 {
        return format!("{secs:.1} s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_made_visible() {
        assert_eq!(neutralise("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(neutralise("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(neutralise("nul\0"), "nul\\u{0}");
        assert_eq!(neutralise("plex.tv"), "plex.tv");
    }

    #[test]
    fn markdown_cells_cannot_be_broken() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("<script>"), "&lt;script&gt;");
        assert_eq!(md("`x`"), "\\`x\\`");
        assert_eq!(md("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(md("a_b.example"), "a\\_b.example");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(200 * 1024), "200 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(duration(0.42), "0.4 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(7260.0), "2 h 1 min");
    }

    #[test]
    fn counts_by_class_read_as_a_list_of_flows() {
        use super::super::model::ClassRow;
        let row = |class, flows| ClassRow {
            class,
            flows,
            bytes_out: 0,
            ids: Vec::new(),
        };
        assert_eq!(class_counts(&[], 0), "");
        assert_eq!(
            class_counts(&[row(Some(VerdictClass::CannotJudge), 1)], 0),
            "1 that cannot be judged"
        );
        assert_eq!(
            class_counts(
                &[
                    row(Some(VerdictClass::Collection), 3),
                    row(Some(VerdictClass::VendorUndeclared), 1),
                    row(Some(VerdictClass::ThirdParty), 2),
                ],
                4
            ),
            "3 to known collection endpoints, 1 to the vendor's own host with no declared purpose, \
             2 to third parties that no rule explains, and 4 folded into groups, which keep no class"
        );
        // every class has words of its own
        let mut words: Vec<String> = VerdictClass::ALL
            .iter()
            .map(|c| class_count(Some(*c), 2))
            .chain([class_count(None, 2)])
            .collect();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), VerdictClass::ALL.len() + 1);
    }
}
