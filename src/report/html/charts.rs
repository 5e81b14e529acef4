//! The report's charts, drawn as inline SVG: bytes out by destination, flagged flows by class,
//! and flows over time. No script draws them, so the page reads the same with scripts off.

use super::*;

const CHART_W: f64 = 1000.0;
const LABEL_W: f64 = 300.0;
const PLOT_X: f64 = LABEL_W + 12.0;
const PLOT_W: f64 = CHART_W - PLOT_X - 140.0;

/// At most `max` characters, with an ellipsis when cut (on a character boundary).
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('\u{2026}');
        t
    }
}

pub(super) fn write_charts(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"charts\">")?;
    writeln!(o, "<h2>Charts</h2>")?;
    write_bytes_chart(o, r)?;
    write_class_chart(o, r)?;
    write_time_chart(o, r)?;
    write_history_chart(o, r)?;
    writeln!(o, "</section>")
}

/// The history's last 30 days: flows each day, the flagged ones over them, and the new
/// destinations above; only when the run was written to a history.
fn write_history_chart(o: &mut String, r: &Report) -> std::fmt::Result {
    let days = &r.history_days;
    if days.is_empty() {
        return Ok(());
    }
    writeln!(
        o,
        "<figure id=\"chart-history\"><figcaption>The history's last {} days with flows (UTC days of packet time; this run included): flows each day, flagged in red, and destinations first seen that day</figcaption>",
        days.len()
    )?;
    let max = days.iter().map(|d| d.flows).max().unwrap_or(1).max(1) as f64;
    let (top, plot_h) = (24.0, 160.0);
    let base = top + plot_h;
    let height = base + 46.0;
    let slot = (CHART_W - 60.0) / days.len() as f64;
    let bar = (slot * 0.7).clamp(4.0, 40.0);
    writeln!(
        o,
        "<svg viewBox=\"0 0 {CHART_W:.0} {height:.0}\" role=\"img\" aria-label=\"Flows and flagged flows per day over the history's last days\">"
    )?;
    writeln!(
        o,
        "<line class=\"axis\" x1=\"40\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\"/><text x=\"36\" y=\"{:.1}\" text-anchor=\"end\" class=\"muted\">{}</text>",
        CHART_W - 20.0,
        top + 4.0,
        days.iter().map(|d| d.flows).max().unwrap_or(0)
    )?;
    let label_every = days.len().div_ceil(10).max(1);
    for (i, d) in days.iter().enumerate() {
        let x = 40.0 + slot * i as f64 + (slot - bar) / 2.0;
        let h = d.flows as f64 / max * plot_h;
        let hf = d.flagged as f64 / max * plot_h;
        let tip = format!(
            "{}: {} flows, {} flagged, {} new destinations, {} out",
            d.day,
            d.flows,
            d.flagged,
            d.new_destinations,
            crate::text::bytes(d.bytes_out)
        );
        writeln!(
            o,
            "<g><title>{}</title><rect class=\"f-ctx\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"/><rect class=\"f-flagged\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hf:.1}\"/>",
            escape(&tip),
            base - h,
            base - hf
        )?;
        if d.new_destinations > 0 {
            writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">+{}</text>",
                x + bar / 2.0,
                base - h - 4.0,
                d.new_destinations
            )?;
        }
        writeln!(o, "</g>")?;
        if i % label_every == 0 {
            writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">{}</text>",
                x + bar / 2.0,
                base + 16.0,
                escape(d.day.get(5..).unwrap_or(&d.day))
            )?;
        }
    }
    writeln!(
        o,
        "<text x=\"40\" y=\"{:.1}\" class=\"muted\">day (MM-DD, UTC); +N: destinations first seen that day; `telltale history` has the figures</text>",
        base + 36.0
    )?;
    writeln!(o, "</svg></figure>")
}

