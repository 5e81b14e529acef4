//! BSD loopback: LINKTYPE_NULL (a 4-byte address family in the capturing host's byte order,
//! so either) and LINKTYPE_LOOP (the same in network byte order). AF_INET is 2 everywhere;
//! AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).

use super::DecodeError;
use super::frame::Frame;
use super::network::Network;

/// LINKTYPE_NULL.
pub(crate) fn null(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let be = frame.u32_at(0, "loopback header")?;
    let le = be.swap_bytes();
    // Families are small numbers: whichever reading is small is the right byte order.
    let family = if le <= 0xffff { le } else { be };
    by_family(family, frame.skip(4, "loopback header")?)
}

/// LINKTYPE_LOOP.
pub(crate) fn loop_(frame: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    let family = frame.u32_at(0, "loopback header")?;
    by_family(family, frame.skip(4, "loopback header")?)
}

fn by_family(family: u32, rest: Frame<'_>) -> Result<Network<'_>, DecodeError> {
    match family {
        2 => Ok(Network::v4(rest)),
        10 | 24 | 28 | 30 => Ok(Network::v6(rest)),
        _ => Err(DecodeError::Unsupported(
            "a loopback address family that is not IP",
        )),
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
    fn null_reads_either_byte_order() {
        for hdr in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
            let mut b = hdr.to_vec();
            b.push(0x45);
            let n = null(whole(&b)).unwrap();
            assert_eq!((n.version, n.frame.data), (IpVersion::V4, &[0x45u8][..]));
        }
        for fam in [10u32, 24, 28, 30] {
            for b in [fam.to_le_bytes(), fam.to_be_bytes()] {
                assert_eq!(null(whole(&b)).unwrap().version, IpVersion::V6);
            }
        }
        assert!(matches!(
            null(whole(&[7, 0, 0, 0])),
            Err(DecodeError::Unsupported(_))
        ));
        assert!(matches!(
            null(Frame::new(&[2, 0], 40)),
            Err(DecodeError::Truncated(_))
        ));
    }

    #[test]
    fn loop_is_network_order() {
        assert_eq!(loop_(whole(&[0, 0, 0, 2])).unwrap().version, IpVersion::V4);
        assert_eq!(loop_(whole(&[0, 0, 0, 30])).unwrap().version, IpVersion::V6);
        assert!(matches!(
            loop_(whole(&[2, 0, 0, 0])),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
