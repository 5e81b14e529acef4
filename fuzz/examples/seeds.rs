//! Cuts seed inputs for the protocol fuzz targets out of capture files, with
//! `telltale_testkit::fuzzing::seeds_from_capture`, into `CORPUS/<target>/` (one file per seed, named by
//! its SHA-256, so running it again adds nothing twice). scripts/fuzz.sh runs it.
//!
//! Usage: `cargo run --example seeds -- CORPUS CAPTURE...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: seeds CORPUS_DIR CAPTURE...");
        return ExitCode::from(2);
    };
    let mut totals = std::collections::BTreeMap::<&str, usize>::new();
    for capture in args.map(PathBuf::from) {
        let bytes = match std::fs::read(&capture) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("seeds: {}: {e}", capture.display());
                return ExitCode::FAILURE;
            }
        };
        let seeds = telltale_testkit::fuzzing::seeds_from_capture(&bytes);
        for (target, list) in seeds.by_target() {
            for seed in list {
                if let Err(e) = write_seed(&out.join(target), seed) {
                    eprintln!("seeds: {}: {e}", out.display());
                    return ExitCode::FAILURE;
                }
                *totals.entry(target).or_default() += 1;
            }
        }
    }
    for (target, n) in totals {
        println!("seeds: {n:>5} for {target}");
    }
    ExitCode::SUCCESS
}

fn write_seed(dir: &Path, seed: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = telltale::report::manifest::sha256_hex(seed);
    std::fs::write(dir.join(name.get(..40).unwrap_or(&name)), seed)
}
