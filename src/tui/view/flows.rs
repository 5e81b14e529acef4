//! The flow table of the Flows and Flagged views: verdict (glyph and colour), last seen,
//! name and how it was learned, remote address, protocol, bytes out and in, category.
//! Narrow terminals drop the least needed columns. Only the rows on screen are built. With
//! the detail pane open, the table shares the area with it, or gives it all of a small one.

use super::detail;
use super::style::{Theme, endpoint, fit, name_and_mark, proto_app, time_of_day, verdict_label};
use crate::report::model::FlowReport;
use crate::rules::verdict::VerdictKind;
use crate::text::{bytes, neutralise};
use crate::tui::app::{App, Tab};
use crate::tui::sort::SortKey;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

/// Below this height the detail pane takes the whole body instead of sharing it.
const SPLIT_MIN_HEIGHT: u16 = 30;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Verdict,
    Seen,
    Name,
    Via,
    Remote,
    Proto,
    Out,
    In,
    Category,
    Process,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Verdict => "verdict",
            Col::Seen => "seen",
            Col::Name => "name",
            Col::Via => "via",
            Col::Remote => "remote",
            Col::Proto => "proto",
            Col::Out => "out",
            Col::In => "in",
            Col::Category => "category",
            Col::Process => "process",
        }
    }

    fn sorted_by(self, key: SortKey) -> bool {
        matches!(
            (self, key),
            (Col::Seen, SortKey::LastSeen)
                | (Col::Out, SortKey::BytesOut)
                | (Col::Name, SortKey::Name)
                | (Col::Verdict, SortKey::Verdict)
        )
    }

    fn right_aligned(self) -> bool {
        matches!(self, Col::Out | Col::In)
    }
}

/// The columns for a width, with their widths; `processes` adds the process column (live
/// capture on the server's host, from 100 columns).
fn columns(width: u16, processes: bool) -> Vec<(Col, Constraint)> {
    use Constraint::{Fill, Length};
    let mut cols = vec![
        (Col::Verdict, Length(10)),
        (Col::Seen, Length(8)),
        (Col::Name, Fill(1)),
        (Col::Via, Length(8)),
    ];
    if processes && width >= 100 {
        cols.push((Col::Process, Length(if width >= 140 { 24 } else { 16 })));
    }
    if width >= 140 {
        cols.push((Col::Remote, Length(24)));
    } else {
        cols.push((Col::Remote, Length(19)));
    }
    if width >= 100 {
        cols.push((Col::Proto, Length(8)));
    }
    cols.push((Col::Out, Length(8)));
    if width >= 100 {
        cols.push((Col::In, Length(8)));
    }
    if width >= 140 {
        cols.push((Col::Category, Fill(1)));
    }
    cols
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.snap.flows.is_empty() {
        waiting(app, theme, frame, area);
        return;
    }
    let shown = if app.detail {
        app.selected_flow()
    } else {
        None
    };
    match shown {
        Some(f) if area.height >= SPLIT_MIN_HEIGHT => {
            // The pane takes what it needs; the table keeps the rest, at least 8 rows.
            let wanted = detail::wanted_height(app, theme, f, area.width);
            let rows = u16::try_from(app.rows.len())
                .unwrap_or(u16::MAX)
                .saturating_add(1);
            let table_height = area.height.saturating_sub(wanted).max(rows.min(8));
            let [top, bottom] =
                Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)])
                    .areas(area);
            table(app, theme, frame, top);
            detail::draw(app, theme, frame, bottom, f);
        }
        Some(f) => detail::draw(app, theme, frame, area, f),
        None => table(app, theme, frame, area),
    }
}

fn waiting(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let source = neutralise(&app.snap.source.describe());
    let text = Text::from(vec![
        Line::default(),
        Line::styled("waiting for packets", theme.bold()),
        Line::styled(format!("from {source}"), theme.dim()),
    ]);
    let top = area.height.saturating_sub(3) / 2;
    let [_, middle] = Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(area);
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        middle,
    );
}

