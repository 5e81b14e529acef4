//! The HTML report: one self-contained page for people, on screen and on paper.
//!
//! Everything is inline: the style sheet, the two SVG charts and a small script that
//! makes tables sortable (the page reads the same without it). Nothing is fetched from
//! anywhere, and a Content-Security-Policy that allows only this page's own style and
//! script says so to the browser as well. Every captured string goes through [`escape`]:
//! control and bidi characters are neutralised, then HTML's five special characters are
//! replaced, so a hostile name can neither break the page nor inject into it.
//!
//! The content follows the Markdown report, in this order: the verdict with the flagged flows
//! counted by class, the consent state, the flagged flows by class and each with its class and
//! evidence, the declared exceptions, the charts (flagged flows by class among them), the
//! names revealed, the blind spots, scope and baseline, the counters, and how to
//! reproduce the audit. The same report always gives the same bytes.

mod charts;
mod style;

use super::model::{FlowReport, OptOutState, Report};
use crate::flows::Locality;
use crate::rules::verdict::{VerdictClass, VerdictKind};
use crate::text::{base64, bytes, duration, neutralise, short_hash};
use crate::time::Timestamp;
use charts::write_charts;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;
use style::{SCRIPT, STYLE};

/// Renders the report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write_page(&mut o, report);
    o
}

