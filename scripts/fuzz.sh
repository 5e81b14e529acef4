#!/usr/bin/env bash
# Fuzzes telltale with cargo-fuzz (libFuzzer + AddressSanitizer): builds every target in fuzz/,
# builds the seed corpora, then runs each target for FUZZ_SECONDS, one after another.
#
#   scripts/fuzz.sh                 build, seed, run every target (what `make fuzz` does)
#   scripts/fuzz.sh build           build the targets only
#   scripts/fuzz.sh seeds           build the seed corpora only (fuzz/corpus/<target>/)
#   scripts/fuzz.sh run TARGET...   build, seed and run only these targets
#   scripts/fuzz.sh again TARGET... run these targets as last built, on their corpora as they are
#
# Environment: FUZZ_SECONDS (default 600) per target; FUZZ_SANITIZER (default address; `none`
# for a plain build); FUZZ_NICE (default 19). Any crash, leak, timeout or out-of-memory stops the
# run with a non-zero status and names the input libFuzzer saved (fuzz/artifacts/<target>/).
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly flags.
# Logs: fuzz/logs/<target>.log; each target's last libFuzzer status line is summed up at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGETS=(link dns tls_client_hello http_request quic_initial rules settings pipeline)
SECONDS_EACH=${FUZZ_SECONDS:-600}
SANITIZER=${FUZZ_SANITIZER:-address}
NICE=${FUZZ_NICE:-19}
CARGO=${CARGO:-cargo}
export RUSTC_BOOTSTRAP=1
# A smaller quarantine than ASan's 256 MiB: the capture reader's 1 MiB buffers then reuse their pages
# instead of being mapped afresh each run (the pipeline target runs about twice as fast).
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

# The longest input per target: a few packets, a stream head, a settings file, a capture.
max_len() {
    case $1 in
        link) echo 4096 ;;
        dns) echo 4096 ;;
        tls_client_hello) echo 16384 ;;
        http_request) echo 20000 ;; # past the 16 KiB head limit
        quic_initial) echo 12000 ;;
        rules | settings) echo 16384 ;;
        pipeline) echo 65536 ;;
        *) echo 4096 ;;
    esac
}

die() {
    echo "fuzz: $*" >&2
    exit 1
}

# libfuzzer-sys compiles libFuzzer, which is C++.
ensure_cxx() {
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || die "a C++ compiler is needed (libFuzzer is C++); install g++"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "fuzz: installing g++ (libFuzzer is C++)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
}

ensure_cargo_fuzz() {
    if ! "$CARGO" fuzz --version >/dev/null 2>&1; then
        echo "fuzz: installing cargo-fuzz (cargo install --locked cargo-fuzz)"
        nice -n "$NICE" "$CARGO" install --locked cargo-fuzz
    fi
}

build() {
    ensure_cxx
    ensure_cargo_fuzz
    echo "fuzz: building every target (sanitizer: $SANITIZER, release with debug assertions)"
    (cd fuzz && nice -n "$NICE" "$CARGO" fuzz build -O -a --sanitizer "$SANITIZER")
}

# Copies files into a corpus folder, each named by its SHA-256 (so nothing is added twice).
add_files() {
    local dir=$1
    shift
    mkdir -p "$dir"
    local f sum
    for f in "$@"; do
        [ -f "$f" ] || continue
        sum=$(sha256sum "$f" | cut -c1-40)
        [ -e "$dir/$sum" ] || cp "$f" "$dir/$sum"
    done
}

seeds() {
    local corpus=$ROOT/fuzz/corpus shared=$ROOT/../shared/captures t
    local captures=("$ROOT"/tests/fixtures/*.pcap* "$ROOT"/tests/fixtures/regress/*.pcap*)
    if [ -d "$shared" ]; then
        mapfile -t -O "${#captures[@]}" captures < <(find "$shared" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
    else
        echo "fuzz: ../shared/captures is absent; seeding from the repository's fixtures only"
    fi
    echo "fuzz: seeding the corpora from ${#captures[@]} captures"
    # Packets, DNS messages, TLS and HTTP stream heads, QUIC datagrams, cut out by telltale itself.
    (cd fuzz && nice -n "$NICE" "$CARGO" run --quiet --example seeds -- "$corpus" "${captures[@]}")
    add_files "$corpus/pipeline" "${captures[@]}"
    add_files "$corpus/rules" rules/*.toml tests/rules_check/*.toml tests/rules_invalid/*.toml
    add_files "$corpus/settings" src/demo/Preferences.xml
    # Every saved regression input seeds its own target.
    for t in "${TARGETS[@]}"; do
        add_files "$corpus/$t" tests/fuzz_regressions/"$t"/*
        echo "fuzz: corpus $t: $(find "$corpus/$t" -type f | wc -l) inputs"
    done
}

run_one() {
    local t=$1 log=$ROOT/fuzz/logs/$1.log
    local args=(-max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -timeout=10
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1)
    [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="$ROOT/fuzz/dict/$t.dict")
    mkdir -p fuzz/logs "fuzz/corpus/$t"
    echo "fuzz: $t for ${SECONDS_EACH}s (log: fuzz/logs/$t.log)"
    # The binary `build` made, run as is: a source edited meanwhile does not rebuild it mid-run.
    local bin=fuzz/target/x86_64-unknown-linux-gnu/release/$t
    [ -x "$bin" ] || die "$bin is missing; run scripts/fuzz.sh build"
    mkdir -p "fuzz/artifacts/$t"
    local status=0
    nice -n "$NICE" "$bin" -artifact_prefix="fuzz/artifacts/$t/" "${args[@]}" "fuzz/corpus/$t" \
        >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        local artifact
        artifact=$(grep -ao 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/Test unit written to //' || true)
        if [ -n "$artifact" ]; then
            die "$t FAILED (exit $status); the input is $artifact; minimise it with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin -O -a $t ${artifact#fuzz/})"
        fi
        die "$t FAILED (exit $status) without saving an input; see $log"
    fi
    summary+=("$(printf '%-17s %s' "$t" "$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)")")
}

run() {
    local t
    summary=()
    for t in "$@"; do
        [[ " ${TARGETS[*]} " == *" $t "* ]] || die "no such target: $t (targets: ${TARGETS[*]})"
    done
    for t in "$@"; do
        run_one "$t"
    done
    echo "fuzz: every target ran ${SECONDS_EACH}s without a finding:"
    printf '  %s\n' "${summary[@]}"
}

case ${1:-all} in
    build) build ;;
    seeds) seeds ;;
    run)
        shift
        [ $# -gt 0 ] || set -- "${TARGETS[@]}"
        build
        seeds
        run "$@"
        ;;
    again)
        shift
        [ $# -gt 0 ] || set -- "${TARGETS[@]}"
        run "$@"
        ;;
    all)
        build
        seeds
        run "${TARGETS[@]}"
        ;;
    *) die "usage: scripts/fuzz.sh [all | build | seeds | run TARGET... | again TARGET...]" ;;
esac