fn table(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let live = matches!(app.snap.source, crate::live::snapshot::Source::Live { .. });
    let cols = columns(area.width, live);
    // Resolve the widths once, so cells can be cut to them with an ellipsis.
    let widths: Vec<u16> = Layout::horizontal(cols.iter().map(|c| c.1))
        .spacing(1)
        .split(Rect::new(0, 0, area.width, 1))
        .iter()
        .map(|r| r.width)
        .collect();
    let cols: Vec<(Col, u16)> = cols
        .iter()
        .zip(&widths)
        .map(|((c, _), w)| (*c, *w))
        .collect();
    let page = area.height.saturating_sub(1).max(1);
    let mut d = app.drawn.get();
    d.table_rows = page;
    d.table_body = Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(1),
        ..area
    };
    app.drawn.set(d);

    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut title = c.title().to_string();
        if c.sorted_by(app.sort) {
            title.push_str(if app.sort == SortKey::Name {
                " ▲"
            } else {
                " ▼"
            });
        }
        let style = if c.sorted_by(app.sort) {
            theme.title().add_modifier(Modifier::UNDERLINED)
        } else {
            theme.title()
        };
        let line = Line::styled(title, style);
        Cell::from(if c.right_aligned() {
            line.right_aligned()
        } else {
            line
        })
    }));

    if app.rows.is_empty() {
        let why = if !app.filter.is_empty() {
            format!(
                "no flow matches the filter `{}` (/ to change it)",
                neutralise(app.filter.text())
            )
        } else if app.tab == Tab::Flagged {
            "✓ nothing flagged so far".to_string()
        } else {
            "no flows".to_string()
        };
        let t = Table::new(
            Vec::<Row>::new(),
            cols.iter().map(|c| Constraint::Length(c.1)),
        )
        .header(header)
        .column_spacing(1);
        frame.render_widget(t, area);
        let [_, msg] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(Line::styled(why, theme.bold())).alignment(Alignment::Center),
            msg,
        );
        return;
    }

    // The same rule as `App::ensure_visible`, for a height that changed since.
    let page = usize::from(page);
    let mut offset = app.offset;
    if app.selected < offset {
        offset = app.selected;
    } else if app.selected >= offset.saturating_add(page) {
        offset = app.selected.saturating_add(1).saturating_sub(page);
    }
    let flows = &app.snap.flows;
    let rows: Vec<Row> = app
        .rows
        .iter()
        .skip(offset)
        .take(page)
        .filter_map(|&i| flows.get(i))
        .map(|f| row(f, &cols, theme))
        .collect();
    let table = Table::new(rows, cols.iter().map(|c| Constraint::Length(c.1)))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected.saturating_sub(offset)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row(f: &FlowReport, cols: &[(Col, u16)], theme: &Theme) -> Row<'static> {
    let kind = f.verdict.kind;
    let named = name_and_mark(f);
    let remote = f.remote();
    let cells = cols.iter().map(|&(c, w)| match c {
        Col::Verdict => Cell::from(Span::styled(verdict_label(kind), theme.verdict(kind))),
        Col::Seen => Cell::from(time_of_day(f.last_seen)),
        Col::Name if f.new_destination => {
            let name = named.as_ref().map_or("unnamed", |(n, _)| n.as_str());
            Cell::from(Line::from(vec![
                Span::styled("+", theme.verdict(VerdictKind::Flagged)),
                Span::raw(fit(name, usize::from(w).saturating_sub(1))),
            ]))
        }
        Col::Name => match &named {
            Some((name, _)) => Cell::from(fit(name, usize::from(w))),
            None => Cell::from(Span::styled(
                "unnamed",
                theme.dim().add_modifier(Modifier::ITALIC),
            )),
        },
        Col::Via => match &named {
            Some((_, mark)) => Cell::from(Span::styled(mark.clone(), theme.dim())),
            None => Cell::from(Span::styled("-", theme.dim())),
        },
        Col::Remote => Cell::from(fit(&endpoint(remote.address, remote.port), usize::from(w))),
        Col::Proto => Cell::from(proto_app(f)),
        Col::Out => Cell::from(Line::from(bytes(f.bytes_out)).right_aligned()),
        Col::In => Cell::from(Line::from(bytes(f.bytes_in)).right_aligned()),
        Col::Category => Cell::from(Span::styled(
            fit(&neutralise(&f.verdict.category), usize::from(w)),
            theme.verdict(kind).remove_modifier(Modifier::BOLD),
        )),
        Col::Process => match &f.process {
            Some(a) => Cell::from(fit(&neutralise(&a.process.label()), usize::from(w))),
            None => Cell::from(Span::styled("?", theme.dim())),
        },
    });
    let r = Row::new(cells.collect::<Vec<_>>());
    if kind == VerdictKind::Local {
        r.style(theme.dim())
    } else {
        r
    }
}