/// A captured string made safe for HTML text and for a double- or single-quoted
/// attribute: control and bidi characters neutralised first, then `& < > " '` escaped.
pub fn escape(s: &str) -> String {
    let s = neutralise(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The name serde gives a unit enum variant (`outbound`, `tls`), as the JSON report shows it.
pub(crate) fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `tcp/tls`, or just `udp` when the application is unknown.
pub(crate) fn proto_label(f: &FlowReport) -> String {
    let app = wire_name(&f.app);
    if app.is_empty() || app == "unknown" {
        f.protocol.clone()
    } else {
        format!("{}/{app}", f.protocol)
    }
}

/// `'sha256-...'`: the CSP source that allows exactly this inline text.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn kind_class(k: VerdictKind) -> &'static str {
    k.as_str()
}

/// `192.0.2.1:443` or `[2001:db8::1]:443`.
fn endpoint(e: &crate::report::model::Endpoint) -> String {
    match e.address {
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", e.port),
        a => format!("{a}:{}", e.port),
    }
}

fn flow_title(f: &FlowReport) -> String {
    f.primary_name().map_or_else(
        || format!("unnamed {}", f.remote().address),
        |n| escape(&n.name),
    )
}

fn write_page(o: &mut String, r: &Report) -> std::fmt::Result {
    let flagged = r.flagged();
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    );
    writeln!(o, "<!DOCTYPE html>")?;
    writeln!(o, "<html lang=\"en\">")?;
    writeln!(o, "<head>")?;
    writeln!(o, "<meta charset=\"utf-8\">")?;
    writeln!(
        o,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
    )?;
    writeln!(
        o,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(o, "<meta name=\"color-scheme\" content=\"light dark\">")?;
    writeln!(o, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(
        o,
        "<meta name=\"generator\" content=\"telltale {}\">",
        escape(r.tool.version)
    )?;
    writeln!(
        o,
        "<title>telltale audit: {}: {}</title>",
        escape(&r.rules.server),
        if flagged > 0 {
            format!("{flagged} flagged")
        } else {
            "nothing flagged".to_string()
        }
    )?;
    writeln!(o, "<style>{STYLE}</style>")?;
    writeln!(o, "</head>")?;
    writeln!(o, "<body>")?;
    write_header(o, r, flagged)?;
    write_flagged(o, r, flagged)?;
    write_declared(o, r)?;
    write_charts(o, r)?;
    write_names(o, r)?;
    write_blind_spots(o, r)?;
    write_groups(o, r)?;
    write_scope(o, r)?;
    write_counters(o, r)?;
    write_reproduce(o, r)?;
    writeln!(
        o,
        "<footer>Made by telltale {}, which sends nothing and looks nothing up: every name here was read from the capture itself.</footer>",
        escape(r.tool.version)
    )?;
    writeln!(o, "<script>{SCRIPT}</script>")?;
    writeln!(o, "</body>")?;
    writeln!(o, "</html>")
}

fn write_header(o: &mut String, r: &Report, flagged: usize) -> std::fmt::Result {
    let left = r
        .flows
        .iter()
        .filter(|f| f.verdict.kind != VerdictKind::Local)
        .count();
    writeln!(o, "<header>")?;
    writeln!(o, "<h1>telltale audit: {}</h1>", escape(&r.rules.server))?;
    if flagged > 0 {
        writeln!(
            o,
            "<p class=\"verdict bad\" id=\"verdict\">{flagged} flow{} flagged of {}</p>",
            plural(flagged),
            r.flows.len()
        )?;
    } else {
        writeln!(
            o,
            "<p class=\"verdict good\" id=\"verdict\">Nothing flagged</p>"
        )?;
    }
    let period = match (r.capture_start, r.capture_end) {
        (Some(a), Some(b)) => format!(
            "; packets from {a} to {b} ({})",
            duration(b.seconds_since(a))
        ),
        _ => String::new(),
    };
    writeln!(
        o,
        "<p class=\"sub\">{} flow{} in all, {left} left the local network{period}.</p>",
        r.flows.len(),
        plural(r.flows.len())
    )?;
    write_class_line(o, r)?;

    writeln!(o, "<dl class=\"consent\" id=\"consent\">")?;
    let (class, words) = match r.opt_out.state {
        OptOutState::On => ("on", "the owner has opted out of data sharing"),
        OptOutState::Off => ("off", "the owner has not opted out of data sharing"),
    };
    writeln!(
        o,
        "<dt>Opt-out</dt><dd><span class=\"{class}\">{}</span>: {words} <span class=\"muted\">(from {})</span></dd>",
        escape(r.opt_out.state.as_str()),
        escape(&r.opt_out.source)
    )?;
    if let Some(s) = &r.settings {
        let shown: Vec<String> = s
            .values
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", escape(k), escape(v)))
            .collect();
        // Every file read: Jellyfin's network.xml completes its system.xml.
        let files: Vec<String> = s
            .files()
            .iter()
            .map(|(path, format)| format!("<code>{}</code> ({})", escape(path), escape(format)))
            .collect();
        writeln!(
            o,
            "<dt>Server settings</dt><dd>{}: signed in: {}; {}</dd>",
            files.join(" and "),
            if s.signed_in { "yes" } else { "no" },
            shown.join(", ")
        )?;
    }
    writeln!(
        o,
        "<dt>Rules</dt><dd><code>{}</code> <span class=\"muted\">(sha256 <code>{}</code>)</span></dd>",
        escape(&r.rules.path),
        escape(short_hash(&r.rules.sha256))
    )?;
    for i in &r.inputs {
        writeln!(
            o,
            "<dt>Capture</dt><dd><code>{}</code> ({}, {} packets, {})</dd>",
            escape(&i.path),
            escape(&i.format),
            i.packets,
            bytes(i.bytes)
        )?;
    }
    if let Some(l) = &r.live {
        writeln!(
            o,
            "<dt>Live capture</dt><dd><code>{}</code>{} for {}</dd>",
            escape(&l.interface),
            l.filter
                .as_deref()
                .map(|f| format!(" (<code>{}</code>)", escape(f)))
                .unwrap_or_default(),
            duration(l.duration_s)
        )?;
    }
    writeln!(o, "</dl>")?;
    for w in &r.warnings {
        writeln!(
            o,
            "<p class=\"warn\"><strong>Warning:</strong> {}</p>",
            escape(w)
        )?;
    }
    writeln!(
        o,
        "<nav><a href=\"#flagged\">Flagged</a><a href=\"#declared\">Declared</a><a href=\"#charts\">Charts</a><a href=\"#names\">Names</a><a href=\"#blind-spots\">Blind spots</a><a href=\"#scope\">Scope</a><a href=\"#counters\">Counters</a><a href=\"#reproduce\">Reproduce</a></nav>"
    )?;
    writeln!(o, "</header>")
}

fn write_flagged(o: &mut String, r: &Report, flagged: usize) -> std::fmt::Result {
    writeln!(o, "<section id=\"flagged\">")?;
    writeln!(o, "<h2>Flagged ({flagged})</h2>")?;
    if flagged == 0 {
        writeln!(o, "<p>No flow left the local network unexplained.</p>")?;
    } else {
        write_class_table(o, r, VerdictKind::Flagged)?;
        writeln!(o, "<div class=\"flows\">")?;
        for f in r
            .flows
            .iter()
            .filter(|f| f.verdict.kind == VerdictKind::Flagged)
        {
            write_flow_card(o, f)?;
        }
        writeln!(o, "</div>")?;
    }
    writeln!(o, "</section>")
}

fn write_flow_card(o: &mut String, f: &FlowReport) -> std::fmt::Result {
    let inbound = f.locality == Locality::Inbound;
    let (out_packets, in_packets) = if inbound {
        (f.down.packets, f.up.packets)
    } else {
        (f.up.packets, f.down.packets)
    };
    writeln!(o, "<article class=\"flow\" id=\"flow-{}\">", f.id)?;
    writeln!(
        o,
        "<h3>Flow {}: {} <span class=\"tag t-flagged\">{}</span>{}{}</h3>",
        f.id,
        flow_title(f),
        escape(&f.verdict.category),
        f.verdict.class.map_or(String::new(), |c| format!(
            " <span class=\"tag t-class\">{}</span>",
            c.as_str()
        )),
        if f.new_destination {
            " <span class=\"tag t-new\">new since baseline</span>"
        } else {
            ""
        }
    )?;
    writeln!(
        o,
        "<p class=\"why\"><strong>Why:</strong> {}</p>",
        escape(&f.verdict.reason)
    )?;
    writeln!(o, "<dl class=\"facts\">")?;
    if let Some(c) = f.verdict.class {
        writeln!(
            o,
            "<dt>Class</dt><dd>{} (<code>{}</code>)</dd>",
            escape(c.describe()),
            c.as_str()
        )?;
    }
    writeln!(
        o,
        "<dt>Endpoints</dt><dd><code>{}</code> {} &#8594; {} ({})</dd>",
        escape(&proto_label(f)),
        endpoint(&f.client),
        endpoint(&f.server),
        escape(&wire_name(&f.locality))
    )?;
    writeln!(
        o,
        "<dt>Bytes</dt><dd><strong>{} out</strong> in {out_packets} packets, {} in in {in_packets} packets</dd>",
        bytes(f.bytes_out),
        bytes(f.bytes_in)
    )?;
    writeln!(
        o,
        "<dt>Time</dt><dd><span class=\"nw\">{}</span> to <span class=\"nw\">{}</span> ({})</dd>",
        f.first_seen,
        f.last_seen,
        duration(f.duration_s)
    )?;
    if f.names.is_empty() {
        writeln!(o, "<dt>Names</dt><dd>none seen on the wire</dd>")?;
    } else {
        writeln!(o, "<dt>Names</dt><dd><ul>")?;
        for n in &f.names {
            writeln!(
                o,
                "<li><strong>{}</strong> from <code>{}</code>{}, {}</li>",
                escape(&n.name),
                n.source.as_str(),
                n.ech_note(),
                escape(&n.when(f.first_seen))
            )?;
        }
        writeln!(o, "</ul></dd>")?;
    }
    if let Some(t) = &f.tcp {
        writeln!(
            o,
            "<dt>TCP</dt><dd>history <code>{}</code>, state {:?}</dd>",
            escape(&t.history),
            t.state
        )?;
    }
    if let Some(a) = &f.process {
        let how = a.how.describe();
        writeln!(
            o,
            "<dt>Process</dt><dd>{} (pid {}), found {how}</dd>",
            escape(&a.process.label()),
            a.process.pid
        )?;
    }
    if let Some(rule) = &f.verdict.rule {
        writeln!(o, "<dt>Rule</dt><dd><code>{}</code></dd>", escape(rule))?;
    }
    writeln!(o, "</dl>")?;
    writeln!(o, "</article>")
}

/// The flagged flows, and the allowed ones, counted by class in a sentence under the verdict.
fn write_class_line(o: &mut String, r: &Report) -> std::fmt::Result {
    for (kind, sentence) in super::classes::class_sentences(r) {
        writeln!(
            o,
            "<p class=\"sub\" id=\"{}-by-class\">{}</p>",
            kind.as_str(),
            escape(&sentence)
        )?;
    }
    Ok(())
}

/// The flows of a kind by class, each class with its meaning and links to its flows, so that a
/// reader goes from a kind of flow to the evidence.
fn write_class_table(o: &mut String, r: &Report, kind: VerdictKind) -> std::fmt::Result {
    let rows = r.by_class(kind);
    if rows.is_empty() {
        return Ok(());
    }
    // flagged flows have cards to link to; allowed ones are rows of the tables below
    let link = kind == VerdictKind::Flagged;
    writeln!(
        o,
        "<table class=\"classes\"><thead><tr><th>class</th><th>meaning</th><th class=\"n\">flows</th><th class=\"n\">out</th><th>flow ids</th></tr></thead><tbody>"
    )?;
    for row in rows {
        let (name, meaning) = match row.class {
            Some(c) => (format!("<code>{}</code>", c.as_str()), c.describe()),
            None => ("none".to_string(), "the verdict carries no class"),
        };
        let ids: Vec<String> = row
            .ids
            .iter()
            .map(|id| {
                if link {
                    format!("<a href=\"#flow-{id}\">{id}</a>")
                } else {
                    id.to_string()
                }
            })
            .collect();
        writeln!(
            o,
            "<tr><td>{name}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(meaning),
            row.flows,
            bytes(row.bytes_out),
            ids.join(", ")
        )?;
    }
    let folded = r.folded(kind);
    if folded > 0 {
        writeln!(
            o,
            "<tr><td>-</td><td>folded into groups, which keep no class (<a href=\"#groups\">below</a>)</td><td class=\"n\">{folded}</td><td></td><td></td></tr>"
        )?;
    }
    writeln!(o, "</tbody></table>")
}

fn write_declared(o: &mut String, r: &Report) -> std::fmt::Result {
    for (kind, id, title) in [
        (VerdictKind::Declared, "declared", "Declared exceptions"),
        (VerdictKind::Allowed, "allowed", "Allowed"),
    ] {
        let flows: Vec<&FlowReport> = r.flows.iter().filter(|f| f.verdict.kind == kind).collect();
        if flows.is_empty() && kind == VerdictKind::Allowed {
            continue;
        }
        writeln!(o, "<section id=\"{id}\">")?;
        writeln!(o, "<h2>{title} ({})</h2>", flows.len())?;
        if kind == VerdictKind::Declared {
            writeln!(
                o,
                "<p class=\"muted\">Flows that left, explained by an exception the rules file declares; for each category, what the exceptions say they are for, and the flows that used them.</p>"
            )?;
        } else {
            writeln!(
                o,
                "<p class=\"muted\">The owner has not opted out, so these flows are allowed; each is still categorised, and those no declared exception explains are classed as they would be if flagged.</p>"
            )?;
            write_class_table(o, r, kind)?;
        }
        if flows.is_empty() {
            writeln!(o, "<p>None.</p>")?;
        }
        for (cat, fs) in Report::by_category(&flows) {
            let out: u64 = fs.iter().map(|f| f.bytes_out).sum();
            writeln!(
                o,
                "<h3>{} <span class=\"muted\">({} flow{}, {} out)</span></h3>",
                escape(cat),
                fs.len(),
                plural(fs.len()),
                bytes(out)
            )?;
            let known: Vec<_> = Report::rules_behind(&fs)
                .iter()
                .filter_map(|id| r.rules.rule(id))
                .collect();
            if !known.is_empty() {
                writeln!(o, "<ul class=\"rules\">")?;
                for u in known {
                    let basis = u
                        .basis
                        .map_or(String::new(), |b| format!(" ({})", escape(&wire_name(&b))));
                    writeln!(
                        o,
                        "<li><code>{}</code>{basis}: {}</li>",
                        escape(&u.id),
                        escape(&u.justification)
                    )?;
                }
                writeln!(o, "</ul>")?;
            }
            write_flow_table(o, &fs, kind == VerdictKind::Allowed)?;
        }
        writeln!(o, "</section>")?;
    }

    let locals: Vec<&FlowReport> = r
        .flows
        .iter()
        .filter(|f| f.verdict.kind == VerdictKind::Local)
        .collect();
    writeln!(o, "<section id=\"local\">")?;
    writeln!(o, "<h2>Local ({})</h2>", locals.len())?;
    if locals.is_empty() {
        writeln!(o, "<p>None.</p>")?;
    } else {
        let mut by_cat: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        for f in &locals {
            let e = by_cat.entry(&f.verdict.category).or_default();
            e.0 += 1;
            e.1 += f.up.ip_bytes + f.down.ip_bytes;
        }
        writeln!(
            o,
            "<p class=\"muted\">Flows that never left the local network, by category.</p>"
        )?;
        writeln!(
            o,
            "<table class=\"sortable\"><thead><tr><th>category</th><th class=\"n\">flows</th><th class=\"n\">bytes</th></tr></thead><tbody>"
        )?;
        for (cat, (n, b)) in by_cat {
            writeln!(
                o,
                "<tr><td>{}</td><td class=\"n\" data-v=\"{n}\">{n}</td><td class=\"n\" data-v=\"{b}\">{}</td></tr>",
                escape(cat),
                bytes(b)
            )?;
        }
        writeln!(o, "</tbody></table>")?;
    }
    writeln!(o, "</section>")
}

/// The flows of one category. With `classed` (allowed flows, which carry the class they would
/// have if flagged; declared flows never do), a last column gives each flow's class.
fn write_flow_table(o: &mut String, fs: &[&FlowReport], classed: bool) -> std::fmt::Result {
    let (table, col, th) = if classed {
        (" classed", "<col class=\"c-class\">", "<th>class</th>")
    } else {
        ("", "", "")
    };
    writeln!(
        o,
        "<table class=\"sortable fixed{table}\"><colgroup><col class=\"c-id\"><col class=\"c-remote\"><col class=\"c-name\"><col class=\"c-proto\"><col class=\"c-bytes\"><col class=\"c-bytes\"><col class=\"c-rule\">{col}</colgroup><thead><tr><th class=\"n\">#</th><th>remote</th><th>name (how learned)</th><th>protocol</th><th class=\"n\">out</th><th class=\"n\">in</th><th>rule</th>{th}</tr></thead><tbody>"
    )?;
    for f in fs {
        let name = match f.primary_name() {
            Some(n) => format!(
                "{} <span class=\"muted\">({})</span>",
                escape(&n.name),
                n.source.as_str()
            ),
            None => "<span class=\"muted\">unnamed</span>".to_string(),
        };
        let new = if f.new_destination {
            " <span class=\"tag t-new\">new</span>"
        } else {
            ""
        };
        let class = match (classed, f.verdict.class) {
            (false, _) => String::new(),
            (true, Some(c)) => format!(
                "<td title=\"{}\"><code>{}</code></td>",
                escape(c.describe()),
                c.as_str()
            ),
            (true, None) => "<td>-</td>".to_string(),
        };
        writeln!(
            o,
            "<tr><td class=\"n\" data-v=\"{id}\">{id}</td><td class=\"mono\">{}</td><td>{name}{new}</td><td>{}</td><td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td><td><code>{}</code></td>{class}</tr>",
            endpoint(f.remote()),
            escape(&proto_label(f)),
            f.bytes_out,
            bytes(f.bytes_out),
            f.bytes_in,
            bytes(f.bytes_in),
            escape(f.verdict.rule.as_deref().unwrap_or("-")),
            id = f.id,
        )?;
    }
    writeln!(o, "</tbody></table>")
}

fn write_names(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"names\">")?;
    writeln!(o, "<h2>Names revealed ({})</h2>", r.names.len())?;
    if r.names.is_empty() {
        writeln!(o, "<p>None.</p>")?;
        return writeln!(o, "</section>");
    }
    writeln!(
        o,
        "<p class=\"muted\">Every name the capture revealed, whether or not a flow used it, and how it was learned.</p>"
    )?;
    writeln!(
        o,
        "<table class=\"sortable\"><thead><tr><th>name</th><th>how learned</th><th>first seen</th><th>last seen</th><th class=\"n\">seen</th><th>addresses</th><th>flows</th></tr></thead><tbody>"
    )?;
    for n in &r.names {
        let addrs: Vec<String> = n.addresses.iter().map(|a| a.to_string()).collect();
        let flows: Vec<String> = n.flows.iter().map(|f| f.to_string()).collect();
        writeln!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"ts\">{}</td><td class=\"ts\">{}</td><td class=\"n\" data-v=\"{seen}\">{seen}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(&n.name),
            n.source.as_str(),
            n.first_seen,
            n.last_seen,
            addrs.join(", "),
            if flows.is_empty() {
                "-".to_string()
            } else {
                flows.join(", ")
            },
            seen = n.seen,
        )?;
    }
    writeln!(o, "</tbody></table>")?;
    writeln!(o, "</section>")
}

