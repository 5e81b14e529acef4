//! Attribution across network namespaces, on the real /proc: a process in a network namespace of its
//! own (as a container on a bridge network) connects over a veth pair to a listener in this test's
//! namespace, and the attributor names it from the namespace's socket table. Runs as root (as in CI);
//! skipped with a message otherwise. The namespace and the veth pair are removed even when the test
//! fails. Only 192.168.88.0/24, on that veth pair, is used: nothing is sent anywhere else.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use telltale::attrib::{Attributor, How};

const HOST_ADDR: &str = "192.168.88.1";
const NS_ADDR: &str = "192.168.88.2";

fn can_run() -> bool {
    let root = nix::unistd::geteuid().is_root();
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

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace joined to this one by a veth pair; the process started in it. All removed on
/// drop.
struct Lab {
    ns: String,
    host_if: String,
    ns_if: String,
    child: Option<Child>,
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id();
        // Created before the first command, so that whatever was made is removed if a later one fails.
        let lab = Lab {
            ns: format!("tt-attr-{id}"),
            host_if: format!("tta{id}"),
            ns_if: format!("ttb{id}"),
            child: None,
        };
        let (ns, host_if, ns_if) = (lab.ns.as_str(), lab.host_if.as_str(), lab.ns_if.as_str());
        run(&["ip", "netns", "add", ns]);
        run(&[
            "ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns,
        ]);
        let host_cidr = format!("{HOST_ADDR}/24");
        let ns_cidr = format!("{NS_ADDR}/24");
        run(&["ip", "addr", "add", &host_cidr, "dev", host_if]);
        run(&["ip", "link", "set", host_if, "up"]);
        run(&["ip", "-n", ns, "addr", "add", &ns_cidr, "dev", ns_if]);
        run(&["ip", "-n", ns, "link", "set", ns_if, "up"]);
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        lab
    }

    /// Starts a shell in the namespace that connects to `port` on this side and then becomes `sleep`,
    /// keeping the connection open on descriptor 3. `ip netns exec` and both `exec`s replace the
    /// program without forking, so the child's pid is the one holding the socket.
    fn connect_from_inside(&mut self, port: u16) -> u32 {
        let script = format!("exec 3<>/dev/tcp/{HOST_ADDR}/{port} && exec sleep 30");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "bash", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ip netns exec");
        let pid = child.id();
        self.child = Some(child);
        pid
    }

    fn child_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| !matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        // Gone with the namespace's end of the pair, normally; in case the namespace was not made.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .output();
    }
}

#[test]
fn attributes_a_socket_in_another_network_namespace() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new();
    let listener = TcpListener::bind((HOST_ADDR, 0)).expect("listen on the veth's address");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let pid = lab.connect_from_inside(port);

    let started = Instant::now();
    let limit = Duration::from_secs(10);
    let (accepted, peer) = loop {
        match listener.accept() {
            Ok(pair) => break pair,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(
                    !lab.child_exited(),
                    "the process in the namespace ended before connecting"
                );
                assert!(
                    started.elapsed() < limit,
                    "no connection from the namespace"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    assert_eq!(peer.ip().to_string(), NS_ADDR);
    let here: SocketAddr = SocketAddr::new(HOST_ADDR.parse().unwrap(), port);

    // The socket is only in the namespace's table; /proc/net/tcp (this namespace's) has the other end.
    // Retried briefly: the shell may still be exec'ing sleep when the connection is accepted.
    let started = Instant::now();
    let limit = Duration::from_secs(5);
    let (found, stats) = loop {
        let mut attributor = Attributor::new();
        let found = attributor.lookup(true, peer, here);
        if found
            .as_ref()
            .is_some_and(|a| a.process.pid == pid && a.process.name == "sleep")
            || started.elapsed() >= limit
        {
            break (found, attributor.stats());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let found = found.expect("the namespace's socket is attributed");
    assert_eq!(found.process.pid, pid, "{found:?}");
    assert_eq!(found.how, How::Socket);
    assert_eq!(found.process.name, "sleep");
    assert_eq!(stats.in_other_namespaces, 1, "{stats:?}");
    assert!(stats.other_namespaces >= 1, "{stats:?}");

    // The other end is in this namespace: this process, without reading the others.
    let mut attributor = Attributor::new();
    let mine = attributor
        .lookup(true, here, peer)
        .expect("the accepted socket is attributed");
    assert_eq!(
        (mine.process.pid, mine.how),
        (std::process::id(), How::Socket)
    );
    assert_eq!(attributor.stats().namespace_scans, 0);
    drop(accepted);
}
