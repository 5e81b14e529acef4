#!/usr/bin/env bash
# `make bench`: whole audits against peers, on the same files, in the same run.
#
# 1. Installs what is missing (libpcap-dev, libndpi-bin for ndpiReader, tshark, GNU time).
# 2. Builds telltale and the three bench examples in release mode.
# 3. Writes the captures once into bench-data/ (tools/src/bin/make_bench_captures.rs; kept when
#    already there): server-1m.pcapng (1,000,000 packets, 5,000 flows of media-server traffic)
#    and churn-1m.pcapng (1,000,000 packets, every one a new flow).
# 4. Reads both files once so that every run reads from the page cache.
# 5. Times each tool BENCH_RUNS times (default 5; tshark and the churn audit 3 times at most)
#    with `/usr/bin/time -f "%e %M"`, checks each run's exit status and output, and prints the
#    median wall time, packets per second, peak RSS and telltale's speed against each peer.
#    Every timed run on server-1m (telltale with and without --no-digest, ndpiReader, tshark, the
#    bare libpcap loop, SHA-256 alone) runs unpinned, on every core, as the program is shipped:
#    the issue's targets are "on both cores, unpinned". telltale's two audits run again pinned
#    to one core with `taskset -c 0` (util-linux), for the "on one core: no slower" target. The
#    churn runs are never pinned.
#    telltale runs on server-1m as `telltale`, the default audit, which also computes the
#    input's SHA-256 (read and hashed on two extra threads), and `telltale-no-digest`, the same
#    audit with --no-digest (read ahead on one extra thread). Both are compared with every peer.
#    `openssl dgst -sha256` is the digest's floor: no program that hashes every byte with
#    SHA-256 on this machine is faster than it. tools/src/bin/read_floor.rs times telltale's
#    reader alone, and with its decoder: the floor under the audit, compared with ndpiReader.
#    tools/src/bin/read_ways.rs compares ways of getting the file's bytes (read in 256 KiB
#    blocks as telltale does, larger reads with posix_fadvise, a mapped file).
# 6. Replays server-1m through a veth pair into `telltale audit -i` (scripts/replay.sh; root).
#
# Environment: BENCH_RUNS (runs per tool), BENCH_TSHARK_RUNS, BENCH_CHURN_RUNS,
# BENCH_TIMEOUT (seconds one run may take, default 300), CARGO. For a quick check of the script
# itself, BENCH_SKIP_TSHARK=1, BENCH_SKIP_CHURN=1 and BENCH_SKIP_REPLAY=1 leave out the tshark
# runs (tshark is then not installed either), the churn audits and the live replay; the table
# says "skipped" where they would be.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
data="$root/bench-data"
out="$data/out"
runs=${BENCH_RUNS:-5}
tshark_runs=${BENCH_TSHARK_RUNS:-$((runs < 3 ? runs : 3))}
churn_runs=${BENCH_CHURN_RUNS:-$((runs < 3 ? runs : 3))}
limit=${BENCH_TIMEOUT:-300}
cargo=${CARGO:-cargo}
skip_tshark=${BENCH_SKIP_TSHARK:-0}
skip_churn=${BENCH_SKIP_CHURN:-0}
skip_replay=${BENCH_SKIP_REPLAY:-0}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# Every audit writes its history, as shipped: into a folder of the bench's own, so that the
# bench never adds its flows to the owner's history, and each bench starts from an empty one.
XDG_STATE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/telltale-bench-state-XXXXXX")
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT

# --- 1. what the bench needs --------------------------------------------------------------
packages=(libpcap-dev pkg-config libndpi-bin time openssl)
tools=(ndpiReader /usr/bin/time openssl)
if [ "$skip_tshark" != 1 ]; then
  packages+=(tshark)
  tools+=(tshark)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "install ${missing[*]} with your package manager"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "run as root: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  say "installing ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

# The peers and telltale's main runs are unpinned; telltale's one-core runs go through
# `taskset -c 0`.
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
  pin=(taskset -c 0)
  pinning="server-1m runs unpinned (all $(nproc) cores), but the *-1core runs: taskset -c 0; churn runs on all $(nproc) cores"
else
  pin=()
  pinning="every run unpinned (all $(nproc) cores): taskset is missing or cannot use core 0, so the *-1core runs are NOT on one core"
  say "bench: taskset is missing or cannot use core 0: the one-core runs are not pinned"
fi

