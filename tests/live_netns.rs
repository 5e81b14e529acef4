//! End to end, live, on real interfaces and real sockets. Two network namespaces joined
//! by a veth pair:
//!   "internet" (203.0.113.0/24, documentation addresses): a DNS responder and a TLS server;
//!   "server": a process named `Plex Media Server` resolves and connects to plex.tv
//!   (declared) and metrics.plex.tv (flagged); another process connects to an unrelated host.
//! telltale captures live on the server side's veth, twice at once: `--scope server` and
//! `--scope host`. Runs as root (as in CI); skipped with a message otherwise. The
//! namespaces are removed even when the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

fn peer_binary() -> PathBuf {
    // cargo builds examples for `cargo test`, beside the test binaries' folder
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    debug.join("examples").join("netns_peer")
}

use common::run_ok as run;

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
    let peer = peer_binary();
    assert!(
        peer.exists(),
        "{} is missing: cargo test builds examples",
        peer.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let plex = dir.path().join("Plex Media Server");
    let other = dir.path().join("other-client");
    std::fs::copy(&peer, &plex).unwrap();
    std::fs::copy(&peer, &other).unwrap();
    let lab = Lab::new();

    let mut server = lab.spawn(
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
        lab.spawn(
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
