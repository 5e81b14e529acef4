//! Colours, glyphs and the small text formats every screen shares. With `NO_COLOR` the
//! theme gives no colour at all, only bold, dim and reversed text, so the verdict glyphs
//! (`✗ flagged`, `✓ declared`, `○ allowed`, `· local`) carry the meaning alone.

use crate::report::model::FlowReport;
use crate::rules::verdict::VerdictKind;
use crate::text::neutralise;
use crate::time::Timestamp;
use crate::tui::filter::app_name;
use ratatui::style::{Color, Modifier, Style};
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(no_color: bool) -> Theme {
        Theme { color: !no_color }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn plain(&self) -> Style {
        Style::new()
    }

    pub fn verdict(&self, k: VerdictKind) -> Style {
        match k {
            VerdictKind::Flagged => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            VerdictKind::Declared => self.fg(Color::Yellow),
            VerdictKind::Allowed => self.fg(Color::Cyan),
            VerdictKind::Local => self.fg(Color::Green),
        }
    }

    /// Labels and secondary text.
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Something needs attention (drops, a paused display).
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Something is wrong (a capture error, a bad filter): reversed so it shows without colour.
    pub fn alarm(&self) -> Style {
        self.fg(Color::Red)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn bar(&self, k: VerdictKind) -> Style {
        self.verdict(k).remove_modifier(Modifier::BOLD)
    }

    pub fn sparkline(&self) -> Style {
        self.fg(Color::Cyan)
    }
}

pub fn glyph(k: VerdictKind) -> &'static str {
    match k {
        VerdictKind::Flagged => "✗",
        VerdictKind::Declared => "✓",
        VerdictKind::Allowed => "○",
        VerdictKind::Local => "·",
    }
}

/// `✗ flagged`, `✓ declared`, `○ allowed`, `· local`.
pub fn verdict_label(k: VerdictKind) -> String {
    format!("{} {}", glyph(k), k.as_str())
}

/// `20:04:56` (UTC, as the capture's timestamps are).
pub fn time_of_day(t: Timestamp) -> String {
    let s = t.secs().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// `20:04:56.123` (UTC).
pub fn time_of_day_ms(t: Timestamp) -> String {
    format!("{}.{:03}", time_of_day(t), t.subsec_nanos() / 1_000_000)
}

/// `2026-11-07 20:04:56 UTC`.
pub fn date_time(t: Timestamp) -> String {
    let s = t.to_string();
    let date = s.get(..10).unwrap_or("");
    format!("{date} {} UTC", time_of_day(t))
}

/// `12s`, `0.4s`, `3m`, `2h`, `4d`: a short age for table cells.
pub fn short_age(secs: f64) -> String {
    let secs = secs.max(0.0);
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else if secs < 60.0 {
        format!("{secs:.0}s")
    } else if secs < 3600.0 {
        format!("{:.0}m", (secs / 60.0).floor())
    } else if secs < 86_400.0 {
        format!("{:.0}h", (secs / 3600.0).floor())
    } else {
        format!("{:.0}d", (secs / 86_400.0).floor())
    }
}

/// The flow's best name (neutralised) and how it was learned: `SNI`, `QUIC`, `Host`, or
/// `DNS 12s` with the answer's age when the flow began; `None` for an unnamed flow.
pub fn name_and_mark(f: &FlowReport) -> Option<(String, String)> {
    let n = f.primary_name()?;
    let mut mark = n.source.mark().to_string();
    if !n.source.in_band() {
        mark.push(' ');
        mark.push_str(&short_age(f.first_seen.seconds_since(n.learned_at)));
    }
    if n.ech_outer {
        mark.push_str(" ECH");
    }
    Some((neutralise(&n.name), mark))
}

/// `192.0.2.15:443`, `[2001:db8::1]:443`.
pub fn endpoint(addr: std::net::IpAddr, port: u16) -> String {
    SocketAddr::new(addr, port).to_string()
}

/// `tcp/tls`, `udp/quic`, `udp` (application unknown).
pub fn proto_app(f: &FlowReport) -> String {
    let app = app_name(f.app);
    if app.is_empty() {
        neutralise(&f.protocol)
    } else {
        format!("{}/{app}", neutralise(&f.protocol))
    }
}

/// Cuts `s` to at most `width` characters, ending with `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

/// A horizontal bar of `width` cells at most, for `value` out of `max`, in eighths of a cell.
pub fn bar(value: u64, max: u64, width: u16) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if max == 0 || value == 0 || width == 0 {
        return String::new();
    }
    let eighths_total = u128::from(width) * 8;
    let eighths = (u128::from(value) * eighths_total / u128::from(max)).max(1);
    let full = usize::try_from(eighths / 8).unwrap_or(0);
    let part = usize::try_from(eighths % 8).unwrap_or(0);
    let mut s = "█".repeat(full);
    s.push_str(PARTS.get(part).copied().unwrap_or(""));
    s
}

/// Greedy word wrap to `width` characters; a word longer than a line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0usize;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let need = if used == 0 {
                word.len()
            } else {
                word.len().saturating_add(1)
            };
            if used.saturating_add(need) <= width {
                if used > 0 {
                    line.push(' ');
                }
                line.extend(word.iter());
                used = used.saturating_add(need);
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
                continue;
            }
            // A word longer than the line: cut it.
            let rest = word.split_off(width.min(word.len()));
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if used > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp::from_secs_nanos(1_794_081_600 + 3 * 3600 + 62, 45_000_000);
        assert_eq!(time_of_day(t), "23:01:02");
        assert_eq!(time_of_day_ms(t), "23:01:02.045");
        assert_eq!(date_time(t), "2026-11-07 23:01:02 UTC");
        assert_eq!(short_age(0.23), "0.2s");
        assert_eq!(short_age(12.4), "12s");
        assert_eq!(short_age(185.0), "3m");
        assert_eq!(short_age(7300.0), "2h");
        assert_eq!(fit("metrics.plex.tv", 8), "metrics…");
        assert_eq!(fit("plex.tv", 8), "plex.tv");
    }

    #[test]
    fn wraps_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(wrap("x abcdefgh", 4), vec!["x", "abcd", "efgh"]);
    }

    #[test]
    fn bars_scale_in_eighths() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██");
        assert_eq!(bar(1, 16, 2), "▏");
        assert_eq!(bar(1, 1_000_000, 4), "▏", "a non-zero value always shows");
        assert_eq!(bar(0, 10, 4), "");
    }
}
