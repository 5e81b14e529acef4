//! `telltale rules check PATH` and `telltale rules test PATH CAPTURE...`: for people who
//! write or edit a rules file.

use super::{EXIT_CLEAN, EXIT_ERROR, Failure};
use std::fmt::Write;
use std::path::Path;
use telltale::audit::{AuditConfig, AuditSpec, audit_readers};
use telltale::capture::file::CaptureReader;
use telltale::config::choices::{OptOutChoice, ScopeChoice};
use telltale::pipeline::Caps;
use telltale::rules::verdict::VerdictKind;
use telltale::rules::{check, load};
use telltale::text::{bytes, neutralise};

/// Validates a rules file: errors exit 2 (with `file:line:column`, the line and a caret),
/// warnings are printed and exit 0.
pub fn run_check(path: &Path) -> Result<i32, Failure> {
    let rules = load::load(&path.to_string_lossy()).map_err(|e| Failure {
        message: e.to_string(),
        code: EXIT_ERROR,
    })?;
    let warnings = check::check(&rules);
    for w in &warnings {
        println!("{}: {w}", rules.source);
    }
    println!(
        "{}: {} rules ({} exceptions, {} collection endpoints, {} local-only); {} warning{}",
        rules.source,
        rules.rules.len(),
        rules
            .rules
            .iter()
            .filter(|r| r.kind == telltale::rules::RuleKind::Exception)
            .count(),
        rules
            .rules
            .iter()
            .filter(|r| r.kind == telltale::rules::RuleKind::Collection)
            .count(),
        rules
            .rules
            .iter()
            .filter(|r| r.kind == telltale::rules::RuleKind::LocalOnly)
            .count(),
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    Ok(EXIT_CLEAN)
}

/// Audits captures with a rules file and says how each rule fared.
pub fn run_test(
    path: &Path,
    captures: &[std::path::PathBuf],
    opt_out: OptOutChoice,
) -> Result<i32, Failure> {
    let config = AuditConfig::without_settings(&AuditSpec {
        rules: vec![path.to_string_lossy().into_owned()],
        opt_out,
        scope: Some(ScopeChoice::Host),
        server_ip: None,
        baseline: None,
        prefs: None,
    })?;
    let mut readers = Vec::new();
    for c in captures {
        readers.push(CaptureReader::open(c).map_err(|e| Failure::usage(e.to_string()))?);
    }
    let report = audit_readers(readers, &config, Caps::default());
    print!("{}", render_test(&report));
    Ok(EXIT_CLEAN)
}

pub fn render_test(report: &telltale::report::Report) -> String {
    let mut o = String::new();
    let width = report
        .rules
        .rules
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        o,
        "{:<width$}  {:<10}  {:>5}  {:>9}  category",
        "rule", "kind", "flows", "bytes out"
    );
    for r in report.rules.rules.iter().filter(|r| r.flows > 0) {
        let _ = writeln!(
            o,
            "{:<width$}  {:<10}  {:>5}  {:>9}  {}",
            r.id,
            r.kind.table_name(),
            r.flows,
            bytes(r.bytes_out),
            r.category
        );
    }
    let never: Vec<&str> = report
        .rules
        .rules
        .iter()
        .filter(|r| r.flows == 0)
        .map(|r| r.id.as_str())
        .collect();
    let _ = writeln!(
        o,
        "\nnever decided a verdict ({}): {}",
        never.len(),
        if never.is_empty() {
            "-".into()
        } else {
            never.join(", ")
        }
    );
    let unmatched: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.verdict.rule.is_none() && f.verdict.kind != VerdictKind::Local)
        .collect();
    let _ = writeln!(o, "\nflows no rule matched ({}):", unmatched.len());
    for f in unmatched {
        let r = f.remote();
        let name = f.primary_name().map_or_else(
            || "unnamed".to_string(),
            |n| format!("{} ({})", neutralise(&n.name), n.source.as_str()),
        );
        let _ = writeln!(
            o,
            "  flow {:>4}  {} {}:{}  {name}  {} out",
            f.id,
            f.protocol,
            r.address,
            r.port,
            bytes(f.bytes_out)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(opt_out: OptOutChoice) -> AuditConfig {
        AuditConfig::without_settings(&AuditSpec {
            rules: vec!["plex".into()],
            opt_out,
            scope: Some(ScopeChoice::Host),
            server_ip: None,
            baseline: None,
            prefs: None,
        })
        .expect("the built-in rules load")
    }

    #[test]
    fn auto_reads_no_settings_and_takes_the_strictest_reading_as_on_does() {
        let auto = config(OptOutChoice::Auto);
        assert!(auto.settings.is_none());
        assert!(auto.consent().opted_out);
        assert_eq!(auto.opt_out.state.as_str(), "on");
        assert!(
            auto.opt_out.source.contains("the strictest reading"),
            "{}",
            auto.opt_out.source
        );
        assert!(config(OptOutChoice::On).consent().opted_out);
        let off = config(OptOutChoice::Off);
        assert!(!off.consent().opted_out);
        assert_eq!(off.opt_out.source, "command line (--opt-out off)");
    }
}
