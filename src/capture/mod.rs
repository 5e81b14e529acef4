//! Capture: where packets come from. `file` reads pcap and pcapng files (optionally
//! gzip-compressed, or standard input) in pure Rust; live capture with libpcap comes
//! later and yields the same [`RawPacket`]s, so every source runs through one pipeline.

pub mod file;
pub mod readahead;

use crate::time::Timestamp;

/// A link-layer header type (the LINKTYPE_* numbers of pcap and pcapng).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const RAW_12: LinkType = LinkType(12);
    pub const RAW_14: LinkType = LinkType(14);
    pub const PPP_HDLC: LinkType = LinkType(50);
    pub const PPP_ETHER: LinkType = LinkType(51);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// The bytes captured (at most the snapshot length).
    pub data: &'a [u8],
    /// The packet's length on the wire; larger than `data.len()` when the snapshot length cut it.
    pub orig_len: u32,
    /// The pcapng interface the packet was captured on (0 for pcap).
    pub interface: u32,
}
