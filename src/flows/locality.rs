//! Where an address is: on this network (loopback, private, CGNAT, link-local, ULA,
//! multicast, broadcast, or a network the owner listed) or on the internet. The
//! documentation ranges count as the internet: the demo and the tests use them for it.

use ipnet::IpNet;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is local, or that it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Loopback,
    Private,
    Cgnat,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Broadcast,
    Unspecified,
    /// A network the rules file lists under `[networks] local`.
    Owner,
    Internet,
}

impl Scope {
    pub fn is_local(self) -> bool {
        self != Scope::Internet
    }
}

pub fn scope(addr: IpAddr, owner_networks: &[IpNet]) -> Scope {
    if owner_networks.iter().any(|n| n.contains(&addr)) {
        return Scope::Owner;
    }
    match addr {
        IpAddr::V4(a) => scope_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => scope_v4(v4),
            None => scope_v6(a),
        },
    }
}

fn scope_v4(a: Ipv4Addr) -> Scope {
    let o = a.octets();
    if a.is_loopback() {
        Scope::Loopback
    } else if a.is_private() {
        Scope::Private
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Scope::Cgnat
    } else if a.is_link_local() {
        Scope::LinkLocal
    } else if a.is_multicast() {
        Scope::Multicast
    } else if a.is_broadcast() {
        Scope::Broadcast
    } else if a.is_unspecified() {
        Scope::Unspecified
    } else {
        Scope::Internet
    }
}

fn scope_v6(a: Ipv6Addr) -> Scope {
    let s = a.segments();
    if a.is_loopback() {
        Scope::Loopback
    } else if a.is_unspecified() {
        Scope::Unspecified
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Scope::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Scope::UniqueLocal
    } else if a.is_multicast() {
        // ff0e:: (global scope) multicast is routed on the internet; every narrower scope stays here.
        if (s[0] & 0x000f) >= 0xe {
            Scope::Internet
        } else {
            Scope::Multicast
        }
    } else {
        Scope::Internet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(s: &str) -> Scope {
        scope(s.parse().unwrap(), &[])
    }

    #[test]
    fn local_ranges() {
        assert_eq!(sc("127.0.0.1"), Scope::Loopback);
        assert_eq!(sc("10.1.2.3"), Scope::Private);
        assert_eq!(sc("172.16.0.1"), Scope::Private);
        assert_eq!(sc("172.31.255.1"), Scope::Private);
        assert_eq!(sc("192.168.1.10"), Scope::Private);
        assert_eq!(sc("100.64.0.1"), Scope::Cgnat);
        assert_eq!(sc("100.127.255.254"), Scope::Cgnat);
        assert_eq!(sc("169.254.1.1"), Scope::LinkLocal);
        assert_eq!(sc("239.0.0.250"), Scope::Multicast);
        assert_eq!(sc("224.0.0.251"), Scope::Multicast);
        assert_eq!(sc("255.255.255.255"), Scope::Broadcast);
        assert_eq!(sc("::1"), Scope::Loopback);
        assert_eq!(sc("fe80::1"), Scope::LinkLocal);
        assert_eq!(sc("fd00:1::10"), Scope::UniqueLocal);
        assert_eq!(sc("ff02::fb"), Scope::Multicast);
        assert_eq!(sc("::ffff:192.168.1.1"), Scope::Private);
    }

    #[test]
    fn internet_ranges() {
        assert_eq!(sc("100.128.0.1"), Scope::Internet);
        assert_eq!(sc("172.32.0.1"), Scope::Internet);
        assert_eq!(sc("192.0.2.1"), Scope::Internet);
        assert_eq!(sc("198.51.100.77"), Scope::Internet);
        assert_eq!(sc("203.0.113.5"), Scope::Internet);
        assert_eq!(sc("2001:db8::1"), Scope::Internet);
        assert_eq!(sc("8.8.8.8"), Scope::Internet);
        assert_eq!(sc("ff0e::1"), Scope::Internet);
    }

    #[test]
    fn owner_networks_count_as_local() {
        let nets: Vec<IpNet> = vec!["203.0.113.0/24".parse().unwrap()];
        assert_eq!(scope("203.0.113.9".parse().unwrap(), &nets), Scope::Owner);
        assert_eq!(
            scope("198.51.100.9".parse().unwrap(), &nets),
            Scope::Internet
        );
    }
}
