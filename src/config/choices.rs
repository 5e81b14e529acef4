//! The command line's choices, checked once at the edge: clap hands each flag's words to
//! one of these parsers, and the commands get the checked value, never the string. The
//! words accepted, and the messages for the ones that are not, are those the commands
//! have always given.

use crate::report::Format;
use std::str::FromStr;

/// `--opt-out`: the owner's data-sharing choice as asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptOutChoice {
    /// Read it from the server's settings (none found: the strictest reading, opted out).
    Auto,
    /// The owner opted out of data sharing, whatever the settings say.
    On,
    /// The owner did not opt out, whatever the settings say.
    Off,
}

impl FromStr for OptOutChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<OptOutChoice, String> {
        match s.trim() {
            "auto" => Ok(OptOutChoice::Auto),
            "on" => Ok(OptOutChoice::On),
            "off" => Ok(OptOutChoice::Off),
            other => Err(format!(
                "--opt-out takes `auto` (read the server's settings), `on` (the owner opted out of data sharing) or `off`, not `{other}`"
            )),
        }
    }
}

/// `--scope`: which flows to audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeChoice {
    /// The server's processes, as the rules' `[server]` names them.
    Server,
    /// Every flow.
    Host,
}

impl FromStr for ScopeChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<ScopeChoice, String> {
        match s {
            "server" => Ok(ScopeChoice::Server),
            "host" => Ok(ScopeChoice::Host),
            other => Err(format!("--scope takes `server` or `host`, not `{other}`")),
        }
    }
}

/// Every report format, in the order a bundle writes them.
pub const ALL_FORMATS: [Format; 4] = [Format::Json, Format::Markdown, Format::Html, Format::Csv];

/// `--format` of `audit` and `demo`: report formats, comma-separated, each once, in the
/// order first named; `all` is every format and the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatList {
    /// Never empty.
    pub formats: Vec<Format>,
    /// `all` was named: the bundle (every format, the evidence and a manifest) into a folder.
    pub bundle: bool,
}

impl FromStr for FormatList {
    type Err = String;

    fn from_str(s: &str) -> Result<FormatList, String> {
        let mut formats = Vec::new();
        let mut bundle = false;
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let parsed = if part.trim() == "all" {
                bundle = true;
                ALL_FORMATS.to_vec()
            } else {
                vec![Format::parse(part).ok_or_else(|| {
                    format!(
                        "--format: unknown format `{}`; expected md, json, html, csv or all (comma-separated)",
                        part.trim()
                    )
                })?]
            };
            for f in parsed {
                if !formats.contains(&f) {
                    formats.push(f);
                }
            }
        }
        if formats.is_empty() {
            return Err("--format: name at least one format (md, json, html, csv, all)".into());
        }
        Ok(FormatList { formats, bundle })
    }
}

/// `--format` of `report --from-journal`: one of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalFormat {
    Markdown,
    Json,
}

impl FromStr for JournalFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<JournalFormat, String> {
        match s {
            "md" => Ok(JournalFormat::Markdown),
            "json" => Ok(JournalFormat::Json),
            other => Err(format!("--format takes md or json here, not `{other}`")),
        }
    }
}

/// `--speed`: how fast a capture replays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// This many times real time (positive, finite).
    Times(f64),
    /// As fast as it reads.
    Max,
}

impl Speed {
    /// The factor, `None` for as fast as it reads.
    pub fn factor(self) -> Option<f64> {
        match self {
            Speed::Times(x) => Some(x),
            Speed::Max => None,
        }
    }
}

impl FromStr for Speed {
    type Err = String;

    /// `max`, or a positive number with an optional `x` after it (`10`, `10x`, `0.5`).
    fn from_str(s: &str) -> Result<Speed, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.trim_end_matches('x').parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Ok(Speed::Times(x)),
            _ => Err(format!(
                "--speed takes a positive number (1 = real time, 10 = ten times faster) or `max`, not `{s}`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_takes_auto_on_off_trimmed() {
        assert_eq!(" on ".parse(), Ok(OptOutChoice::On));
        assert_eq!("off".parse(), Ok(OptOutChoice::Off));
        assert_eq!("auto".parse(), Ok(OptOutChoice::Auto));
        let e = "maybe".parse::<OptOutChoice>().unwrap_err();
        assert!(e.starts_with("--opt-out takes `auto`"), "{e}");
        assert!(e.ends_with("not `maybe`"), "{e}");
    }

    #[test]
    fn scope_takes_server_or_host() {
        assert_eq!("server".parse(), Ok(ScopeChoice::Server));
        assert_eq!("host".parse(), Ok(ScopeChoice::Host));
        assert_eq!(
            "everything".parse::<ScopeChoice>(),
            Err("--scope takes `server` or `host`, not `everything`".into())
        );
    }

    #[test]
    fn formats_are_a_list_without_repeats() {
        let l: FormatList = "json, md,markdown,,".parse().unwrap();
        assert_eq!(l.formats, vec![Format::Json, Format::Markdown]);
        assert!(!l.bundle);
        let l: FormatList = "md,all".parse().unwrap();
        assert_eq!(
            l.formats,
            vec![Format::Markdown, Format::Json, Format::Html, Format::Csv]
        );
        assert!(l.bundle);
        let e = "md,pdf".parse::<FormatList>().unwrap_err();
        assert!(e.contains("unknown format `pdf`"), "{e}");
        let e = " , ".parse::<FormatList>().unwrap_err();
        assert!(e.contains("name at least one format"), "{e}");
    }

    #[test]
    fn journal_format_is_md_or_json() {
        assert_eq!("md".parse(), Ok(JournalFormat::Markdown));
        assert_eq!("json".parse(), Ok(JournalFormat::Json));
        assert!("html".parse::<JournalFormat>().is_err());
    }

    #[test]
    fn speed_is_positive_or_max() {
        assert_eq!("max".parse(), Ok(Speed::Max));
        assert_eq!("10x".parse(), Ok(Speed::Times(10.0)));
        assert_eq!("0.5".parse(), Ok(Speed::Times(0.5)));
        for bad in ["0", "-1", "inf", "NaN", "fast", ""] {
            let e = bad.parse::<Speed>().unwrap_err();
            assert!(e.starts_with("--speed takes a positive number"), "{e}");
        }
    }
}
