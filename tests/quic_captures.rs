//! QUIC on real captures: v1, v2, Retry, Version Negotiation, CRYPTO spread over several
//! Initials, a client that switches connection IDs, gQUIC, and the truncated and fuzzed
//! captures (read without a panic, failures counted).

mod common;

use telltale::flows::AppProto;
use telltale::report::Report;

fn audit(name: &str) -> Option<Report> {
    let dir = common::shared_captures()?;
    Some(common::audit_file(&dir.join(name), "on"))
}

fn quic_names(r: &Report) -> Vec<&str> {
    r.names
        .iter()
        .filter(|n| n.source.as_str() == "quic_sni")
        .map(|n| n.name.as_str())
        .collect()
}

#[test]
fn quic_v1_initials_are_named_through_retry_and_fragmented_crypto() {
    for (file, name) in [
        ("tcpdump/quic_handshake.pcap", "localhost"),
        ("tcpdump/quic_retry.pcap", "localhost"),
        (
            "zeek/quic_quic-multiple-initial-fragmented-crypto.pcap",
            "googleads.g.doubleclick.net",
        ),
        (
            "zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap",
            "api.cirrus-ci.com",
        ),
        // the client moves to the server's connection ID but keeps the original Initial keys
        (
            "zeek/quic_quic-decrypt-fail-google-de-51833.pcap",
            "www.google.de",
        ),
    ] {
        let Some(r) = audit(file) else { return };
        assert_eq!(quic_names(&r), [name], "{file}");
        let f = r
            .flows
            .iter()
            .find(|f| f.names.iter().any(|n| n.name == name))
            .unwrap();
        assert_eq!(f.app, AppProto::Quic, "{file}");
        assert!(f.seen.quic_initial, "{file}");
        assert_eq!(f.seen.quic_version.as_deref(), Some("1"), "{file}");
    }
}

#[test]
fn quic_v2_initials_are_decrypted() {
    let Some(r) = audit("zeek/quic_quicv2-http3-443.pcap") else {
        return;
    };
    // tshark 4.0 reads no v2 Initial; this one's ClientHello offers h3 and carries no
    // server_name (the client connected to an address), so there is no name to find
    assert_eq!(r.counters.quic_client_hellos, 1);
    assert_eq!(r.counters.quic_undecryptable, 0);
    let f = r
        .flows
        .iter()
        .find(|f| f.seen.quic_initial)
        .expect("a decrypted v2 Initial");
    assert_eq!(f.seen.quic_version.as_deref(), Some("2"));
    assert_eq!(f.seen.alpn, ["h3"]);
}

#[test]
fn gquic_is_recognised_and_its_clear_text_name_read() {
    let Some(r) = audit("tcpdump/gquic.pcap") else {
        return;
    };
    let f = r
        .flows
        .iter()
        .find(|f| f.app == AppProto::Gquic)
        .expect("a gQUIC flow");
    assert!(
        f.seen
            .quic_version
            .as_deref()
            .is_some_and(|v| v.starts_with("Q0")),
        "{:?}",
        f.seen.quic_version
    );
    assert_eq!(quic_names(&r), ["clientservices.googleapis.com"]);
}

#[test]
fn version_negotiation_and_dns_over_quic() {
    let Some(r) = audit("tcpdump/quic_vn.pcap") else {
        return;
    };
    assert!(r.flows.iter().all(|f| f.app == AppProto::Quic));
    let Some(r) = audit("zeek/quic_quicdoq.pcap") else {
        return;
    };
    assert_eq!(r.counters.quic_client_hellos, 1);
}

#[test]
fn broken_quic_captures_are_read_without_panic_and_counted() {
    for file in [
        "tcpdump/quic_handshake_truncated.pcap",
        "tcpdump/quic_32_bit_pointer_overflow.pcap",
        "zeek/quic_383379789-decrypt-crash.pcap",
        "zeek/quic_vector-max-size-crash.pcap",
    ] {
        let Some(r) = audit(file) else { return };
        assert!(r.counters.add_up(), "{file}");
        assert!(r.counters.packets > 0, "{file}");
    }
}
