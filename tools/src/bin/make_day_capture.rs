//! Writes a media server's day of traffic, in two files, for the soak (`make soak`,
//! tests/soak.rs): its first hour, then the rest. `crates/testkit/src/demo/bulk.rs`
//! (`server_hours`) makes it.
//!
//! Usage: `make_day_capture HOUR1.pcapng REST.pcapng [HOURS [PER_HOUR]]` (defaults 24 and 250
//! conversations an hour); prints the packets of each file.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        || anyhow::anyhow!("usage: make_day_capture HOUR1.pcapng REST.pcapng [HOURS [PER_HOUR]]");
    let first = args.first().ok_or_else(usage)?;
    let rest = args.get(1).ok_or_else(usage)?;
    let hours: u32 = args.get(2).map_or(Ok(24), |h| h.parse())?;
    let per_hour: u32 = args.get(3).map_or(Ok(250), |n| n.parse())?;
    anyhow::ensure!(
        hours >= 2,
        "a day of at least two hours: the first, and the rest"
    );
    let seed = 0x50a4;
    let a = telltale_testkit::demo::bulk::server_hours(
        0,
        1,
        per_hour,
        seed,
        std::fs::File::create(first)?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let b = telltale_testkit::demo::bulk::server_hours(
        1,
        hours,
        per_hour,
        seed,
        std::fs::File::create(rest)?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{a} {b}");
    Ok(())
}
