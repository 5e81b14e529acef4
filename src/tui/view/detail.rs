//! The detail pane of the selected flow: the verdict, its class (for a flow no declared
//! exception explains), why, the rule that decided it with its justification and the other
//! exceptions its host serves; both endpoints with their scope; every name with how and when
//! it was learned (a DNS answer's age and TTL); packets and bytes each way; times; TCP history
//! and state; application, ALPN and QUIC version; and a sparkline of the flow's bytes over its
//! life. Wide panes put the facts and the verdict side by side.

use super::style::{Theme, endpoint, fit, proto_app, time_of_day_ms, verdict_label, wrap};
use crate::flows::locality::Scope;
use crate::flows::{InitiatorBy, Locality};
use crate::names::NameSource;
use crate::report::model::{FlowReport, RuleUse, RulesInfo};
use crate::rules::RuleKind;
use crate::text::{bytes, duration, neutralise};
use crate::time::Timestamp;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};

/// Width of the label column (`Why`, `Names`, ...), separator included.
const LABEL: usize = 9;
/// Panes at least this tall (inside) get a sparkline this many rows high, else one row.
const SPARK_TALL_FROM: u16 = 20;
const SPARK_TALL: u16 = 3;
/// Panes at least this wide show facts and verdict side by side.
const TWO_COLUMNS: u16 = 120;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, f: &FlowReport) {
    let kind = f.verdict.kind;
    let title = Line::from(vec![
        Span::styled(format!(" Flow {} ", f.id), theme.bold()),
        Span::styled(
            format!(
                "· {} of {} · ↑↓ other flows · Esc closes ",
                app.selected.saturating_add(1),
                app.rows.len()
            ),
            theme.dim(),
        ),
    ]);
    let block = Block::bordered()
        .title(title)
        .border_style(theme.verdict(kind));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let spark_height = if inner.height >= SPARK_TALL_FROM {
        SPARK_TALL
    } else {
        1
    };
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(spark_height)]).areas(inner);
    let rules = &app.snap.rules;
    let (left, right) = split(text_area);
    let (left_lines, right_lines) = content(f, rules, theme, left, right, true);
    frame.render_widget(Paragraph::new(left_lines), left);
    if let (Some(area), Some(lines)) = (right, right_lines) {
        frame.render_widget(Paragraph::new(lines), area);
    }
    sparkline(f, theme, frame, spark_area);
}

/// The height the pane needs at `width` to show everything (borders and sparkline included).
pub fn wanted_height(app: &App, theme: &Theme, f: &FlowReport, width: u16) -> u16 {
    let inner = Rect::new(0, 0, width.saturating_sub(2), u16::MAX / 2);
    let (left, right) = split(inner);
    let (l, r) = content(f, &app.snap.rules, theme, left, right, false);
    let lines = l.len().max(r.map_or(0, |r| r.len()));
    u16::try_from(lines)
        .unwrap_or(u16::MAX)
        .saturating_add(SPARK_TALL + 2)
}

/// One column, or facts on the left and the verdict on the right when wide.
fn split(area: Rect) -> (Rect, Option<Rect>) {
    if area.width >= TWO_COLUMNS {
        let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
            .spacing(2)
            .areas(area);
        (left, Some(right))
    } else {
        (area, None)
    }
}

/// How much of the rules' text fits: all of it, one line per rule, or one line for the
/// deciding rule and one naming the other exceptions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RuleText {
    Full,
    OneLineEach,
    Ids,
}

/// The pane's text for its column areas. With `fit`, the rules' text shrinks (see
/// [`RuleText`]) until it fits the height.
fn content(
    f: &FlowReport,
    rules: &RulesInfo,
    theme: &Theme,
    left: Rect,
    right: Option<Rect>,
    fit: bool,
) -> (Vec<Line<'static>>, Option<Vec<Line<'static>>>) {
    let build = |width: u16, with_facts: bool, how: RuleText| {
        let mut lines = verdict_head(f, theme, width);
        if with_facts {
            lines.extend(facts(f, theme, width));
        }
        lines.extend(rule_lines(f, rules, theme, width, how));
        lines
    };
    let (area, with_facts) = match right {
        Some(r) => (r, false),
        None => (left, true),
    };
    let mut lines = build(area.width, with_facts, RuleText::Full);
    for how in [RuleText::OneLineEach, RuleText::Ids] {
        if !fit || lines.len() <= usize::from(area.height) {
            break;
        }
        lines = build(area.width, with_facts, how);
    }
    match right {
        Some(_) => (facts(f, theme, left.width), Some(lines)),
        None => (lines, None),
    }
}

