//! End to end, live, on real interfaces and real sockets. Two network namespaces joined
//! by a veth pair:
//!   "internet" (203.0.113.0/24, documentation addresses): a DNS responder and a TLS server;
//!   "server": a process named `Plex Media Server` resolves and connects to plex.tv
//!   (declared) and metrics.plex.tv (flagged); another process connects to an unrelated host.
//! telltale captures live on the server side's veth, twice at once: `--scope server` and
//! `--scope host`. Runs as root (as in CI); skipped with a message otherwise. The
//! namespaces are removed even when the test fails.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

/// The peer's arguments, separated by newlines, when this test binary runs as a peer.
const PEER_ENV: &str = "TELLTALE_NETNS_PEER";

/// The peers are this test binary run again (`netns_peer` below, in the mode [`PEER_ENV`] gives),
/// from copies named as the processes telltale must name:
///
///   serve DNS_ADDR NAME=IP...      a DNS responder on DNS_ADDR:53 (A records for the names
///                                  given) and a TLS-ish server on :443
///   connect DNS_ADDR NAME HOLD_MS  resolve NAME, connect to it on 443, send a ClientHello with
///                                  NAME as SNI, hold, close
///
/// A peer never talks to any address but the ones it is given, all documentation addresses on
/// the veth pair.
#[test]
fn netns_peer() {
    let Ok(args) = std::env::var(PEER_ENV) else {
        return;
    };
    // the test runs on a thread named after it: name it as a process's main thread is named,
    // after its executable, as the kernel's events and /proc show the socket's owner
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let comm: String = name.chars().take(15).collect();
    std::fs::write("/proc/thread-self/comm", comm).unwrap();
    let args: Vec<String> = args.lines().map(str::to_string).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("connect") => connect(&args[1..]),
        other => panic!("unknown peer mode {other:?}"),
    }
}

use common::run_ok as run;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use telltale::dissect::dns::{DnsData, parse_message};
use telltale_testkit::demo::payload::{ClientHello, DNS_TYPE_A, dns_query};
use telltale_testkit::demo::synth::SplitMix64;

/// The two namespaces and the veth pair; removed on drop.
struct Lab {
    inet: String,
    srv: String,
    veth: String,
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            inet: format!("tt-inet-{id}"),
            srv: format!("tt-srv-{id}"),
            veth: format!("tts{id}"),
        };
        let peer = format!("tti{id}");
        run(&["ip", "netns", "add", &lab.inet]);
        run(&["ip", "netns", "add", &lab.srv]);
        run(&[
            "ip", "link", "add", &lab.veth, "netns", &lab.srv, "type", "veth", "peer", "name",
            &peer, "netns", &lab.inet,
        ]);
        let (s, i) = (lab.srv.as_str(), lab.inet.as_str());
        run(&[
            "ip",
            "-n",
            s,
            "addr",
            "add",
            "192.168.77.2/24",
            "dev",
            &lab.veth,
        ]);
        run(&["ip", "-n", s, "link", "set", &lab.veth, "up"]);
        run(&["ip", "-n", s, "link", "set", "lo", "up"]);
        run(&[
            "ip",
            "-n",
            s,
            "route",
            "add",
            "default",
            "via",
            "192.168.77.1",
        ]);
        run(&[
            "ip",
            "-n",
            i,
            "addr",
            "add",
            "192.168.77.1/24",
            "dev",
            &peer,
        ]);
        for a in [
            "203.0.113.10/32",
            "203.0.113.11/32",
            "203.0.113.12/32",
            "203.0.113.53/32",
        ] {
            run(&["ip", "-n", i, "addr", "add", a, "dev", &peer]);
        }
        run(&["ip", "-n", i, "link", "set", &peer, "up"]);
        run(&["ip", "-n", i, "link", "set", "lo", "up"]);
        lab
    }

    fn spawn(&self, ns: &str, program: &Path, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec")
    }

    /// Runs `program` (a copy of this test binary) as a peer in `ns`, in the mode `args` give.
    fn spawn_peer(&self, ns: &str, program: &Path, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(["--exact", "netns_peer", "--nocapture", "--test-threads=1"])
            .env(PEER_ENV, args.join("\n"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.inet])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.inet])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.srv])
            .status();
    }
}

