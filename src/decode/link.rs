//! Link-layer dispatch: from a captured packet's link type to the IP packet inside it.
//! Each link type lives in its own file (`ethernet`, `sll`, `null`, `ppp`); raw-IP link
//! types (12, 14, 101, 228, 229) carry the IP packet directly.

use super::frame::Frame;
use super::network::Network;
use super::{DecodeError, ethernet, null, ppp, sll};
use crate::capture::LinkType;

/// Strips the link-layer headers of `link` from `frame`.
pub(crate) fn strip(link: LinkType, frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet::ethernet(frame),
        LinkType::LINUX_SLL => sll::sll(frame),
        LinkType::LINUX_SLL2 => sll::sll2(frame),
        LinkType::NULL => null::null(frame),
        LinkType::LOOP => null::loop_(frame),
        LinkType::PPP => ppp::ppp(frame),
        LinkType::PPP_HDLC => ppp::ppp_hdlc(frame),
        LinkType::PPP_ETHER => ppp::ppp_ether(frame),
        LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => Ok(Network::any(frame)),
        LinkType::IPV4 => Ok(Network::v4(frame)),
        LinkType::IPV6 => Ok(Network::v6(frame)),
        _ => Err(DecodeError::Unsupported(
            "a link type this tool does not decode",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::network::IpVersion;
    use super::*;

    #[test]
    fn raw_link_types_pass_the_packet_through() {
        let bytes = [0x45u8, 0, 0, 20];
        for (lt, v) in [
            (LinkType::RAW, IpVersion::Any),
            (LinkType::RAW_12, IpVersion::Any),
            (LinkType::RAW_14, IpVersion::Any),
            (LinkType::IPV4, IpVersion::V4),
            (LinkType::IPV6, IpVersion::V6),
        ] {
            let n = strip(lt, Frame::new(&bytes, 4)).unwrap();
            assert_eq!(n.version, v);
            assert_eq!(n.frame.data, &bytes);
        }
    }

    #[test]
    fn unknown_link_types_are_unsupported() {
        let e = strip(LinkType(127), Frame::new(&[0; 40], 40)).unwrap_err();
        assert!(matches!(e, DecodeError::Unsupported(_)));
    }
}