/// The verdict line and why.
fn verdict_head(f: &FlowReport, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let kind = f.verdict.kind;
    let mut head = vec![
        Span::styled(verdict_label(kind), theme.verdict(kind)),
        Span::raw("  "),
        Span::styled(neutralise(&f.verdict.category), theme.bold()),
    ];
    if let Some(r) = &f.verdict.rule {
        head.push(Span::styled("  rule ", theme.dim()));
        head.push(Span::raw(neutralise(r)));
    }
    let mut lines = vec![Line::from(head)];
    // what kind of unexplained flow it is, before why: the first thing to tell a reader
    if let Some(c) = f.verdict.class {
        lines.extend(labelled(
            "Class",
            &format!("{} ({})", c.describe(), c.as_str()),
            theme,
            theme.bold(),
            width,
        ));
    }
    lines.extend(labelled(
        "Why",
        &neutralise(&f.verdict.reason),
        theme,
        Style::new(),
        width,
    ));
    lines
}

/// The deciding rule's justification, then each other exception the host serves.
fn rule_lines(
    f: &FlowReport,
    rules: &RulesInfo,
    theme: &Theme,
    width: u16,
    how: RuleText,
) -> Vec<Line<'static>> {
    let room = usize::from(width).saturating_sub(LABEL);
    let mut lines = Vec::new();
    let mut add = |label: &str, id: &str| {
        let text = describe_rule(id, rules.rule(id));
        let text = if how == RuleText::Full {
            text
        } else {
            fit(&text, room)
        };
        lines.extend(labelled(label, &text, theme, Style::new(), width));
    };
    if let Some(id) = &f.verdict.rule {
        add("Rule", id);
    }
    if how == RuleText::Ids && !f.verdict.also.is_empty() {
        let ids: Vec<String> = f.verdict.also.iter().map(|a| neutralise(a)).collect();
        let text = format!("{} (the Rules view has their text)", ids.join(", "));
        lines.extend(labelled(
            "Also",
            &fit(&text, room),
            theme,
            Style::new(),
            width,
        ));
    } else {
        for id in &f.verdict.also {
            add("Also", id);
        }
    }
    lines
}

fn describe_rule(id: &str, rule: Option<&RuleUse>) -> String {
    match rule {
        Some(r) => {
            let j = r.justification.trim();
            format!(
                "{} ({}, {}){}{}",
                neutralise(id),
                kind_word(r.kind),
                neutralise(&r.category),
                if j.is_empty() { "" } else { ": " },
                neutralise(j)
            )
        }
        None => format!("{} (not in the rules file)", neutralise(id)),
    }
}

pub fn kind_word(k: RuleKind) -> &'static str {
    match k {
        RuleKind::Exception => "exception",
        RuleKind::Collection => "collection",
        RuleKind::LocalOnly => "local only",
    }
}

/// Endpoints, names, traffic, times, TCP and application.
fn facts(f: &FlowReport, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let plain = Style::new();
    let initiator = match f.initiator_by {
        InitiatorBy::Syn => "its SYN",
        InitiatorBy::ServicePort => "the service port",
        InitiatorBy::FirstPacket => "the first packet",
    };
    let direction = match f.locality {
        Locality::Local => "local",
        Locality::Outbound => "outbound",
        Locality::Inbound => "inbound",
        Locality::Internet => "neither end local",
    };
    lines.extend(labelled(
        "Ends",
        &format!(
            "{} ({}) → {} ({}); {direction}; the client known by {initiator}",
            endpoint(f.client.address, f.client.port),
            scope_word(f.client.scope),
            endpoint(f.server.address, f.server.port),
            scope_word(f.server.scope),
        ),
        theme,
        plain,
        width,
    ));
    if f.names.is_empty() {
        lines.extend(labelled(
            "Names",
            "none seen on the wire",
            theme,
            theme.dim(),
            width,
        ));
    }
    for (i, n) in f.names.iter().enumerate() {
        let how = match n.source {
            NameSource::DnsAnswer => {
                let ttl = n.ttl.map_or(String::new(), |t| format!(", TTL {t} s"));
                format!(
                    "from a DNS answer {}{ttl}",
                    relative(f.first_seen, n.learned_at)
                )
            }
            NameSource::TlsSni => format!("from TLS SNI at {}", time_of_day_ms(n.learned_at)),
            NameSource::QuicSni => format!("from QUIC SNI at {}", time_of_day_ms(n.learned_at)),
            NameSource::HttpHost => {
                format!("from HTTP Host at {}", time_of_day_ms(n.learned_at))
            }
            NameSource::SessionHost => format!(
                "named by the session before STARTTLS at {}",
                time_of_day_ms(n.learned_at)
            ),
            NameSource::HttpOther => format!(
                "another host the HTTP request named (not its Host; not judged) at {}",
                time_of_day_ms(n.learned_at)
            ),
        };
        let ech = if n.ech_outer {
            " (outer name of an Encrypted Client Hello)"
        } else {
            ""
        };
        lines.extend(labelled(
            if i == 0 { "Names" } else { "" },
            &format!("{} {how}{ech}", neutralise(&n.name)),
            theme,
            plain,
            width,
        ));
    }
    lines.extend(labelled(
        "Traffic",
        &format!(
            "client→server {} pkt, {} · server→client {} pkt, {}",
            f.up.packets,
            bytes(f.up.ip_bytes),
            f.down.packets,
            bytes(f.down.ip_bytes)
        ),
        theme,
        plain,
        width,
    ));
    let tcp = f.tcp.as_ref().map_or(String::new(), |t| {
        format!("; TCP {} {:?}", neutralise(&t.history), t.state)
    });
    lines.extend(labelled(
        "Time",
        &format!(
            "{} → {} ({}), ended: {}{tcp}",
            time_of_day_ms(f.first_seen),
            time_of_day_ms(f.last_seen),
            duration(f.duration_s),
            f.ended_by.describe()
        ),
        theme,
        plain,
        width,
    ));
    let mut app = vec![proto_app(f)];
    if f.seen.client_hello {
        app.push("TLS ClientHello read".into());
    }
    if !f.seen.alpn.is_empty() {
        let alpn: Vec<String> = f.seen.alpn.iter().map(|a| neutralise(a)).collect();
        app.push(format!("ALPN {}", alpn.join(", ")));
    }
    if let Some(v) = &f.seen.quic_version {
        app.push(format!("QUIC version {}", neutralise(v)));
    }
    if let Some(v) = &f.seen.quic_keys_guessed {
        app.push(format!(
            "Initial opened with version {}'s keys (tried in turn; the tag verified)",
            neutralise(v)
        ));
    }
    if f.seen.quic_undecryptable > 0 {
        app.push(format!(
            "{} QUIC Initials unreadable",
            f.seen.quic_undecryptable
        ));
    }
    lines.extend(labelled("App", &app.join(" · "), theme, plain, width));
    if let Some(a) = &f.process {
        lines.extend(labelled("Process", &process_line(a), theme, plain, width));
    }
    if f.new_destination {
        lines.extend(labelled(
            "New",
            "the baseline report never saw this destination",
            theme,
            theme.bold(),
            width,
        ));
    }
    lines
}

