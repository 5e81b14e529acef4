//! The header, always on screen: where the packets come from, what the capture is doing,
//! its time, the packet rate, drops (highlighted when any), the opt-out and where it came
//! from, the rules file, the flows by verdict, and `PAUSED`. Its items fill as many lines
//! as the width needs. Below it, the tabs of the four views.

use super::style::{Theme, date_time, glyph, time_of_day};
use crate::live::snapshot::CaptureState;
use crate::text::neutralise;
use crate::tui::app::{App, Tab};
use crate::tui::tally::KINDS;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Tabs};

type Item = Vec<Span<'static>>;

/// Below this width the header is shortened.
const NARROW: u16 = 100;

/// `default: the strictest reading` in full, or only `default` when narrow.
fn opt_out_source(source: &str, narrow: bool) -> &str {
    if narrow {
        source.split(':').next().unwrap_or(source)
    } else {
        source
    }
}

pub fn lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let s = &app.snap;
    // Narrow terminals drop the program's name, the date and the opt-out's explanation.
    let narrow = width < NARROW;
    let mut first: Vec<Item> = Vec::new();
    if !narrow {
        first.push(vec![Span::styled("telltale", theme.title())]);
    }
    if app.paused {
        let mut paused = vec![Span::styled(
            " PAUSED ",
            theme
                .warn()
                .add_modifier(ratatui::style::Modifier::REVERSED),
        )];
        if app.held_count > 0 {
            let s = if app.held_count == 1 { "" } else { "s" };
            paused.push(Span::styled(
                format!(" {} update{s} held", app.held_count),
                theme.warn(),
            ));
        }
        first.push(paused);
    }
    first.push(vec![Span::raw(neutralise(&s.source.describe()))]);
    first.push(match &s.state {
        CaptureState::Starting => vec![Span::styled("starting", theme.dim())],
        CaptureState::Running => vec![Span::styled("● capturing", theme.ok())],
        CaptureState::Finished => vec![Span::styled("■ read to the end", theme.bold())],
        CaptureState::Failed(_) => vec![Span::styled(" ✗ CAPTURE FAILED ", theme.alarm())],
    });
    first.push(match s.capture_time {
        Some(t) if narrow => vec![Span::raw(format!("{} UTC", time_of_day(t)))],
        Some(t) => vec![Span::raw(date_time(t))],
        None => vec![Span::styled("no packet yet", theme.dim())],
    });

    let mut second: Vec<Item> = vec![vec![Span::raw(format!(
        "{:.0} pkt/s",
        s.packets_per_sec.max(0.0)
    ))]];
    let total = s.drops.total();
    if total == 0 {
        second.push(vec![Span::styled("no drops", theme.dim())]);
    } else {
        let mut parts = Vec::new();
        if let Some(k) = s.drops.kernel {
            parts.push(format!("kernel {k}"));
        }
        if let Some(i) = s.drops.interface {
            parts.push(format!("interface {i}"));
        }
        parts.push(format!("queue {}", s.drops.queue));
        second.push(vec![Span::styled(
            format!(" ⚠ {total} DROPPED: {} ", parts.join(", ")),
            theme.alarm(),
        )]);
    }
    second.push(vec![
        Span::styled("opt-out ", theme.dim()),
        Span::styled(s.opt_out.state.as_str(), theme.bold()),
        Span::styled(
            format!(
                " ({})",
                neutralise(opt_out_source(&s.opt_out.source, narrow))
            ),
            theme.dim(),
        ),
    ]);

    let mut counts: Item = vec![Span::styled(
        format!("{} flows:", app.counts.total()),
        theme.bold(),
    )];
    for k in KINDS {
        counts.push(Span::styled(
            format!(" {} {} {}", glyph(k), app.counts.get(k), k.as_str()),
            theme.verdict(k),
        ));
    }

    let rules = vec![
        Span::styled("rules ", theme.dim()),
        Span::raw(neutralise(&s.rules.path)),
    ];

    let mut third = vec![counts, rules];
    if let Some(note) = &s.scope_note {
        third.push(vec![Span::styled(neutralise(note), theme.dim())]);
    }
    first.extend(second);
    let mut out = fill(first, theme, width);
    out.extend(fill(third, theme, width));
    out
}

/// Lays items out left to right with a separator, starting a new line when the next one
/// would not fit.
fn fill(items: Vec<Item>, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = vec![Span::raw(" ")];
    let mut used = 1usize;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        if used > 1 && used.saturating_add(3).saturating_add(w) > width {
            lines.push(Line::from(std::mem::replace(
                &mut line,
                vec![Span::raw(" ")],
            )));
            used = 1;
        }
        if used > 1 {
            line.push(Span::styled(" │ ", theme.dim()));
            used = used.saturating_add(3);
        }
        used = used.saturating_add(w);
        line.extend(item);
    }
    if used > 1 {
        lines.push(Line::from(line));
    }
    lines
}

/// The tabs (Flows, Flagged with its count, Summary, Rules) and, on the right, the
/// filter in force and how many flows it lets through.
pub fn draw_tabs(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let flagged = app.counts.get(crate::rules::verdict::VerdictKind::Flagged);
    let titles: Vec<Line> = Tab::ALL
        .iter()
        .map(|t| {
            let text = match t {
                Tab::Flows => format!("Flows ({})", app.counts.total()),
                Tab::Flagged => format!(
                    "{} Flagged ({flagged})",
                    glyph(crate::rules::verdict::VerdictKind::Flagged)
                ),
                Tab::Summary => "Summary".to_string(),
                Tab::Rules => "Rules".to_string(),
            };
            if *t == Tab::Flagged && flagged > 0 && *t != app.tab {
                Line::styled(
                    text,
                    theme.verdict(crate::rules::verdict::VerdictKind::Flagged),
                )
            } else {
                Line::from(text)
            }
        })
        .collect();
    let selected = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    let tabs = Tabs::new(titles)
        .select(selected)
        .style(theme.plain())
        .highlight_style(
            theme
                .selected()
                .add_modifier(ratatui::style::Modifier::BOLD),
        )
        .divider(Span::styled("│", theme.dim()));
    let filter = filter_note(app, theme);
    let fw = u16::try_from(filter.width()).unwrap_or(0);
    let [left, right] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(fw.min(area.width / 2)),
    ])
    .areas(area);
    frame.render_widget(tabs, left);
    frame.render_widget(Paragraph::new(filter).right_aligned(), right);
}

fn filter_note(app: &App, theme: &Theme) -> Line<'static> {
    if app.filter.is_empty() || !app.tab.is_table() {
        return Line::default();
    }
    let of = if app.tab == Tab::Flagged {
        app.counts.get(crate::rules::verdict::VerdictKind::Flagged)
    } else {
        app.counts.total()
    };
    Line::from(vec![
        Span::styled("filter ", theme.dim()),
        Span::styled(neutralise(app.filter.text()), theme.warn()),
        Span::styled(format!(" {} of {of} ", app.rows.len()), theme.dim()),
    ])
}
