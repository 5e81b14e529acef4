//! The CSV export: one row per flow, after a header row, for spreadsheets and scripts.
//!
//! RFC 4180: fields are separated by commas, records end with CRLF, and a field that
//! holds a comma, a double quote, CR or LF is quoted, with inner quotes doubled. Every
//! captured string is neutralised first (control and bidi characters made visible), and
//! a field a spreadsheet would run as a formula (one that starts with `=`, `+`, `-`, `@`,
//! a tab or CR) gets a leading `'`, so a hostile name stays text.
//!
//! Columns are only ever added at the end of a row (`class` was the last added), so a script
//! that reads a column by its position keeps reading the same one.

use super::html::wire_name;
use super::model::{FlowReport, Report};
use crate::text::neutralise;

const HEADER: [&str; 28] = [
    "id",
    "protocol",
    "client_address",
    "client_port",
    "server_address",
    "server_port",
    "locality",
    "app",
    "primary_name",
    "name_source",
    "all_names",
    "process",
    "packets_up",
    "packets_down",
    "bytes_out",
    "bytes_in",
    "first_seen",
    "last_seen",
    "duration_s",
    "tcp_history",
    "tcp_state",
    "verdict",
    "category",
    "rule",
    "also",
    "reason",
    "new_destination",
    "class",
];

/// Renders every flow as one CSV record, after a header record.
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(256 * (report.flows.len() + 1));
    push_record(&mut o, HEADER.iter().map(|h| h.to_string()));
    for f in &report.flows {
        push_record(&mut o, row(f).into_iter());
    }
    o
}

fn row(f: &FlowReport) -> Vec<String> {
    let primary = f.primary_name();
    let names: Vec<String> = f
        .names
        .iter()
        .map(|n| format!("{} ({})", n.name, n.source.as_str()))
        .collect();
    let app = wire_name(&f.app);
    vec![
        f.id.to_string(),
        f.protocol.clone(),
        f.client.address.to_string(),
        f.client.port.to_string(),
        f.server.address.to_string(),
        f.server.port.to_string(),
        wire_name(&f.locality),
        app,
        primary.map(|n| n.name.clone()).unwrap_or_default(),
        primary
            .map(|n| n.source.as_str().to_string())
            .unwrap_or_default(),
        names.join("; "),
        f.process
            .as_ref()
            .map(|a| a.process.label())
            .unwrap_or_default(),
        f.up.packets.to_string(),
        f.down.packets.to_string(),
        f.bytes_out.to_string(),
        f.bytes_in.to_string(),
        f.first_seen.to_string(),
        f.last_seen.to_string(),
        f.duration_s.to_string(),
        f.tcp
            .as_ref()
            .map(|t| t.history.clone())
            .unwrap_or_default(),
        f.tcp
            .as_ref()
            .map(|t| format!("{:?}", t.state))
            .unwrap_or_default(),
        f.verdict.kind.as_str().to_string(),
        f.verdict.category.clone(),
        f.verdict.rule.clone().unwrap_or_default(),
        f.verdict.also.join("; "),
        f.verdict.reason.clone(),
        if f.new_destination { "yes" } else { "no" }.to_string(),
        // empty for a declared or local flow, which has no class
        f.verdict
            .class
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
    ]
}

fn push_record(o: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&cell(&field));
    }
    o.push_str("\r\n");
}

/// One field: neutralised, defused as a formula, quoted when RFC 4180 needs it.
pub fn cell(s: &str) -> String {
    let mut v = neutralise(s);
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.insert(0, '\'');
    }
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(cell("plex.tv"), "plex.tv");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formulas_become_text() {
        assert_eq!(cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(cell("a=b"), "a=b");
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(cell("a\r\nb"), "a\\u{d}\\u{a}b");
        assert_eq!(cell("\tx"), "\\u{9}x");
        assert_eq!(cell("x\u{1b}[31m\u{202e}"), "x\\u{1b}[31m\\u{202e}");
    }

    #[test]
    fn the_header_has_a_field_for_each_column() {
        assert_eq!(HEADER.len(), 28);
        let report = crate::report::testing::four_classes();
        for f in &report.flows {
            assert_eq!(row(f).len(), HEADER.len(), "flow {}", f.id);
        }
    }

    #[test]
    fn the_class_column_comes_last_and_tells_the_four_classes_apart() {
        // the columns before it keep the positions they had before it was added
        assert_eq!(HEADER.get(26), Some(&"new_destination"));
        assert_eq!(HEADER.last(), Some(&"class"));
        let text = render(&crate::report::testing::four_classes());
        let class_of = |id: u64| {
            text.lines()
                .find(|l| l.starts_with(&format!("{id},")))
                .and_then(|l| l.rsplit(',').next())
                .map(str::to_string)
        };
        assert_eq!(
            text.lines().next().map(|h| h.ends_with(",class")),
            Some(true)
        );
        assert_eq!(class_of(13).as_deref(), Some("collection"));
        assert_eq!(class_of(15).as_deref(), Some("vendor_undeclared"));
        assert_eq!(class_of(40).as_deref(), Some("third_party"));
        assert_eq!(class_of(41).as_deref(), Some("cannot_judge"));
        // a declared flow's cell is empty
        assert_eq!(class_of(9).as_deref(), Some(""));
    }
}
