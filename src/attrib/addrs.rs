//! Which network namespace an address lives in: the addresses each namespace holds, read from its
//! own files.
//!
//! A flow may be tied only to the socket of its own local end, and that socket lives in the
//! namespace that holds the end's address: the capture's own namespace, or, for a capture on a
//! bridge or a veth, the container's. The far end's socket may sit on the same host (a resolver in
//! a neighbouring container, a reverse proxy listening on the far end's port); it is never the
//! answer. Knowing where each address lives is what tells the two ends apart.
//!
//! IPv4: `net/fib_trie`, whose `host LOCAL` entries are the addresses the namespace answers for
//! (a `/32` for each configured address, and `127.0.0.0/8` as a whole). IPv6: `net/if_inet6`, one
//! configured address a line (and `::1`). Both are plain files of the namespace's `net` folder:
//! `/proc/net` for the own namespace, `/proc/PID/net` for another through one of its processes.
//! Nothing is asked of the kernel beyond reading them, and nothing is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::Ipv4Net;

/// At most this much of either file is read.
const FILE_MAX: u64 = 16 * 1024 * 1024;

/// The addresses one network namespace holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addresses {
    /// IPv4 addresses and prefixes (`127.0.0.0/8`) the namespace answers for.
    pub v4: Vec<Ipv4Net>,
    /// IPv6 addresses configured on its interfaces.
    pub v6: Vec<Ipv6Addr>,
}

impl Addresses {
    /// Whether the namespace holds `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn holds(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(v4) => self.v4.iter().any(|net| net.contains(&v4)),
            IpAddr::V6(v6) => self.v6.contains(&v6),
        }
    }

    /// Reads the addresses of the namespace whose `net` folder is `net_dir`; `None` when neither file
    /// can be read (the process ended, or its folder is hidden: `hidepid`).
    pub fn read(net_dir: &Path) -> Option<Addresses> {
        let fib = super::read_limited(&net_dir.join("fib_trie"), FILE_MAX).ok();
        let inet6 = super::read_limited(&net_dir.join("if_inet6"), FILE_MAX).ok();
        if fib.is_none() && inet6.is_none() {
            return None;
        }
        Some(Addresses {
            v4: fib
                .map(|b| parse_fib_trie(&String::from_utf8_lossy(&b)))
                .unwrap_or_default(),
            v6: inet6
                .map(|b| parse_if_inet6(&String::from_utf8_lossy(&b)))
                .unwrap_or_default(),
        })
    }
}

/// The `host LOCAL` entries of a `fib_trie` text. Each leaf is a `|-- ADDRESS` line followed by lines
/// of `/LEN SCOPE TYPE`; the kernel prints the trie twice (tables Main and Local), so entries are
/// deduplicated.
pub fn parse_fib_trie(text: &str) -> Vec<Ipv4Net> {
    let mut found: Vec<Ipv4Net> = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            leaf = address.trim().parse().ok();
            continue;
        }
        let Some(rest) = line.strip_prefix('/') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(len), Some(scope), Some(kind)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if scope != "host" || kind != "LOCAL" {
            continue;
        }
        let (Some(address), Ok(len)) = (leaf, len.parse::<u8>()) else {
            continue;
        };
        if let Ok(net) = Ipv4Net::new(address, len).map(|n| n.trunc())
            && !found.contains(&net)
        {
            found.push(net);
        }
    }
    found
}

/// The addresses of an `if_inet6` text: 32 hex digits first on each line.
pub fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    let mut found = Vec::new();
    for line in text.lines() {
        let Some(hex) = line.split_whitespace().next() else {
            continue;
        };
        if hex.len() != 32 {
            continue;
        }
        let Ok(bits) = u128::from_str_radix(hex, 16) else {
            continue;
        };
        let address = Ipv6Addr::from(bits);
        if !found.contains(&address) {
            found.push(address);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.77.0/24 2 0 2
           |-- 192.168.77.0
              /24 link UNICAST
           |-- 192.168.77.2
              /32 host LOCAL
        |-- 192.168.77.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 192.168.77.2
              /32 host LOCAL
";

    #[test]
    fn reads_the_local_ipv4_addresses() {
        let nets = parse_fib_trie(FIB);
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.0/8", "127.0.0.1/32", "192.168.77.2/32"]);
        let a = Addresses {
            v4: nets,
            v6: vec![],
        };
        assert!(a.holds("192.168.77.2".parse().unwrap()));
        assert!(a.holds("127.0.0.53".parse().unwrap()));
        assert!(a.holds("::ffff:192.168.77.2".parse().unwrap()));
        // the network and broadcast addresses are not the namespace's own, nor a neighbour's
        assert!(!a.holds("192.168.77.0".parse().unwrap()));
        assert!(!a.holds("192.168.77.1".parse().unwrap()));
        assert!(!a.holds("203.0.113.11".parse().unwrap()));
    }

    #[test]
    fn reads_the_ipv6_addresses() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    20010db8000000000000000000000002 04 40 00 80     eth0\n\
                    short 04 40 00 80 eth0\n\
                    zz010db8000000000000000000000002 04 40 00 80     eth0\n";
        let v6 = parse_if_inet6(text);
        assert_eq!(
            v6,
            [
                "::1".parse::<Ipv6Addr>().unwrap(),
                "2001:db8::2".parse().unwrap()
            ]
        );
    }

    #[test]
    fn reads_the_namespace_folder_and_says_when_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Addresses::read(dir.path()), None);
        std::fs::write(dir.path().join("fib_trie"), FIB).unwrap();
        let a = Addresses::read(dir.path()).unwrap();
        assert!(a.holds("192.168.77.2".parse().unwrap()));
        assert!(a.v6.is_empty());
        // the real namespace of this test holds its loopback address
        let own = Addresses::read(Path::new("/proc/net")).unwrap();
        assert!(own.holds("127.0.0.1".parse().unwrap()));
    }
}
