#!/usr/bin/env bash
# scripts/replay.sh CAPTURE [--report PATH]: replays CAPTURE at full speed through a veth pair
# into a live `telltale audit -i`, and says what each side counted.
#
# 1. Creates two network namespaces (a sender and a receiver, named after this run's pid)
#    joined by a veth pair. The pair gets no address and IPv6 is off on both ends, so the
#    kernel sends nothing of its own over it, and nothing can leave the two namespaces.
# 2. Starts `telltale audit -i <receiver end> --scope host --format json` in the receiver's
#    namespace and waits until it says it is capturing.
# 3. Sends CAPTURE with `tcpreplay --topspeed` from the sender's namespace.
# 4. Waits until telltale has worked through what it received (its CPU time stops growing),
#    stops it with SIGINT, and reads its report.
# 5. Prints one line: packets tcpreplay sent, packets telltale counted, telltale's own queue
#    drops, the kernel's and interface's drops as libpcap counted them, and the frames the
#    veth pair itself dropped (the sender's tx_dropped: they never reached the receiver).
#    Sent = counted + kernel + veth, when telltale counts nothing extra.
#
# Exits 1 if telltale's queue dropped anything, or if anything failed. The namespaces go
# away on exit, whatever happens. Needs root, iproute2 and tcpreplay.
#
# Environment: TELLTALE (the binary; default target/release/telltale, which `make bench`
# builds), REPLAY_LIMIT (seconds telltale may run at most, default 600), REPLAY_ARGS (more
# arguments for telltale, e.g. --no-attribution), REPLAY_MBPS (replay at this rate in Mbit/s
# rather than at full speed), REPLAY_PACKETS (send only the first N packets), REPLAY_PEER=tcpdump
# (capture with `tcpdump -w /dev/null` instead of telltale, the peer of the live cost: its CPU
# and the kernel's drops are printed the same way).
set -euo pipefail

say() { printf '%s\n' "$*" >&2; }
die() { say "replay: $*"; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
capture=""
report=""
while [ $# -gt 0 ]; do
  case $1 in
    --report) report=${2:?--report needs a path}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) [ -z "$capture" ] || die "one capture at a time"; capture=$1; shift ;;
  esac
done
[ -n "$capture" ] || die "usage: scripts/replay.sh CAPTURE [--report PATH]"
[ -r "$capture" ] || die "cannot read $capture"
telltale=${TELLTALE:-$root/target/release/telltale}
[ -x "$telltale" ] || die "$telltale is missing: cargo build --release (or set TELLTALE)"
limit=${REPLAY_LIMIT:-600}
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for tool in ip tcpreplay; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (scripts/install-deps.sh installs it)"
done

id=$$
tx_ns="tt-rtx-$id"
rx_ns="tt-rrx-$id"
tx_if="ttrt$id"
rx_if="ttrr$id"
work=$(mktemp -d)
# telltale's history (written by every audit, as shipped) goes to this run's own folder
export XDG_STATE_HOME="$work/state"
tt_pid=""

