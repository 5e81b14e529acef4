//! Every cap the pipeline keeps, hit on purpose through the real audit: the flow table, the
//! DNS answer map and the name inventory; hostile DNS names (pointer loops and chains, names
//! over 255 bytes, labels over 63, more records than the message holds); deeply stacked
//! headers (VLAN tags, MPLS labels, IPv6 extension headers, IP in IP); IP fragment
//! reassembly; the TCP stream and QUIC CRYPTO buffers; the evidence store.
//!
//! Each test builds its packets, writes them as a pcapng, audits it as `telltale audit`
//! does (the plex rules, opted out) in a thread that must end within a minute, and checks
//! what a user reads in the report: counters, flows, names, warnings. The addresses on the
//! "internet" are documentation addresses (203.0.113.0/24); nothing is sent anywhere.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder};
use serde_json::Value;
use std::io::Cursor;
use std::time::Duration;
use telltale::audit::audit_readers_with_evidence;
use telltale::capture::file::CaptureReader;
use telltale::pipeline::Caps;
use telltale::report::evidence::Evidence;
use telltale::time::Timestamp;
use telltale_testkit::demo::Frame;
use telltale_testkit::demo::quic::{
    InitialSpec, client_initial_keys, crypto_frame, protect_initial,
};
use telltale_testkit::demo::synth::write_pcapng;

const SERVER: [u8; 4] = [192, 168, 1, 10];
const RESOLVER: [u8; 4] = [192, 168, 1, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_MPLS: u16 = 0x8847;

/// A remote ("internet") address: 203.0.113.n.
fn far(n: u8) -> [u8; 4] {
    [203, 0, 113, n]
}

fn far_str(n: u8) -> String {
    format!("203.0.113.{n}")
}

fn mac(ip: [u8; 4]) -> [u8; 6] {
    if ip == SERVER { SERVER_MAC } else { ROUTER_MAC }
}

// ------------------------------------------------------------------------------------------
// Making a capture

/// A capture being made: one frame per millisecond.
#[derive(Default)]
struct Capture {
    frames: Vec<Frame>,
}

impl Capture {
    fn frame(&mut self, data: Vec<u8>) {
        let ts = Timestamp(1_700_000_000_000_000_000 + self.frames.len() as i64 * 1_000_000);
        self.frames.push(Frame { ts, data });
    }

    fn udp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) {
        let b = PacketBuilder::ethernet2(mac(src.0), mac(dst.0))
            .ipv4(src.0, dst.0, 64)
            .udp(src.1, dst.1);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        self.frame(v);
    }

    /// A TCP segment; `syn` opens the connection (its seq + 1 is the first data byte), with
    /// ACK set when the server answers.
    fn tcp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, syn: bool, data: &[u8]) {
        let b = PacketBuilder::ethernet2(mac(src.0), mac(dst.0))
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 64_240);
        let b = match (syn, src.0 == SERVER) {
            (true, true) => b.syn(),
            (true, false) => b.syn().ack(1),
            (false, _) => b.ack(1).psh(),
        };
        let mut v = Vec::new();
        b.write(&mut v, data).unwrap();
        self.frame(v);
    }

    /// An Ethernet frame from the server to the router with this ethertype and body.
    fn ether(&mut self, ethertype: u16, body: &[u8]) {
        let mut v = ROUTER_MAC.to_vec();
        v.extend(SERVER_MAC);
        v.extend(ethertype.to_be_bytes());
        v.extend(body);
        self.frame(v);
    }

    fn pcapng(&self) -> Vec<u8> {
        write_pcapng(Vec::new(), &self.frames, "telltale bounds test").unwrap()
    }
}

/// IPv4 header bytes (checksum filled in) for a packet of `total` bytes.
fn ipv4_header(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    id: u16,
    frag: Option<(u16, bool)>,
    total: usize,
) -> Vec<u8> {
    let mut h = Ipv4Header {
        total_len: u16::try_from(total).unwrap(),
        identification: id,
        time_to_live: 64,
        protocol: IpNumber(protocol),
        source: src,
        destination: dst,
        ..Default::default()
    };
    if let Some((offset, more)) = frag {
        h.fragment_offset = IpFragOffset::try_new(offset / 8).unwrap();
        h.more_fragments = more;
    }
    h.header_checksum = h.calc_header_checksum();
    h.to_bytes().to_vec()
}

/// A UDP header and payload (checksum left 0: "none", as IPv4 allows).
fn udp_bytes(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(sport.to_be_bytes());
    v.extend(dport.to_be_bytes());
    v.extend(u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

// ------------------------------------------------------------------------------------------
// Auditing it

/// Audits `cap` with `caps` as `telltale audit --opt-out on` does, in a thread that must end
/// within a minute: a hang or a panic fails the test instead of stalling the run.
fn audit_with_evidence(cap: &Capture, caps: Caps, evidence: bool) -> (Value, Option<Evidence>) {
    let bytes = cap.pcapng();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reader = CaptureReader::from_reader("bounds.pcapng", Box::new(Cursor::new(bytes)))
            .expect("a readable capture");
        let (report, ev) =
            audit_readers_with_evidence(vec![reader], &common::judging("on"), caps, evidence);
        let _ = tx.send((common::json(&report), ev));
    });
    let (v, ev) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the audit ends within a minute, without a panic");
    let c = &v["counters"];
    assert_eq!(
        c["packets"],
        num(c, "decoded") + num(c, "malformed") + num(c, "unsupported") + num(c, "truncated"),
        "every packet is decoded or counted as not decoded: {c}"
    );
    (v, ev)
}

