//! What a link header leads to, shared by every link type: the IP packet found ([`Network`]),
//! and the dispatchers that more than one link type reaches: an ethertype with any stack of
//! 802.1Q / 802.1ad / 0x9100 VLAN tags ([`by_ethertype`]: Ethernet, Linux cooked captures,
//! Cisco HDLC), MPLS label stacks (then IPv4 or IPv6 by the first nibble), PPPoE sessions and
//! the PPP protocol field (PPP, PPPoE, PPP over Ethernet). The link decoders import this, never
//! each other.

use super::DecodeError;
use super::frame::Frame;

/// Which IP version the layer below announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpVersion {
    V4,
    V6,
    /// Not announced: read the version from the first nibble.
    Any,
}

/// An IP packet found inside the link layer(s).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Network<'a> {
    pub version: IpVersion,
    pub frame: Frame<'a>,
    /// The IP packet's length according to an outer header (PPPoE), when there is one.
    pub outer_len: Option<usize>,
}

impl<'a> Network<'a> {
    pub fn v4(frame: Frame<'a>) -> Self {
        Network {
            version: IpVersion::V4,
            frame,
            outer_len: None,
        }
    }
    pub fn v6(frame: Frame<'a>) -> Self {
        Network {
            version: IpVersion::V6,
            frame,
            outer_len: None,
        }
    }
    pub fn any(frame: Frame<'a>) -> Self {
        Network {
            version: IpVersion::Any,
            frame,
            outer_len: None,
        }
    }
}

/// The most VLAN tags, and separately MPLS labels, one packet may stack.
pub(crate) const MAX_STACK: usize = 8;

pub(crate) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    pub const VLAN: u16 = 0x8100;
    pub const IPX: u16 = 0x8137;
    pub const IPV6: u16 = 0x86DD;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const PPPOE_DISCOVERY: u16 = 0x8863;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const EAPOL: u16 = 0x888E;
    pub const QINQ: u16 = 0x88A8;
    pub const LLDP: u16 = 0x88CC;
    pub const MACSEC: u16 = 0x88E5;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const QINQ_OLD2: u16 = 0x9200;
}

/// Follows `et` (and any VLAN tags after it) to the IP packet in `frame`.
pub(crate) fn by_ethertype(mut et: u16, mut frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let mut tags = 0usize;
    loop {
        match et {
            ethertype::IPV4 => return Ok(Network::v4(frame)),
            ethertype::IPV6 => return Ok(Network::v6(frame)),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD | ethertype::QINQ_OLD2 => {
                tags += 1;
                if tags > MAX_STACK {
                    return Err(DecodeError::Malformed("more than 8 stacked VLAN tags"));
                }
                et = frame.u16_at(2, "VLAN tag")?;
                frame = frame.skip(4, "VLAN tag")?;
            }
            ethertype::MPLS | ethertype::MPLS_MULTICAST => return mpls(frame),
            ethertype::PPPOE_SESSION => return pppoe_session(frame),
            ethertype::PPPOE_DISCOVERY => return Err(DecodeError::Unsupported("PPPoE discovery")),
            ethertype::ARP | ethertype::RARP => return Err(DecodeError::Unsupported("ARP")),
            ethertype::LLDP => return Err(DecodeError::Unsupported("LLDP")),
            ethertype::IPX => return Err(DecodeError::Unsupported("IPX")),
            ethertype::EAPOL => return Err(DecodeError::Unsupported("802.1X (EAPOL)")),
            ethertype::MACSEC => return Err(DecodeError::Unsupported("MACsec (encrypted)")),
            _ => return Err(DecodeError::Unsupported("an ethertype that is not IP")),
        }
    }
}

/// An MPLS label stack, then IPv4 or IPv6 told apart by the first nibble.
pub(crate) fn mpls(mut frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    for _ in 0..MAX_STACK {
        let entry = frame.u32_at(0, "MPLS label")?;
        frame = frame.skip(4, "MPLS label")?;
        if entry & 0x100 != 0 {
            let first = frame.u8_at(0, "MPLS payload")?;
            return match first >> 4 {
                4 => Ok(Network::v4(frame)),
                6 => Ok(Network::v6(frame)),
                _ => Err(DecodeError::Unsupported("MPLS payload that is not IP")),
            };
        }
    }
    Err(DecodeError::Malformed("more than 8 stacked MPLS labels"))
}

/// A PPPoE session header (RFC 2516), then the PPP protocol field.
///
/// The header's length field bounds the IP packet when it is shorter than the IP header
/// says (zeek's pppoe-over-qinq.pcap has ACKs whose IPv4 total length counts 6 bytes of
/// zero padding that the PPPoE length rightly leaves out, as tshark also reads them); a
/// length longer than the frame is ignored.
pub(crate) fn pppoe_session(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let ver_type = frame.u8_at(0, "PPPoE header")?;
    let code = frame.u8_at(1, "PPPoE header")?;
    let len = usize::from(frame.u16_at(4, "PPPoE header")?);
    if ver_type != 0x11 || code != 0 {
        return Err(DecodeError::Malformed(
            "PPPoE session header with a bad version or code",
        ));
    }
    let payload = frame.skip(6, "PPPoE header")?;
    let mut net = ppp_protocol(payload)?;
    let consumed = payload.wire.saturating_sub(net.frame.wire);
    net.outer_len = len.checked_sub(consumed);
    Ok(net)
}

/// The PPP protocol field and what follows it.
pub(crate) fn ppp_protocol(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let first = frame.u8_at(0, "PPP protocol field")?;
    // An odd first byte is a protocol field compressed to one byte.
    let (proto, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        (frame.u16_at(0, "PPP protocol field")?, 2)
    };
    let rest = frame.skip(len, "PPP protocol field")?;
    match proto {
        0x0021 => Ok(Network::v4(rest)),
        0x0057 => Ok(Network::v6(rest)),
        0x0281 => mpls(rest),
        0xc021 => Err(DecodeError::Unsupported("PPP LCP")),
        0x8021 | 0x8057 => Err(DecodeError::Unsupported("PPP IPCP / IPV6CP")),
        0xc023 | 0xc223 => Err(DecodeError::Unsupported("PPP authentication")),
        _ => Err(DecodeError::Unsupported("a PPP protocol that is not IP")),
    }
}
