//! STARTTLS made by real third-party clients, captured live, while two busy loops keep both
//! cores loaded. A mail and chat server stands on a documentation address in a namespace of its
//! own (SMTP on 25 and 587, POP3 on 110, IMAP on 143, FTP on 21, XMPP on 5222: a small Python
//! server that greets, answers the capabilities question, gives the go-ahead and turns the
//! connection to TLS with Python's `ssl`). The clients are `openssl s_client -starttls` for each
//! protocol and curl for SMTP submission; they run in the "server" namespace, where telltale
//! captures live on the veth and dumpcap writes the same packets to a file for tshark.
//!
//! What must hold: every session's flow is named by the server name its ClientHello carried
//! (`tls_sni`), its app says which protocol was upgraded, SMTP's flows also carry the greeting's
//! domain (`session_host`), and tshark names nothing in the capture that telltale misses.
//!
//! Runs as root (as in CI). Under CI a missing tool fails the test; elsewhere it is skipped
//! with a message. Namespaces and processes are removed on drop.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::lab::{Busy, Guard, audit, certificate, finish, read_report, wait_listening};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SERVER: &str = "203.0.113.40";

/// The servers: each port speaks its protocol up to STARTTLS, then TLS with the given
/// certificate. Standard library only.
const SERVERS: &str = r#"
import socket, socketserver, ssl, sys, threading

cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)

def lines(f):
    for raw in f:
        yield raw.decode("latin-1").rstrip("\r\n")