fn audit(cap: &Capture, caps: Caps) -> Value {
    audit_with_evidence(cap, caps, false).0
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no number {key} in {v}"))
}

fn counter(report: &Value, key: &str) -> u64 {
    num(&report["counters"], key)
}

/// How many packets were not decoded for this reason (`"malformed: ..."`).
fn reason(report: &Value, why: &str) -> u64 {
    report["counters"]["reasons"][why].as_u64().unwrap_or(0)
}

fn flows(report: &Value) -> &Vec<Value> {
    report["flows"].as_array().expect("flows")
}

/// The flows whose server is `addr`.
fn flows_to<'a>(report: &'a Value, addr: &str) -> Vec<&'a Value> {
    flows(report)
        .iter()
        .filter(|f| f["server"]["address"] == addr)
        .collect()
}

/// The one flow whose server is `addr`.
/// The report's blind spot of this cause.
fn blind_spot<'a>(report: &'a Value, cause: &str) -> &'a Value {
    report["blind_spots"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["cause"] == cause))
        .unwrap_or_else(|| panic!("no {cause} blind spot in {}", report["blind_spots"]))
}

fn flow_to<'a>(report: &'a Value, addr: &str) -> &'a Value {
    let found = flows_to(report, addr);
    assert_eq!(found.len(), 1, "one flow to {addr}");
    found[0]
}