fn write_legend(o: &mut String, kinds: &[VerdictKind], y: f64) -> std::fmt::Result {
    let mut x = PLOT_X;
    for k in kinds {
        writeln!(
            o,
            "<rect class=\"f-{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" rx=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            kind_class(*k),
            y - 10.0,
            x + 17.0,
            y,
            k.as_str()
        )?;
        x += 100.0;
    }
    Ok(())
}

fn write_bytes_chart(o: &mut String, r: &Report) -> std::fmt::Result {
    let mut rows: Vec<&crate::report::model::CategoryTotals> = r
        .summary
        .categories
        .iter()
        .filter(|c| c.verdict != VerdictKind::Local)
        .collect();
    rows.sort_by(|a, b| {
        b.totals
            .bytes_out
            .cmp(&a.totals.bytes_out)
            .then(a.verdict.cmp(&b.verdict))
            .then(a.category.cmp(&b.category))
    });
    writeln!(
        o,
        "<figure id=\"chart-bytes\"><figcaption>Bytes sent out of the local network, by category</figcaption>"
    )?;
    if rows.is_empty() {
        writeln!(o, "<p>Nothing left the local network.</p></figure>")?;
        return Ok(());
    }
    let max = rows
        .iter()
        .map(|c| c.totals.bytes_out)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let row_h = 24.0;
    let top = 30.0;
    let height = top + row_h * rows.len() as f64 + 8.0;
    writeln!(
        o,
        "<svg viewBox=\"0 0 {CHART_W:.0} {height:.0}\" role=\"img\" aria-label=\"Bytes sent out of the local network by category, coloured by verdict\">"
    )?;
    let mut kinds: Vec<VerdictKind> = rows.iter().map(|c| c.verdict).collect();
    kinds.sort();
    kinds.dedup();
    write_legend(o, &kinds, 16.0)?;
    for (i, c) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (c.totals.bytes_out as f64 / max * PLOT_W).max(2.0);
        let label = neutralise(&c.category);
        writeln!(
            o,
            "<g><title>{} ({}): {} flow{}, {} out</title>",
            escape(&c.category),
            c.verdict.as_str(),
            c.totals.flows,
            plural(c.totals.flows as usize),
            bytes(c.totals.bytes_out)
        )?;
        writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL_W,
            y + 15.0,
            escape(&clip(&label, 44))
        )?;
        writeln!(
            o,
            "<rect class=\"f-{}\" x=\"{PLOT_X:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"/>",
            kind_class(c.verdict),
            y + 3.0,
            row_h - 7.0
        )?;
        writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"muted\">{} &#183; {} flow{}</text></g>",
            PLOT_X + w + 6.0,
            y + 15.0,
            bytes(c.totals.bytes_out),
            c.totals.flows,
            plural(c.totals.flows as usize)
        )?;
    }
    writeln!(o, "</svg></figure>")
}

/// Flagged flows by class, as bars of flows: which kinds of flagged flow dominate, at a glance
/// (the bytes chart above is by category, which does not tell them apart).
fn write_class_chart(o: &mut String, r: &Report) -> std::fmt::Result {
    let rows = r.by_class(VerdictKind::Flagged);
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        o,
        "<figure id=\"chart-classes\"><figcaption>Flagged flows, by class</figcaption>"
    )?;
    let most = rows.iter().map(|c| c.flows).max().unwrap_or(0).max(1) as f64;
    let row_h = 24.0;
    let top = 6.0;
    let height = top + row_h * rows.len() as f64 + 8.0;
    writeln!(
        o,
        "<svg viewBox=\"0 0 {CHART_W:.0} {height:.0}\" role=\"img\" aria-label=\"Flagged flows by class\">"
    )?;
    for (i, c) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (c.flows as f64 / most * PLOT_W).max(2.0);
        let (label, meaning) = match c.class {
            Some(k) => (class_label(k), k.describe()),
            None => ("no class", "the verdict carries no class"),
        };
        writeln!(
            o,
            "<g><title>{}: {} flow{}, {} out</title>",
            escape(meaning),
            c.flows,
            plural(c.flows as usize),
            bytes(c.bytes_out)
        )?;
        writeln!(
            o,
            "<text x=\"{LABEL_W:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            y + 15.0,
            escape(label)
        )?;
        writeln!(
            o,
            "<rect class=\"f-flagged\" x=\"{PLOT_X:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"/>",
            y + 3.0,
            row_h - 7.0
        )?;
        writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"muted\">{} flow{} &#183; {}</text></g>",
            PLOT_X + w + 6.0,
            y + 15.0,
            c.flows,
            plural(c.flows as usize),
            bytes(c.bytes_out)
        )?;
    }
    writeln!(o, "</svg></figure>")
}