fn write_blind_spots(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"blind-spots\">")?;
    writeln!(o, "<h2>Blind spots</h2>")?;
    let blind: Vec<_> = r.blind_spots.iter().filter(|b| b.flows > 0).collect();
    if blind.is_empty() {
        writeln!(
            o,
            "<p>Every flow that left the local network was named.</p>"
        )?;
        return writeln!(o, "</section>");
    }
    writeln!(
        o,
        "<p class=\"muted\">What left the local network that the audit could not name, by cause.</p>"
    )?;
    writeln!(
        o,
        "<table><thead><tr><th>cause</th><th class=\"n\">flows</th><th class=\"n\">out</th><th class=\"n\">in</th><th>flow ids</th></tr></thead><tbody>"
    )?;
    for b in blind {
        let ids: Vec<String> = b.flow_ids.iter().map(|i| i.to_string()).collect();
        let more = if (b.flow_ids.len() as u64) < b.flows {
            ", ..."
        } else {
            ""
        };
        writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}{more}</td></tr>",
            escape(b.description),
            b.flows,
            bytes(b.bytes_out),
            bytes(b.bytes_in),
            ids.join(", ")
        )?;
    }
    writeln!(o, "</tbody></table>")?;
    writeln!(o, "</section>")
}

fn write_scope(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"scope\">")?;
    writeln!(o, "<h2>Scope and baseline</h2>")?;
    writeln!(o, "<dl class=\"facts\">")?;
    writeln!(
        o,
        "<dt>Scope</dt><dd><code>{}</code>: {}</dd>",
        escape(&r.scope.mode),
        escape(&r.scope.description)
    )?;
    if r.scope.left_out_flows > 0 {
        let by: Vec<String> = r
            .scope
            .left_out_by_process
            .iter()
            .map(|(p, n)| format!("{} ({n})", escape(p)))
            .collect();
        writeln!(
            o,
            "<dt>Left out</dt><dd>{} flows, of {}",
            r.scope.left_out_flows,
            by.join(", ")
        )?;
        if !r.scope.left_out.is_empty() {
            writeln!(o, "<ul class=\"left-out\">")?;
            for l in &r.scope.left_out {
                writeln!(o, "<li>{}</li>", escape(&l.describe()))?;
            }
            writeln!(o, "</ul>")?;
        }
        writeln!(o, "</dd>")?;
    } else {
        writeln!(o, "<dt>Left out</dt><dd>no flow</dd>")?;
    }
    if let Some(note) = r.scope.kept_note() {
        writeln!(o, "<dt>Kept in</dt><dd>{}</dd>", escape(&note))?;
    }
    if let Some(l) = &r.live {
        writeln!(
            o,
            "<dt>Dropped</dt><dd>{} by the kernel, {} by the interface, {} by telltale's queue</dd>",
            l.dropped_by_kernel, l.dropped_by_interface, l.dropped_by_queue
        )?;
        if let Some(a) = &l.attribution {
            writeln!(o, "<dt>Processes</dt><dd>{}</dd>", escape(&a.describe()))?;
        }
    }
    match &r.baseline {
        None => writeln!(
            o,
            "<dt>Baseline</dt><dd>none (<code>--baseline</code> was not given)</dd>"
        )?,
        Some(b) => {
            writeln!(
                o,
                "<dt>Baseline</dt><dd><code>{}</code> ({} destinations known); {} new since then</dd>",
                escape(&b.path),
                b.known,
                b.new_destinations.len()
            )?;
            if !b.new_destinations.is_empty() {
                writeln!(o, "<dt>New</dt><dd><ul>")?;
                for d in &b.new_destinations {
                    writeln!(o, "<li>{}</li>", escape(d))?;
                }
                writeln!(o, "</ul></dd>")?;
            }
        }
    }
    writeln!(o, "</dl>")?;
    writeln!(o, "</section>")
}

