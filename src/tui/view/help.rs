//! The help overlay (`?` or F1): every key, the filter language and the verdict glyphs,
//! in a box over the middle of the screen. Any key closes it.

use super::style::{Theme, glyph};
use crate::tui::tally::KINDS;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

const KEYS: [(&str, &str); 13] = [
    (
        "↑ ↓  j k",
        "move the selection (in Summary and Rules: scroll)",
    ),
    ("PgUp PgDn", "move a page"),
    ("Home End  g G", "first / last row"),
    ("Enter", "open or close the selected flow's detail"),
    ("Esc", "close the detail; cancel the filter line"),
    (
        "Tab  Shift-Tab",
        "next / previous view: Flows, Flagged, Summary, Rules",
    ),
    ("/", "filter (Enter applies, Esc cancels, empty clears)"),
    ("s", "sort: last seen, bytes out, name, verdict"),
    ("p", "pause the display (the capture goes on)"),
    ("e", "export the report of the audit so far"),
    ("q  Ctrl-C", "quit"),
    ("? F1", "this help"),
    ("mouse", "wheel scrolls, click selects a row"),
];

const FILTER: [&str; 5] = [
    "Filter words are AND-ed: host:NAME  verdict:flagged|declared|allowed|local",
    "class:collection|vendor_undeclared|third_party|cannot_judge|…  (or a prefix)",
    "port:443  proto:tcp|udp|quic|tls|dns|…  cat:TEXT  rule:ID  ip:192.0.2",
    "A bare word matches a name, or the address of an unnamed flow.",
    "Times are UTC; `via` is how the name was learned (DNS with the answer's age).",
];

pub fn draw(theme: &Theme, frame: &mut Frame, screen: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<15}"), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.extend(FILTER.iter().map(|t| Line::raw(format!(" {t}"))));
    let mut verdicts = vec![Span::raw(" Verdicts: ")];
    for k in KINDS {
        verdicts.push(Span::styled(
            format!("{} {}", glyph(k), k.as_str()),
            theme.verdict(k),
        ));
        verdicts.push(Span::raw("  "));
    }
    lines.push(Line::from(verdicts));

    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .min(screen.height);
    let width = 80u16.min(screen.width);
    let area = Rect {
        x: screen
            .x
            .saturating_add(screen.width.saturating_sub(width) / 2),
        y: screen
            .y
            .saturating_add(screen.height.saturating_sub(height) / 2),
        width,
        height,
    };
    let block = Block::bordered()
        .title(Span::styled(" Keys · any key closes ", theme.title()))
        .border_style(theme.title());
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
