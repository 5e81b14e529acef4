//! pcapng: sections (either byte order), interfaces (each with its own link type and clock) and
//! the three packet blocks (Enhanced, Simple and the obsolete Packet block), read here directly
//! so that options on a packet never cost an allocation.

use super::*;

pub(super) const SHB_TYPE: u32 = 0x0A0D_0D0A;
pub(super) const IDB_TYPE: u32 = 0x0000_0001;
pub(super) const OBSOLETE_PB_TYPE: u32 = 0x0000_0002;
pub(super) const SPB_TYPE: u32 = 0x0000_0003;
pub(super) const EPB_TYPE: u32 = 0x0000_0006;
pub(super) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// A pcapng interface's timestamp unit: 10^-n or 2^-n seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TsUnit {
    Pow10(u8),
    Pow2(u8),
}

impl TsUnit {
    pub(super) fn from_tsresol(v: u8) -> Self {
        if v & 0x80 == 0 {
            TsUnit::Pow10(v)
        } else {
            TsUnit::Pow2(v & 0x7f)
        }
    }

    /// `ticks` of this unit, in nanoseconds (saturating; units finer than 1 ns round down).
    fn to_nanos(self, ticks: u64) -> u128 {
        let ticks = u128::from(ticks);
        match self {
            TsUnit::Pow10(e) if e <= 9 => ticks.saturating_mul(10u128.pow(u32::from(9 - e))),
            TsUnit::Pow10(e) => match 10u128.checked_pow(u32::from(e - 9)) {
                Some(div) => ticks / div,
                None => 0,
            },
            TsUnit::Pow2(e) => ticks
                .saturating_mul(1_000_000_000)
                .checked_shr(u32::from(e))
                .unwrap_or(0),
        }
    }
}

