//! The Markdown report, for people: the verdict in one line, and the flagged flows counted by
//! class, flagged flows first with their class, reasons and evidence, then declared flows by
//! exception, allowed flows, a short local summary, the names revealed and the counters.

use super::model::{FlowReport, OptOutState, Report};
use crate::rules::verdict::VerdictKind;
use crate::text::{bytes, duration, md, md_code, short_hash};
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write_report(&mut o, r);
    o
}

fn write_report(o: &mut String, r: &Report) -> std::fmt::Result {
    let of_kind = |k: VerdictKind| r.flows.iter().filter(move |f| f.verdict.kind == k);
    let left = r
        .flows
        .iter()
        .filter(|f| f.verdict.kind != VerdictKind::Local)
        .count();
    writeln!(o, "# telltale audit: {}", md(&r.rules.server))?;
    writeln!(o)?;
    let flagged = r.flagged();
    if flagged > 0 {
        writeln!(
            o,
            "**{flagged} flow{} flagged** of {} ({left} left the local network).",
            plural(flagged),
            r.flows.len()
        )?;
    } else {
        writeln!(
            o,
            "**Nothing flagged** in {} flows ({left} left the local network).",
            r.flows.len()
        )?;
    }
    write_class_line(o, r)?;
    writeln!(o)?;
    let state = match r.opt_out.state {
        OptOutState::On => "the owner has opted out of data sharing",
        OptOutState::Off => "the owner has not opted out of data sharing",
    };
    writeln!(
        o,
        "- Opt-out: **{}**: {state} (from {})",
        r.opt_out.state,
        md(&r.opt_out.source)
    )?;
    writeln!(
        o,
        "- Rules: `{}` (sha256 `{}`)",
        md_code(&r.rules.path),
        short_hash(&r.rules.sha256)
    )?;
    if let Some(s) = &r.settings {
        let shown: Vec<String> = s
            .values
            .iter()
            .map(|(k, v)| format!("{}={}", md(k), md(v)))
            .collect();
        // Every file read: Jellyfin's network.xml completes its system.xml.
        let files: Vec<String> = s
            .files()
            .iter()
            .map(|(path, format)| format!("`{}` ({})", md_code(path), md(format)))
            .collect();
        writeln!(
            o,
            "- Server settings: {}: signed in: {}; {}",
            files.join(" and "),
            if s.signed_in { "yes" } else { "no" },
            shown.join(", ")
        )?;
    }
    for i in &r.inputs {
        writeln!(
            o,
            "- Capture: `{}` ({}, {} packets, {}, sha256 {})",
            md_code(&i.path),
            i.format,
            i.packets,
            bytes(i.bytes),
            match &i.sha256 {
                Some(h) => format!("`{}`", short_hash(h)),
                None => i.sha256_shown().to_string(),
            }
        )?;
    }
    if let (Some(a), Some(b)) = (r.capture_start, r.capture_end) {
        writeln!(
            o,
            "- Packets from {a} to {b} ({})",
            duration(b.seconds_since(a))
        )?;
    }
    writeln!(
        o,
        "- Scope: {} ({})",
        md(&r.scope.mode),
        md(&r.scope.description)
    )?;
    if r.scope.left_out_flows > 0 {
        let by: Vec<String> = r
            .scope
            .left_out_by_process
            .iter()
            .map(|(p, n)| format!("{} ({n})", md(p)))
            .collect();
        writeln!(
            o,
            "- Left out of scope: {} flows, of {}",
            r.scope.left_out_flows,
            by.join(", ")
        )?;
        for l in &r.scope.left_out {
            writeln!(o, "  - {}", md(&l.describe()))?;
        }
    }
    if let Some(note) = r.scope.kept_note() {
        writeln!(o, "- Kept in scope: {}", md(&note))?;
    }
    if let Some(l) = &r.live {
        writeln!(
            o,
            "- Live capture on `{}`{} for {}; dropped: {} by the kernel, {} by the interface, {} by telltale's queue",
            md_code(&l.interface),
            l.filter
                .as_deref()
                .map(|f| format!(" (`{}`)", md_code(f)))
                .unwrap_or_default(),
            duration(l.duration_s),
            l.dropped_by_kernel,
            l.dropped_by_interface,
            l.dropped_by_queue
        )?;
        if let Some(a) = &l.attribution {
            writeln!(o, "- Attribution: {}", md(&a.describe()))?;
        }
    }
    if let Some(h) = &r.hook {
        writeln!(
            o,
            "- Alert hook `{}`: {} flagged flows, {} calls ({} failed), {} told in summaries, {} dropped (queue full), {} not sent at the end",
            md_code(&h.command),
            h.flagged,
            h.calls,
            h.failed,
            h.summarised,
            h.dropped,
            h.unsent
        )?;
    }
    writeln!(o, "- telltale {}", r.tool.version)?;
    for w in &r.warnings {
        writeln!(o, "\n> **Warning:** {}", md(w))?;
    }

    // Flagged flows, each with its evidence.
    writeln!(o, "\n## Flagged ({flagged})\n")?;
    if flagged == 0 {
        writeln!(o, "No flow left the local network unexplained.")?;
    }
    write_class_table(o, r, VerdictKind::Flagged)?;
    for f in of_kind(VerdictKind::Flagged) {
        write_flow_detail(o, f)?;
    }

    for (kind, title) in [
        (VerdictKind::Declared, "Declared"),
        (VerdictKind::Allowed, "Allowed"),
    ] {
        let flows: Vec<&FlowReport> = of_kind(kind).collect();
        if flows.is_empty() && kind == VerdictKind::Allowed {
            continue;
        }
        writeln!(o, "\n## {title} ({})\n", flows.len())?;
        if kind == VerdictKind::Allowed {
            writeln!(
                o,
                "The owner has not opted out, so these flows are allowed; each is still categorised, and those no declared exception explains are classed as they would be if flagged.\n"
            )?;
            write_class_table(o, r, kind)?;
        }
        if flows.is_empty() {
            writeln!(o, "None.")?;
        }
        for (cat, fs) in Report::by_category(&flows) {
            let out: u64 = fs.iter().map(|f| f.bytes_out).sum();
            writeln!(
                o,
                "### {} ({} flow{}, {} out)\n",
                md(cat),
                fs.len(),
                plural(fs.len()),
                bytes(out)
            )?;
            for id in Report::rules_behind(&fs) {
                if let Some(u) = r.rules.rule(id) {
                    let basis = u
                        .basis
                        .map_or(String::new(), |b| format!(" ({})", serde_name(&b)));
                    writeln!(o, "- `{}`{basis}: {}", md_code(id), md(&u.justification))?;
                }
            }
            writeln!(o)?;
            // allowed flows carry a class (what they would be if flagged); declared ones never do
            let classed = kind == VerdictKind::Allowed;
            let (class_head, class_rule) = if classed {
                (" class |", "---|")
            } else {
                ("", "")
            };
            writeln!(
                o,
                "| # | remote | name (how learned) | protocol | out | in | rule |{class_head}"
            )?;
            writeln!(o, "|---|---|---|---|---|---|---|{class_rule}")?;
            for f in fs {
                let class = if classed {
                    format!(" {} |", class_cell(f))
                } else {
                    String::new()
                };
                writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} |{class}",
                    f.id,
                    remote(f),
                    name_cell(f),
                    proto_cell(f),
                    bytes(f.bytes_out),
                    bytes(f.bytes_in),
                    md(f.verdict.rule.as_deref().unwrap_or("-"))
                )?;
            }
            writeln!(o)?;
        }
    }

    let locals: Vec<&FlowReport> = of_kind(VerdictKind::Local).collect();
    writeln!(o, "\n## Local ({})\n", locals.len())?;
    if locals.is_empty() {
        writeln!(o, "None.")?;
    } else {
        let mut by_cat: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        for f in &locals {
            let e = by_cat.entry(&f.verdict.category).or_default();
            e.0 += 1;
            e.1 += f.up.ip_bytes + f.down.ip_bytes;
        }
        writeln!(o, "Flows that never left the local network, by category:\n")?;
        writeln!(o, "| category | flows | bytes |")?;
        writeln!(o, "|---|---|---|")?;
        for (cat, (n, b)) in by_cat {
            writeln!(o, "| {} | {n} | {} |", md(cat), bytes(b))?;
        }
    }

    if let Some(b) = &r.baseline {
        writeln!(
            o,
            "\n## New since the baseline ({})\n",
            b.new_destinations.len()
        )?;
        writeln!(
            o,
            "Compared with `{}` ({} destinations known).\n",
            md_code(&b.path),
            b.known
        )?;
        if b.new_destinations.is_empty() {
            writeln!(o, "No destination is new.")?;
        }
        for d in &b.new_destinations {
            writeln!(o, "- {}", md(d))?;
        }
    }

    writeln!(o, "\n## Blind spots\n")?;
    let blind: Vec<_> = r.blind_spots.iter().filter(|b| b.flows > 0).collect();
    if blind.is_empty() {
        writeln!(o, "Every flow that left the local network was named.")?;
    } else {
        writeln!(
            o,
            "What left the local network that the audit could not name, by cause:\n"
        )?;
        writeln!(o, "| cause | flows | out | in | flow ids |")?;
        writeln!(o, "|---|---|---|---|---|")?;
        for b in blind {
            let ids: Vec<String> = b.flow_ids.iter().take(12).map(|i| i.to_string()).collect();
            let more = if b.flows > 12 { ", ..." } else { "" };
            writeln!(
                o,
                "| {} | {} | {} | {} | {}{more} |",
                md(b.description),
                b.flows,
                bytes(b.bytes_out),
                bytes(b.bytes_in),
                ids.join(", ")
            )?;
        }
    }

    write_groups(o, r)?;

    writeln!(o, "\n## Names revealed ({})\n", r.names.len())?;
    if r.names.is_empty() {
        writeln!(o, "None.")?;
    } else {
        writeln!(
            o,
            "Every name the capture revealed, whether or not a flow used it.\n"
        )?;
        writeln!(
            o,
            "| name | how learned | first seen | seen | addresses | flows |"
        )?;
        writeln!(o, "|---|---|---|---|---|---|")?;
        for n in &r.names {
            let addrs: Vec<String> = n.addresses.iter().take(4).map(|a| a.to_string()).collect();
            let more = n.addresses.len().saturating_sub(4);
            let flows: Vec<String> = n.flows.iter().take(8).map(|f| f.to_string()).collect();
            writeln!(
                o,
                "| {} | {} | {} | {} | {}{} | {} |",
                md(&n.name),
                n.source.as_str(),
                n.first_seen,
                n.seen,
                addrs.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                if flows.is_empty() {
                    "-".to_string()
                } else {
                    flows.join(", ")
                }
            )?;
        }
    }

    let c = &r.counters;
    writeln!(o, "\n## Counters\n")?;
    writeln!(o, "| counter | value |")?;
    writeln!(o, "|---|---|")?;
    for (k, v) in c.labelled() {
        writeln!(o, "| {k} | {v} |")?;
    }
    for (k, v) in &c.reasons {
        writeln!(o, "| {} | {v} |", md(k))?;
    }
    Ok(())
}