/// The flows beyond the cap on flows kept in full, by group.
fn write_groups(o: &mut String, r: &Report) -> std::fmt::Result {
    if r.flow_groups.is_empty() {
        return Ok(());
    }
    let n: u64 = r.flow_groups.iter().map(|g| g.flows).sum();
    writeln!(o, "<section id=\"groups\">")?;
    writeln!(o, "<h2>Flows summarised in groups ({n})</h2>")?;
    writeln!(
        o,
        "<p>More flows ended than the audit keeps in full (<code>--max-flows</code>), so the oldest, unflagged first, were folded into groups of alike flows. They are counted in the summary.</p>"
    )?;
    use crate::pipeline::groups::COLUMNS;
    // the counts and byte columns are numbers, right-aligned
    let numeric = |i: usize| (7..=10).contains(&i);
    write!(o, "<table><thead><tr>")?;
    for (i, c) in COLUMNS.iter().enumerate() {
        let class = if numeric(i) { " class=\"n\"" } else { "" };
        write!(o, "<th{class}>{c}</th>")?;
    }
    writeln!(o, "</tr></thead><tbody>")?;
    for g in &r.flow_groups {
        write!(o, "<tr>")?;
        for (i, c) in g.cells().iter().enumerate() {
            let class = if numeric(i) { " class=\"n\"" } else { "" };
            write!(o, "<td{class}>{}</td>", escape(c))?;
        }
        writeln!(o, "</tr>")?;
    }
    writeln!(o, "</tbody></table>")?;
    writeln!(o, "</section>")
}

