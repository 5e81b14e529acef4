//! Reports: `model` is the report as data (what JSON serialises, documented in
//! docs/report.md), `json`, `markdown`, `html` and `csv` render it, `text` holds the escaping and
//! number formatting they share. The same input gives the same report, byte for byte,
//! apart from `generated_at`.

pub mod baseline;
pub mod blind_spots;
pub mod classes;
pub mod csv;
pub mod evidence;
pub mod html;
pub mod journal;
pub mod json;
pub mod manifest;
pub mod markdown;
pub mod model;
pub mod output;
#[cfg(test)]
pub mod testing;

pub use model::{Report, SCHEMA};

/// An output format of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Markdown,
    Json,
    /// One self-contained page (inline style and charts, nothing fetched).
    Html,
    /// One row per flow.
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The file name used when several formats go to a directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Json => "report.json",
            Format::Html => "report.html",
            Format::Csv => "flows.csv",
        }
    }

    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Markdown => markdown::render(report),
            Format::Json => json::render(report),
            Format::Html => html::render(report),
            Format::Csv => csv::render(report),
        }
    }
}
