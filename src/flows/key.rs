//! The flow key: protocol and both endpoints, ordered so that both directions of a
//! conversation give the same key.

use super::Proto;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
