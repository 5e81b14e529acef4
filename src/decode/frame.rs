//! `Frame`: what is left of a packet at one layer of decoding, as captured (`data`) and as it
//! was on the wire (`wire`, never less than `data.len()`). Every header read goes through
//! [`Frame::need`], which tells a packet cut by the snapshot length (`Truncated`) from one
//! whose headers claim more than the packet ever had (`Malformed`).

use super::DecodeError;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame<'a> {
    /// The bytes captured from here on.
    pub data: &'a [u8],
    /// The length on the wire from here on (at least `data.len()`).
    pub wire: usize,
}

impl<'a> Frame<'a> {
    pub fn new(data: &'a [u8], wire: usize) -> Self {
        Frame {
            data,
            wire: wire.max(data.len()),
        }
    }

    /// Ok when `n` bytes are captured; `Truncated` when the packet had them on the wire but
    /// the snapshot length cut them; `Malformed` when the packet never had them.
    pub fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.data.len() >= n {
            Ok(())
        } else if self.wire >= n {
            Err(DecodeError::Truncated(what))
        } else {
            Err(DecodeError::Malformed(what))
        }
    }

    /// The error for a header that needed `needed` bytes of this frame and did not get them.
    pub fn short(&self, needed: usize, what: &'static str) -> DecodeError {
        match self.need(needed, what) {
            Err(e) => e,
            Ok(()) => DecodeError::Malformed(what),
        }
    }

    /// The frame after its first `n` bytes (which must be present, see [`Frame::need`]).
    pub fn skip(self, n: usize, what: &'static str) -> Result<Frame<'a>, DecodeError> {
        self.need(n, what)?;
        let data = self.data.get(n..).ok_or(DecodeError::Malformed(what))?;
        Ok(Frame {
            data,
            wire: self.wire.saturating_sub(n),
        })
    }

    /// The first `len` bytes on the wire (drops trailers and padding after them).
    pub fn limit(self, len: usize) -> Frame<'a> {
        let data = self
            .data
            .get(..len.min(self.data.len()))
            .unwrap_or_default();
        Frame {
            data,
            wire: self.wire.min(len).max(data.len()),
        }
    }

    pub fn u8_at(&self, at: usize, what: &'static str) -> Result<u8, DecodeError> {
        self.need(at.saturating_add(1), what)?;
        self.data
            .get(at)
            .copied()
            .ok_or(DecodeError::Malformed(what))
    }

    pub fn u16_at(&self, at: usize, what: &'static str) -> Result<u16, DecodeError> {
        self.need(at.saturating_add(2), what)?;
        let b = self
            .data
            .get(at..at.saturating_add(2))
            .and_then(|s| <[u8; 2]>::try_from(s).ok())
            .ok_or(DecodeError::Malformed(what))?;
        Ok(u16::from_be_bytes(b))
    }

    pub fn u32_at(&self, at: usize, what: &'static str) -> Result<u32, DecodeError> {
        self.need(at.saturating_add(4), what)?;
        let b = self
            .data
            .get(at..at.saturating_add(4))
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .ok_or(DecodeError::Malformed(what))?;
        Ok(u32::from_be_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_tells_cut_from_lying() {
        let f = Frame::new(&[1, 2, 3], 10);
        assert_eq!(f.need(3, "x"), Ok(()));
        assert_eq!(f.need(4, "x"), Err(DecodeError::Truncated("x")));
        assert_eq!(f.need(11, "x"), Err(DecodeError::Malformed("x")));
        let whole = Frame::new(&[1, 2, 3], 3);
        assert_eq!(whole.need(4, "x"), Err(DecodeError::Malformed("x")));
    }

    #[test]
    fn skip_limit_and_reads() {
        let f = Frame::new(&[0, 1, 2, 3, 4, 5], 20);
        let g = f.skip(2, "x").unwrap();
        assert_eq!(g.data, &[2, 3, 4, 5]);
        assert_eq!(g.wire, 18);
        assert_eq!(g.u16_at(0, "x"), Ok(0x0203));
        assert_eq!(g.u32_at(0, "x"), Ok(0x0203_0405));
        assert_eq!(g.u32_at(1, "x"), Err(DecodeError::Truncated("x")));
        let l = g.limit(3);
        assert_eq!(l.data, &[2, 3, 4]);
        assert_eq!(l.wire, 3);
        let l = g.limit(10);
        assert_eq!((l.data.len(), l.wire), (4, 10));
        assert_eq!(
            Frame::new(&[], 0).u8_at(0, "x"),
            Err(DecodeError::Malformed("x"))
        );
    }
}
