//! What `telltale history` prints: the window day by day, or the destinations first seen in it,
//! as Markdown, JSON (`telltale.history/1`) or CSV. Names come from the wire: Markdown escapes
//! them and CSV quotes them, as the reports do.

use super::query::{Day, NewDestination, Totals, Window};
use crate::report::csv::cell;
use crate::text::{bytes, md};
use serde::Serialize;
use std::fmt::Write as _;

/// The JSON's schema name.
pub const SCHEMA: &str = "telltale.history/1";

#[derive(Serialize)]
struct DaysJson<'a> {
    schema: &'static str,
    history: &'a str,
    window: Window,
    totals: &'a Totals,
    days: &'a [Day],
}

#[derive(Serialize)]
struct NewJson<'a> {
    schema: &'static str,
    history: &'a str,
    window: Window,
    totals: &'a Totals,
    new_destinations: &'a [NewDestination],
}

fn header(out: &mut String, title: &str, path: &str, w: Window, t: &Totals) {
    let _ = writeln!(
        out,
        "# telltale history: {title}, {} to {}\n",
        w.since.rfc3339(),
        w.until.rfc3339()
    );
    let _ = writeln!(
        out,
        "History `{}`: {} runs ({} never finished), {} flows, {} destinations{}.\n",
        path.replace('`', "'"),
        t.runs,
        t.unfinished_runs,
        t.flows,
        t.destinations,
        match (t.first_packet, t.last_packet) {
            (Some(a), Some(b)) => format!(", packets from {} to {}", a.rfc3339(), b.rfc3339()),
            _ => String::new(),
        }
    );
}

/// `key: n, key: n`, or `-`.
fn pairs(m: &std::collections::BTreeMap<String, u64>, show: impl Fn(u64) -> String) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, v)| format!("{}: {}", md(k), show(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn days_md(path: &str, w: Window, t: &Totals, days: &[Day]) -> String {
    let mut out = String::new();
    header(&mut out, "by day", path, w, t);
    if days.is_empty() {
        out.push_str("No flows in this window.\n");
        return out;
    }
    out.push_str("| day (UTC) | flows | flagged | new destinations | flagged by class | flagged by category | bytes out by category |\n|---|---|---|---|---|---|---|\n");
    for d in days {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            d.day,
            d.flows,
            d.flagged,
            d.new_destinations,
            pairs(&d.flagged_by_class, |n| n.to_string()),
            pairs(&d.flagged_by_category, |n| n.to_string()),
            pairs(&d.bytes_out_by_category, bytes),
        );
    }
    out
}

pub fn days_json(path: &str, w: Window, t: &Totals, days: &[Day]) -> String {
    let doc = DaysJson {
        schema: SCHEMA,
        history: path,
        window: w,
        totals: t,
        days,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// One row per day and category: the day's own counts repeat on each of its rows.
pub fn days_csv(days: &[Day]) -> String {
    let mut out = String::from(
        "day,flows,flagged,new_destinations,category,flagged_in_category,bytes_out_in_category\n",
    );
    for d in days {
        let mut cats: std::collections::BTreeSet<&String> =
            d.bytes_out_by_category.keys().collect();
        cats.extend(d.flagged_by_category.keys());
        if cats.is_empty() {
            let _ = writeln!(
                out,
                "{},{},{},{},,,",
                d.day, d.flows, d.flagged, d.new_destinations
            );
        }
        for c in cats {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                d.day,
                d.flows,
                d.flagged,
                d.new_destinations,
                cell(c),
                d.flagged_by_category.get(c).copied().unwrap_or(0),
                d.bytes_out_by_category.get(c).copied().unwrap_or(0),
            );
        }
    }
    out
}

pub fn new_md(path: &str, w: Window, t: &Totals, new: &[NewDestination]) -> String {
    let mut out = String::new();
    header(&mut out, "destinations first seen", path, w, t);
    if new.is_empty() {
        out.push_str("No destination was first seen in this window.\n");
        return out;
    }
    out.push_str("| destination | first seen (UTC) | last seen (UTC) | flows | learned from | verdicts | categories |\n|---|---|---|---|---|---|---|\n");
    for n in new {
        let list = |v: &[String], empty: &str| {
            if v.is_empty() {
                empty.to_string()
            } else {
                v.iter().map(|s| md(s)).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md(&n.destination),
            n.first_seen.rfc3339(),
            n.last_seen.rfc3339(),
            n.flows,
            list(&n.sources, "address (no name)"),
            list(&n.verdicts, "-"),
            list(&n.categories, "-"),
        );
    }
    out
}

pub fn new_json(path: &str, w: Window, t: &Totals, new: &[NewDestination]) -> String {
    let doc = NewJson {
        schema: SCHEMA,
        history: path,
        window: w,
        totals: t,
        new_destinations: new,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn new_csv(new: &[NewDestination]) -> String {
    let mut out =
        String::from("destination,first_seen,last_seen,flows,learned_from,verdicts,categories\n");
    for n in new {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            cell(&n.destination),
            n.first_seen.rfc3339(),
            n.last_seen.rfc3339(),
            n.flows,
            cell(&n.sources.join(" ")),
            cell(&n.verdicts.join(" ")),
            cell(&n.categories.join(" ")),
        );
    }
    out
}