/// A flow's names, each as `name/source`.
fn names(flow: &Value) -> Vec<String> {
    flow["names"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    format!(
                        "{}/{}",
                        n["name"].as_str().unwrap(),
                        n["source"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every name in the report's name list.
fn inventory(report: &Value) -> Vec<String> {
    report["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------------------------------------
// DNS messages

const RESPONSE: u16 = 0x8180;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_TXT: u16 = 16;

fn dns_header(qd: u16, an: u16) -> Vec<u8> {
    let mut v = vec![0x4a, 0x11];
    for x in [RESPONSE, qd, an, 0, 0] {
        v.extend(x.to_be_bytes());
    }
    v
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(u8::try_from(label.len()).unwrap());
        v.extend(label.as_bytes());
    }
    v.push(0);
    v
}

fn pointer(offset: usize) -> [u8; 2] {
    (0xc000 | u16::try_from(offset).unwrap()).to_be_bytes()
}

fn question(owner: &[u8]) -> Vec<u8> {
    let mut v = owner.to_vec();
    v.extend(TYPE_A.to_be_bytes());
    v.extend(1u16.to_be_bytes());
    v
}

fn record(owner: &[u8], rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut v = owner.to_vec();
    v.extend(rtype.to_be_bytes());
    v.extend(1u16.to_be_bytes());
    v.extend(300u32.to_be_bytes());
    v.extend(u16::try_from(rdata.len()).unwrap().to_be_bytes());
    v.extend(rdata);
    v
}

/// A response: `name` has the addresses `addrs`.
fn a_response(name: &str, addrs: &[[u8; 4]]) -> Vec<u8> {
    let mut m = dns_header(1, u16::try_from(addrs.len()).unwrap());
    m.extend(question(&wire_name(name)));
    for a in addrs {
        m.extend(record(&pointer(12), TYPE_A, a));
    }
    m
}

/// A response without a question whose one A record (for `addr`) is owned by the name
/// written as `owner_wire` (put at offset 12, so pointers may refer to it).
fn hostile_owner(owner_wire: &[u8], addr: [u8; 4]) -> Vec<u8> {
    let mut m = dns_header(0, 1);
    m.extend(record(owner_wire, TYPE_A, &addr));
    m
}

/// The server asks the resolver on `port` and gets `message` back.
fn dns_exchange(cap: &mut Capture, port: u16, message: &[u8]) {
    cap.udp((RESOLVER, 53), (SERVER, port), message);
}

/// A UDP flow from the server to `addr` (not a port any dissector reads).
fn contact(cap: &mut Capture, port: u16, addr: [u8; 4]) {
    cap.udp((SERVER, port), (addr, 9_000), b"hello");
}

// ------------------------------------------------------------------------------------------
// TLS ClientHellos

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap().to_be_bytes()
}

fn push_ext(ext: &mut Vec<u8>, kind: u16, data: &[u8]) {
    ext.extend(kind.to_be_bytes());
    ext.extend(u16_len(data.len()));
    ext.extend(data);
}

/// A TLS 1.3 ClientHello handshake message for `sni`, made larger by a padding extension
/// of `padding` bytes.
fn client_hello(sni: &str, padding: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([7u8; 32]); // random
    body.push(0); // no session id
    body.extend([0, 2, 0x13, 0x01]); // TLS_AES_128_GCM_SHA256
    body.extend([1, 0]); // no compression
    let host = sni.as_bytes();
    let mut list = vec![0];
    list.extend(u16_len(host.len()));
    list.extend(host);
    let mut server_name = u16_len(list.len()).to_vec();
    server_name.extend(list);
    let mut ext = Vec::new();
    push_ext(&mut ext, 0, &server_name);
    push_ext(&mut ext, 43, &[2, 3, 4]); // supported_versions: TLS 1.3
    if padding > 0 {
        push_ext(&mut ext, 21, &vec![0; padding]);
    }
    body.extend(u16_len(ext.len()));
    body.extend(ext);
    let mut msg = vec![1];
    msg.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    msg.extend(body);
    msg
}

/// The ClientHello in one TLS record, as a TCP client sends it.
fn client_hello_record(sni: &str, padding: usize) -> Vec<u8> {
    let msg = client_hello(sni, padding);
    let mut rec = vec![22, 3, 1];
    rec.extend(u16_len(msg.len()));
    rec.extend(msg);
    rec
}

/// A QUIC v1 client Initial (really protected) carrying `frames`.
fn quic_initial(dcid: &[u8], packet_number: u32, frames: &[u8]) -> Vec<u8> {
    let keys = client_initial_keys(dcid).unwrap();
    protect_initial(&InitialSpec {
        version: telltale::dissect::quic::crypto::VERSION_1,
        keys: &keys,
        dcid,
        scid: &[9, 9, 9, 9],
        packet_number,
        frames,
        pad_to: (frames.len() < 1100).then_some(1200),
    })
    .unwrap()
}

// ==========================================================================================
// The flow table

/// 100 flows, one after the other, to different addresses.
fn hundred_flows() -> Capture {
    let mut cap = Capture::default();
    for i in 0..100u8 {
        contact(&mut cap, 40_000 + u16::from(i), far(i + 1));
    }
    cap
}

#[test]
fn more_flows_than_the_table_holds_are_evicted_counted_and_still_reported() {
    let cap = hundred_flows();
    let caps = Caps {
        flows: telltale::flows::Limits {
            max_flows: 8,
            ..Default::default()
        },
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    // every flow is in the report, the ones pushed out included, each saying so
    assert_eq!(counter(&v, "flows"), 100);
    assert_eq!(flows(&v).len(), 100);
    let evictions = counter(&v, "flow_evictions");
    assert!(
        (92..100).contains(&evictions),
        "at most 8 flows fit, so at least 92 were pushed out: {evictions}"
    );
    let evicted = flows(&v)
        .iter()
        .filter(|f| f["ended_by"] == "evicted")
        .count();
    assert_eq!(evicted as u64, evictions);
    // the oldest go first: the first flow was evicted, the last one was still there at the end
    assert_eq!(flow_to(&v, &far_str(1))["ended_by"], "evicted");
    assert_eq!(flow_to(&v, &far_str(100))["ended_by"], "end");

    // the cap, not something else, evicted them
    let v = audit(&cap, Caps::default());
    assert_eq!(counter(&v, "flow_evictions"), 0);
    assert_eq!(flows(&v).len(), 100);
}

#[test]
fn the_command_line_cap_on_flows_shows_in_the_json_and_markdown_reports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hundred.pcapng");
    std::fs::write(&path, hundred_flows().pcapng()).unwrap();
    let p = path.to_str().unwrap();
    let limit = Duration::from_secs(60);
    let out = common::telltale(
        &[
            "audit",
            p,
            "--max-flows",
            "8",
            "--opt-out",
            "on",
            "--format",
            "json",
        ],
        None,
        limit,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "flagged flows exit 1: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert!(counter(&v, "flow_evictions") >= 92);
    // at most 8 live and 4 ended flows are held whole; the rest are folded into groups,
    // and every flow is still counted
    let summarised = counter(&v, "flows_summarised");
    assert!(summarised >= 88, "{summarised} flows summarised");
    assert_eq!(flows(&v).len() as u64 + summarised, 100);
    let grouped: u64 = v["flow_groups"]
        .as_array()
        .expect("the report lists the groups")
        .iter()
        .map(|g| g["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(grouped, summarised);
    assert_eq!(counter(&v, "flows"), 100);
    let out = common::telltale(
        &["audit", p, "--max-flows", "8", "--opt-out", "on"],
        None,
        limit,
    );
    let md = String::from_utf8_lossy(&out.stdout);
    let line = md
        .lines()
        .find(|l| l.contains("flow evictions (table full)"))
        .unwrap_or_else(|| panic!("the Markdown report counts evictions:\n{md}"));
    assert!(
        line.contains(&counter(&v, "flow_evictions").to_string()),
        "{line}"
    );
    assert!(
        md.contains(&format!("## Flows summarised in groups ({summarised})")),
        "{md}"
    );
}

// ==========================================================================================
// The DNS answer map and the name inventory

#[test]
fn answers_beyond_the_dns_map_cap_push_out_the_oldest_addresses() {
    let mut cap = Capture::default();
    for n in 1..=10u8 {
        dns_exchange(
            &mut cap,
            5_300 + u16::from(n),
            &a_response(&format!("h{n}.example.net"), &[far(n)]),
        );
    }
    for n in 1..=10u8 {
        contact(&mut cap, 41_000 + u16::from(n), far(n));
    }
    let caps = Caps {
        dns_addresses: 4,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    assert_eq!(counter(&v, "dns_responses"), 10);
    assert_eq!(counter(&v, "name_map_evictions"), 6);
    for n in 1..=6u8 {
        assert_eq!(
            names(flow_to(&v, &far_str(n))),
            Vec::<String>::new(),
            "203.0.113.{n} was pushed out"
        );
    }
    for n in 7..=10u8 {
        assert_eq!(
            names(flow_to(&v, &far_str(n))),
            [format!("h{n}.example.net/dns_answer")]
        );
    }
    // the inventory still lists every name the capture revealed
    assert_eq!(inventory(&v).len(), 10);

    let v = audit(&cap, Caps::default());
    assert_eq!(counter(&v, "name_map_evictions"), 0);
    assert_eq!(
        names(flow_to(&v, &far_str(1))),
        ["h1.example.net/dns_answer"]
    );
}

#[test]
fn names_beyond_the_per_address_cap_keep_the_ones_nearest_the_address() {
    // a.example.net → b → c → d → e.example.net, which has 203.0.113.50
    let chain = ["a", "b", "c", "d", "e"].map(|l| format!("{l}.example.net"));
    let mut m = dns_header(1, 5);
    m.extend(question(&wire_name(&chain[0])));
    for pair in chain.windows(2) {
        m.extend(record(
            &wire_name(&pair[0]),
            TYPE_CNAME,
            &wire_name(&pair[1]),
        ));
    }
    m.extend(record(&wire_name(&chain[4]), TYPE_A, &far(50)));
    let mut cap = Capture::default();
    dns_exchange(&mut cap, 5_353, &m);
    contact(&mut cap, 42_000, far(50));

    let caps = Caps {
        dns_names_per_address: 2,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    assert_eq!(counter(&v, "name_map_evictions"), 3);
    let mut got = names(flow_to(&v, &far_str(50)));
    got.sort();
    assert_eq!(
        got,
        ["d.example.net/dns_answer", "e.example.net/dns_answer"]
    );

    let v = audit(&cap, Caps::default());
    assert_eq!(counter(&v, "name_map_evictions"), 0);
    assert_eq!(names(flow_to(&v, &far_str(50))).len(), 5);
}

#[test]
fn the_inventory_cap_shortens_the_name_list_but_never_unnames_a_flow() {
    let mut cap = Capture::default();
    for n in 1..=10u8 {
        dns_exchange(
            &mut cap,
            5_400 + u16::from(n),
            &a_response(&format!("n{n:02}.example.net"), &[far(n)]),
        );
        contact(&mut cap, 43_000 + u16::from(n), far(n));
    }
    let caps = Caps {
        inventory_names: 5,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    let listed = inventory(&v);
    assert_eq!(listed.len(), 5, "{listed:?}");
    // the first five revealed are listed; the others are counted as dropped
    assert_eq!(
        listed,
        (1..=5)
            .map(|n| format!("n{n:02}.example.net"))
            .collect::<Vec<_>>()
    );
    assert_eq!(counter(&v, "names_dropped"), 5);
    for n in 1..=10u8 {
        assert_eq!(
            names(flow_to(&v, &far_str(n))),
            [format!("n{n:02}.example.net/dns_answer")]
        );
    }
    let v = audit(&cap, Caps::default());
    assert_eq!(inventory(&v).len(), 10);
    assert_eq!(counter(&v, "names_dropped"), 0);
}

// ==========================================================================================
// Hostile DNS names

#[test]
fn hostile_dns_names_are_refused_without_a_hang_and_never_invented() {
    let mut cap = Capture::default();
    let mut port = 5_500u16;
    let mut send = |cap: &mut Capture, m: &[u8]| {
        port += 1;
        dns_exchange(cap, port, m);
    };

    // 1: an owner name that is a pointer to itself (offset 12)
    send(&mut cap, &hostile_owner(&pointer(12), far(1)));
    // 2: a pointer to a pointer to ... 100 deep, ending at a good name
    // 3: the same, 10 deep: within the limit, so the name is good
    for (depth, addr) in [(100usize, far(2)), (10, far(3))] {
        let mut m = dns_header(1, 2);
        let name_at = m.len();
        m.extend(question(&wire_name(&format!("chain{depth}.example.net"))));
        // the chain of pointers sits in a TXT record's data
        let txt_at = m.len() + 2 + 10;
        let mut chain = pointer(name_at).to_vec();
        for i in 1..depth {
            chain.extend(pointer(txt_at + 2 * (i - 1)));
        }
        m.extend(record(&pointer(name_at), TYPE_TXT, &chain));
        m.extend(record(&pointer(txt_at + 2 * (depth - 1)), TYPE_A, &addr));
        send(&mut cap, &m);
    }
    // 4: an owner name of 5 labels of 63 bytes (321 bytes on the wire, over 255)
    let long = vec!["x".repeat(63); 5].join(".");
    send(&mut cap, &hostile_owner(&wire_name(&long), far(4)));
    // 5: 3 labels of 63 and "net" (197 bytes): long, but allowed
    let fine = format!("{}.net", vec!["y".repeat(63); 3].join("."));
    send(&mut cap, &hostile_owner(&wire_name(&fine), far(5)));
    // 6: a label whose length byte says 64 (0x40, a label type that does not exist)
    let mut bad_label = vec![0x40];
    bad_label.extend([b'z'; 64]);
    bad_label.extend(wire_name("example.net"));
    send(&mut cap, &hostile_owner(&bad_label, far(6)));
    // 7: a header announcing 65,535 answers, with one there
    let mut many = a_response("many.example.net", &[far(7)]);
    many[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    send(&mut cap, &many);
    // 8: a question whose name loops: the message cannot be read at all
    let mut looped = dns_header(1, 1);
    looped.extend(question(&pointer(12)));
    looped.extend(record(&wire_name("loop.example.net"), TYPE_A, &far(8)));
    send(&mut cap, &looped);
    // 9: the most A records a UDP datagram holds (4,090 of 16 bytes), for 4,090 addresses
    let addrs: Vec<[u8; 4]> = (0..4_090u32)
        .map(|i| [198, 51, (i >> 8) as u8, i as u8])
        .collect();
    send(&mut cap, &a_response("bulk.example.net", &addrs));

    for n in 1..=8u8 {
        contact(&mut cap, 44_000 + u16::from(n), far(n));
    }
    contact(&mut cap, 44_100, [198, 51, 15, 249]); // the last of the 4,090

    let v = audit(&cap, Caps::default());
    // the message whose question could not be read is malformed, and so is every response
    // with a bad record (1, 2, 4, 6 and 7), whose good records still count: 6 in all
    assert_eq!(counter(&v, "dns_malformed"), 6);
    assert_eq!(counter(&v, "dns_responses"), 8);
    for n in [1, 2, 4, 6, 8] {
        assert_eq!(
            names(flow_to(&v, &far_str(n))),
            Vec::<String>::new(),
            "203.0.113.{n} stays unnamed"
        );
    }
    assert_eq!(
        names(flow_to(&v, &far_str(3))),
        ["chain10.example.net/dns_answer"]
    );
    assert_eq!(
        names(flow_to(&v, &far_str(5))),
        [format!("{fine}/dns_answer")]
    );
    assert_eq!(
        names(flow_to(&v, &far_str(7))),
        ["many.example.net/dns_answer"]
    );
    assert_eq!(
        names(flow_to(&v, "198.51.15.249")),
        ["bulk.example.net/dns_answer"]
    );
    // no name was made up from the bad ones
    let listed = inventory(&v);
    assert!(
        listed
            .iter()
            .all(|n| !n.contains("xxxx") && !n.contains("zzzz") && !n.contains("loop")),
        "{listed:?}"
    );
}

// ==========================================================================================
// Deeply stacked headers

/// An IPv4 UDP packet from the server to `dst`.
fn ipv4_udp(dst: [u8; 4], sport: u16, payload: &[u8]) -> Vec<u8> {
    let udp = udp_bytes(sport, 9_000, payload);
    let mut v = ipv4_header(SERVER, dst, 17, 1, None, 20 + udp.len());
    v.extend(udp);
    v
}

#[test]
fn deeply_stacked_headers_hit_a_limit_and_are_counted() {
    let mut cap = Capture::default();
    // 100 VLAN tags, and 8 (the most allowed)
    for (tags, addr) in [(100, far(1)), (8, far(2))] {
        let mut body = Vec::new();
        for i in 0..tags {
            body.extend((i as u16 & 0x0fff).to_be_bytes());
            body.extend(if i + 1 == tags { ETH_IPV4 } else { ETH_VLAN }.to_be_bytes());
        }
        body.extend(ipv4_udp(addr, 45_001, b"tagged"));
        cap.ether(ETH_VLAN, &body);
    }
    // 100 MPLS labels, none marked the bottom of the stack
    let mut body = Vec::new();
    for i in 0..100u32 {
        body.extend(((i + 16) << 12 | 64).to_be_bytes());
    }
    body.extend(ipv4_udp(far(3), 45_002, b"labelled"));
    cap.ether(ETH_MPLS, &body);
    // IPv6 with 100 destination-options headers, then UDP
    let udp = udp_bytes(45_003, 9_000, b"options");
    let mut exts = Vec::new();
    for i in 0..100 {
        let next = if i == 99 { 17 } else { 60 };
        exts.extend([next, 0, 1, 4, 0, 0, 0, 0]); // 8 bytes: PadN of 4
    }
    let mut v6 = vec![0x60, 0, 0, 0];
    v6.extend(u16_len(exts.len() + udp.len()));
    v6.extend([60, 64]);
    v6.extend([
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]);
    v6.extend([
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04,
    ]);
    v6.extend(exts);
    v6.extend(udp);
    cap.ether(ETH_IPV6, &v6);
    // IP in IP in IP ... 100 deep, around a DNS answer that must not be read
    let mut inner = ipv4_udp(far(9), 53, &a_response("tunnelled.example.net", &[far(9)]));
    for _ in 0..99 {
        let mut outer = ipv4_header(SERVER, far(4), 4, 7, None, 20 + inner.len());
        outer.extend(inner);
        inner = outer;
    }
    cap.ether(ETH_IPV4, &inner);

    let v = audit(&cap, Caps::default());
    assert_eq!(counter(&v, "packets"), 5);
    assert_eq!(reason(&v, "malformed: more than 8 stacked VLAN tags"), 1);
    assert_eq!(reason(&v, "malformed: more than 8 stacked MPLS labels"), 1);
    assert!(flows_to(&v, &far_str(1)).is_empty());
    assert_eq!(flow_to(&v, &far_str(2))["protocol"], "udp");
    assert!(flows_to(&v, &far_str(3)).is_empty());
    // the tunnel is one flow of its own protocol; nothing inside it is read
    assert_eq!(flow_to(&v, &far_str(4))["protocol"], "ip-4");
    assert!(!inventory(&v).contains(&"tunnelled.example.net".to_string()));
    // and the report says so: the tunnel is a blind spot of its own
    let tunnel = blind_spot(&v, "tunnel");
    assert_eq!(
        tunnel["flow_ids"],
        serde_json::json!([flow_to(&v, &far_str(4))["id"]])
    );
    // a chain of 100 IPv6 extension headers is refused and counted
    assert_eq!(
        reason(&v, "malformed: more than 8 IPv6 extension headers"),
        1
    );
    assert!(flows_to(&v, "2001:db8::4").is_empty());
    let not_decoded =
        counter(&v, "malformed") + counter(&v, "unsupported") + counter(&v, "truncated");
    assert_eq!(not_decoded, 3, "{}", v["counters"]);
}

// ==========================================================================================
// IP fragment reassembly

/// `payload` (a UDP datagram from the resolver to the server) cut into IPv4 fragments of
/// `size` bytes (a multiple of 8).
fn fragments(id: u16, udp: &[u8], size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, chunk) in udp.chunks(size).enumerate() {
        let offset = u16::try_from(i * size).unwrap();
        let more = (i + 1) * size < udp.len();
        let mut v = ipv4_header(
            RESOLVER,
            SERVER,
            17,
            id,
            Some((offset, more)),
            20 + chunk.len(),
        );
        v.extend(chunk);
        out.push(v);
    }
    out
}

#[test]
fn fragment_reassembly_is_bounded_and_counted() {
    let mut cap = Capture::default();
    // 300 datagrams whose first fragment came and the rest never did: the table holds 256
    for id in 0..300u16 {
        let udp = udp_bytes(53, 6_000, &[0u8; 64]);
        let first = fragments(1_000 + id, &udp, 16).remove(0);
        cap.ether(ETH_IPV4, &first);
    }
    // a datagram whose fragments reach past 65,535 bytes
    let mut huge = ipv4_header(RESOLVER, SERVER, 17, 9, Some((65_528, false)), 20 + 100);
    huge.extend([0u8; 100]);
    cap.ether(ETH_IPV4, &huge);
    // a DNS answer in 8-byte fragments (hundreds of them), which reassembles and names a flow
    let mut addrs = vec![far(30)];
    addrs.extend((0..100u8).map(|i| [198, 51, 100, i]));
    let udp = udp_bytes(53, 6_001, &a_response("frag.example.net", &addrs));
    let pieces = fragments(7, &udp, 8);
    assert!(pieces.len() > 200);
    for p in &pieces {
        cap.ether(ETH_IPV4, p);
    }
    contact(&mut cap, 46_000, far(30));

    let v = audit(&cap, Caps::default());
    assert_eq!(counter(&v, "datagrams_reassembled"), 1);
    // 300 - 256 pushed out of the full table, one more to make room for the datagram that
    // grew too large, and that one
    assert_eq!(counter(&v, "fragment_evictions"), 44 + 1 + 1);
    assert_eq!(
        reason(
            &v,
            "malformed: IP fragments exceed the reassembly size limit"
        ),
        1
    );
    assert_eq!(
        names(flow_to(&v, &far_str(30))),
        ["frag.example.net/dns_answer"]
    );
}

#[test]
fn the_fragment_caps_are_set_with_the_others() {
    // 40 datagrams whose first fragment came and the rest never did
    let mut cap = Capture::default();
    for id in 0..40u16 {
        let udp = udp_bytes(53, 6_000, &[0u8; 64]);
        cap.ether(ETH_IPV4, &fragments(2_000 + id, &udp, 16).remove(0));
    }
    let small = Caps {
        fragments: telltale::decode::FragLimits {
            max_datagrams: 10,
            ..Default::default()
        },
        ..Caps::default()
    };
    assert_eq!(
        counter(&audit(&cap, Caps::default()), "fragment_evictions"),
        0
    );
    assert_eq!(counter(&audit(&cap, small), "fragment_evictions"), 30);
}

// ==========================================================================================
// TCP stream and QUIC CRYPTO buffers

#[test]
fn a_client_hello_longer_than_the_stream_buffer_names_nothing() {
    let mut cap = Capture::default();
    // within the cap: a 3,000-byte ClientHello in three segments, out of order, after a
    // segment far beyond the buffer
    let small = client_hello_record("within.example.net", 2_900);
    assert!((2_500..4_096).contains(&small.len()));
    let (c, s) = ((SERVER, 47_001), (far(60), 443));
    cap.tcp(c, s, 1_000, true, &[]);
    cap.tcp(c, s, 1_001 + 10_000, false, &[0xee; 1_000]);
    for i in [1usize, 2, 0] {
        let part = &small[(i * 1_000).min(small.len())..((i + 1) * 1_000).min(small.len())];
        cap.tcp(c, s, 1_001 + (i * 1_000) as u32, false, part);
    }
    // past the cap: a 6,000-byte ClientHello, in order
    let big = client_hello_record("beyond.example.net", 5_900);
    let (c, s) = ((SERVER, 47_002), (far(61), 443));
    cap.tcp(c, s, 5_000, true, &[]);
    for (i, part) in big.chunks(1_000).enumerate() {
        cap.tcp(c, s, 5_001 + (i * 1_000) as u32, false, part);
    }

    let caps = Caps {
        stream_bytes: 4_096,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    assert_eq!(
        names(flow_to(&v, &far_str(60))),
        ["within.example.net/tls_sni"]
    );
    // 1,000 bytes of the segment far beyond the buffer, and the part of the 6,000-byte
    // ClientHello's fifth segment past the 4,096-byte cap (then the flow gives up naming,
    // and holds nothing more)
    assert_eq!(
        counter(&v, "stream_bytes_dropped"),
        1_000 + (5_000 - 4_096),
        "the segment beyond the buffer and the overflow"
    );
    let beyond = flow_to(&v, &far_str(61));
    assert_eq!(names(beyond), Vec::<String>::new());
    assert_eq!(beyond["seen"]["client_hello"], false);
    assert_eq!(counter(&v, "tls_client_hellos"), 1);

    // with the default cap of 16 KiB both are read
    let v = audit(&cap, Caps::default());
    assert_eq!(
        names(flow_to(&v, &far_str(61))),
        ["beyond.example.net/tls_sni"]
    );
    assert_eq!(counter(&v, "tls_client_hellos"), 2);
}

/// A DNS-over-TCP exchange: the server connects to the resolver, which answers `message`
/// in segments of `segment` bytes, after an out-of-order segment of `stray` bytes 10,000
/// bytes ahead (none when 0).
fn dns_over_tcp(cap: &mut Capture, port: u16, message: &[u8], segment: usize, stray: usize) {
    let (c, r) = ((SERVER, port), (RESOLVER, 53));
    cap.tcp(c, r, 100, true, &[]);
    cap.tcp(r, c, 7_000, true, &[]);
    let mut stream = u16_len(message.len()).to_vec();
    stream.extend(message);
    if stray > 0 {
        cap.tcp(r, c, 7_001 + 10_000, false, &vec![0xee; stray]);
    }
    for (i, part) in stream.chunks(segment).enumerate() {
        cap.tcp(r, c, 7_001 + (i * segment) as u32, false, part);
    }
}

/// A response of `n` A records for 198.51.x.y (16 bytes each) and one for `addr`.
fn long_response(name: &str, addr: [u8; 4], n: u16) -> Vec<u8> {
    let mut addrs: Vec<[u8; 4]> = (0..n).map(|i| [198, 51, (i >> 8) as u8, i as u8]).collect();
    addrs.push(addr);
    a_response(name, &addrs)
}

#[test]
fn a_dns_over_tcp_answer_longer_than_the_stream_buffer_names_nothing() {
    let mut cap = Capture::default();
    // two answers in one stream within the cap, after a segment beyond it: read
    let mut two = u16_len(0).to_vec(); // a zero length prefix gives no message
    let first = long_response("first.example.net", far(70), 200);
    let second = a_response("second.example.net", &[far(71)]);
    two.extend(u16_len(first.len()));
    two.extend(&first);
    two.extend(u16_len(second.len()));
    two.extend(&second);
    let (c, r) = ((SERVER, 50_001), (RESOLVER, 53));
    cap.tcp(c, r, 100, true, &[]);
    cap.tcp(r, c, 7_000, true, &[]);
    cap.tcp(r, c, 7_001 + 10_000, false, &[0xee; 1_000]);
    for (i, part) in two.chunks(1_400).enumerate() {
        cap.tcp(r, c, 7_001 + (i * 1_400) as u32, false, part);
    }
    // one answer of about 6,000 bytes: past the cap
    let big = long_response("big.example.net", far(72), 400);
    assert!(big.len() > 4_096);
    dns_over_tcp(&mut cap, 50_002, &big, 1_400, 0);
    for n in 70..=72u8 {
        contact(&mut cap, 50_100 + u16::from(n), far(n));
    }

    let caps = Caps {
        stream_bytes: 4_096,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    assert_eq!(
        names(flow_to(&v, &far_str(70))),
        ["first.example.net/dns_answer"]
    );
    assert_eq!(
        names(flow_to(&v, &far_str(71))),
        ["second.example.net/dns_answer"]
    );
    assert_eq!(names(flow_to(&v, &far_str(72))), Vec::<String>::new());
    assert!(!inventory(&v).contains(&"big.example.net".to_string()));
    assert_eq!(counter(&v, "dns_responses"), 2);
    assert!(counter(&v, "stream_bytes_dropped") >= 1_000);

    let v = audit(&cap, Caps::default());
    assert_eq!(
        names(flow_to(&v, &far_str(72))),
        ["big.example.net/dns_answer"]
    );
    assert_eq!(counter(&v, "dns_responses"), 3);
}

/// The counter of TCP bytes dropped by the stream buffers adds up every flow's drops.
#[test]
fn stream_bytes_dropped_adds_up_over_flows() {
    let mut cap = Capture::default();
    let answer = a_response("sum.example.net", &[far(73)]);
    dns_over_tcp(&mut cap, 50_201, &answer, 1_400, 1_000);
    dns_over_tcp(&mut cap, 50_202, &answer, 1_400, 1_000);
    let caps = Caps {
        stream_bytes: 4_096,
        ..Caps::default()
    };
    let v = audit(&cap, caps);
    assert_eq!(counter(&v, "dns_responses"), 2);
    assert_eq!(counter(&v, "stream_bytes_dropped"), 2_000);
}

#[test]
fn quic_crypto_data_beyond_64_kib_is_ignored() {
    let mut cap = Capture::default();
    let junk = vec![0xab; 12_000];
    // flow 1: CRYPTO data far beyond 64 KiB, then data waiting behind a gap, then a small
    // ClientHello at offset 0: the junk neither breaks nor delays the name
    let (c, s) = ((SERVER, 48_001), (far(80), 443));
    let dcid = [1u8; 8];
    let mut pn = 0;
    for offset in [70_000u64, 90_000, 1 << 40, 10_000, 22_000, 34_000] {
        cap.udp(c, s, &quic_initial(&dcid, pn, &crypto_frame(offset, &junk)));
        pn += 1;
    }
    let hello = client_hello("q1.example.net", 0);
    cap.udp(c, s, &quic_initial(&dcid, pn, &crypto_frame(0, &hello)));
    // flow 2: nothing but CRYPTO data beyond 64 KiB: it gives up after its 16 Initials
    let (c, s) = ((SERVER, 48_002), (far(81), 443));
    let dcid = [2u8; 8];
    for pn in 0..17u32 {
        let offset = 65_536 + u64::from(pn) * 12_000;
        cap.udp(c, s, &quic_initial(&dcid, pn, &crypto_frame(offset, &junk)));
    }
    // flow 3: a 40 KB ClientHello in four Initials: large, but within the cap
    let (c, s) = ((SERVER, 48_003), (far(82), 443));
    let dcid = [3u8; 8];
    let hello = client_hello("q3.example.net", 40_000);
    for (pn, part) in hello.chunks(10_000).enumerate() {
        let frame = crypto_frame((pn * 10_000) as u64, part);
        cap.udp(c, s, &quic_initial(&dcid, pn as u32, &frame));
    }

    let v = audit(&cap, Caps::default());
    assert_eq!(
        names(flow_to(&v, &far_str(80))),
        ["q1.example.net/quic_sni"]
    );
    assert_eq!(
        names(flow_to(&v, &far_str(82))),
        ["q3.example.net/quic_sni"]
    );
    let gave_up = flow_to(&v, &far_str(81));
    assert_eq!(names(gave_up), Vec::<String>::new());
    assert_eq!(gave_up["app"], "quic");
    assert_eq!(gave_up["seen"]["quic_undecryptable"], 1);
    assert_eq!(counter(&v, "quic_client_hellos"), 2);
    assert_eq!(counter(&v, "quic_undecryptable"), 1);
    // what lay beyond the cap is counted: flow 1's three far segments, and flow 2's sixteen
    // decrypted Initials (the seventeenth was not decrypted)
    assert_eq!(
        counter(&v, "quic_crypto_bytes_dropped"),
        3 * 12_000 + 16 * 12_000
    );
    let missed = blind_spot(&v, "quic_initial_missed");
    assert_eq!(missed["flow_ids"], serde_json::json!([gave_up["id"]]));
}

// ==========================================================================================
// Evidence

#[test]
fn evidence_keeps_a_flows_first_packets_up_to_its_cap_and_says_so() {
    let mut cap = Capture::default();
    for _ in 0..20 {
        contact(&mut cap, 49_000, far(90));
    }
    let caps = Caps {
        evidence_packets_per_flow: 4,
        ..Caps::default()
    };
    let (v, ev) = audit_with_evidence(&cap, caps, true);
    let flow = flow_to(&v, &far_str(90));
    assert_eq!(flow["verdict"]["kind"], "flagged");
    assert_eq!(counter(&v, "evidence_evictions"), 16);
    let ev = ev.expect("evidence");
    assert_eq!(ev.packets.len(), 4);
    assert_eq!(ev.missing_packets, 16);
    // the first four packets of the capture
    let first: Vec<i64> = cap.frames[..4].iter().map(|f| f.ts.0).collect();
    let kept: Vec<i64> = ev.packets.iter().map(|p| p.packet.ts.0).collect();
    assert_eq!(kept, first);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("the evidence lacks 16 packets of 1 flagged flows"),
        "{warnings}"
    );
}

#[test]
fn evidence_beyond_its_byte_cap_drops_the_oldest_flows_first() {
    let mut cap = Capture::default();
    for n in 1..=10u8 {
        contact(&mut cap, 49_100 + u16::from(n), far(100 + n));
    }
    let frame_cost = cap.frames[0].data.len() + 64;
    let caps = Caps {
        evidence_bytes: 4 * frame_cost,
        ..Caps::default()
    };
    let (v, ev) = audit_with_evidence(&cap, caps, true);
    assert_eq!(flows(&v).len(), 10);
    let ev = ev.expect("evidence");
    assert_eq!(ev.packets.len(), 4);
    assert_eq!(counter(&v, "evidence_evictions"), 6);
    let kept: Vec<i64> = ev.packets.iter().map(|p| p.packet.ts.0).collect();
    let newest: Vec<i64> = cap.frames[6..].iter().map(|f| f.ts.0).collect();
    assert_eq!(kept, newest);
    assert!(
        v["warnings"]
            .to_string()
            .contains("the evidence lacks 6 packets of 6 flagged flows")
    );
}
