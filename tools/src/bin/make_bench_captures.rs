//! Writes the captures `make bench` measures into DIR (default `bench-data`):
//!
//! - `server-1m.pcapng`: 1,000,000 packets, 5,000 flows of media-server traffic
//!   ([`telltale_testkit::demo::bulk::server_mix`]);
//! - `churn-1m.pcapng`: 1,000,000 packets, nearly every one a new flow
//!   ([`telltale_testkit::demo::bulk::churn`]).
//!
//! Both are deterministic, so a file already there with the expected size is kept (a cache);
//! anything else is written again (to a temporary name, then renamed).
//!
//! Usage: `cargo run --release -p telltale-tools --bin make_bench_captures -- [DIR]`

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use telltale_testkit::demo::bulk;

const SEED: u64 = 0xbe7c_0000_0000_0001;
const PACKETS: u64 = 1_000_000;
const FLOWS: u32 = 5_000;

/// The sizes the current generators write (update them when the generators change: the
/// program says so when they differ).
const SERVER_BYTES: u64 = 963_835_996;
const CHURN_BYTES: u64 = 111_483_724;

fn make(
    dir: &Path,
    name: &str,
    expected: u64,
    write: impl FnOnce(File) -> Result<(), telltale_testkit::demo::SynthError>,
) -> anyhow::Result<()> {
    let path = dir.join(name);
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.len() == expected
    {
        println!("{}: kept ({expected} bytes)", path.display());
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.tmp"));
    let started = Instant::now();
    let file = File::create(&tmp).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    write(file)?;
    std::fs::rename(&tmp, &path)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "{}: written in {:.1} s ({size} bytes)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    if size != expected {
        println!(
            "  note: {name} is {size} bytes where this program expects {expected}; \
             set the constant in tools/src/bin/make_bench_captures.rs to cache it"
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench-data".into())
        .into();
    std::fs::create_dir_all(&dir)?;
    make(&dir, "server-1m.pcapng", SERVER_BYTES, |out| {
        bulk::server_mix(PACKETS, FLOWS, SEED, out)
    })?;
    make(&dir, "churn-1m.pcapng", CHURN_BYTES, |out| {
        bulk::churn(PACKETS, SEED, out)
    })?;
    Ok(())
}
