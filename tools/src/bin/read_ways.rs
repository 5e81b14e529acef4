//! Which way of getting a capture file's bytes costs least, for `make bench` (issue 18's "less
//! copying of the input"): every way visits every byte once (a word sum, so none can skip any)
//! and the CPU time each takes (user + system, from `getrusage`) is printed, median of the runs,
//! interleaved so the page cache and the CPU's state are shared fairly.
//!
//! - `read-256k`: `read` into a 256 KiB buffer, as telltale's read-ahead thread does;
//! - `read-4m-fadvise`: `posix_fadvise(SEQUENTIAL)`, then `read` into a 4 MiB buffer;
//! - `mmap`: the file mapped (memmap2), `madvise(SEQUENTIAL)`, then read in place;
//! - `mmap-populate`: mapped with `MAP_POPULATE`, every page mapped before the first read.
//!
//! Usage: `read_ways FILE [RUNS]`. The file should be in the page cache (read it once first).

use std::io::Read;
use std::os::fd::AsFd;
use std::time::Duration;

fn word_sum(bytes: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        sum = sum.wrapping_add(u64::from_le_bytes(w));
    }
    for &b in chunks.remainder() {
        sum = sum.wrapping_add(u64::from(b));
    }
    sum
}

fn read_blocks(path: &str, block: usize, fadvise: bool) -> anyhow::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    if fadvise {
        nix::fcntl::posix_fadvise(
            f.as_fd(),
            0,
            0,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL,
        )?;
    }
    let mut buf = vec![0u8; block];
    let mut sum = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(sum);
        }
        sum = sum.wrapping_add(word_sum(&buf[..n]));
    }
}

fn mapped(path: &str, populate: bool) -> anyhow::Result<u64> {
    let f = std::fs::File::open(path)?;
    let mut opts = memmap2::MmapOptions::new();
    if populate {
        opts.populate();
    }
    // SAFETY: a measurement tool; the bench's captures are not changed while it runs
    let map = unsafe { opts.map(&f)? };
    map.advise(memmap2::Advice::Sequential)?;
    Ok(word_sum(&map))
}

fn cpu() -> Duration {
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000)
            };
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

type Way = (&'static str, fn(&str) -> anyhow::Result<u64>);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: read_ways FILE [RUNS]"))?;
    let runs: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let ways: [Way; 4] = [
        ("read-256k", |p| read_blocks(p, 256 << 10, false)),
        ("read-4m-fadvise", |p| read_blocks(p, 4 << 20, true)),
        ("mmap", |p| mapped(p, false)),
        ("mmap-populate", |p| mapped(p, true)),
    ];
    let mut times = vec![Vec::new(); ways.len()];
    let mut sums = vec![0u64; ways.len()];
    for _ in 0..runs {
        for (i, (_, way)) in ways.iter().enumerate() {
            let before = cpu();
            sums[i] = way(&path)?;
            times[i].push(cpu() - before);
        }
    }
    anyhow::ensure!(
        sums.iter().all(|&s| s == sums[0]),
        "the ways disagree on the file's bytes: {sums:?}"
    );
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let base = median(&mut times[0]);
    println!("way\tcpu_s\tagainst_read_256k");
    for (i, (name, _)) in ways.iter().enumerate() {
        let m = median(&mut times[i]);
        println!(
            "{name}\t{:.3}\t{:.2}",
            m.as_secs_f64(),
            m.as_secs_f64() / base.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}