/// `Plex Media Server (docker: plex), pid 4242, /usr/lib/plexmediaserver/Plex Media Server; by its socket`
pub fn process_line(a: &crate::attrib::Attribution) -> String {
    let p = &a.process;
    let how = match a.how {
        crate::attrib::How::Event => "found by the kernel's event for the flow's own socket",
        crate::attrib::How::Socket => "found by the flow's own socket",
        crate::attrib::How::Listener => {
            "a guess: the flow's socket was gone, the process listening on its port"
        }
    };
    let exe = p
        .exe
        .as_deref()
        .map(|e| format!(", {}", neutralise(e)))
        .unwrap_or_default();
    format!("{}, pid {}{exe}; {how}", neutralise(&p.label()), p.pid)
}

/// `0.2 s before the flow began`, `3 s after the flow began`.
fn relative(flow_start: Timestamp, at: Timestamp) -> String {
    let d = flow_start.seconds_since(at);
    if d >= 0.0 {
        format!("{} before the flow began", duration(d))
    } else {
        format!("{} after the flow began", duration(-d))
    }
}

fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Loopback => "loopback",
        Scope::Private => "private",
        Scope::Cgnat => "carrier-grade NAT",
        Scope::LinkLocal => "link-local",
        Scope::UniqueLocal => "unique local",
        Scope::Multicast => "multicast",
        Scope::Broadcast => "broadcast",
        Scope::Unspecified => "unspecified",
        Scope::Owner => "owner's network",
        Scope::Internet => "internet",
    }
}

/// A label in its column and `text` wrapped at word boundaries into the rest of the
/// width, continuation lines indented under the text.
fn labelled(
    label: &str,
    text: &str,
    theme: &Theme,
    style: Style,
    width: u16,
) -> Vec<Line<'static>> {
    let avail = usize::from(width).saturating_sub(LABEL).max(10);
    wrap(text, avail)
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let label = if i == 0 { label } else { "" };
            Line::from(vec![
                Span::styled(format!("{label:<LABEL$}"), theme.dim()),
                Span::styled(chunk, style),
            ])
        })
        .collect()
}

/// The flow's bytes over its life: a label, the bars, and what a bar covers.
fn sparkline(f: &FlowReport, theme: &Theme, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let data: Vec<u64> = f.timeline.used().iter().map(|&b| u64::from(b)).collect();
    let peak = data.iter().copied().max().unwrap_or(0);
    let bar_secs = f.timeline.width_ns as f64 / Timestamp::NANOS_PER_SEC as f64;
    let note = format!(" {} per bar, peak {}", duration(bar_secs), bytes(peak));
    let label_w = u16::try_from(LABEL).unwrap_or(9);
    let bars_w = u16::try_from(data.len()).unwrap_or(0).max(1);
    let [label, bars, rest] = Layout::horizontal([
        Constraint::Length(label_w),
        Constraint::Length(bars_w),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Span::styled("Bytes", theme.dim())), label);
    frame.render_widget(
        Sparkline::default().data(data).style(theme.sparkline()),
        bars,
    );
    let note_area = Rect {
        y: rest.bottom().saturating_sub(1),
        height: rest.height.min(1),
        ..rest
    };
    frame.render_widget(Paragraph::new(Span::styled(note, theme.dim())), note_area);
}
