#!/usr/bin/env bash
# Installs the system packages telltale needs to build and test, where they are missing:
# libpcap (to build), tmux (the tests that drive the real terminal UI), strace (the test that
# proves telltale sends nothing), tshark (the tests that open the evidence as Wireshark would),
# chromium and a font (the test that renders the HTML report headless), tcpreplay (the test that
# replays a capture at full speed into a live audit), clang and libbpf-dev (to compile the eBPF
# program of src/attrib/ebpf: without them telltale still builds, with eBPF attribution off).
# Debian and Ubuntu only (apt); elsewhere it says what to install.
set -euo pipefail

# dnsmasq-base, curl, openssl and iproute2: the homelab tests' resolver, client, TLS servers and namespaces
# (tests/live_homelab.rs); python3 and python3-venv: the STARTTLS servers (tests/starttls_real.rs) and
# aioquic, a third-party QUIC client, installed from PyPI into target/py (tests/quic_real.rs).
packages=(libpcap-dev pkg-config tmux strace tshark chromium fonts-dejavu-core tcpreplay clang libbpf-dev dnsmasq-base curl openssl iproute2 python3 python3-venv procps)
root=$(cd "$(dirname "$0")/.." && pwd)

# aioquic in a virtual environment of the project's own (target/py), once
aioquic() {
  local venv="$root/target/py"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import aioquic' 2>/dev/null; then
    return 0
  fi
  echo "installing aioquic (PyPI) into target/py ..." >&2
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install --quiet --disable-pip-version-check aioquic >/dev/null
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  aioquic
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "telltale needs: ${missing[*]} (libpcap and its headers); install them with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "telltale needs ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
aioquic
