//! The bottom line (the filter being typed, else a transient message, else the main
//! keys) and the banner that stays under the header while the capture has failed.

use super::style::{Theme, wrap};
use crate::live::snapshot::CaptureState;
use crate::text::neutralise;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = if let Some(input) = &app.input {
        let shown = neutralise(input);
        let hint = "   Enter applies · Esc cancels · empty clears";
        let x = area
            .x
            .saturating_add(3)
            .saturating_add(u16::try_from(shown.chars().count()).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
        Line::from(vec![
            Span::styled(" / ", theme.key()),
            Span::raw(shown),
            Span::styled(hint, theme.dim()),
        ])
    } else if let Some(m) = &app.message {
        let style = if m.error { theme.error() } else { theme.bold() };
        Line::from(vec![
            Span::raw(" "),
            Span::styled(neutralise(&m.text), style),
        ])
    } else {
        hints(theme, area.width)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(theme: &Theme, width: u16) -> Line<'static> {
    let keys: &[(&str, &str)] = if width >= 100 {
        &[
            ("?", "help"),
            ("↑↓", "move"),
            ("Enter", "detail"),
            ("Tab", "views"),
            ("/", "filter"),
            ("s", "sort"),
            ("p", "pause"),
            ("e", "export"),
            ("q", "quit"),
        ]
    } else {
        &[
            ("?", "help"),
            ("Enter", "detail"),
            ("Tab", "views"),
            ("/", "filter"),
            ("s", "sort"),
            ("p", "pause"),
            ("e", "export"),
            ("q", "quit"),
        ]
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(*k, theme.key()));
        spans.push(Span::styled(format!(" {what}  "), theme.dim()));
    }
    Line::from(spans)
}

/// A capture error, shown prominently for as long as it lasts (wrapped, up to three
/// lines); what was read stays below.
pub fn failure_banner(app: &App, width: u16) -> Vec<Line<'static>> {
    let CaptureState::Failed(msg) = &app.snap.state else {
        return Vec::new();
    };
    let text = format!(
        "✗ capture failed: {}; the {} flows read before it stay below",
        neutralise(msg),
        app.counts.total()
    );
    wrap(&text, usize::from(width).saturating_sub(2))
        .into_iter()
        .take(3)
        .map(|l| Line::raw(format!(" {l}")))
        .collect()
}
