//! A test peer for the end-to-end live test (tests/live_netns.rs), run inside network
//! namespaces that the test creates. It never talks to any address but the ones it is
//! given, all documentation addresses on a veth pair.
//!
//!   netns_peer serve DNS_ADDR NAME=IP...     a DNS responder on DNS_ADDR:53 (A records for
//!                                            the names given) and a TLS-ish server on :443
//!   netns_peer connect DNS_ADDR NAME HOLD_MS resolve NAME, connect to it on 443, send a
//!                                            ClientHello with NAME as SNI, hold, close
//!
//! Copied to a file called `Plex Media Server`, `connect` is the server process whose
//! flows telltale must attribute.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;
use telltale::demo::payload::{ClientHello, DNS_TYPE_A, dns_query};
use telltale::demo::synth::SplitMix64;
use telltale::dissect::dns::{DnsData, parse_message};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(&args[2..]),
        Some("connect") => connect(&args[2..]),
        _ => {
            eprintln!(
                "usage: netns_peer serve DNS_ADDR NAME=IP... | connect DNS_ADDR NAME HOLD_MS"
            );
            std::process::exit(2);
        }
    }
}

fn serve(args: &[String]) {
    let dns_addr: Ipv4Addr = args[0].parse().expect("DNS address");
    let zone: HashMap<String, Ipv4Addr> = args[1..]
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().expect("address")))
        .collect();
    let tls = TcpListener::bind("0.0.0.0:443").expect("bind 443");
    std::thread::spawn(move || {
        for stream in tls.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.read(&mut buf);
                // a ServerHello-sized answer: a handshake record of opaque bytes
                let mut answer = vec![0x16, 0x03, 0x03, 0x00, 0x40];
                answer.extend([0u8; 0x40]);
                let _ = s.write_all(&answer);
                let _ = s.read(&mut buf);
            });
        }
    });
    let dns = UdpSocket::bind(SocketAddr::from((dns_addr, 53))).expect("bind 53");
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = dns.recv_from(&mut buf) else {
            continue;
        };
        let Ok(q) = parse_message(&buf[..n]) else {
            continue;
        };
        let Some(question) = q.questions.first() else {
            continue;
        };
        let Some(ip) = zone.get(&question.name) else {
            continue;
        };
        let mut r = buf[..n].to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1; // one answer
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
        r.extend_from_slice(&ip.octets());
        let _ = dns.send_to(&r, from);
    }
}

fn connect(args: &[String]) {
    let dns: Ipv4Addr = args[0].parse().expect("DNS address");
    let name = &args[1];
    let hold: u64 = args[2].parse().expect("milliseconds");
    let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    sock.send_to(&dns_query(0x1234, name, DNS_TYPE_A), (dns, 53))
        .expect("query");
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).expect("a DNS answer");
    let answer = parse_message(&buf[..n]).expect("a DNS message");
    let ip = answer
        .answers
        .iter()
        .find_map(|r| match r.data {
            DnsData::A(a) => Some(a),
            _ => None,
        })
        .expect("an A record");
    let mut stream = TcpStream::connect((ip, 443)).expect("connect");
    let mut rng = SplitMix64::new(7);
    let hello = ClientHello::new(&mut rng, Some(name), &["h2", "http/1.1"]);
    stream
        .write_all(&hello.record())
        .expect("send the ClientHello");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.read(&mut buf);
    std::thread::sleep(Duration::from_millis(hold));
}
