#!/usr/bin/env bash
# Makes the README's pictures of the terminal UI from the real program in a real terminal:
# tmux runs `telltale demo`, `capture-pane -e` keeps the colours, aha turns the screen into
# HTML, and headless Chromium renders each HTML page to screenshots/<name>.png.
# Usage: scripts/screenshots.sh   (installs tmux, aha and chromium where missing)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in tmux aha chromium fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --quiet
bin="$PWD/target/release/telltale"
work=$(mktemp -d)
sock="telltale-shots-$$"
cols=132; rows=40
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

tmux -L "$sock" -f /dev/null new-session -d -s shots -x "$cols" -y "$rows" -c "$work" \
  "env TERM=xterm-256color $bin demo --speed 30; sleep 600"

screen() { tmux -L "$sock" capture-pane -p -t shots; }
keys() { tmux -L "$sock" send-keys -t shots "$@"; sleep 0.6; }
wait_for() {
  for _ in $(seq 1 300); do screen | grep -q "$1" && return 0; sleep 0.2; done
  echo "timed out waiting for: $1" >&2; screen >&2; exit 1
}

shot() {
  local name=$1
  tmux -L "$sock" capture-pane -e -p -t shots > "$work/$name.ans"
  aha --black --title "telltale" < "$work/$name.ans" \
    | sed 's|<head>|<head><style>body{margin:8px;background:#000} pre{font-family:"DejaVu Sans Mono",monospace;font-size:14px;line-height:1.2}</style>|' \
    > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chrome" --hide-scrollbars --window-size=1150,700 \
    --screenshot="$PWD/screenshots/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  echo "screenshots/$name.png"
}

mkdir -p screenshots
wait_for "crashreport.plexapp.com"
wait_for "read to the end"
shot flows
keys Tab;                 shot flagged
keys Home Enter;          shot detail
keys Escape; keys Tab;    shot summary
keys Tab;                 shot rules
keys Tab "/" ; tmux -L "$sock" send-keys -t shots -l "host:plex.tv"; keys Enter; shot filtered
keys "?";                 shot help
# (Escape alone: followed at once by another key, a terminal reads it as Alt+key)
keys Escape; keys q