fn write_counters(o: &mut String, r: &Report) -> std::fmt::Result {
    let c = &r.counters;
    writeln!(o, "<section id=\"counters\">")?;
    writeln!(o, "<h2>Counters</h2>")?;
    let rows = c.labelled();
    writeln!(o, "<div class=\"cols\">")?;
    let half = rows.len().div_ceil(2);
    for part in rows.chunks(half) {
        writeln!(
            o,
            "<table><thead><tr><th>counter</th><th class=\"n\">value</th></tr></thead><tbody>"
        )?;
        for (k, v) in part {
            writeln!(o, "<tr><td>{k}</td><td class=\"n\">{v}</td></tr>")?;
        }
        writeln!(o, "</tbody></table>")?;
    }
    writeln!(o, "</div>")?;
    if !c.reasons.is_empty() {
        writeln!(o, "<h3>Packets not decoded, by reason</h3>")?;
        writeln!(
            o,
            "<table><thead><tr><th>reason</th><th class=\"n\">packets</th></tr></thead><tbody>"
        )?;
        for (k, v) in &c.reasons {
            writeln!(o, "<tr><td>{}</td><td class=\"n\">{v}</td></tr>", escape(k))?;
        }
        writeln!(o, "</tbody></table>")?;
    }
    writeln!(o, "</section>")
}

