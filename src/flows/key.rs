//! The flow key: protocol and both endpoints, ordered so that both directions of a
//! conversation give the same key.

use super::Proto;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub proto: Proto,
    /// The lower of the two endpoints.
    pub a: SocketAddr,
    /// The higher of the two endpoints.
    pub b: SocketAddr,
}

impl FlowKey {
    pub fn new(proto: Proto, src: SocketAddr, dst: SocketAddr) -> FlowKey {
        if src <= dst {
            FlowKey {
                proto,
                a: src,
                b: dst,
            }
        } else {
            FlowKey {
                proto,
                a: dst,
                b: src,
            }
        }
    }
}

/// Hashes what tells flows apart and nothing else: each address as 128 bits (IPv4 mapped
/// into IPv6 space, with the family folded into the port word) and both ports; not the
/// IPv6 flow label or scope, which equality still compares. Four words instead of
/// `SocketAddr`'s field-by-field hashing: the flow table hashes every packet's key.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        fn words(a: &SocketAddr) -> (u128, u32) {
            match a {
                SocketAddr::V4(v4) => (
                    u128::from(v4.ip().to_bits()),
                    u32::from(v4.port()) | 1 << 16,
                ),
                SocketAddr::V6(v6) => (v6.ip().to_bits(), u32::from(v6.port())),
            }
        }
        let proto: u64 = match self.proto {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Ip(n) => 256 | u64::from(n),
        };
        let (a, pa) = words(&self.a);
        let (b, pb) = words(&self.b);
        state.write_u128(a);
        state.write_u128(b);
        state.write_u64((proto << 40) | (u64::from(pa) << 20) | u64::from(pb));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let c: SocketAddr = "192.168.1.10:50000".parse().unwrap();
        let s: SocketAddr = "203.0.113.5:443".parse().unwrap();
        assert_eq!(
            FlowKey::new(Proto::Tcp, c, s),
            FlowKey::new(Proto::Tcp, s, c)
        );
        assert_ne!(
            FlowKey::new(Proto::Tcp, c, s),
            FlowKey::new(Proto::Udp, c, s)
        );
    }
}
