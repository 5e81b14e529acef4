// A build script that cannot go on fails the build: expect is its way to say why.
#![allow(clippy::expect_used)]

//! Compiles the eBPF program of `src/attrib/ebpf` with clang, into OUT_DIR, where the crate embeds
//! it. Without clang (or when clang fails), the build goes on with an empty object: eBPF
//! attribution then says at run time that this build has none, and /proc attribution still works.
//! No build dependencies: this runs on every build machine, including those without clang.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/attrib/ebpf/socket_events.bpf.c";
const FIX: &str = "install clang and libbpf-dev (apt-get install clang libbpf-dev, or run \
                   scripts/install-deps.sh), then rebuild after `touch src/attrib/ebpf/socket_events.bpf.c`";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CLANG");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("socket_events.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    // The BPF target's byte order is the machine's that will load the program.
    let target = match env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
        Ok("big") => "bpfeb",
        _ => "bpfel",
    };
    // bpf_tracing.h's register macros want the kernel's name for the architecture; the program
    // uses none of them, but the define keeps the headers quiet on every target.
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") | Ok("x86") => "x86",
        Ok("aarch64") => "arm64",
        Ok("arm") => "arm",
        Ok("riscv64") => "riscv",
        Ok("powerpc64") => "powerpc",
        Ok("s390x") => "s390",
        Ok("loongarch64") => "loongarch",
        _ => "x86",
    };

    let result = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", target])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .args(["-c", SOURCE, "-o"])
        .arg(&out)
        .output();
    let failure = match result {
        Ok(o) if o.status.success() => return,
        Ok(o) => format!(
            "{clang} failed on {SOURCE}: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        Err(e) => format!("{clang} could not be run ({e})"),
    };
    std::fs::write(&out, b"").expect("OUT_DIR is writable");
    println!(
        "cargo:warning=eBPF attribution is disabled in this build: {failure}. To enable it, {FIX}."
    );
}