/// A word for a POSIX shell: as is when it is plainly safe, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command line that audits the same inputs under the same judgement.
pub(crate) fn command_line(r: &Report) -> String {
    let rules = r
        .rules
        .path
        .strip_prefix("builtin:")
        .unwrap_or(&r.rules.path);
    let mut words = vec![
        "telltale".to_string(),
        "audit".to_string(),
        "--rules".to_string(),
        shell_word(rules),
        "--opt-out".to_string(),
        shell_word(r.opt_out.state.as_str()),
    ];
    match r.scope.mode.as_str() {
        "server" => words.extend(["--scope".to_string(), "server".to_string()]),
        "server_ip" => {
            if let Some(ip) = r
                .scope
                .description
                .rsplit(' ')
                .next()
                .and_then(|w| w.parse::<std::net::IpAddr>().ok())
            {
                words.extend(["--server-ip".to_string(), ip.to_string()]);
            }
        }
        _ => {}
    }
    if let Some(s) = &r.settings
        && !s.path.starts_with("builtin:")
    {
        words.extend(["--prefs".to_string(), shell_word(&s.path)]);
    }
    if let Some(b) = &r.baseline {
        words.extend(["--baseline".to_string(), shell_word(&b.path)]);
    }
    for i in &r.inputs {
        words.push(shell_word(&i.path));
    }
    words.join(" ")
}

