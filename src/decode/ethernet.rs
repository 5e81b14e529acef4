//! Ethernet II: the header, then what its ethertype leads to ([`by_ethertype`], shared with the
//! other link types in `network`).

use super::DecodeError;
use super::frame::Frame;
use super::network::{Network, by_ethertype};

const ETHERNET_HEADER: usize = 14;

/// An Ethernet II frame (LINKTYPE_ETHERNET).
pub(crate) fn ethernet(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let et = frame.u16_at(12, "Ethernet header")?;
    let rest = frame.skip(ETHERNET_HEADER, "Ethernet header")?;
    if et < 0x0600 {
        return Err(DecodeError::Unsupported("IEEE 802.3 / LLC frame"));
    }
    by_ethertype(et, rest)
}

#[cfg(test)]
mod tests {
    use super::super::network::IpVersion;
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