fn can_run() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    common::require(root, "root", common::ROOT_INSTALL)
        && common::require(
            ip,
            "iproute2",
            "apt-get install iproute2 (scripts/install-deps.sh)",
        )
}

/// The flow to `addr:443` in a report, if any.
fn flow_to<'a>(report: &'a serde_json::Value, addr: &str) -> Option<&'a serde_json::Value> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["address"] == addr && f["server"]["port"] == 443)
}

#[test]
fn a_live_audit_names_judges_and_attributes_real_connections() {
    if !can_run() {
        return;
    }
    let peer = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plex = dir.path().join("Plex Media Server");
    let other = dir.path().join("other-client");
    std::fs::copy(&peer, &plex).unwrap();
    std::fs::copy(&peer, &other).unwrap();
    let lab = Lab::new();

    let mut server = lab.spawn_peer(
        &lab.inet,
        &peer,
        &[
            "serve",
            "203.0.113.53",
            "plex.tv=203.0.113.10",
            "metrics.plex.tv=203.0.113.11",
            "other.example=203.0.113.12",
        ],
    );
    let audit = |scope: &str| {
        let out = dir.path().join(format!("{scope}.json"));
        let args = [
            "audit",
            "-i",
            &lab.veth,
            "--duration",
            "6s",
            "--scope",
            scope,
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
        ];
        (lab.spawn(&lab.srv, Path::new(BIN), &args), out)
    };
    let (mut server_scope, server_json) = audit("server");
    let (mut host_scope, host_json) = audit("host");
    // let both captures open before anything is sent
    std::thread::sleep(Duration::from_millis(1500));

    let clients: Vec<Child> = [
        (&plex, "plex.tv"),
        (&plex, "metrics.plex.tv"),
        (&other, "other.example"),
    ]
    .into_iter()
    .map(|(program, name)| {
        lab.spawn_peer(
            &lab.srv,
            program,
            &["connect", "203.0.113.53", name, "1500"],
        )
    })
    .collect();
    for c in clients {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "client: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let start = Instant::now();
    for child in [&mut server_scope, &mut host_scope] {
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "telltale did not stop after --duration"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    for child in [server_scope, host_scope] {
        let out = child.wait_with_output().unwrap();
        // 1: flows were flagged (metrics.plex.tv)
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let server_report = read(&server_json);
    let host_report = read(&host_json);

    for report in [&server_report, &host_report] {
        let plex_tv = flow_to(report, "203.0.113.10").expect("the plex.tv flow");
        assert_eq!(plex_tv["verdict"]["kind"], "declared", "{plex_tv}");
        assert!(
            plex_tv["names"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == "plex.tv" && n["source"] == "tls_sni")
        );
        assert!(
            plex_tv["names"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == "plex.tv" && n["source"] == "dns_answer")
        );
        assert_eq!(plex_tv["process"]["name"], "Plex Media Server", "{plex_tv}");
        // proof: the kernel's event for its socket, or the socket itself
        assert!(
            plex_tv["process"]["how"] == "event" || plex_tv["process"]["how"] == "socket",
            "{plex_tv}"
        );
        let metrics = flow_to(report, "203.0.113.11").expect("the metrics.plex.tv flow");
        assert_eq!(metrics["verdict"]["kind"], "flagged", "{metrics}");
        assert_eq!(metrics["verdict"]["rule"], "metrics");
        assert_eq!(metrics["process"]["name"], "Plex Media Server");
        let live = &report["live"];
        assert_eq!(live["dropped_by_kernel"], 0, "{live}");
        assert_eq!(live["dropped_by_interface"], 0, "{live}");
        assert_eq!(live["dropped_by_queue"], 0, "{live}");
    }
    // the other process's flow: attributed to it, and left out under --scope server
    let unrelated =
        flow_to(&host_report, "203.0.113.12").expect("the other client's flow in host scope");
    assert_eq!(unrelated["process"]["name"], "other-client", "{unrelated}");
    assert!(
        flow_to(&server_report, "203.0.113.12").is_none(),
        "server scope kept another process's flow"
    );
    assert_eq!(server_report["scope"]["mode"], "server");
    assert!(
        server_report["scope"]["left_out_by_process"]["other-client"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        server_report["scope"]
    );
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
