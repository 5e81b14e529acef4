//! The floor under any audit of a capture file, for `make bench`: telltale's reader alone
//! (every packet read, nothing decoded), or with `--decode` also its decoder (link layer, IP,
//! TCP/UDP), with no digest, no flows and no report. What the full audit costs beyond this
//! is the flow table, the dissectors, naming, verdicts and the report.
//!
//! Usage: `cargo run --release -p telltale-tools --bin read_floor -- FILE [--decode]` prints the packets read
//! and, with `--decode`, how many decoded as IP.

use telltale::capture::file::{CaptureReader, InputDigest};
use telltale::decode::{Decoded, Decoder};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: read_floor FILE [--decode]"))?;
    let decode = args.next().as_deref() == Some("--decode");
    let mut reader = CaptureReader::open_with(std::path::Path::new(&path), InputDigest::Skip)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut decoder = Decoder::default();
    let (mut packets, mut ip) = (0u64, 0u64);
    while let Some(p) = reader.next_packet() {
        packets += 1;
        if decode && matches!(decoder.decode(&p), Ok(Decoded::Ip(_))) {
            ip += 1;
        }
    }
    if let Some(t) = reader.truncation() {
        anyhow::bail!("{path}: {}", t.what);
    }
    if decode {
        println!("{packets} packets, {ip} decoded as IP");
    } else {
        println!("{packets} packets");
    }
    Ok(())
}
