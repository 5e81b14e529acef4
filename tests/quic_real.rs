//! QUIC Initials made by a third-party QUIC stack, aioquic (from PyPI, in target/py, which
//! `make test` installs), sent from a namespace to a documentation address and captured live by
//! telltale, while two busy loops keep both cores loaded: a v1 Initial, a v2 Initial, an
//! Initial of the reserved version 0x1a2a3a4a that clients send to exercise version negotiation,
//! which aioquic protects with v1's keys, as common stacks do, and a draft-29 Initial, which
//! aioquic also protects with v1's keys (not draft-29's own).
//!
//! What must hold: each flow is named by its ClientHello's server name (`quic_sni`); the reserved
//! version's flow says its version is reserved and that v1's keys opened it (found by trying,
//! proved by the AEAD tag); nothing else is guessed.
//!
//! Runs as root (as in CI). Under CI a missing piece fails the test; elsewhere it is skipped
//! with a message.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::lab::{Busy, audit, finish, read_report};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const FAR: &str = "203.0.113.70";

/// One client Initial per (version, server name, port), sent as aioquic builds it. Nothing
/// listens on the far side: the Initial is all that is needed, and all that is sent.
const CLIENT: &str = r#"
import socket, sys, time
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

far = sys.argv[1]
for spec in sys.argv[2:]:
    version, name, port = spec.split(",")
    version, port = int(version, 16), int(port)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name=name)
    cfg.supported_versions = [version, 1]
    cfg.original_version = version
    conn = QuicConnection(configuration=cfg)
    conn.connect((far, port), now=time.time())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data, _ in conn.datagrams_to_send(now=time.time()):
        sock.sendto(data, (far, port))
    sock.close()
print("sent", flush=True)
"#;

/// aioquic's Python: the project's own environment (target/py), or a python3 that has it.
fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    [venv, PathBuf::from("python3")].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aioquic"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn initials_from_aioquic_are_named_and_the_reserved_version_is_read_by_proof() {
    if !common::require(common::is_root(), "root", common::ROOT_INSTALL) {
        return;
    }
    let Some(python) = python() else {
        common::require(
            false,
            "aioquic",
            "scripts/install-deps.sh (make test) installs it into target/py from PyPI",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (srv, _inet, veth_srv) = common::lab::server_and_internet("quic", "192.168.78.2", FAR);

    let _busy = Busy::start();
    let report = dir.path().join("report.json");
    let audit = audit(&srv, &veth_srv, "host", 8, &report);
    std::thread::sleep(Duration::from_secs(3));
    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &srv.name])
        .arg(&python)
        .arg(&script)
        .arg(FAR)
        .args([
            "0x00000001,v1.example.net,443",
            "0x6b3343cf,v2.example.net,8443",
            "0x1a2a3a4a,grease.example.net,4433",
            "0xff00001d,d29.example.net,4434",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aioquic: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    finish(audit);
    let r = read_report(&report);
    let flows = r["flows"].as_array().unwrap();
    let flow = |port: u16| {
        flows
            .iter()
            .find(|f| f["server"]["address"] == FAR && f["server"]["port"] == port)
            .unwrap_or_else(|| panic!("no flow to {FAR}:{port}"))
    };
    for (port, name, version, guessed) in [
        (443, "v1.example.net", "1", None),
        (8443, "v2.example.net", "2", None),
        (
            4433,
            "grease.example.net",
            "0x1a2a3a4a (reserved",
            Some("1"),
        ),
    ] {
        let f = flow(port);
        assert_eq!(f["app"], "quic", "{port}");
        assert_eq!(f["names"][0]["name"], name, "{port}: {f}");
        assert_eq!(f["names"][0]["source"], "quic_sni", "{port}");
        assert!(
            f["seen"]["quic_version"]
                .as_str()
                .unwrap()
                .starts_with(version),
            "{port}: {}",
            f["seen"]["quic_version"]
        );
        assert_eq!(f["seen"]["quic_keys_guessed"].as_str(), guessed, "{port}");
    }
    assert_eq!(r["counters"]["quic_initials_guessed"], 2);
}
