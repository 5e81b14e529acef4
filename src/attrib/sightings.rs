//! Sockets the kernel reported as they were used: which process connected or first sent on which
//! local address and port, in which network namespace.
//!
//! The kernel's events (see `ebpf`) arrive as a process connects or sends, so a process that exits a
//! few milliseconds later, before /proc could be read, is still known. They are kept here, bounded,
//! and looked up by the flow's own local end: the namespace that holds its address, the transport and
//! the local port, then the address (a socket bound to the wildcard covers it) and, for a connected
//! socket, the remote end. The latest sighting wins: a port the kernel gave again to a new socket
//! belongs to the newest one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use super::ProcessInfo;
use super::sockets::address_covers;

/// At most this many sightings are kept; the oldest go first.
pub const MAX_SIGHTINGS: usize = 65_536;

/// One socket as the kernel reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// The socket's network namespace (the inode of `net:[N]`).
    pub netns: u64,
    pub tcp: bool,
    /// Its local address (unspecified when bound to the wildcard) and port.
    pub local: SocketAddr,
    /// Its remote end, when it was connected.
    pub remote: Option<SocketAddr>,
    /// When the kernel reported it (CLOCK_MONOTONIC, ns): the latest of two sightings wins.
    pub at_mono_ns: u64,
    /// The process, as read when the sighting arrived, or as the event alone described it when the
    /// process had already ended.
    pub process: Arc<ProcessInfo>,
}

type Key = (u64, bool, u16);

/// The sightings, by (namespace, transport, local port).
#[derive(Default)]
pub struct Sightings {
    by_port: HashMap<Key, Vec<Sighting>>,
    /// Every namespace a sighting came from.
    namespaces: HashSet<u64>,
    order: VecDeque<Key>,
    /// Sightings dropped because the store was full.
    pub evicted: u64,
}