fn write_reproduce(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, "<section id=\"reproduce\">")?;
    writeln!(o, "<h2>How to reproduce this audit</h2>")?;
    writeln!(o, "<dl class=\"facts\">")?;
    writeln!(
        o,
        "<dt>Tool</dt><dd>{} {}</dd>",
        escape(r.tool.name),
        escape(r.tool.version)
    )?;
    writeln!(
        o,
        "<dt>Rules</dt><dd><code>{}</code> ({}), sha256 <code>{}</code></dd>",
        escape(&r.rules.path),
        escape(&r.rules.server),
        escape(&r.rules.sha256)
    )?;
    writeln!(
        o,
        "<dt>Opt-out</dt><dd>{} (from {})</dd>",
        escape(r.opt_out.state.as_str()),
        escape(&r.opt_out.source)
    )?;
    if let Some(s) = &r.settings {
        writeln!(
            o,
            "<dt>Settings</dt><dd><code>{}</code> ({})</dd>",
            escape(&s.path),
            escape(&s.format)
        )?;
    }
    writeln!(
        o,
        "<dt>Report</dt><dd>generated at {}, schema <code>{}</code></dd>",
        r.generated_at,
        escape(r.schema)
    )?;
    writeln!(o, "</dl>")?;
    if r.inputs.is_empty() {
        writeln!(o, "<p>No capture file was read.</p>")?;
    } else {
        writeln!(
            o,
            "<table><thead><tr><th>input</th><th>format</th><th class=\"n\">packets</th><th class=\"n\">bytes</th><th>sha256</th></tr></thead><tbody>"
        )?;
        for i in &r.inputs {
            let cut = i.cut_short.as_ref().map_or(String::new(), |c| {
                format!(
                    " <span class=\"muted\">(cut short at byte {}: {})</span>",
                    c.offset,
                    escape(&c.what)
                )
            });
            writeln!(
                o,
                "<tr><td><code>{}</code>{cut}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"mono\">{}</td></tr>",
                escape(&i.path),
                escape(&i.format),
                i.packets,
                i.bytes,
                escape(i.sha256_shown())
            )?;
        }
        writeln!(o, "</tbody></table>")?;
    }
    writeln!(o, "<pre><code>{}</code></pre>", escape(&command_line(r)))?;
    let mut notes: Vec<String> = Vec::new();
    if r.live.is_some() {
        notes.push("This was a live capture: save the traffic with tcpdump to audit the same packets again.".into());
    }
    if r.inputs.iter().any(|i| i.path == "-") {
        notes.push(
            "<code>-</code> is standard input: pipe in a capture whose SHA-256 is the one above."
                .into(),
        );
    }
    if r.inputs.iter().any(|i| i.path.starts_with("builtin:")) {
        notes.push("<code>builtin:</code> inputs are built into telltale: <code>telltale demo --print</code> audits the demo capture.".into());
    }
    if r.settings
        .as_ref()
        .is_some_and(|s| s.path.starts_with("builtin:"))
    {
        notes.push("The settings file is built into telltale (the demo's own settings).".into());
    }
    notes.push("The same inputs, rules and opt-out give the same report, byte for byte, apart from the generation time.".into());
    for n in notes {
        writeln!(o, "<p class=\"muted\">{n}</p>")?;
    }
    writeln!(o, "</section>")
}

