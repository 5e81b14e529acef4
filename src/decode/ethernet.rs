//! Ethernet II and what an ethertype can lead to: any stack of 802.1Q / 802.1ad / 0x9100
//! VLAN tags, MPLS label stacks (then IPv4 or IPv6 by the first nibble), and PPPoE sessions
//! (then the PPP protocol field). Linux cooked captures reuse [`by_ethertype`].

use super::frame::Frame;
use super::link::Network;
use super::{DecodeError, ppp};

/// The most VLAN tags, and separately MPLS labels, one packet may stack.
pub(crate) const MAX_STACK: usize = 8;

const ETHERNET_HEADER: usize = 14;

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

/// An Ethernet II frame (LINKTYPE_ETHERNET).
pub(crate) fn ethernet(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let et = frame.u16_at(12, "Ethernet header")?;
    let rest = frame.skip(ETHERNET_HEADER, "Ethernet header")?;
    if et < 0x0600 {
        return Err(DecodeError::Unsupported("IEEE 802.3 / LLC frame"));
    }
    by_ethertype(et, rest)
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
    let mut net = ppp::protocol(payload)?;
    let consumed = payload.wire.saturating_sub(net.frame.wire);
    net.outer_len = len.checked_sub(consumed);
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::super::link::IpVersion;
    use super::*;

    const MACS: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = MACS.to_vec();
        v.extend(ethertype.to_be_bytes());
        v.extend(rest);
        v
    }

    fn whole(b: &[u8]) -> Frame<'_> {
        Frame::new(b, b.len())
    }

    #[test]
    fn plain_ipv4_and_ipv6() {
        let b = eth(0x0800, &[0x45, 0]);
        let n = ethernet(whole(&b)).unwrap();
        assert_eq!(n.version, IpVersion::V4);
        assert_eq!(n.frame.data, &[0x45, 0]);
        let b = eth(0x86DD, &[0x60]);
        assert_eq!(ethernet(whole(&b)).unwrap().version, IpVersion::V6);
    }

    #[test]
    fn vlan_stacks_up_to_eight_tags() {
        for (tag, n) in [(0x8100u16, 1usize), (0x88A8, 2), (0x9100, 3), (0x8100, 8)] {
            let mut rest = Vec::new();
            for i in 0..n {
                let next = if i + 1 == n { 0x86DDu16 } else { tag };
                rest.extend([0x20, i as u8]);
                rest.extend(next.to_be_bytes());
            }
            rest.push(0x60);
            let b = eth(tag, &rest);
            let got = ethernet(whole(&b)).unwrap();
            assert_eq!(got.version, IpVersion::V6);
            assert_eq!(got.frame.data, &[0x60]);
        }
        let mut rest = Vec::new();
        for _ in 0..9 {
            rest.extend([0, 1, 0x81, 0x00]);
        }
        let b = eth(0x8100, &rest);
        assert_eq!(
            ethernet(whole(&b)).unwrap_err(),
            DecodeError::Malformed("more than 8 stacked VLAN tags")
        );
    }

    #[test]
    fn mpls_stacks_and_nibble() {
        // Two labels, the second with bottom-of-stack, then IPv4.
        let b = eth(0x8847, &[0, 0x01, 0xd0, 0x40, 0, 0x02, 0xe1, 0x40, 0x45, 0]);
        let n = ethernet(whole(&b)).unwrap();
        assert_eq!(n.version, IpVersion::V4);
        assert_eq!(n.frame.data, &[0x45, 0]);
        let b = eth(0x8847, &[0, 0x01, 0xd1, 0x40, 0x60]);
        assert_eq!(ethernet(whole(&b)).unwrap().version, IpVersion::V6);
        // A pseudowire control word is not IP.
        let b = eth(0x8847, &[0, 0x01, 0xd1, 0x40, 0x00, 0, 0, 0]);
        assert!(matches!(
            ethernet(whole(&b)),
            Err(DecodeError::Unsupported(_))
        ));
        // Nine labels without bottom-of-stack.
        let b = eth(0x8847, &[0u8; 40]);
        assert_eq!(
            ethernet(whole(&b)).unwrap_err(),
            DecodeError::Malformed("more than 8 stacked MPLS labels")
        );
    }

    #[test]
    fn pppoe_session_to_ip_and_lcp() {
        // ver/type 0x11, code 0, session 0x1234, length 4: PPP protocol 0x0021 then 2 bytes.
        let b = eth(0x8864, &[0x11, 0, 0x12, 0x34, 0, 4, 0, 0x21, 0x45, 0]);
        let n = ethernet(whole(&b)).unwrap();
        assert_eq!(n.version, IpVersion::V4);
        assert_eq!(n.frame.data, &[0x45, 0]);
        assert_eq!(
            n.outer_len,
            Some(2),
            "the PPPoE length less the PPP protocol field"
        );
        // A length shorter than the PPP header gives no bound.
        let b = eth(0x8864, &[0x11, 0, 0x12, 0x34, 0, 1, 0, 0x21, 0x45, 0]);
        assert_eq!(ethernet(whole(&b)).unwrap().outer_len, None);
        let b = eth(0x8864, &[0x11, 0, 0, 1, 0, 3, 0, 0x57, 0x60]);
        assert_eq!(ethernet(whole(&b)).unwrap().version, IpVersion::V6);
        let b = eth(0x8864, &[0x11, 0, 0, 1, 0, 4, 0xc0, 0x21, 1, 1]);
        assert!(matches!(
            ethernet(whole(&b)),
            Err(DecodeError::Unsupported(_))
        ));
        let b = eth(0x8864, &[0x22, 0, 0, 1, 0, 4, 0, 0x21, 0x45, 0]);
        assert!(matches!(
            ethernet(whole(&b)),
            Err(DecodeError::Malformed(_))
        ));
        let b = eth(0x8863, &[0x11, 0x09, 0, 0, 0, 0]);
        assert_eq!(
            ethernet(whole(&b)).unwrap_err(),
            DecodeError::Unsupported("PPPoE discovery")
        );
    }

    #[test]
    fn non_ip_and_short_frames() {
        let b = eth(0x0806, &[0; 28]);
        assert_eq!(
            ethernet(whole(&b)).unwrap_err(),
            DecodeError::Unsupported("ARP")
        );
        let b = eth(0x88CC, &[0; 28]);
        assert_eq!(
            ethernet(whole(&b)).unwrap_err(),
            DecodeError::Unsupported("LLDP")
        );
        let b = eth(0x0040, &[0; 28]);
        assert!(matches!(
            ethernet(whole(&b)),
            Err(DecodeError::Unsupported(_))
        ));
        // 10 bytes captured of a 60-byte frame: cut.
        assert!(matches!(
            ethernet(Frame::new(&MACS[..10], 60)),
            Err(DecodeError::Truncated(_))
        ));
        // 10 bytes and that is all there was: malformed.
        assert!(matches!(
            ethernet(whole(&MACS[..10])),
            Err(DecodeError::Malformed(_))
        ));
        // A VLAN tag cut by the snapshot length.
        let b = eth(0x8100, &[0, 1]);
        assert!(matches!(
            ethernet(Frame::new(&b, 100)),
            Err(DecodeError::Truncated(_))
        ));
    }
}
