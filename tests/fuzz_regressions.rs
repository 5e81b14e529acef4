//! The fuzz targets' saved inputs, replayed by the normal test run: every file under
//! `tests/fuzz_regressions/<target>/` (each crash a fuzzer found, minimised, and a few chosen
//! inputs per target) goes through `telltale_testkit::fuzzing::<target>`, the very function the fuzz
//! target calls, which panics on a crash or a broken promise. The chosen inputs are also checked
//! to be what their names say, so that they keep reaching the code they were written for.
//! See docs/fuzzing.md.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use telltale::dissect::quic::QuicEvent;
use telltale::dissect::{dns, http, tls};
use telltale_testkit::fuzzing;

fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target)
}

fn input(target: &str, name: &str) -> Vec<u8> {
    let p = dir(target).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Replays every saved input of `target`; fails naming each input that panics.
fn replay(target: &str, run: fn(&[u8])) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir(target))
        .unwrap_or_else(|e| panic!("tests/fuzz_regressions/{target}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "tests/fuzz_regressions/{target} holds {} inputs; it keeps at least 5",
        files.len()
    );
    let mut failed = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these saved inputs fail again:\n{}",
        failed.join("\n")
    );
}

#[test]
fn link_inputs_replay() {
    replay("link", fuzzing::link);
}

#[test]
fn dns_inputs_replay() {
    replay("dns", fuzzing::dns);
}

#[test]
fn tls_client_hello_inputs_replay() {
    replay("tls_client_hello", fuzzing::tls_client_hello);
}

#[test]
fn http_request_inputs_replay() {
    replay("http_request", fuzzing::http_request);
}

#[test]
fn quic_initial_inputs_replay() {
    replay("quic_initial", fuzzing::quic_initial);
}

#[test]
fn rules_inputs_replay() {
    replay("rules", fuzzing::rules);
}

#[test]
fn settings_inputs_replay() {
    replay("settings", fuzzing::settings);
}

#[test]
fn pipeline_inputs_replay() {
    replay("pipeline", fuzzing::pipeline);
}

#[test]
fn every_link_layer_seed_reaches_ip() {
    for name in [
        "ethernet-ipv4-udp-dns",
        "ethernet-vlan-ipv6-tcp-client-hello",
        "ethernet-qinq-pppoe-ipv4",
        "ethernet-mpls-ipv4",
        "sll-ipv4-tcp-syn",
        "sll2-ipv6-udp",
        "null-ipv6-udp",
        "loop-ipv4-udp",
        "ppp-hdlc-ipv4-udp",
        "ppp-ipv6",
    ] {
        let out = fuzzing::link_outcomes(&input("link", name));
        assert!(
            out.len() == 1 && out[0].starts_with("ip "),
            "{name}: {out:?}"
        );
    }
    assert_eq!(
        fuzzing::link_outcomes(&input("link", "raw-ipv4-fragments-reordered")),
        ["fragment held", "ip udp 40007->53 payload 65/65"]
    );
    let cut = fuzzing::link_outcomes(&input("link", "ipv4-cut-by-snaplen"));
    assert!(cut[0].starts_with("cut by the snapshot length"), "{cut:?}");
    let lying = fuzzing::link_outcomes(&input("link", "ipv4-total-length-lies"));
    assert!(lying[0].starts_with("malformed"), "{lying:?}");
    let other = fuzzing::link_outcomes(&input("link", "unsupported-link-type"));
    assert!(other[0].starts_with("not decoded"), "{other:?}");
}

#[test]
fn the_dns_seeds_say_what_their_names_say() {
    let msg = dns::parse_message(&input("dns", "cname-chain-a-aaaa")).unwrap();
    let found = dns::address_names(&msg);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].1, ["www.example.com", "edge.example.net"]);
    let odd = dns::parse_message(&input("dns", "label-with-dot-and-control-byte")).unwrap();
    assert_eq!(odd.questions[0].name, "a\\.b\\007c");
    assert_eq!(
        odd.answers[0].ttl, 0,
        "a TTL with the top bit set reads as 0"
    );
    let cut = dns::parse_message(&input("dns", "answer-cut-short")).unwrap();
    assert!(!cut.complete);
    let stream = input("dns", "tcp-two-messages-and-a-partial");
    let (messages, used) = dns::split_tcp_messages(&stream);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        used,
        stream.len() - 3,
        "the partial message is left for later"
    );
}