class Session(socketserver.StreamRequestHandler):
    def say(self, text):
        self.wfile.write(text.encode())
        self.wfile.flush()

    def handle(self):
        port = self.server.server_address[1]
        try:
            if port in (25, 587):
                self.say("220 mx.example.net ESMTP ready\r\n")
                for line in lines(self.rfile):
                    word = line.split(" ")[0].upper()
                    if word in ("EHLO", "HELO"):
                        self.say("250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
                    elif word == "STARTTLS":
                        self.say("220 2.0.0 Ready to start TLS\r\n")
                        break
                    else:
                        self.say("250 OK\r\n")
            elif port == 110:
                self.say("+OK POP3 ready\r\n")
                for line in lines(self.rfile):
                    word = line.split(" ")[0].upper()
                    if word == "CAPA":
                        self.say("+OK\r\nSTLS\r\nUSER\r\n.\r\n")
                    elif word == "STLS":
                        self.say("+OK Begin TLS\r\n")
                        break
                    else:
                        self.say("+OK\r\n")
            elif port == 143:
                self.say("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
                for line in lines(self.rfile):
                    parts = line.split(" ")
                    tag, word = parts[0], (parts[1].upper() if len(parts) > 1 else "")
                    if word == "CAPABILITY":
                        self.say("* CAPABILITY IMAP4rev1 STARTTLS\r\n%s OK done\r\n" % tag)
                    elif word == "STARTTLS":
                        self.say("%s OK Begin TLS negotiation now\r\n" % tag)
                        break
                    else:
                        self.say("%s BAD\r\n" % tag)
            elif port == 21:
                self.say("220 FTP ready\r\n")
                for line in lines(self.rfile):
                    if line.upper().startswith("AUTH TLS") or line.upper().startswith("AUTH SSL"):
                        self.say("234 Proceed with negotiation.\r\n")
                        break
                    self.say("500 no\r\n")
            elif port == 5222:
                seen = b""
                while b"<starttls" not in seen:
                    chunk = self.connection.recv(4096)
                    if not chunk:
                        return
                    seen += chunk
                    if b"<stream:stream" in seen and b"features" not in seen:
                        self.say("<?xml version='1.0'?><stream:stream from='chat.example.net' id='t1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
                        seen += b"features"
                self.say("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            tls = ctx.wrap_socket(self.connection, server_side=True)
            tls.settimeout(3)
            try:
                tls.recv(1024)
            except Exception:
                pass
            tls.close()
        except Exception:
            pass

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

for port in (25, 587, 110, 143, 21, 5222):
    s = Server((sys.argv[3], port), Session)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

fn can_run() -> bool {
    common::require_root_and_tools(&[
        ("ip", "-V", "iproute2"),
        ("openssl", "version", "openssl"),
        ("curl", "--version", "curl"),
        ("python3", "--version", "python3"),
        ("dumpcap", "-v", "wireshark-common (tshark)"),
        ("tshark", "-v", "tshark"),
    ])
}

/// One client session: the command, and what its flow must show.
struct Client {
    port: u16,
    args: Vec<String>,
    sni: &'static str,
    app: &'static str,
    greeting: bool,
}

fn clients() -> Vec<Client> {
    let s_client = |port: u16, proto: &str, sni: &'static str, extra: &[&str]| {
        let mut args: Vec<String> = [
            "openssl",
            "s_client",
            "-connect",
            &format!("{SERVER}:{port}"),
            "-starttls",
            proto,
            "-servername",
            sni,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    vec![
        Client {
            port: 25,
            args: s_client(25, "smtp", "smtp.example.net", &[]),
            sni: "smtp.example.net",
            app: "smtp_starttls",
            greeting: true,
        },
        Client {
            port: 587,
            // curl's own SMTP dialogue, STARTTLS required; the name resolved by curl itself
            args: [
                "curl",
                "--silent",
                "--insecure",
                "--ssl-reqd",
                "--max-time",
                "5",
                "--resolve",
                &format!("submit.example.net:587:{SERVER}"),
                "--mail-from",
                "server@example.net",
                "--mail-rcpt",
                "owner@example.net",
                "--upload-file",
                "/dev/null",
                "smtp://submit.example.net:587",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            sni: "submit.example.net",
            app: "smtp_starttls",
            greeting: true,
        },
        Client {
            port: 110,
            args: s_client(110, "pop3", "pop.example.net", &[]),
            sni: "pop.example.net",
            app: "pop3_starttls",
            greeting: false,
        },
        Client {
            port: 143,
            args: s_client(143, "imap", "imap.example.net", &[]),
            sni: "imap.example.net",
            app: "imap_starttls",
            greeting: false,
        },
        Client {
            port: 21,
            args: s_client(21, "ftp", "ftp.example.net", &[]),
            sni: "ftp.example.net",
            app: "ftp_starttls",
            greeting: false,
        },
        Client {
            port: 5222,
            args: s_client(
                5222,
                "xmpp",
                "xmpp.example.net",
                &["-xmpphost", "chat.example.net"],
            ),
            sni: "xmpp.example.net",
            app: "xmpp_starttls",
            greeting: true,
        },
    ]
}

#[test]
fn real_clients_upgrading_with_starttls_are_named_by_their_hello() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (srv, inet, veth_srv) = common::lab::server_and_internet("stls", "192.168.77.2", SERVER);

    let (cert, key) = certificate(dir.path());
    let script = dir.path().join("servers.py");
    std::fs::write(&script, SERVERS).unwrap();
    let _servers = Guard(Some(inet.spawn(
        Path::new("python3"),
        &[
            script.to_str().unwrap(),
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            SERVER,
        ],
    )));
    for port in [25, 587, 110, 143, 21, 5222] {
        wait_listening(&inet, "-t", port);
    }

    let _busy = Busy::start();
    let report = dir.path().join("report.json");
    let pcap = dir.path().join("capture.pcapng");
    let audit = audit(&srv, &veth_srv, "host", 14, &report);
    let dumpcap = Guard(Some(srv.spawn(
        Path::new("dumpcap"),
        &[
            "-q",
            "-i",
            &veth_srv,
            "-a",
            "duration:13",
            "-w",
            pcap.to_str().unwrap(),
        ],
    )));
    // let both captures open
    std::thread::sleep(Duration::from_secs(3));
    for c in clients() {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &srv.name, "timeout", "8"])
            .args(&c.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status().unwrap();
    }
    finish(dumpcap);
    finish(audit);
    let r = read_report(&report);
    let flows = r["flows"].as_array().unwrap();
    let mut ours = BTreeSet::new();
    for f in flows {
        for n in f["names"].as_array().into_iter().flatten() {
            ours.insert(n["name"].as_str().unwrap().to_string());
        }
    }
    for c in clients() {
        let f = flows
            .iter()
            .find(|f| f["server"]["address"] == SERVER && f["server"]["port"] == c.port)
            .unwrap_or_else(|| panic!("no flow to {SERVER}:{}", c.port));
        let names: Vec<(&str, &str)> = f["names"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| (n["name"].as_str().unwrap(), n["source"].as_str().unwrap()))
            .collect();
        assert!(
            names.contains(&(c.sni, "tls_sni")),
            "port {}: {names:?}",
            c.port
        );
        assert_eq!(f["app"], c.app, "port {}", c.port);
        let host = if c.port == 5222 {
            "chat.example.net"
        } else {
            "mx.example.net"
        };
        assert_eq!(
            names.contains(&(host, "session_host")),
            c.greeting,
            "port {}: {names:?}",
            c.port
        );
    }
    // tshark, on the same packets, names nothing telltale misses
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "tls.handshake.extensions_server_name",
            "-Y",
            "tls.handshake.type == 1",
        ])
        .output()
        .unwrap();
    let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(theirs.len() >= 5, "tshark read only {theirs:?}");
    let missed: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        missed.is_empty(),
        "tshark names {missed:?}; telltale {ours:?}"
    );
}
