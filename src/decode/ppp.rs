//! PPP framings: LINKTYPE_PPP (9) with optional `ff 03` address/control bytes,
//! LINKTYPE_PPP_HDLC (50, which may also hold Cisco HDLC), LINKTYPE_PPP_ETHER (51, a PPPoE
//! header without Ethernet), and the PPP protocol field itself (two bytes, or one when
//! compressed): 0x0021 is IPv4, 0x0057 IPv6, 0x0281 MPLS.

use super::DecodeError;
use super::frame::Frame;
use super::network::{Network, by_ethertype, ppp_protocol as protocol, pppoe_session};

/// LINKTYPE_PPP.
pub(crate) fn ppp(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    protocol(skip_address_control(frame)?)
}

/// LINKTYPE_PPP_HDLC: PPP in HDLC-like framing, or Cisco HDLC (address 0x0f/0x8f, control
/// 0, then an ethertype).
pub(crate) fn ppp_hdlc(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let first = frame.u8_at(0, "PPP header")?;
    if first == 0x0f || first == 0x8f {
        let et = frame.u16_at(2, "Cisco HDLC header")?;
        return by_ethertype(et, frame.skip(4, "Cisco HDLC header")?);
    }
    ppp(frame)
}

/// LINKTYPE_PPP_ETHER: a PPPoE session header, then PPP.
pub(crate) fn ppp_ether(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    pppoe_session(frame)
}

fn skip_address_control(frame: Frame<'_>) -> Result<Frame<'_>, DecodeError> {
    if frame.data.first() == Some(&0xff) && frame.data.get(1) == Some(&0x03) {
        frame.skip(2, "PPP header")
    } else {
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::super::network::IpVersion;
    use super::*;

    fn whole(b: &[u8]) -> Frame<'_> {
        Frame::new(b, b.len())
    }

    #[test]
    fn ppp_with_and_without_address_control() {
        let n = ppp(whole(&[0xff, 0x03, 0x00, 0x21, 0x45])).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V4, &[0x45u8][..]));
        let n = ppp(whole(&[0x00, 0x57, 0x60])).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V6, &[0x60u8][..]));
        // Compressed one-byte protocol field.
        let n = ppp(whole(&[0x21, 0x45])).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V4, &[0x45u8][..]));
        assert_eq!(
            ppp(whole(&[0xff, 0x03, 0xc0, 0x21, 1])).unwrap_err(),
            DecodeError::Unsupported("PPP LCP")
        );
        assert!(matches!(
            ppp(Frame::new(&[0xff, 0x03, 0x00], 40)),
            Err(DecodeError::Truncated(_))
        ));
        assert!(matches!(ppp(whole(&[])), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn ppp_hdlc_and_cisco_hdlc() {
        let n = ppp_hdlc(whole(&[0xff, 0x03, 0x00, 0x21, 0x45])).unwrap();
        assert_eq!(n.version, IpVersion::V4);
        let n = ppp_hdlc(whole(&[0x0f, 0x00, 0x86, 0xdd, 0x60])).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V6, &[0x60u8][..]));
    }

    #[test]
    fn ppp_ether_is_pppoe_without_ethernet() {
        let n = ppp_ether(whole(&[0x11, 0, 0, 7, 0, 3, 0x00, 0x21, 0x45])).unwrap();
        assert_eq!((n.version, n.frame.data), (IpVersion::V4, &[0x45u8][..]));
    }

    #[test]
    fn mpls_over_ppp() {
        let n = ppp(whole(&[0x02, 0x81, 0, 0, 0x11, 0x40, 0x45])).unwrap();
        assert_eq!(n.version, IpVersion::V4);
    }
}
