//! The "bare libpcap loop" peer of `make bench`: reads every packet of a capture file with
//! libpcap (through the `pcap` crate) and only counts them. Nothing can read a file faster
//! through libpcap, so telltale's rate is compared with this one.
//!
//! Usage: `cargo run --release -p telltale-tools --bin pcap_count -- FILE` prints the packets and bytes read.

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: pcap_count FILE"))?;
    let mut capture =
        pcap::Capture::from_file(&path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let mut packets = 0u64;
    let mut bytes = 0u64;
    loop {
        match capture.next_packet() {
            Ok(packet) => {
                packets += 1;
                bytes += u64::from(packet.header.caplen);
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => anyhow::bail!("{path}: packet {}: {e}", packets + 1),
        }
    }
    println!("{packets} packets, {bytes} bytes");
    Ok(())
}