# --- 2. build --------------------------------------------------------------------------------
say "building (release) ..."
$cargo build --release --quiet --bin telltale && $cargo build --release --quiet -p telltale-tools
telltale="$root/target/release/telltale"
pcap_count="$root/target/release/pcap_count"
read_floor="$root/target/release/read_floor"
read_ways="$root/target/release/read_ways"
command -v openssl >/dev/null 2>&1 || die "openssl is missing (Debian: openssl)"

# --- 3. captures -----------------------------------------------------------------------------
mkdir -p "$out"
"$root/target/release/make_bench_captures" "$data" >&2
server="$data/server-1m.pcapng"
churn="$data/churn-1m.pcapng"

# --- 4. page cache ---------------------------------------------------------------------------
cat "$server" "$churn" >/dev/null
cat "$server" "$churn" >/dev/null
packets=$("$pcap_count" "$server" | awk '{print $1}')
churn_packets=$("$pcap_count" "$churn" | awk '{print $1}')
if ! [ "$packets" -gt 0 ] || ! [ "$churn_packets" -gt 0 ]; then die "the captures are empty"; fi

# --- 5. runs ---------------------------------------------------------------------------------
declare -A median peak count skipped

# measure NAME RUNS OKCODES OUTFILE CMD...: runs CMD RUNS times (stdout to OUTFILE, stderr to
# $out/NAME.err), fails unless each exit status is in OKCODES ("0" or "0 1"), and records the
# median wall time and the largest peak RSS.
measure() {
  local name=$1 n=$2 ok=$3 file=$4
  shift 4
  local times=() rss=0 i status line secs kib
  for ((i = 1; i <= n; i++)); do
    status=0
    timeout "$limit" /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" >"$file" 2>"$out/$name.err" || status=$?
    case " $ok " in
      *" $status "*) ;;
      *) say "bench: $name exited with status $status (run $i); its errors:"; tail -n 20 "$out/$name.err" >&2; exit 1 ;;
    esac
    # GNU time puts "Command exited with non-zero status N" first when there is one.
    line=$(tail -n 1 "$out/$name.time")
    secs=${line% *}
    kib=${line#* }
    times+=("$secs")
    [ "$kib" -gt "$rss" ] && rss=$kib
    say "  $name run $i: $secs s, $((kib / 1024)) MiB"
  done
  median[$name]=$(printf '%s\n' "${times[@]}" | sort -g |
    awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  peak[$name]=$rss
}

say "ndpiReader: one checked run (statistics printed), then the timed runs with -q ..."
ndpiReader -i "$server" >"$out/ndpiReader.stats" 2>&1 || die "ndpiReader failed: $(tail -n 5 "$out/ndpiReader.stats")"
grep -Eq "IP packets: +$packets " "$out/ndpiReader.stats" || die "ndpiReader did not read $packets IP packets"

say "timing, $runs runs each (tshark $tshark_runs, churn $churn_runs); $pinning ..."
measure "telltale" "$runs" "0 1" "$out/telltale-server.json" \
  "$telltale" audit --opt-out on --format json "$server"
grep -Eq "\"packets\": $packets(,|\$)" "$out/telltale-server.json" || die "telltale's report does not count $packets packets"
grep -Eq '"sha256": "[0-9a-f]{64}"' "$out/telltale-server.json" || die "telltale's report has no SHA-256 of the input"
count[telltale]=$packets

"$telltale" audit --help | grep -q -- '--no-digest' || die "telltale audit has no --no-digest option"
measure "telltale-no-digest" "$runs" "0 1" "$out/telltale-server-no-digest.json" \
  "$telltale" audit --opt-out on --format json --no-digest "$server"
grep -Eq "\"packets\": $packets(,|\$)" "$out/telltale-server-no-digest.json" ||
  die "telltale's report with --no-digest does not count $packets packets"
grep -Eq '"sha256": null(,|$)' "$out/telltale-server-no-digest.json" ||
  die "telltale's report with --no-digest does not have \"sha256\": null for the input"
count[telltale-no-digest]=$packets

# the same two on one core
# ${pin[@]+"${pin[@]}"}: nothing when taskset is not used (an empty array trips `set -u` in old bash)
measure "telltale-1core" "$runs" "0 1" "$out/telltale-server-1core.json" ${pin[@]+"${pin[@]}"} \
  "$telltale" audit --opt-out on --format json "$server"
cmp -s <(grep -v '"generated_at"' "$out/telltale-server.json") <(grep -v '"generated_at"' "$out/telltale-server-1core.json") ||
  die "telltale's report on one core differs from its report on every core"
count[telltale-1core]=$packets
measure "telltale-no-digest-1core" "$runs" "0 1" "$out/telltale-server-no-digest-1core.json" ${pin[@]+"${pin[@]}"} \
  "$telltale" audit --opt-out on --format json --no-digest "$server"
count[telltale-no-digest-1core]=$packets

# the digest's floor: SHA-256 of the same file by OpenSSL (its SHA-NI code), nothing else
measure "sha256-openssl" "$runs" "0" "$out/sha256-openssl.out" openssl dgst -sha256 "$server"
sha=$(sed -n 's/.*"sha256": "\([0-9a-f]\{64\}\)".*/\1/p' "$out/telltale-server.json" | head -n 1)
grep -q "$sha" "$out/sha256-openssl.out" || die "openssl's SHA-256 differs from the report's"
count[sha256-openssl]=$packets

measure "ndpiReader" "$runs" "0" "$out/ndpiReader.out" ndpiReader -i "$server" -q
count[ndpiReader]=$packets

if [ "$skip_tshark" = 1 ]; then
  skipped[tshark]="BENCH_SKIP_TSHARK=1"
else
  measure "tshark" "$tshark_runs" "0" "$out/tshark.out" \
    tshark -r "$server" -T fields -e tls.handshake.extensions_server_name -e http.host -e dns.qry.name \
    -Y "tls.handshake.type==1 || http.request || dns.flags.response==1"
  [ -s "$out/tshark.out" ] || die "tshark extracted no names"
  count[tshark]=$packets
fi

measure "bare-libpcap" "$runs" "0" "$out/pcap_count.out" "$pcap_count" "$server"
grep -q "^$packets packets" "$out/pcap_count.out" || die "pcap_count did not read $packets packets"
count[bare-libpcap]=$packets

# The floor under any audit: telltale's own reader, then reader and decoder, with nothing after.
measure "read-floor" "$runs" "0" "$out/read_floor.out" "$read_floor" "$server"
grep -q "^$packets packets" "$out/read_floor.out" || die "read_floor did not read $packets packets"
count[read-floor]=$packets
measure "read-decode-floor" "$runs" "0" "$out/read_decode_floor.out" "$read_floor" "$server" --decode
grep -q "^$packets packets" "$out/read_decode_floor.out" || die "read_floor --decode did not read $packets packets"
count[read-decode-floor]=$packets

say "ways of reading the file, $runs runs each, interleaved ..."
"$read_ways" "$server" "$runs" >"$out/read_ways.out" || die "read_ways failed"

# The churn runs are not pinned. The churn report lists every flow (over a gigabyte of JSON): it
# goes to /dev/null.
if [ "$skip_churn" = 1 ]; then
  skipped[telltale-churn]="BENCH_SKIP_CHURN=1"
  skipped[telltale-churn-100k]="BENCH_SKIP_CHURN=1"
else
  measure "telltale-churn" "$churn_runs" "0 1" /dev/null \
    "$telltale" audit --opt-out on --format json "$churn"
  count[telltale-churn]=$churn_packets
  if "$telltale" audit --help | grep -q -- '--max-flows'; then
    measure "telltale-churn-100k" "$churn_runs" "0 1" /dev/null \
      "$telltale" audit --opt-out on --format json --max-flows 100000 "$churn"
    count[telltale-churn-100k]=$churn_packets
  else
    skipped[telltale-churn-100k]="telltale audit has no --max-flows option yet"
  fi
fi

# --- the table -------------------------------------------------------------------------------
report="$out/results.txt"

# ratio TELLTALE PEER TARGET: how many times faster TELLTALE ran than PEER, against the target.
ratio() {
  if [ -z "${median[$2]:-}" ]; then
    printf '    against %-15s skipped (%s)\n' "$2" "${skipped[$2]:-not run}"
    return
  fi
  awk -v peer="$2" -v t="${median[$1]}" -v p="${median[$2]}" -v goal="$3" \
    'BEGIN {r = (t > 0 ? p / t : 0); printf "    against %-15s %8.2fx      [>= %sx: %s]\n", peer, r, goal, (r >= goal ? "met" : "not met")}'
}

# memory LABEL NAME LIMIT_MIB: the peak RSS of NAME's runs against a limit.
memory() {
  if [ -z "${peak[$2]:-}" ]; then
    printf '    %-23s skipped (%s)\n' "$1" "${skipped[$2]:-not run}"
    return
  fi
  awk -v label="$1" -v k="${peak[$2]}" -v goal="$3" \
    'BEGIN {m = k / 1024; printf "    %-23s %8.1f MiB   [< %s MiB: %s]\n", label, m, goal, (m < goal ? "met" : "not met")}'
}

{
  echo "telltale $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(ndpiReader -h 2>/dev/null | head -n 1 | sed 's/Welcome to //'), $(if [ "$skip_tshark" = 1 ]; then echo "tshark skipped"; else tshark --version 2>/dev/null | head -n 1 | cut -d' ' -f1-3; fi)"
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
  echo "server-1m.pcapng: $packets packets, $(stat -c %s "$server") bytes; churn-1m.pcapng: $churn_packets packets"
  echo "$pinning"
  echo
  printf '%-24s %5s %10s %12s %10s\n' tool runs "median s" "packets/s" "peak MiB"
  for name in telltale telltale-no-digest telltale-1core telltale-no-digest-1core ndpiReader tshark bare-libpcap sha256-openssl read-floor read-decode-floor telltale-churn telltale-churn-100k; do
    if [ -z "${median[$name]:-}" ]; then
      [ -n "${skipped[$name]:-}" ] && printf '%-24s skipped (%s)\n' "$name" "${skipped[$name]}"
      continue
    fi
    case $name in tshark) n=$tshark_runs ;; telltale-churn*) n=$churn_runs ;; *) n=$runs ;; esac
    awk -v name="$name" -v n="$n" -v s="${median[$name]}" -v p="${count[$name]}" -v k="${peak[$name]}" \
      'BEGIN {printf "%-24s %5d %10.2f %12.0f %10.1f\n", name, n, s, (s > 0 ? p / s : 0), k / 1024}'
  done
  echo
  echo "telltale's packet rate against each peer's on server-1m, unpinned; the issue's targets in brackets:"
  echo "  full audit, with the input's SHA-256 (telltale):"
  ratio telltale ndpiReader 4
  ratio telltale tshark 40
  ratio telltale bare-libpcap 0.6
  memory "peak memory" telltale 64
  echo "  full audit, --no-digest (telltale-no-digest):"
  ratio telltale-no-digest ndpiReader 4
  ratio telltale-no-digest tshark 40
  ratio telltale-no-digest bare-libpcap 0.6
  memory "peak memory" telltale-no-digest 64
  awk -v t="${median[telltale]}" -v n="${median[telltale-no-digest]}" \
    'BEGIN {r = (n > 0 ? t / n : 0); printf "  the digest'"'"'s own cost: median(telltale) / median(telltale-no-digest) = %.2fx\n", r}'
  if [ -n "${median[ndpiReader]:-}" ]; then
    awk -v s="${median[sha256-openssl]}" -v n="${median[ndpiReader]}" \
      'BEGIN {printf "  the digest'"'"'s floor: openssl dgst -sha256 alone takes %.2f s, %.2fx ndpiReader'"'"'s time; 4x ndpiReader is %.2f s\n", s, (n > 0 ? s / n : 0), n / 4}'
    awk -v r="${median[read-floor]}" -v d="${median[read-decode-floor]}" -v n="${median[ndpiReader]}" \
      'BEGIN {printf "  the floor, no flows and no report: reading alone %.2f s (%.2fx ndpiReader), reading and decoding %.2f s (%.2fx); 4x ndpiReader is %.2f s\n", r, (r > 0 ? n / r : 0), d, (d > 0 ? n / d : 0), n / 4}'
  fi
  echo "on one core (telltale-1core, telltale-no-digest-1core): see the table; compare with earlier runs in docs/performance.md"
  echo "ways of reading server-1m (CPU seconds, median; read_ways):"
  sed 's/^/    /' "$out/read_ways.out"
  echo "churn-1m, not pinned (all $(nproc) cores):"
  memory "peak memory" telltale-churn 1536
  memory "--max-flows 100000" telltale-churn-100k 256
} | tee "$report"