/// The flagged flows, and the allowed ones, counted by class in one sentence under the verdict.
fn write_class_line(o: &mut String, r: &Report) -> std::fmt::Result {
    for (_, sentence) in super::classes::class_sentences(r) {
        writeln!(o, "{sentence}")?;
    }
    Ok(())
}

/// The flows of a kind by class, with the class's meaning and the flows' ids, so that each
/// detail below can be found from its class.
fn write_class_table(o: &mut String, r: &Report, kind: VerdictKind) -> std::fmt::Result {
    let rows = r.by_class(kind);
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(o, "| class | meaning | flows | out | flow ids |")?;
    writeln!(o, "|---|---|---|---|---|")?;
    for row in rows {
        let (name, meaning) = match row.class {
            Some(c) => (format!("`{}`", c.as_str()), c.describe()),
            None => ("none".to_string(), "the verdict carries no class"),
        };
        let ids: Vec<String> = row.ids.iter().map(u64::to_string).collect();
        writeln!(
            o,
            "| {name} | {meaning} | {} | {} | {} |",
            row.flows,
            bytes(row.bytes_out),
            ids.join(", ")
        )?;
    }
    let folded = r.folded(kind);
    if folded > 0 {
        writeln!(
            o,
            "| - | folded into groups, which keep no class (below) | {folded} | | |"
        )?;
    }
    writeln!(o)
}