#[test]
fn the_tls_and_http_seeds_say_what_their_names_say() {
    let sni = |name: &str| match tls::scan_client_stream(&input("tls_client_hello", name)) {
        tls::TlsScan::ClientHello(ch) => ch.sni,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        sni("one-record-sni-alpn").as_deref(),
        Some("media.example.com")
    );
    assert_eq!(
        sni("split-over-two-records").as_deref(),
        Some("media.example.com")
    );
    assert_eq!(
        sni("sni-with-control-and-bidi").as_deref(),
        Some("evil\\x1b[31m\\xe2\\x80\\xaeexample.com")
    );
    assert_eq!(sni("sslv2-hello"), None);
    assert!(matches!(
        tls::scan_client_stream(&input("tls_client_hello", "two-server-names")),
        tls::TlsScan::Malformed(_)
    ));
    let host = |name: &str| match http::scan_request(&input("http_request", name)) {
        http::HttpScan::Request(r) => r.host,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        host("get-with-host-and-port").as_deref(),
        Some("media.example.com")
    );
    assert_eq!(
        host("absolute-form-no-host").as_deref(),
        Some("198.51.100.9")
    );
    assert_eq!(
        http::scan_request(&input("http_request", "head-not-finished")),
        http::HttpScan::NeedMore
    );
}

#[test]
fn plaintext_quic_seeds_are_protected_then_read_back() {
    let sni_of = |name: &str| {
        fuzzing::quic_events(&input("quic_initial", name))
            .into_iter()
            .find_map(|e| match e {
                QuicEvent::ClientHello(ch) => Some(ch.sni),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no ClientHello"))
    };
    assert_eq!(
        sni_of("plaintext-crypto-in-order").as_deref(),
        Some("quic.example.org")
    );
    // the second half first, in an Initial of its own: reassembled by offset
    let events = fuzzing::quic_events(&input(
        "quic_initial",
        "plaintext-crypto-reordered-over-two-initials",
    ));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], QuicEvent::Quic);
    assert!(
        matches!(&events[1], QuicEvent::ClientHello(ch) if ch.sni.as_deref() == Some("quic.example.org"))
    );
    assert!(sni_of("demo-client-initial-plaintext").is_some());
    assert!(sni_of("demo-client-initial-as-captured").is_some());
    assert_eq!(
        fuzzing::quic_events(&input("quic_initial", "raw-gquic-chlo")),
        [QuicEvent::Gquic {
            sni: Some("gquic.example".into())
        }]
    );
}

#[test]
fn the_rules_and_settings_seeds_say_what_their_names_say() {
    let text = |name: &str| String::from_utf8(input("rules", name)).unwrap();
    let rules =
        telltale::rules::load::parse("t.toml", &text("conditions-budgets-and-setting-hosts.toml"))
            .unwrap();
    assert_eq!(rules.rules.len(), 4);
    for bad in [
        "error-after-multibyte-and-tab.toml",
        "condition-without-operator.toml",
        "empty.toml",
        "unterminated-string-at-end.toml",
    ] {
        let e = telltale::rules::load::parse("t.toml", &text(bad)).unwrap_err();
        assert!(e.to_string().starts_with("t.toml"), "{bad}: {e}");
    }
    use telltale::settings::{ServerKind, parse_bytes};
    let plex = parse_bytes(
        "p",
        &input("settings", "plex-token-and-escaped-values.xml"),
        &ServerKind::Plex,
    )
    .unwrap();
    assert!(plex.signed_in);
    assert_eq!(plex.get("RelayEnabled"), Some("\\u{1b}[31m1"));
    let plist = parse_bytes("p", &input("settings", "plex-plist.xml"), &ServerKind::Plex).unwrap();
    assert!(plist.signed_in);
    let bad = parse_bytes(
        "p",
        &input("settings", "plex-malformed-after-token.xml"),
        &ServerKind::Plex,
    )
    .unwrap_err();
    assert!(!bad.to_string().contains("Zq9xW2ePl8LmR4tY6uIo"));
    // found by the settings fuzzer: the root element's "name" held the token, and the error quoted it
    let leak = parse_bytes(
        "p",
        &input("settings", "crash-token-in-root-element-name.xml"),
        &ServerKind::Plex,
    )
    .unwrap_err()
    .to_string();
    assert!(!leak.contains("-2t-c0x-"), "{leak}");
    assert!(leak.contains("not a plain XML name"), "{leak}");
    // and a close tag's
    let leak = parse_bytes(
        "p",
        &input("settings", "crash-token-in-close-tag-name.xml"),
        &ServerKind::Plex,
    )
    .unwrap_err()
    .to_string();
    assert!(!leak.contains("detsecrt"), "{leak}");
    assert!(
        leak.contains("a close tag that does not match any open tag"),
        "{leak}"
    );
    let jellyfin = parse_bytes(
        "j",
        &input("settings", "jellyfin-system.xml"),
        &ServerKind::Jellyfin,
    )
    .unwrap();
    assert_eq!(
        jellyfin.get("PluginRepositories"),
        Some("https://repo.example/manifest.json")
    );
    let emby = parse_bytes(
        "e",
        &input("settings", "emby-system-bom.xml"),
        &ServerKind::Emby,
    )
    .unwrap();
    assert_eq!(emby.get("WanDdns"), Some("home.example"));
}

