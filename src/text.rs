//! Text helpers shared at the bottom of the crate: captured strings made safe for where they land
//! (terminal, Markdown), base64 and hex, and sizes and durations in words. Every stage may use
//! them; they import nothing of the stages.

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

/// Lower-case hex of bytes: a digest as reports and manifests write it.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
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
}