/// A class's name for a chart's label: short, in words (its meaning is the bar's tooltip).
fn class_label(c: VerdictClass) -> &'static str {
    match c {
        VerdictClass::Collection => "collection endpoint",
        VerdictClass::VendorUndeclared => "vendor's host, undeclared",
        VerdictClass::ThirdParty => "third party",
        VerdictClass::CannotJudge => "cannot be judged",
        VerdictClass::LocalOnly => "local-only protocol",
        VerdictClass::TurnedOff => "turned off by the settings",
        VerdictClass::OverBudget => "beyond its budget",
    }
}

/// A step between time ticks that gives at most eight of them over `span` seconds.
pub(super) fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 30] = [
        0.001,
        0.002,
        0.005,
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.5,
        1.0,
        2.0,
        5.0,
        10.0,
        15.0,
        30.0,
        60.0,
        120.0,
        300.0,
        600.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        10800.0,
        21600.0,
        43200.0,
        86400.0,
        172_800.0,
        604_800.0,
        2_592_000.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 8.0)
        .unwrap_or(span / 8.0)
}

/// `0 s`, `30 s`, `2 min`, `1 min 30 s`, `1 h`, `0.25 s`.
pub(super) fn tick_label(t: f64) -> String {
    if t < 1.0 && t > 0.0 {
        let s = format!("{t:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s} s");
    }
    let s = t.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ if s.is_multiple_of(3600) => format!("{} h", s / 3600),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn write_time_chart(o: &mut String, r: &Report) -> std::fmt::Result {
    let flagged: Vec<&FlowReport> = r
        .flows
        .iter()
        .filter(|f| f.verdict.kind == VerdictKind::Flagged)
        .collect();
    writeln!(
        o,
        "<figure id=\"chart-time\"><figcaption>Flagged flows over the capture's time</figcaption>"
    )?;
    let start = r
        .capture_start
        .or_else(|| r.flows.iter().map(|f| f.first_seen).min());
    let end = r
        .capture_end
        .or_else(|| r.flows.iter().map(|f| f.last_seen).max());
    let (Some(start), Some(end)) = (start, end) else {
        writeln!(o, "<p>The capture held no packets.</p></figure>")?;
        return Ok(());
    };
    if flagged.is_empty() {
        writeln!(o, "<p>Nothing was flagged.</p></figure>")?;
        return Ok(());
    }
    let span = end.seconds_since(start).max(1e-3);
    let x = |t: Timestamp| PLOT_X + (t.seconds_since(start) / span).clamp(0.0, 1.0) * PLOT_W;
    let lanes = flagged.len() <= 30;
    let row_h = 22.0;
    let top = 10.0;
    // the context lane (every other flow that left), then one lane per flagged flow, or a histogram
    let body_h = if lanes {
        row_h * (flagged.len() + 1) as f64
    } else {
        row_h + 120.0
    };
    let axis_y = top + body_h + 6.0;
    let height = axis_y + 40.0;
    writeln!(
        o,
        "<svg viewBox=\"0 0 {CHART_W:.0} {height:.0}\" role=\"img\" aria-label=\"When each flagged flow happened during the capture\">"
    )?;
    // time grid and axis
    let step = tick_step(span);
    let mut t = 0.0;
    let mut guard = 0;
    while t <= span + 1e-9 && guard < 64 {
        let tx = PLOT_X + t / span * PLOT_W;
        writeln!(
            o,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{top:.1}\" x2=\"{tx:.1}\" y2=\"{axis_y:.1}\"/><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">{}</text>",
            axis_y + 15.0,
            tick_label(t)
        )?;
        t += step;
        guard += 1;
    }
    writeln!(
        o,
        "<line class=\"axis\" x1=\"{PLOT_X:.1}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\"/>",
        PLOT_X + PLOT_W
    )?;
    writeln!(
        o,
        "<text x=\"{PLOT_X:.1}\" y=\"{:.1}\" class=\"muted\">time since the first packet ({start})</text>",
        axis_y + 33.0
    )?;

    // context: the other flows that left, as thin ticks
    writeln!(
        o,
        "<text x=\"{LABEL_W:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"muted\">other flows that left (when each began)</text>",
        top + 15.0
    )?;
    for f in r
        .flows
        .iter()
        .filter(|f| !matches!(f.verdict.kind, VerdictKind::Flagged | VerdictKind::Local))
    {
        writeln!(
            o,
            "<rect class=\"f-{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"2\" height=\"14\" opacity=\"0.7\"><title>flow {}: {} ({}), began {}</title></rect>",
            kind_class(f.verdict.kind),
            x(f.first_seen) - 1.0,
            top + 4.0,
            f.id,
            flow_title(f),
            f.verdict.kind.as_str(),
            f.first_seen
        )?;
    }

    if lanes {
        for (i, f) in flagged.iter().enumerate() {
            let y = top + row_h * (i + 1) as f64;
            let x0 = x(f.first_seen);
            let w = (x(f.last_seen) - x0).max(0.0);
            let title = f.primary_name().map_or_else(
                || format!("unnamed {}", f.remote().address),
                |n| neutralise(&n.name),
            );
            writeln!(
                o,
                "<g><title>flow {}: {} ({}), {} out, {} to {}</title>",
                f.id,
                escape(&title),
                escape(&f.verdict.category),
                bytes(f.bytes_out),
                f.first_seen,
                f.last_seen
            )?;
            writeln!(
                o,
                "<text x=\"{LABEL_W:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text>",
                y + 15.0,
                f.id,
                escape(&clip(&title, 40))
            )?;
            writeln!(
                o,
                "<rect class=\"f-flagged\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"8\" opacity=\"0.5\"/><circle class=\"f-flagged\" cx=\"{x0:.1}\" cy=\"{:.1}\" r=\"5\"/>",
                y + 7.0,
                y + 11.0
            )?;
            writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"muted\">{}</text></g>",
                x0 + w + 9.0,
                y + 15.0,
                bytes(f.bytes_out)
            )?;
        }
    } else {
        // too many for a lane each: flagged flows started per time bin
        const BINS: usize = 60;
        let mut counts = [0u64; BINS];
        for f in &flagged {
            let frac = (f.first_seen.seconds_since(start) / span).clamp(0.0, 1.0);
            let bin = ((frac * BINS as f64) as usize).min(BINS - 1);
            if let Some(c) = counts.get_mut(bin) {
                *c += 1;
            }
        }
        let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let base = top + row_h + 120.0;
        writeln!(
            o,
            "<text x=\"{LABEL_W:.1}\" y=\"{:.1}\" text-anchor=\"end\">flagged flows begun</text><text x=\"{LABEL_W:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"muted\">(most in one bar: {most:.0})</text>",
            top + row_h + 60.0,
            top + row_h + 76.0
        )?;
        let bw = PLOT_W / BINS as f64;
        for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let h = (*c as f64 / most * 110.0).max(2.0);
            writeln!(
                o,
                "<rect class=\"f-flagged\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{c} flagged flow{}</title></rect>",
                PLOT_X + bw * i as f64 + 1.0,
                base - h,
                (bw - 2.0).max(1.0),
                plural(*c as usize)
            )?;
        }
    }
    writeln!(o, "</svg></figure>")
}
