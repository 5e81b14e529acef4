//! The JSON report (`telltale.report/1`, documented in docs/report.md): the report
//! model serialised, pretty-printed, keys in a fixed order.

use super::Report;

pub fn render(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Serialising plain data cannot fail; say so rather than panic if it ever does.
        Err(e) => format!(
            "{{\"schema\": \"{}\", \"error\": \"{e}\"}}\n",
            super::SCHEMA
        ),
    }
}