impl Sightings {
    pub fn new() -> Sightings {
        Sightings::default()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Keeps a sighting; at the cap the oldest goes.
    pub fn add(&mut self, s: Sighting) {
        if self.order.len() >= MAX_SIGHTINGS
            && let Some(old) = self.order.pop_front()
        {
            self.evicted += 1;
            if let Some(list) = self.by_port.get_mut(&old) {
                if !list.is_empty() {
                    list.remove(0);
                }
                if list.is_empty() {
                    self.by_port.remove(&old);
                }
            }
        }
        let key = (s.netns, s.tcp, s.local.port());
        self.namespaces.insert(s.netns);
        self.order.push_back(key);
        self.by_port.entry(key).or_default().push(s);
    }

    /// The process whose socket is the flow's local end `local` (talking to `remote`) in namespace
    /// `netns`: the latest sighting of a socket with that port whose address is `local`'s (or the
    /// wildcard) and whose remote end, if it had one, is `remote`.
    pub fn find(
        &self,
        netns: u64,
        tcp: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<&Sighting> {
        let ip = local.ip().to_canonical();
        let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
        self.by_port
            .get(&(netns, tcp, local.port()))?
            .iter()
            .rev()
            .find(|s| {
                address_covers(s.local.ip().to_canonical(), ip)
                    && s.remote
                        .is_none_or(|r| SocketAddr::new(r.ip().to_canonical(), r.port()) == remote)
            })
    }
}

impl Sightings {
    /// The latest sighting, in any namespace, of a connected socket that is exactly the end
    /// `local` of a flow with `remote`: its own address (not a wildcard), port and remote end. Such
    /// a socket is that end's, wherever it ran.
    pub fn find_exact(
        &self,
        tcp: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<&Sighting> {
        let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let (local, remote) = (canonical(local), canonical(remote));
        self.namespaces
            .iter()
            .filter_map(|&ns| self.by_port.get(&(ns, tcp, local.port())))
            .flat_map(|list| list.iter())
            .filter(|s| canonical(s.local) == local && s.remote.map(canonical) == Some(remote))
            .max_by_key(|s| s.at_mono_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, name: &str) -> Arc<ProcessInfo> {
        Arc::new(ProcessInfo {
            pid,
            name: name.into(),
            exe: None,
            cmdline: vec![],
            uid: Some(0),
            container: None,
        })
    }

    fn sighting(netns: u64, local: &str, remote: Option<&str>, pid: u32) -> Sighting {
        Sighting {
            netns,
            tcp: true,
            local: local.parse().unwrap(),
            remote: remote.map(|r| r.parse().unwrap()),
            at_mono_ns: u64::from(pid),
            process: process(pid, "p"),
        }
    }

    #[test]
    fn finds_the_local_end_only_in_its_namespace() {
        let mut s = Sightings::new();
        s.add(sighting(
            1,
            "192.168.77.2:40000",
            Some("203.0.113.11:443"),
            10,
        ));
        // the far end's socket, in a neighbouring namespace: never the answer for the local end
        s.add(sighting(
            2,
            "203.0.113.11:443",
            Some("192.168.77.2:40000"),
            20,
        ));
        let local = "192.168.77.2:40000".parse().unwrap();
        let remote = "203.0.113.11:443".parse().unwrap();
        assert_eq!(s.find(1, true, local, remote).unwrap().process.pid, 10);
        assert!(s.find(2, true, local, remote).is_none());
        assert!(s.find(1, false, local, remote).is_none());
        // another remote end on the same port is another socket
        let elsewhere = "203.0.113.12:443".parse().unwrap();
        assert!(s.find(1, true, local, elsewhere).is_none());
    }

    #[test]
    fn an_exact_sighting_names_the_client_in_any_namespace() {
        let mut s = Sightings::new();
        // a wildcard socket is no proof of whose end this is
        s.add(sighting(7, "0.0.0.0:40000", None, 10));
        assert!(
            s.find_exact(
                true,
                "172.31.0.2:40000".parse().unwrap(),
                "203.0.113.11:443".parse().unwrap()
            )
            .is_none()
        );
        s.add(sighting(
            7,
            "172.31.0.2:40000",
            Some("203.0.113.11:443"),
            11,
        ));
        // the far end's socket, exact from its own side, is not the client's
        s.add(sighting(
            9,
            "203.0.113.11:443",
            Some("172.31.0.2:40000"),
            12,
        ));
        let found = s
            .find_exact(
                true,
                "172.31.0.2:40000".parse().unwrap(),
                "203.0.113.11:443".parse().unwrap(),
            )
            .unwrap();
        assert_eq!((found.netns, found.process.pid), (7, 11));
    }

    #[test]
    fn a_wildcard_socket_covers_and_the_latest_wins() {
        let mut s = Sightings::new();
        s.add(sighting(1, "0.0.0.0:5353", None, 10));
        s.add(sighting(1, "0.0.0.0:5353", None, 11));
        let local = "192.168.77.2:5353".parse().unwrap();
        let remote = "224.0.0.251:5353".parse().unwrap();
        assert_eq!(s.find(1, true, local, remote).unwrap().process.pid, 11);
        // an IPv4 wildcard does not cover an IPv6 address
        let v6 = "[2001:db8::2]:5353".parse().unwrap();
        assert!(s.find(1, true, v6, remote).is_none());
    }

    #[test]
    fn stays_within_its_cap() {
        let mut s = Sightings::new();
        for i in 0..(MAX_SIGHTINGS + 10) {
            let port = 1024 + (i % 60_000) as u16;
            s.add(sighting(1, &format!("10.0.0.1:{port}"), None, i as u32));
        }
        assert_eq!(s.len(), MAX_SIGHTINGS);
        assert_eq!(s.evicted, 10);
        // port 1024 lost its first sighting to the cap, and keeps its second (the 60,001st)
        let remote = "203.0.113.1:1".parse().unwrap();
        assert!(
            s.find(1, true, "10.0.0.1:1024".parse().unwrap(), remote)
                .is_some()
        );
        let survivors: usize = s.by_port.values().map(Vec::len).sum();
        assert_eq!(survivors, MAX_SIGHTINGS);
    }
}