/// Nanoseconds in a tick of 10^-e seconds, for e from 0 to 9.
const NANOS_PER_TICK: [u64; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// A pcapng timestamp (in `unit`s, plus `offset_secs`) as a [`Timestamp`].
pub(super) fn pcapng_timestamp(ticks: u64, unit: TsUnit, offset_secs: i64) -> Timestamp {
    // the common case (micro- or nanoseconds, no offset) in plain 64-bit arithmetic
    if let TsUnit::Pow10(e) = unit
        && offset_secs == 0
        && let Some(&scale) = NANOS_PER_TICK.get(usize::from(e))
        && let Some(nanos) = ticks.checked_mul(scale)
        && let Ok(nanos) = i64::try_from(nanos)
    {
        return Timestamp(nanos);
    }
    let nanos = i128::try_from(unit.to_nanos(ticks)).unwrap_or(i128::MAX);
    let total = nanos.saturating_add(i128::from(offset_secs).saturating_mul(1_000_000_000));
    let clamped = total.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    Timestamp(i64::try_from(clamped).unwrap_or(i64::MAX))
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    link: LinkType,
    snaplen: u32,
    unit: TsUnit,
    offset_secs: i64,
}

pub(super) fn read_u16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    let a: [u8; 2] = s.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

pub(super) fn read_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

impl CaptureReader {
    pub(super) fn read_first_section(&mut self) -> Result<(), CaptureError> {
        self.info.format = CaptureFormat::PcapNg;
        match self.read_block_frame(true) {
            BlockFrame::Block { len, .. } => {
                if let Err(what) = self.apply_section_header(len) {
                    return Err(self.bad_header("pcapng", what));
                }
                self.start += len;
                Ok(())
            }
            BlockFrame::End => {
                Err(self.bad_header("pcapng", "the file ends before its first block"))
            }
            BlockFrame::Bad(what) => Err(self.bad_header("pcapng", what)),
        }
    }

    // ----- pcap -----

    /// Frames the next pcapng block: reads its type and length (switching byte order at a
    /// section header), checks the length and makes the whole block available.
    fn read_block_frame(&mut self, first: bool) -> BlockFrame {
        if !self.fill(8) {
            if self.available() == 0 {
                return BlockFrame::End;
            }
            let have = self.available();
            return BlockFrame::Bad(format!(
                "the capture ends inside a block header: {have} of its 8 bytes are present (the file was cut short)"
            ));
        }
        let mut big = self.big_endian;
        let block_type = read_u32(self.unread(), 0, big).unwrap_or(0);
        if block_type == SHB_TYPE {
            if !self.fill(12) {
                let have = self.available();
                return BlockFrame::Bad(format!(
                    "the capture ends inside a section header: {have} of at least 12 bytes are present (the file was cut short)"
                ));
            }
            match read_u32(self.unread(), 8, false) {
                Some(BYTE_ORDER_MAGIC) => big = false,
                Some(m) if m == BYTE_ORDER_MAGIC.swap_bytes() => big = true,
                _ => {
                    return BlockFrame::Bad(
                        "a section header has no valid byte-order magic (the file is corrupt from here)"
                            .to_string(),
                    );
                }
            }
        } else if first {
            return BlockFrame::Bad("the first block is not a section header".to_string());
        }
        let len = read_u32(self.unread(), 4, big).unwrap_or(0) as usize;
        if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
            return BlockFrame::Bad(format!(
                "a block of type {block_type:#x} has an impossible length of {len} bytes (the file is corrupt from here)"
            ));
        }
        if !self.fill(len) {
            let have = self.available();
            return BlockFrame::Bad(format!(
                "the capture ends inside a block of type {block_type:#x}: {have} of its {len} bytes are present (the file was cut short)"
            ));
        }
        let trailer = read_u32(self.unread(), len - 4, big).unwrap_or(0) as usize;
        if trailer != len {
            return BlockFrame::Bad(format!(
                "a block of type {block_type:#x} gives its length as {len} at its start and {trailer} at its end (the file is corrupt from here)"
            ));
        }
        BlockFrame::Block { block_type, len }
    }

    /// Applies the section header block of `len` bytes at the start of the unread bytes.
    fn apply_section_header(&mut self, len: usize) -> Result<(), String> {
        let block = self.unread().get(..len).unwrap_or_default();
        let shb = match parse_sectionheaderblock(block) {
            Ok((_, shb)) => shb,
            Err(_) => return Err("a section header block does not parse".to_string()),
        };
        if shb.major_version != 1 {
            return Err(format!(
                "the section uses pcapng version {}.{}, which this reader does not know",
                shb.major_version, shb.minor_version
            ));
        }
        self.big_endian = shb.big_endian();
        self.interfaces.clear();
        Ok(())
    }

    pub(super) fn next_pcapng(&mut self) -> Option<Found> {
        if let Some(found) = self.whole_packet_block() {
            return Some(found);
        }
        loop {
            let (block_type, len) = match self.read_block_frame(false) {
                BlockFrame::Block { block_type, len } => (block_type, len),
                BlockFrame::End => return self.end_of_input(),
                BlockFrame::Bad(what) => return self.stop(what),
            };
            match block_type {
                SHB_TYPE => {
                    if let Err(what) = self.apply_section_header(len) {
                        return self.stop(format!("{what} (the file is corrupt from here)"));
                    }
                }
                IDB_TYPE => {
                    if let Err(what) = self.add_interface(len) {
                        return self.stop(what);
                    }
                }
                EPB_TYPE | SPB_TYPE | OBSOLETE_PB_TYPE => {
                    if let Some(found) = self.packet_block(block_type, len) {
                        return Some(found);
                    }
                    self.skipped = self.skipped.saturating_add(1);
                }
                _ => {}
            }
            self.start += len;
        }
    }

    /// The common case on a short path: an Enhanced Packet Block already whole in the
    /// buffer, its frame sound. Anything else (or a block whose packet cannot be handed
    /// out) is left to the general path, which reads it again with every check.
    fn whole_packet_block(&self) -> Option<Found> {
        let b = self.unread();
        let big = self.big_endian;
        if read_u32(b, 0, big)? != EPB_TYPE {
            return None;
        }
        let len = read_u32(b, 4, big)? as usize;
        if len < 32 || !len.is_multiple_of(4) || len > b.len() {
            return None;
        }
        if read_u32(b, len - 4, big)? as usize != len {
            return None;
        }
        self.packet_block(EPB_TYPE, len)
    }

    fn add_interface(&mut self, len: usize) -> Result<(), String> {
        let big = self.big_endian;
        let block = self.unread().get(..len).unwrap_or_default();
        let parsed = if big {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        };
        let idb = match parsed {
            Ok((_, idb)) => idb,
            Err(_) => {
                return Err(
                    "an interface description block does not parse (the file is corrupt from here)"
                        .to_string(),
                );
            }
        };
        let iface = interface_from_idb(&idb, big);
        self.interfaces.push(iface);
        Ok(())
    }

    /// Locates the packet in a packet block of `len` bytes; None if it must be skipped.
    fn packet_block(&self, block_type: u32, len: usize) -> Option<Found> {
        let big = self.big_endian;
        let block = self.unread().get(..len)?;
        let body_end = len.checked_sub(4)?;
        let (if_id, ticks, caplen, orig, data_at) = match block_type {
            EPB_TYPE => {
                let if_id = read_u32(block, 8, big)?;
                let high = read_u32(block, 12, big)?;
                let low = read_u32(block, 16, big)?;
                let caplen = read_u32(block, 20, big)? as usize;
                let orig = read_u32(block, 24, big)?;
                (
                    if_id,
                    (u64::from(high) << 32) | u64::from(low),
                    caplen,
                    orig,
                    28usize,
                )
            }
            OBSOLETE_PB_TYPE => {
                let if_id = u32::from(read_u16(block, 8, big)?);
                let high = read_u32(block, 12, big)?;
                let low = read_u32(block, 16, big)?;
                let caplen = read_u32(block, 20, big)? as usize;
                let orig = read_u32(block, 24, big)?;
                (
                    if_id,
                    (u64::from(high) << 32) | u64::from(low),
                    caplen,
                    orig,
                    28usize,
                )
            }
            _ => {
                // Simple Packet Block: interface 0, no timestamp; the data runs to the block's
                // end, padded, so the captured length is the smallest of the original length,
                // the room in the block and the interface's snapshot length.
                let orig = read_u32(block, 8, big)?;
                let iface = self.interfaces.first()?;
                let room = body_end.checked_sub(12)?;
                let mut caplen = (orig as usize).min(room);
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                (0, 0, caplen, orig, 12)
            }
        };
        let data_end = data_at.checked_add(caplen)?;
        if data_end > body_end {
            return None;
        }
        let iface = self.interfaces.get(usize::try_from(if_id).ok()?)?;
        let ts = if block_type == SPB_TYPE {
            Timestamp(0)
        } else {
            pcapng_timestamp(ticks, iface.unit, iface.offset_secs)
        };
        Some(Found {
            ts,
            link: iface.link,
            data_start: self.start.checked_add(data_at)?,
            data_len: caplen,
            orig_len: orig.max(u32::try_from(caplen).unwrap_or(u32::MAX)),
            interface: if_id,
            record_len: len,
        })
    }
}

enum BlockFrame {
    Block { block_type: u32, len: usize },
    End,
    Bad(String),
}

/// Link type, snapshot length and clock of an interface. `if_tsoffset` is read in the
/// section's byte order (pcap-parser's own accessor assumes little-endian).
fn interface_from_idb(idb: &InterfaceDescriptionBlock<'_>, big: bool) -> Interface {
    let mut unit = TsUnit::Pow10(6);
    let mut offset_secs = 0i64;
    for opt in &idb.options {
        let value = opt.value();
        if opt.code == OptionCode::IfTsresol {
            if let Some(&v) = value.first() {
                unit = TsUnit::from_tsresol(v);
            }
        } else if opt.code == OptionCode::IfTsoffset
            && let Some(a) = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            offset_secs = if big {
                i64::from_be_bytes(a)
            } else {
                i64::from_le_bytes(a)
            };
        }
    }
    Interface {
        link: LinkType(u32::from(idb.linktype.0 as u16)),
        snaplen: idb.snaplen,
        unit,
        offset_secs,
    }
}
