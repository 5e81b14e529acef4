//! The Summary view: the pipeline's packet counters and drops, then flows and bytes out
//! by verdict, by class (flagged and allowed flows: a collection endpoint, the vendor's host
//! with no declared purpose, a third party, a flow that cannot be judged, ...) and by
//! category, each with bars drawn in block characters (bytes out, and flows too when the
//! terminal is wide). Scrolls with the movement keys.

use super::style::{Theme, bar, fit, verdict_label};
use crate::rules::verdict::VerdictKind;
use crate::text::{bytes, neutralise};
use crate::tui::app::App;
use crate::tui::tally::Total;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

/// Terminals at least this wide get a second bar, of flows.
const TWO_BARS: u16 = 120;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut lines = counters(app, theme);
    if let Some(s) = &app.summary {
        lines.push(Line::default());
        let label_w = if area.width >= TWO_BARS { 50 } else { 30 };
        lines.push(heading("By verdict", label_w, area.width, theme));
        let rows: Vec<(VerdictKind, String, Total)> = s
            .verdicts
            .iter()
            .map(|(k, t)| (*k, verdict_label(*k), *t))
            .collect();
        lines.extend(bars(&rows, label_w, area.width, theme));
        if !s.classes.is_empty() {
            lines.push(Line::default());
            lines.push(heading("By class", label_w, area.width, theme));
            // the names `class:` takes in the filter; the detail pane says each in words
            let rows: Vec<(VerdictKind, String, Total)> = s
                .classes
                .iter()
                .map(|(k, c, t)| {
                    let name = c.map_or("no class", |c| c.as_str());
                    (*k, format!("{} {name}", super::style::glyph(*k)), *t)
                })
                .collect();
            lines.extend(bars(&rows, label_w, area.width, theme));
        }
        lines.push(Line::default());
        lines.push(heading("By category", label_w, area.width, theme));
        let rows: Vec<(VerdictKind, String, Total)> = s
            .categories
            .iter()
            .map(|(k, c, t)| {
                (
                    *k,
                    format!("{} {}", super::style::glyph(*k), neutralise(c)),
                    *t,
                )
            })
            .collect();
        lines.extend(bars(&rows, label_w, area.width, theme));
    }
    super::scrolled(app, theme, frame, area, lines);
}

fn counters(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let c = &app.snap.counters;
    let d = &app.snap.drops;
    let item = |label: &str, n: u64, bad: bool| -> Vec<Span<'static>> {
        let style = if bad && n > 0 {
            theme.error()
        } else {
            theme.bold()
        };
        vec![
            Span::styled(format!("{n}"), style),
            Span::styled(format!(" {label}   "), theme.dim()),
        ]
    };
    let mut packets = vec![Span::styled(" Packets  ", theme.title())];
    packets.extend(item("read", c.packets, false));
    packets.extend(item("decoded", c.decoded, false));
    packets.extend(item("malformed", c.malformed, true));
    packets.extend(item("unsupported", c.unsupported, true));
    packets.extend(item("truncated", c.truncated, true));
    let mut drops = vec![Span::styled(" Drops    ", theme.title())];
    drops.extend(item("total", d.total(), true));
    match d.kernel {
        Some(k) => drops.extend(item("kernel", k, true)),
        None => drops.push(Span::styled("kernel n/a   ", theme.dim())),
    }
    match d.interface {
        Some(i) => drops.extend(item("interface", i, true)),
        None => drops.push(Span::styled("interface n/a   ", theme.dim())),
    }
    drops.extend(item("queue", d.queue, true));
    vec![Line::from(packets), Line::from(drops)]
}

fn heading(title: &str, label_w: usize, width: u16, theme: &Theme) -> Line<'static> {
    let mut text = format!(
        " {title:<w$} {:>6} {:>10}",
        "flows",
        "bytes out",
        w = label_w
    );
    if width >= TWO_BARS {
        text.push_str("  flows");
        let pad = usize::from(bar_width(label_w, width)).saturating_sub(5);
        text.push_str(&" ".repeat(pad));
        text.push_str("  bytes out");
    }
    Line::styled(text, theme.title())
}

/// Width of one bar column.
fn bar_width(label_w: usize, width: u16) -> u16 {
    // " label flows bytes  " before the bars.
    let fixed = u16::try_from(label_w.saturating_add(21)).unwrap_or(u16::MAX);
    let room = width.saturating_sub(fixed).saturating_sub(1);
    if width >= TWO_BARS {
        (room.saturating_sub(2) / 2).min(40)
    } else {
        room.min(40)
    }
}

fn bars(
    rows: &[(VerdictKind, String, Total)],
    label_w: usize,
    width: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let max_bytes = rows.iter().map(|r| r.2.bytes_out).max().unwrap_or(0);
    let max_flows = rows.iter().map(|r| r.2.flows).max().unwrap_or(0);
    let bw = bar_width(label_w, width);
    rows.iter()
        .map(|(k, label, t)| {
            let mut spans = vec![
                Span::raw(" "),
                Span::styled(
                    format!("{:<label_w$}", fit(label, label_w)),
                    theme.verdict(*k),
                ),
                Span::raw(format!(" {:>6} {:>10}  ", t.flows, bytes(t.bytes_out))),
            ];
            if width >= TWO_BARS {
                spans.push(Span::styled(
                    format!("{:<w$}", bar(t.flows, max_flows, bw), w = usize::from(bw)),
                    theme.bar(*k),
                ));
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(bar(t.bytes_out, max_bytes, bw), theme.bar(*k)));
            Line::from(spans)
        })
        .collect()
}
