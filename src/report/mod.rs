//! Reports: `model` is the report as data (what JSON serialises, documented in
//! docs/report.md), `json` and `markdown` render it, `text` holds the escaping and
//! number formatting they share. The same input gives the same report, byte for byte,
//! apart from `generated_at`.

pub mod baseline;
pub mod blind_spots;
pub mod json;
pub mod markdown;
pub mod model;
pub mod text;

pub use model::{Report, SCHEMA};

/// An output format of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Markdown,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The file name used when several formats go to a directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Json => "report.json",
        }
    }

    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Markdown => markdown::render(report),
            Format::Json => json::render(report),
        }
    }
}