/// The flows beyond the cap on flows kept in full, by group.
fn write_groups(o: &mut String, r: &Report) -> std::fmt::Result {
    if r.flow_groups.is_empty() {
        return Ok(());
    }
    let n: u64 = r.flow_groups.iter().map(|g| g.flows).sum();
    writeln!(o, "\n## Flows summarised in groups ({n})\n")?;
    writeln!(
        o,
        "More flows ended than the audit keeps in full (`--max-flows`), so the oldest, unflagged first, were folded into groups of alike flows. They are counted in the summary above.\n"
    )?;
    use crate::pipeline::groups::COLUMNS;
    writeln!(o, "| {} |", COLUMNS.join(" | "))?;
    writeln!(o, "|{}", "---|".repeat(COLUMNS.len()))?;
    for g in &r.flow_groups {
        let cells: Vec<String> = g.cells().iter().map(|c| md(c)).collect();
        writeln!(o, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

fn write_flow_detail(o: &mut String, f: &FlowReport) -> std::fmt::Result {
    let title = f.primary_name().map_or_else(
        || format!("unnamed {}", f.remote().address),
        |n| md(&n.name),
    );
    writeln!(
        o,
        "### Flow {}: {} ({})\n",
        f.id,
        title,
        md(&f.verdict.category)
    )?;
    if let Some(c) = f.verdict.class {
        writeln!(o, "- **Class:** {} (`{}`)", c.describe(), c.as_str())?;
    }
    writeln!(o, "- **Why:** {}", md(&f.verdict.reason))?;
    if f.new_destination {
        writeln!(
            o,
            "- **New:** the baseline report never saw this destination"
        )?;
    }
    writeln!(
        o,
        "- {} {}:{} → {}:{} ({}), {} out in {} packets, {} in in {} packets, {} to {} ({})",
        proto_cell(f),
        f.client.address,
        f.client.port,
        f.server.address,
        f.server.port,
        serde_name(&f.locality),
        bytes(f.bytes_out),
        if f.locality == crate::flows::Locality::Inbound {
            f.down.packets
        } else {
            f.up.packets
        },
        bytes(f.bytes_in),
        if f.locality == crate::flows::Locality::Inbound {
            f.up.packets
        } else {
            f.down.packets
        },
        f.first_seen,
        f.last_seen,
        duration(f.duration_s)
    )?;
    if f.names.is_empty() {
        writeln!(o, "- Names: none seen on the wire")?;
    }
    for n in &f.names {
        writeln!(
            o,
            "- Name: {} from {}{}, {}",
            md(&n.name),
            n.source.as_str(),
            n.ech_note(),
            n.when(f.first_seen)
        )?;
    }
    if let Some(t) = &f.tcp {
        writeln!(
            o,
            "- TCP history `{}`, state {:?}",
            md_code(&t.history),
            t.state
        )?;
    }
    if let Some(a) = &f.process {
        let how = a.how.describe();
        writeln!(
            o,
            "- Process: {} (pid {}), found {how}",
            md(&a.process.label()),
            a.process.pid
        )?;
    }
    writeln!(o)
}

fn remote(f: &FlowReport) -> String {
    let r = f.remote();
    match r.address {
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", r.port),
        a => format!("{a}:{}", r.port),
    }
}

/// The class's name, as the filter and the JSON spell it; its meaning is in the table above.
fn class_cell(f: &FlowReport) -> String {
    f.verdict
        .class
        .map_or_else(|| "-".to_string(), |c| format!("`{}`", c.as_str()))
}

fn name_cell(f: &FlowReport) -> String {
    let new = if f.new_destination { " **new**" } else { "" };
    match f.primary_name() {
        Some(n) => format!("{} ({}){new}", md(&n.name), n.source.as_str()),
        None => format!("unnamed{new}"),
    }
}

fn proto_cell(f: &FlowReport) -> String {
    let app = serde_name(&f.app);
    if app == "unknown" {
        f.protocol.clone()
    } else {
        format!("{}/{app}", f.protocol)
    }
}

fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_four_classes_of_flagged_flow_are_told_apart() {
        let md = super::render(&crate::report::testing::four_classes());
        // under the verdict, counted in words
        assert!(
            md.contains(
                "**5 flows flagged** of 41 (18 left the local network).\nFlagged, by class: \
                 2 to known collection endpoints, 1 to the vendor's own host with no declared purpose, \
                 1 to a third party that no rule explains, and 1 that cannot be judged.\n"
            ),
            "{}",
            &md[..400]
        );
        // in the flagged section, a table that says which flows are which
        for row in [
            "| `collection` | a known collection endpoint | 2 | 68 KiB | 13, 38 |",
            "| `vendor_undeclared` | the vendor's own host, with no declared purpose | 1 | 2.8 KiB | 15 |",
            "| `third_party` | a third party that no rule explains | 1 | 1.9 KiB | 40 |",
            "| `cannot_judge` | cannot be judged (no name, only an encrypted hello's outer name, or an unread QUIC Initial) | 1 | 102 B | 41 |",
        ] {
            assert!(md.contains(row), "{row} missing");
        }
        // and each flow's detail gives its class, in words, under its category
        for (head, class) in [
            (
                "### Flow 13: metrics.plex.tv (telemetry)",
                "a known collection endpoint (`collection`)",
            ),
            (
                "### Flow 15: edge7.plex.bz (unexplained)",
                "the vendor's own host, with no declared purpose (`vendor_undeclared`)",
            ),
            (
                "### Flow 40: beacon.tracksight.example (unexplained)",
                "a third party that no rule explains (`third_party`)",
            ),
            (
                "### Flow 41: unnamed 198.51.100.77 (unexplained)",
                "cannot be judged",
            ),
        ] {
            let at = md.find(head).unwrap_or_else(|| panic!("{head} missing"));
            assert!(
                md[at..]
                    .lines()
                    .nth(2)
                    .is_some_and(|l| l.starts_with("- **Class:** ") && l.contains(class)),
                "{head}: {:?}",
                md[at..].lines().nth(2)
            );
        }
        // declared flows carry no class, and the report says none
        assert_eq!(md.matches("- **Class:**").count(), 5);
    }
}
