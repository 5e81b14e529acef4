//! Network namespaces for live tests, and what runs in them: a namespace removed with its
//! processes on drop, a child killed on drop, busy loops on every core, a self-signed
//! certificate, and a wait for a listening socket. Only documentation addresses are used on the
//! "internet" side, and nothing leaves the namespaces a test creates.

use super::run_ok as run;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A network namespace, removed with its processes and resolv.conf on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        run(&["ip", "netns", "add", &name]);
        run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all);
    }

    /// The resolver that programs in this namespace use (`ip netns exec` mounts it over
    /// /etc/resolv.conf).
    pub fn resolver(&self, address: &str) {
        let dir = PathBuf::from("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("resolv.conf"), format!("nameserver {address}\n")).unwrap();
    }

    pub fn spawn(&self, program: &Path, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec")
    }

    pub fn sh(&self, script: &str) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec sh")
    }

    /// The namespace's inode, as /proc/PID/ns/net shows it.
    pub fn inode(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(Path::new("/run/netns").join(&self.name))
            .unwrap()
            .ino()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
    }
}

/// Two busy loops, one per core, for as long as the value lives.
pub struct Busy(Vec<Child>);

impl Busy {
    pub fn start() -> Busy {
        Busy(
            (0..2)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Kills a child on drop (servers, captures that must not outlive a failed assertion).
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn take(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A self-signed certificate and key for the TLS servers, made by openssl.
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=test.invalid",
        "-days",
        "1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

/// Waits until something listens on `port` in `ns` (ss shows it).
pub fn wait_listening(ns: &Netns, proto: &str, port: u16) {
    let start = Instant::now();
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.name, "ss", "-lnH", proto])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "nothing listens on {port} in {}",
            ns.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server's namespace and the "internet" one, joined by a veth pair: the server's end has
/// `local` (an address of a /24 on its LAN), the far end `far` (a documentation address, in a
/// /24); each reaches the other's /24 on the link. Returns (server namespace, far namespace,
/// the server's interface). Both namespaces go away on drop.
pub fn server_and_internet(tag: &str, local: &str, far: &str) -> (Netns, Netns, String) {
    let id = std::process::id() % 100_000;
    let srv = Netns::new(format!("tt-{tag}-srv-{id}"));
    let inet = Netns::new(format!("tt-{tag}-inet-{id}"));
    let short: String = tag.chars().take(4).collect();
    let (veth_srv, veth_inet) = (format!("{short}s{id}"), format!("{short}i{id}"));
    run(&[
        "ip", "link", "add", &veth_srv, "netns", &srv.name, "type", "veth", "peer", "name",
        &veth_inet, "netns", &inet.name,
    ]);
    let net = |addr: &str| {
        let mut o: Vec<&str> = addr.split('.').collect();
        o.truncate(3);
        format!("{}.0/24", o.join("."))
    };
    srv.ip(&["addr", "add", &format!("{local}/24"), "dev", &veth_srv]);
    srv.ip(&["link", "set", &veth_srv, "up"]);
    srv.ip(&["route", "add", &net(far), "dev", &veth_srv]);
    inet.ip(&["addr", "add", &format!("{far}/24"), "dev", &veth_inet]);
    inet.ip(&["link", "set", &veth_inet, "up"]);
    inet.ip(&["route", "add", &net(local), "dev", &veth_inet]);
    (srv, inet, veth_srv)
}

/// A live audit in `ns`, in the background, writing its JSON report.
pub fn audit(ns: &Netns, iface: &str, scope: &str, seconds: u32, out: &Path) -> Guard {
    let secs = format!("{seconds}s");
    Guard(Some(ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_telltale")),
        &[
            "audit",
            "-i",
            iface,
            "--duration",
            &secs,
            "--scope",
            scope,
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
        ],
    )))
}

/// Waits for a capture (telltale's audit, dumpcap) to end, at most 90 s; its exit code and
/// stderr.
pub fn finish(capture: Guard) -> (Option<i32>, String) {
    let mut child = capture.take();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("the capture did not stop after its duration");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn read_report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
