//! Decode: link layer → IP → transport. A packet that cannot be decoded is counted as
//! malformed, unsupported or truncated (cut by the snapshot length), never fatal.
//!
//! [`Decoder`] (in `decoder`) is the entry point. Link layers: `link` dispatches by link type
//! to `ethernet` (VLAN, MPLS, PPPoE), `sll`, `null` and `ppp`; `ip` reads IPv4/IPv6 headers,
//! `transport` TCP/UDP, and `frag` reassembles fragments. `frame` holds the length
//! bookkeeping that tells a cut packet from a lying one.

use std::net::IpAddr;

mod decoder;
mod ethernet;
mod frag;
mod frame;
mod ip;
mod link;
mod network;
mod null;
mod ppp;
mod sll;
mod transport;

pub use decoder::{DecodeStats, Decoder};
pub use frag::{FragLimits, FragStats};

/// TCP header flags as on the wire.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpInfo),
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// Any other IP protocol (ICMP, ESP, GRE, ...), by number.
    Other {
        protocol: u8,
    },
}

/// A decoded IP packet (or a reassembled IP datagram).
#[derive(Clone, Copy, Debug)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Length of the IP packet on the wire, headers included (for a reassembled datagram, of all its fragments).
    pub ip_len: u32,
    pub transport: Transport,
    /// The transport payload as captured (may be shorter than `payload_len` when the snapshot length cut it).
    pub payload: &'a [u8],
    /// The transport payload's length on the wire.
    pub payload_len: u32,
}

/// What decoding one captured packet gave.
#[derive(Clone, Copy, Debug)]
pub enum Decoded<'a> {
    Ip(IpPacket<'a>),
    /// An IP fragment, held until its datagram is complete.
    FragmentHeld,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Headers that contradict themselves or the packet's length.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A link type, ethertype or protocol this tool does not decode (ARP, say).
    #[error("not decoded: {0}")]
    Unsupported(&'static str),
    /// The snapshot length cut the packet before its headers ended.
    #[error("cut by the snapshot length: {0}")]
    Truncated(&'static str),
}
