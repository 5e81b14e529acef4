#!/usr/bin/env bash
# cargo-deny over telltale's dependency graph (the rules are in deny.toml):
#   bans, licences and sources, always;
#   advisories when a RustSec advisory database is already on disk. The database lives on
#   GitHub, which a build machine may not reach, so this never fetches it: it uses a clone
#   at $TELLTALE_ADVISORY_DB, else ~/.cargo/advisory-db, else the copy `cargo deny fetch`
#   keeps in $CARGO_HOME/advisory-dbs, and says clearly when there is none.
# Installs cargo-deny first when it is missing (`cargo install --locked cargo-deny`).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

if ! "$CARGO" deny --version >/dev/null 2>&1; then
    echo "deny: installing cargo-deny (once, a few minutes)"
    log=$(mktemp)
    if ! "$CARGO" install --locked --quiet cargo-deny >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "deny: could not install cargo-deny (above); install it with: cargo install --locked cargo-deny" >&2
        exit 1
    fi
    rm -f "$log"
fi

# --hide-inclusion-graph: a duplicate version is a warning, one line of lock entries is enough.
"$CARGO" deny check --hide-inclusion-graph bans licenses sources

# cargo-deny keeps each database in <db-path>/<name>-<hash of its URL>; this is the name
# for https://github.com/rustsec/advisory-db (the db-urls of deny.toml).
DB_DIR_NAME=advisory-db-3157b0e258782691
cargo_home=${CARGO_HOME:-$HOME/.cargo}
clone=${TELLTALE_ADVISORY_DB:-$HOME/.cargo/advisory-db}

if [ -n "${TELLTALE_ADVISORY_DB:-}" ] && [ ! -d "$TELLTALE_ADVISORY_DB/crates" ]; then
    echo "deny: TELLTALE_ADVISORY_DB=$TELLTALE_ADVISORY_DB is not a clone of the RustSec advisory database (no crates/ folder)" >&2
    exit 1
fi

if [ -d "$clone/crates" ]; then
    # Show cargo-deny the clone where it looks for its own copy, in a folder of our own.
    dbs=$(mktemp -d)
    trap 'rm -rf "$dbs"' EXIT
    ln -s "$(cd "$clone" && pwd)" "$dbs/$DB_DIR_NAME"
    config="$dbs/deny.toml"
    sed "/^\[advisories\]/a db-path = \"$dbs\"" deny.toml >"$config"
    echo "deny: advisories from $clone ($(git -C "$clone" log -1 --format=%cs 2>/dev/null || echo 'date unknown'))"
    "$CARGO" deny --offline --config "$config" check --hide-inclusion-graph advisories
elif [ -d "$cargo_home/advisory-dbs/$DB_DIR_NAME/crates" ]; then
    echo "deny: advisories from cargo-deny's own copy in $cargo_home/advisory-dbs"
    "$CARGO" deny --offline check --hide-inclusion-graph advisories
else
    echo "deny: advisories SKIPPED: no RustSec advisory database on this machine, and it lives on GitHub, which is not fetched from here."
    echo "      To check them: git clone https://github.com/rustsec/advisory-db ~/.cargo/advisory-db (or set TELLTALE_ADVISORY_DB to a clone)."
fi