cleanup() {
  if [ -n "$tt_pid" ] && kill -0 "$tt_pid" 2>/dev/null; then
    kill -KILL "$tt_pid" 2>/dev/null || true
    wait "$tt_pid" 2>/dev/null || true
  fi
  ip netns del "$tx_ns" 2>/dev/null || true
  ip netns del "$rx_ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the namespaces and the pair ----------------------------------------------------------
ip netns add "$tx_ns"
ip netns add "$rx_ns"
ip link add "$tx_if" netns "$tx_ns" type veth peer name "$rx_if" netns "$rx_ns"
end_up() { # NAMESPACE INTERFACE
  # no IPv6 (no router solicitations, no neighbour discovery), and room for any frame
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
  ip -n "$1" link set "$2" mtu 65535
  ip -n "$1" link set "$2" up
}
end_up "$tx_ns" "$tx_if"
end_up "$rx_ns" "$rx_if"

# --- 2. telltale -----------------------------------------------------------------------------
# The report goes to standard output, which this shell opens: telltale may give up root.
# shellcheck disable=SC2086 # REPLAY_ARGS is a list of words
peer=${REPLAY_PEER:-telltale}
if [ "$peer" = tcpdump ]; then
  command -v tcpdump >/dev/null 2>&1 || die "tcpdump is missing (apt-get install tcpdump)"
  # the same kernel buffer as telltale's (64 MiB), every byte of every packet, to nowhere
  ip netns exec "$rx_ns" tcpdump -i "$rx_if" -nn -s 0 -B 65536 -w /dev/null 2>"$work/telltale.err" &
  tt_pid=$!
  ready="listening on"
else
  ip netns exec "$rx_ns" "$telltale" audit -i "$rx_if" --duration "${limit}s" --scope host \
    --opt-out on --format json ${REPLAY_ARGS:-} >"$work/report.json" 2>"$work/telltale.err" &
  tt_pid=$!
  ready="capturing on"
fi
for _ in $(seq 1 100); do
  grep -q "$ready" "$work/telltale.err" && break
  kill -0 "$tt_pid" 2>/dev/null || { cat "$work/telltale.err" >&2; die "$peer did not start"; }
  sleep 0.1
done
grep -q "$ready" "$work/telltale.err" || die "$peer did not start capturing in 10 s"

# --- 3. the replay ---------------------------------------------------------------------------
speed=(--topspeed)
[ -z "${REPLAY_MBPS:-}" ] || speed=(--mbps="$REPLAY_MBPS")
[ -z "${REPLAY_PACKETS:-}" ] || speed+=(--limit="$REPLAY_PACKETS")
ip netns exec "$tx_ns" tcpreplay "${speed[@]}" -i "$tx_if" "$capture" >"$work/tcpreplay.out" 2>&1 ||
  { cat "$work/tcpreplay.out" >&2; die "tcpreplay failed"; }
sent=$(sed -n 's/^[[:space:]]*Successful packets:[[:space:]]*\([0-9]*\).*/\1/p' "$work/tcpreplay.out")
failed=$(sed -n 's/^[[:space:]]*Failed packets:[[:space:]]*\([0-9]*\).*/\1/p' "$work/tcpreplay.out")
rate=$(sed -n 's/^[[:space:]]*Rated:.* \([0-9.]*\) pps.*/\1/p' "$work/tcpreplay.out")
[ -n "$sent" ] || { cat "$work/tcpreplay.out" >&2; die "cannot read tcpreplay's counts"; }

veth=$(ip netns exec "$tx_ns" cat "/sys/class/net/$tx_if/statistics/tx_dropped")

# --- 4. let telltale finish, then stop it ----------------------------------------------------
cpu() { awk '{print $14 + $15}' "/proc/$tt_pid/stat" 2>/dev/null || echo gone; }
last=$(cpu)
quiet=0
for _ in $(seq 1 600); do
  sleep 0.1
  now=$(cpu)
  [ "$now" = gone ] && break
  if [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
  last=$now
  # a second and a half without work: the backlog is done, and libpcap's counters (read
  # once a second) have been read since
  [ "$quiet" -ge 15 ] && break
done
# each thread's share of that CPU (to standard error), before the stop
ticks_per_s=$(getconf CLK_TCK)
for task in /proc/"$tt_pid"/task/*; do
  [ -r "$task/stat" ] || continue
  awk -v hz="$ticks_per_s" -v comm="$(cat "$task/comm" 2>/dev/null)" \
    '{printf "  thread %-16s %.2f s cpu\n", comm, ($14 + $15) / hz}' "$task/stat" >&2 || true
done
kill -INT "$tt_pid" 2>/dev/null || true
status=0
wait "$tt_pid" || status=$?
tt_pid=""
ticks=$(getconf CLK_TCK)
cpu_s=$(awk -v t="$last" -v hz="$ticks" 'BEGIN { printf "%.2f", t / hz }')
rate_words=${REPLAY_MBPS:+ at $REPLAY_MBPS Mbit/s}
if [ "$peer" = tcpdump ]; then
  # tcpdump prints its counts when it stops
  captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/telltale.err")
  kernel=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/telltale.err")
  [ -n "$captured" ] || { cat "$work/telltale.err" >&2; die "cannot read tcpdump's counts"; }
  echo "replay $(basename "$capture")$rate_words (tcpdump): tcpreplay sent $sent packets (${failed:-0} failed, ${rate:-?} pps);" \
    "tcpdump captured $captured; dropped: kernel ${kernel:-0}, veth $veth; tcpdump cpu ${cpu_s} s"
  exit 0
fi
# 0: nothing flagged, 1: flows flagged; anything else is a failure
[ "$status" -le 1 ] || { cat "$work/telltale.err" >&2; die "telltale exited with status $status"; }
[ -z "$report" ] || cp "$work/report.json" "$report"

# --- 5. the counts ---------------------------------------------------------------------------
field() { # the first number after "NAME": in the report
  grep -o "\"$1\": [0-9]*" "$work/report.json" | awk 'NR == 1 {print $2}'
}
counted=$(field packets) # inputs[0].packets: every packet the pipeline saw
queue=$(field dropped_by_queue)
kernel=$(field dropped_by_kernel)
iface=$(field dropped_by_interface)
[ -n "$counted" ] && [ -n "$queue" ] && [ -n "$kernel" ] || die "the report has no live drop counts"
echo "replay $(basename "$capture")$rate_words${REPLAY_ARGS:+ ($REPLAY_ARGS)}: tcpreplay sent $sent packets (${failed:-0} failed, ${rate:-?} pps);" \
  "telltale counted $counted; dropped: queue $queue, kernel $kernel, interface ${iface:-0}, veth $veth; telltale cpu ${cpu_s} s"
if [ "$queue" -ne 0 ]; then
  say "replay: telltale's own queue dropped $queue packets"
  exit 1
fi