#[cfg(test)]
mod tests {
    use super::charts::{clip, tick_label, tick_step};
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("\"onmouseover='x'"), "&quot;onmouseover=&#39;x&#39;");
        assert_eq!(escape("a&b"), "a&amp;b");
        assert_eq!(escape("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(escape("gpj\u{202e}.exe"), "gpj\\u{202e}.exe");
        assert_eq!(escape("plex.tv"), "plex.tv");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("day1.pcap.gz"), "day1.pcap.gz");
        assert_eq!(shell_word("my capture.pcap"), "'my capture.pcap'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm -rf)"), "'$(rm -rf)'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn time_ticks_are_round() {
        assert_eq!(tick_step(296.0), 60.0);
        assert_eq!(tick_step(5.0), 1.0);
        assert_eq!(tick_label(0.0), "0 s");
        assert_eq!(tick_label(120.0), "2 min");
        assert_eq!(tick_label(90.0), "1 min 30 s");
        assert_eq!(tick_label(0.25), "0.25 s");
        assert_eq!(tick_label(7200.0), "2 h");
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("abcdef", 10), "abcdef");
        assert_eq!(clip("abcdef", 4), "abc\u{2026}");
        assert_eq!(clip("ééééé", 3), "éé\u{2026}");
    }

    #[test]
    fn the_four_classes_of_flagged_flow_are_told_apart() {
        let page = render(&crate::report::testing::four_classes());
        // under the verdict, counted in words
        assert!(page.contains(
            "<p class=\"sub\" id=\"flagged-by-class\">Flagged, by class: 2 to known collection endpoints, \
             1 to the vendor&#39;s own host with no declared purpose, 1 to a third party that no rule explains, \
             and 1 that cannot be judged.</p>"
        ));
        // a table of classes, each linking to its flows' cards
        for row in [
            "<tr><td><code>collection</code></td><td>a known collection endpoint</td><td class=\"n\">2</td><td class=\"n\">68 KiB</td><td><a href=\"#flow-13\">13</a>, <a href=\"#flow-38\">38</a></td></tr>",
            "<tr><td><code>vendor_undeclared</code></td><td>the vendor&#39;s own host, with no declared purpose</td><td class=\"n\">1</td>",
            "<tr><td><code>third_party</code></td><td>a third party that no rule explains</td><td class=\"n\">1</td>",
            "<tr><td><code>cannot_judge</code></td><td>cannot be judged (no name, only an encrypted hello&#39;s outer name, or an unread QUIC Initial)</td><td class=\"n\">1</td>",
        ] {
            assert!(page.contains(row), "{row} missing");
        }
        // each card says its class, as a tag beside its category and in words
        for (id, class) in [
            (13, VerdictClass::Collection),
            (15, VerdictClass::VendorUndeclared),
            (40, VerdictClass::ThirdParty),
            (41, VerdictClass::CannotJudge),
        ] {
            let at = page
                .find(&format!("<article class=\"flow\" id=\"flow-{id}\">"))
                .unwrap_or_else(|| panic!("flow {id}'s card missing"));
            let card = &page[at..];
            let card = &card[..card.find("</article>").unwrap_or(card.len())];
            assert!(
                card.contains(&format!(
                    "<span class=\"tag t-class\">{}</span>",
                    class.as_str()
                )),
                "{card}"
            );
            assert!(
                card.contains(&format!(
                    "<dt>Class</dt><dd>{} (<code>{}</code>)</dd>",
                    escape(class.describe()),
                    class.as_str()
                )),
                "{card}"
            );
        }
        // and the charts count them
        let chart = &page[page.find("id=\"chart-classes\"").unwrap_or(0)..];
        let chart = &chart[..chart.find("</figure>").unwrap_or(0)];
        for label in [
            "collection endpoint",
            "vendor&#39;s host, undeclared",
            "third party",
            "cannot be judged",
        ] {
            assert!(
                chart.contains(&format!(">{label}</text>")),
                "{label}: {chart}"
            );
        }
        assert!(
            !page.contains(" style="),
            "the policy allows no style attribute"
        );
    }
}
