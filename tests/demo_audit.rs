//! The demo capture's audit: it flags exactly the flows that should be flagged, for the
//! stated reasons, and declares the rest under the right exceptions. The expectations
//! come from the demo's own scenario table, flow by flow.

mod common;

use telltale::report::model::FlowReport;
use telltale::rules::verdict::VerdictKind;
use telltale_testkit::demo::scenario;

fn find<'a>(
    flows: &'a [FlowReport],
    d: &telltale_testkit::demo::DemoFlow,
) -> Option<&'a FlowReport> {
    flows.iter().find(|f| {
        let c = std::net::SocketAddr::new(f.client.address, f.client.port);
        let s = std::net::SocketAddr::new(f.server.address, f.server.port);
        f.protocol == d.protocol
            && ((c == d.client && s == d.server) || (c == d.server && s == d.client))
    })
}

#[test]
fn every_demo_flow_gets_its_expected_verdict() {
    let report = common::audit_demo("on");
    let scenario = scenario();
    assert_eq!(
        report.flows.len(),
        scenario.len(),
        "one report flow per scenario flow"
    );
    let mut wrong = Vec::new();
    for d in &scenario {
        let Some(f) = find(&report.flows, d) else {
            wrong.push(format!(
                "{}: no flow {} {} -> {}",
                d.purpose, d.protocol, d.client, d.server
            ));
            continue;
        };
        let v = &f.verdict;
        let ok = match d.expect.split_once(':') {
            None => v.kind == VerdictKind::Local && d.expect == "local",
            Some(("declared", exception)) => {
                v.kind == VerdictKind::Declared
                    && (v.rule.as_deref() == Some(exception)
                        || v.also.iter().any(|a| a == exception)
                        || v.category.split(" | ").any(|c| c == exception))
            }
            Some(("flagged", words)) => {
                v.kind == VerdictKind::Flagged
                    && v.reason.to_lowercase().contains(&words.to_lowercase())
            }
            Some(_) => false,
        };
        if !ok {
            wrong.push(format!(
                "{} (flow {}): expected {}, got {} {} rule {:?}: {}",
                d.purpose,
                f.id,
                d.expect,
                v.kind.as_str(),
                v.category,
                v.rule,
                v.reason
            ));
        }
        // the name the wire reveals is there, from the right source
        if let Some(host) = d.host
            && !f
                .names
                .iter()
                .any(|n| n.name == host && n.source.as_str() == d.how)
        {
            wrong.push(format!(
                "{} (flow {}): {host} not named by {}: {:?}",
                d.purpose, f.id, d.how, f.names
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let flagged = scenario
        .iter()
        .filter(|d| d.expect.starts_with("flagged"))
        .count();
    assert_eq!(report.flagged(), flagged);
    assert_eq!(
        flagged, 5,
        "metrics, analytics, crash reports, the tracker and GDM to the internet"
    );
}

#[test]
fn flagged_reasons_name_the_party_and_how_it_was_learned() {
    let report = common::audit_demo("on");
    let metrics = report
        .flows
        .iter()
        .find(|f| f.names.iter().any(|n| n.name == "metrics.plex.tv"))
        .expect("the metrics flow");
    assert_eq!(metrics.verdict.kind, VerdictKind::Flagged);
    assert_eq!(metrics.verdict.rule.as_deref(), Some("metrics"));
    assert_eq!(metrics.verdict.category, "telemetry");
    assert!(
        metrics.verdict.reason.contains("metrics.plex.tv (tls_sni)"),
        "{}",
        metrics.verdict.reason
    );
    assert!(
        metrics.verdict.reason.contains("opted out"),
        "{}",
        metrics.verdict.reason
    );

    let plex = report
        .flows
        .iter()
        .find(|f| f.server.address.is_ipv4() && f.names.iter().any(|n| n.name == "plex.tv"))
        .expect("the plex.tv flow");
    assert_eq!(plex.verdict.kind, VerdictKind::Declared);
    assert_eq!(plex.verdict.rule.as_deref(), Some("updates"));
    assert_eq!(
        plex.verdict.also,
        ["remote_discovery", "plex_pass", "relay"]
    );
    assert!(
        plex.verdict.reason.contains("could be any of them"),
        "{}",
        plex.verdict.reason
    );
}

#[test]
fn with_opt_out_off_nothing_is_flagged_but_everything_is_categorised() {
    let report = common::audit_demo("off");
    assert_eq!(report.flagged(), 0);
    let telemetry = report
        .flows
        .iter()
        .filter(|f| f.verdict.category == "telemetry")
        .count();
    assert_eq!(telemetry, 2);
    assert!(
        report
            .flows
            .iter()
            .any(|f| f.verdict.kind == VerdictKind::Allowed)
    );
    assert!(
        report
            .flows
            .iter()
            .all(|f| f.verdict.kind != VerdictKind::Declared)
    );
}

#[test]
fn the_report_is_deterministic_apart_from_the_generation_time() {
    let a = common::audit_demo("on");
    let b = common::audit_demo("on");
    let strip = |r: &telltale::report::Report| {
        let mut r = r.clone();
        r.generated_at = telltale::time::Timestamp(0);
        (
            telltale::report::json::render(&r),
            telltale::report::markdown::render(&r),
        )
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn the_demo_report_lists_every_name_and_its_blind_spots() {
    let report = common::audit_demo("on");
    let json = common::json(&report);
    assert_eq!(json["schema"], "telltale.report/1");
    let names: Vec<(&str, &str)> = json["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["source"].as_str().unwrap()))
        .collect();
    for (name, source) in [
        ("plex.tv", "dns_answer"),
        ("plex.tv", "tls_sni"),
        ("image-tmdb-org.cdn.example.net", "dns_answer"),
        ("tvthemes.plexapp.com", "http_host"),
        ("discover.provider.plex.tv", "quic_sni"),
    ] {
        assert!(
            names.contains(&(name, source)),
            "{name} {source} missing from {names:?}"
        );
    }
    let blind = json["blind_spots"].as_array().unwrap();
    assert_eq!(blind.len(), 6);
    // the GDM datagram to a public address has no name at all
    let no_dns = blind
        .iter()
        .find(|b| b["cause"] == "no_dns_answer")
        .unwrap();
    assert!(no_dns["flows"].as_u64().unwrap() >= 1);
    let md = telltale::report::markdown::render(&report);
    assert!(md.contains("## Blind spots"));
    assert!(
        md.starts_with("# telltale audit: Plex Media Server\n\n**5 flows flagged**"),
        "{}",
        &md[..200]
    );
}