# --- live: server-1m replayed at full speed through a veth pair into `telltale audit -i` ------
# (scripts/replay.sh; needs root for the network namespaces, and tcpreplay)
replay_status=0
if [ "$skip_replay" = 1 ]; then
  replay_line="replay: skipped (BENCH_SKIP_REPLAY=1)"
elif [ "$(id -u)" -ne 0 ]; then
  replay_line="replay: skipped (network namespaces need root)"
else
  command -v tcpreplay >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null
  say "replaying server-1m.pcapng at full speed into telltale audit -i, with and without attribution ..."
  # three runs each way, interleaved; the lines shown are the last pair's, and attribution's cost
  # is the median of telltale's CPU seconds with it against the median without it
  cpu_of() { sed -n 's/.*telltale cpu \([0-9.]*\) s.*/\1/p' <<<"$1"; }
  median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }
  withs=""
  withouts=""
  for _ in 1 2 3; do
    replay_line=$(TELLTALE="$telltale" scripts/replay.sh "$server") || replay_status=$?
    bare_line=$(TELLTALE="$telltale" REPLAY_ARGS=--no-attribution scripts/replay.sh "$server") || replay_status=$?
    withs="$withs $(cpu_of "${replay_line:-}")"
    withouts="$withouts $(cpu_of "${bare_line:-}")"
  done
  with=$(median <<<"$withs")
  without=$(median <<<"$withouts")
  # the one-time cost of starting attribution (loading the eBPF programs: the kernel verifies
  # them), from an idle second of capture on loopback with and without it
  idle_cpu() { # ARGS...: telltale's user+system CPU seconds for `audit -i lo --duration 1s`
    local times
    local out
    times=$(mktemp "${TMPDIR:-/tmp}/telltale-idle-XXXXXX.time")
    out=$(mktemp -u "${TMPDIR:-/tmp}/telltale-idle-XXXXXX.json")
    # (-o /dev/null would be refused: telltale never writes over an existing file; time's own
    # figures go to a file of their own, apart from telltale's messages)
    /usr/bin/time -o "$times" -f "%U %S" "$telltale" audit -i lo --duration 1s --format json -o "$out" "$@" >/dev/null 2>&1 || true
    tail -1 "$times" | awk '{printf "%.2f", $1 + $2}'
    rm -f "$out" "$times"
  }
  [ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
  start_with=$(idle_cpu)
  start_without=$(idle_cpu --no-attribution)
  if [ -n "$with" ] && [ -n "$without" ]; then
    cost_line=$(awk -v w="$with" -v o="$without" -v sw="$start_with" -v so="$start_without" \
      'BEGIN {d = (sw - so > 0 ? sw - so : 0); printf "attribution costs %.2f s of CPU against %.2f s without it (medians of 3): %.2fx (target <= 1.05x); starting it once costs %.2f s of that (idle second: %.2f s against %.2f s)", w, o, (o > 0 ? w / o : 0), d, sw, so}')
  fi
fi
# --- live cost: telltale against tcpdump -w /dev/null, at a fixed rate, on the same replay -----
# (100 Mbit/s: the first 100,000 packets; 1 Gbit/s: all of them)
live_lines=()
if [ "$skip_replay" != 1 ] && [ "$(id -u)" -eq 0 ]; then
  command -v tcpdump >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >/dev/null
  for spec in "100 100000" "1000 "; do
    read -r mbps packets <<<"$spec"
    say "replaying at $mbps Mbit/s into telltale and into tcpdump ..."
    t_line=$(TELLTALE="$telltale" REPLAY_MBPS=$mbps REPLAY_PACKETS=$packets scripts/replay.sh "$server") || replay_status=$?
    d_line=$(REPLAY_PEER=tcpdump REPLAY_MBPS=$mbps REPLAY_PACKETS=$packets scripts/replay.sh "$server") || replay_status=$?
    t_cpu=$(sed -n 's/.*telltale cpu \([0-9.]*\) s.*/\1/p' <<<"${t_line:-}")
    d_cpu=$(sed -n 's/.*tcpdump cpu \([0-9.]*\) s.*/\1/p' <<<"${d_line:-}")
    t_drop=$(sed -n 's/.*dropped: queue \([0-9]*\), kernel \([0-9]*\), interface \([0-9]*\).*/\1 + \2 + \3/p' <<<"${t_line:-}")
    d_drop=$(sed -n 's/.*dropped: kernel \([0-9]*\).*/\1/p' <<<"${d_line:-}")
    live_lines+=("${t_line:-}" "${d_line:-}")
    if [ -n "$t_cpu" ] && [ -n "$d_cpu" ]; then
      live_lines+=("$(awk -v t="$t_cpu" -v d="$d_cpu" -v r="$mbps" -v td="$(( ${t_drop:-0} ))" -v dd="${d_drop:-0}" \
        'BEGIN {printf "live cost at %s Mbit/s: telltale %.2f s of CPU against tcpdump %.2f s: %.2fx (target <= 1.5x); drops: telltale %d, tcpdump %d", r, t, d, (d > 0 ? t / d : 0), td, dd}')")
    fi
  done
fi
{
  echo
  echo "${replay_line:-replay: failed (status $replay_status)}"
  [ -z "${bare_line:-}" ] || echo "$bare_line"
  [ -z "${cost_line:-}" ] || echo "$cost_line"
  for l in "${live_lines[@]}"; do [ -z "$l" ] || echo "$l"; done
} | tee -a "$report"
say "(also in ${report#"$root"/})"
[ "$replay_status" -eq 0 ] || die "the live replay failed (status $replay_status): telltale's queue dropped packets, or the replay did not run"
