//! Drawing: the screen's layout, from top to bottom the header, a capture-error banner
//! when the capture failed, the tabs, the current view (the flow table with its detail
//! pane, the Summary or the Rules) and the message line; the help overlay on top. Each
//! part lives in its own file; this one only cuts the screen into areas.

mod detail;
mod flows;
mod header;
mod help;
mod rules;
mod status;
pub mod style;
mod summary;

use super::app::{App, Tab};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use style::Theme;

pub fn draw(app: &App, frame: &mut Frame) {
    let theme = Theme::new(app.options.no_color);
    let area = frame.area();
    let head = header::lines(app, &theme, area.width);
    let banner = status::failure_banner(app, area.width);
    let banner_height = u16::try_from(banner.len()).unwrap_or(0);
    let head_height = u16::try_from(head.len()).unwrap_or(u16::MAX);
    let [head_area, banner_area, tabs_area, body, message_area] = Layout::vertical([
        Constraint::Length(head_height),
        Constraint::Length(banner_height),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(head), head_area);
    frame.render_widget(Paragraph::new(banner).style(theme.alarm()), banner_area);
    header::draw_tabs(app, &theme, frame, tabs_area);
    match app.tab {
        Tab::Flows | Tab::Flagged => flows::draw(app, &theme, frame, body),
        Tab::Summary => summary::draw(app, &theme, frame, body),
        Tab::Rules => rules::draw(app, &theme, frame, body),
    }
    status::draw(app, &theme, frame, message_area);
    if app.help {
        help::draw(&theme, frame, area);
    }
}

/// Draws scrollable text in `area` from line `scroll`, recording how far it can scroll.
/// When the text does not fit, the last line says where the rest is.
fn scrolled(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>) {
    let total = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let fits = total <= area.height;
    let view_height = if fits {
        area.height
    } else {
        area.height.saturating_sub(1)
    };
    let max_scroll = total.saturating_sub(view_height);
    let scroll = app.scroll.min(max_scroll);
    let mut d = app.drawn.get();
    d.max_scroll = max_scroll;
    app.drawn.set(d);
    let [text_area, mark_area] = Layout::vertical([
        Constraint::Length(view_height),
        Constraint::Length(area.height.saturating_sub(view_height)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), text_area);
    if !fits {
        let below = max_scroll.saturating_sub(scroll);
        let text = match (scroll, below) {
            (0, _) => format!("↓ {below} more lines: j/k, PgDn "),
            (_, 0) => format!("↑ {scroll} lines above: k, PgUp, Home "),
            _ => format!("↑ {scroll} above, ↓ {below} below: j/k, PgUp/PgDn "),
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.dim())).right_aligned(),
            mark_area,
        );
    }
}