#[test]
fn the_capture_seeds_are_audited_with_their_names() {
    let names = |name: &str| -> Vec<(String, String)> {
        let report = fuzzing::pipeline_report(&input("pipeline", name))
            .unwrap_or_else(|| panic!("{name} does not open"));
        report
            .names
            .iter()
            .map(|n| (n.source.as_str().to_string(), n.name.clone()))
            .collect()
    };
    let all = names("ethernet-dns-tls-http-quic.pcap");
    for want in [
        ("tls_sni", "media.example.com"),
        ("http_host", "plex.tv"),
        ("dns_answer", "cdn.example.net"),
    ] {
        assert!(
            all.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} missing from {all:?}"
        );
    }
    assert!(
        names("ethernet-gzip.pcap.gz").contains(&("tls_sni".into(), "media.example.com".into()))
    );
    assert!(
        names("pcapng-two-sections-mixed-links.pcapng")
            .contains(&("tls_sni".into(), "raw.example".into()))
    );
    let cut = fuzzing::pipeline_report(&input("pipeline", "cut-mid-record.pcap")).unwrap();
    assert!(cut.inputs[0].cut_short.is_some());
    let snap =
        fuzzing::pipeline_report(&input("pipeline", "raw-big-endian-nanosecond-snaplen.pcap"))
            .unwrap();
    assert_eq!(snap.counters.packets, 2);
}

/// The seed extraction that scripts/fuzz.sh runs, on the demo capture: a seed for every
/// protocol target, each of which replays cleanly.
#[test]
fn seeds_are_cut_out_of_a_capture() {
    let seeds = fuzzing::seeds_from_capture(telltale::demo::DEMO_CAPTURE);
    for (target, list) in seeds.by_target() {
        assert!(!list.is_empty(), "no {target} seed from the demo capture");
    }
    assert!(
        seeds.quic_initial.iter().any(|s| s.first() == Some(&1)),
        "no decrypted (plaintext) QUIC seed"
    );
    assert!(
        seeds
            .tls_client_hello
            .iter()
            .any(|s| matches!(tls::scan_client_stream(s), tls::TlsScan::ClientHello(_)))
    );
    for s in &seeds.link {
        fuzzing::link(s);
    }
    for s in &seeds.dns {
        fuzzing::dns(s);
    }
    for s in &seeds.tls_client_hello {
        fuzzing::tls_client_hello(s);
    }
    for s in &seeds.http_request {
        fuzzing::http_request(s);
    }
    for s in &seeds.quic_initial {
        fuzzing::quic_initial(s);
    }
}

/// The same on the third-party captures, when they are beside the project.
#[test]
fn shared_capture_seeds_replay_cleanly() {
    let Some(dir) = common::shared_captures() else {
        return;
    };
    let mut files = Vec::new();
    for sub in ["tcpdump", "zeek"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    let mut kinds = std::collections::BTreeMap::new();
    for f in files {
        let seeds = fuzzing::seeds_from_capture(&std::fs::read(&f).unwrap());
        for (target, list) in seeds.by_target() {
            *kinds.entry(target).or_insert(0usize) += list.len();
            let run: fn(&[u8]) = match target {
                "link" => fuzzing::link,
                "dns" => fuzzing::dns,
                "tls_client_hello" => fuzzing::tls_client_hello,
                "http_request" => fuzzing::http_request,
                _ => fuzzing::quic_initial,
            };
            for s in list {
                if std::panic::catch_unwind(|| run(s)).is_err() {
                    panic!("{target} fails on a seed from {}", f.display());
                }
            }
        }
    }
    for (target, n) in kinds {
        assert!(n >= 5, "only {n} {target} seeds from the shared captures");
    }
}
