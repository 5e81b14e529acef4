//! Linux "cooked" captures: LINUX_SLL (v1, 16-byte header) and LINUX_SLL2 (20 bytes). The
//! protocol field is an ethertype for most ARPHRD device types; for netlink, CAN, 802.11 and
//! the like it is something else, and those packets are not IP.

use super::DecodeError;
use super::frame::Frame;
use super::network::Network;
use super::network::by_ethertype;

const ARPHRD_CAN: u16 = 280;
const ARPHRD_FRAD: u16 = 770;
const ARPHRD_IEEE80211: u16 = 801;
const ARPHRD_IEEE80211_PRISM: u16 = 802;
const ARPHRD_IEEE80211_RADIOTAP: u16 = 803;
const ARPHRD_IEEE802154: u16 = 804;
const ARPHRD_NETLINK: u16 = 824;

/// LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol.
pub(crate) fn sll(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let arphrd = frame.u16_at(2, "Linux cooked header")?;
    let proto = frame.u16_at(14, "Linux cooked header")?;
    cooked(arphrd, proto, frame.skip(16, "Linux cooked header")?)
}

/// LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes.
pub(crate) fn sll2(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let proto = frame.u16_at(0, "Linux cooked v2 header")?;
    let arphrd = frame.u16_at(8, "Linux cooked v2 header")?;
    cooked(arphrd, proto, frame.skip(20, "Linux cooked v2 header")?)
}

fn cooked(arphrd: u16, proto: u16, rest: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    match arphrd {
        ARPHRD_NETLINK => return Err(DecodeError::Unsupported("Linux netlink messages")),
        ARPHRD_CAN => return Err(DecodeError::Unsupported("CAN bus frames")),
        ARPHRD_IEEE80211 | ARPHRD_IEEE80211_PRISM | ARPHRD_IEEE80211_RADIOTAP => {
            return Err(DecodeError::Unsupported("raw 802.11 frames"));
        }
        ARPHRD_IEEE802154 => return Err(DecodeError::Unsupported("IEEE 802.15.4 frames")),
        ARPHRD_FRAD => return Err(DecodeError::Unsupported("Frame Relay")),
        _ => {}
    }
    match proto {
        // Linux's non-ethertype protocol values (ETH_P_802_3, ETH_P_AX25, ETH_P_802_2, ...).
        0x0000..=0x05ff => Err(DecodeError::Unsupported(
            "a Linux cooked frame that is not IP",
        )),
        _ => by_ethertype(proto, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::super::network::IpVersion;
    use super::*;

    fn sll1(arphrd: u16, proto: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend(arphrd.to_be_bytes());
        v.extend([0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        v.extend(proto.to_be_bytes());
        v.extend(rest);
        v
    }

    fn sll2b(arphrd: u16, proto: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = proto.to_be_bytes().to_vec();
        v.extend([0, 0, 0, 0, 0, 3]);
        v.extend(arphrd.to_be_bytes());
        v.extend([4, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        v.extend(rest);
        v
    }

    fn whole(b: &[u8]) -> Frame<'_> {
        Frame::new(b, b.len())
    }

    #[test]
    fn sll_v1_and_v2_carry_ethertypes() {
        let b = sll1(1, 0x0800, &[0x45]);
        let n = sll(whole(&b)).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V4, &[0x45u8][..]));
        let b = sll2b(1, 0x86dd, &[0x60]);
        let n = sll2(whole(&b)).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V6, &[0x60u8][..]));
        // Loopback (ARPHRD 772), PPP (512) and tunnels carry ethertypes too.
        for arphrd in [772, 512, 778, 65534] {
            let b = sll2b(arphrd, 0x0800, &[0x45]);
            assert_eq!(sll2(whole(&b)).unwrap().version, IpVersion::V4);
        }
        // A VLAN tag left in place.
        let b = sll1(1, 0x8100, &[0, 5, 0x08, 0x00, 0x45]);
        assert_eq!(sll(whole(&b)).unwrap().frame.data, &[0x45]);
    }

    #[test]
    fn non_ip_device_types_and_protocols() {
        let b = sll1(ARPHRD_NETLINK, 0x0000, &[0; 16]);
        assert_eq!(
            sll(whole(&b)).unwrap_err(),
            DecodeError::Unsupported("Linux netlink messages")
        );
        let b = sll2b(ARPHRD_CAN, 0x000c, &[0; 16]);
        assert!(matches!(sll2(whole(&b)), Err(DecodeError::Unsupported(_))));
        let b = sll1(1, 0x0806, &[0; 28]);
        assert_eq!(sll(whole(&b)).unwrap_err(), DecodeError::Unsupported("ARP"));
        let b = sll1(1, 0x0004, &[0; 28]);
        assert!(matches!(sll(whole(&b)), Err(DecodeError::Unsupported(_))));
        assert!(matches!(
            sll(Frame::new(&b[..10], 60)),
            Err(DecodeError::Truncated(_))
        ));
        assert!(matches!(
            sll2(whole(&b[..10])),
            Err(DecodeError::Malformed(_))
        ));
    }
}
