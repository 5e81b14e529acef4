#!/usr/bin/env bash
# cargo-deny over the workspace's dependency graph (the rules are in deny.toml):
#   scripts/deny.sh             bans, licences, sources, then advisories (what `make test` runs)
#   scripts/deny.sh advisories  advisories only
#
# Advisories are checked against a RustSec advisory database on disk, never fetched (the
# database lives on GitHub, which the build machines do not reach). The first of these is used:
#   1. $TELLTALE_ADVISORY_DB, a clone named on purpose;
#   2. the snapshot beside the project, ../shared/advisory-db/advisory-db.bundle (or
#      $TELLTALE_ADVISORY_BUNDLE): cloned once into a cache folder
#      ($TELLTALE_ADVISORY_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/telltale/advisory-db),
#      and brought up to date whenever the bundle holds a newer commit than the clone;
#   3. a clone at ~/.cargo/advisory-db;
#   4. the copy `cargo deny fetch` keeps in $CARGO_HOME/advisory-dbs.
# (TELLTALE_ADVISORY_FALLBACKS=0 leaves out 3 and 4.)
#
# It prints the database's date and age. Without a database: under CI (`CI` set) that is a
# failure; elsewhere one line says what to do. A database older than 90 days gets a warning;
# under CI, one older than 365 days fails the check (an old database hides new advisories).
# An advisory that affects a dependency fails the check; cargo-deny names the crate, the
# advisory and the versions that fix it. Installs cargo-deny first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
CARGO=${CARGO:-cargo}
WARN_DAYS=90
FAIL_DAYS=365

say() { echo "deny: $*"; }
fail() { echo "deny: $*" >&2; exit 1; }
in_ci() { [ -n "${CI:-}" ] && [ "${CI:-}" != "false" ] && [ "${CI:-}" != "0" ]; }

what=${1:-all}
case $what in
    all | advisories) ;;
    *) fail "usage: scripts/deny.sh [advisories]" ;;
esac

if ! "$CARGO" deny --version >/dev/null 2>&1; then
    say "installing cargo-deny (once, a few minutes)"
    log=$(mktemp)
    if ! "$CARGO" install --locked --quiet cargo-deny >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        fail "could not install cargo-deny (above); install it with: cargo install --locked cargo-deny"
    fi
    rm -f "$log"
fi

if [ "$what" = all ]; then
    # --hide-inclusion-graph: a duplicate version is a warning, one line of lock entries is enough.
    "$CARGO" deny check --hide-inclusion-graph bans licenses sources
fi

# --- which database ------------------------------------------------------------------------
is_db() { [ -d "$1/crates" ]; }

# Brings the cache's clone of BUNDLE up to date (cloned when missing or broken; moved on when
# the bundle's commit is newer than the clone's). Prints what it did.
from_bundle() { # BUNDLE CACHE
    local bundle=$1 cache=$2 head ref tmp
    head=$(git bundle list-heads "$bundle" 2>/dev/null | awk 'NR == 1 {print $1}')
    ref=$(git bundle list-heads "$bundle" 2>/dev/null | awk 'NR == 1 {print $2}')
    [ -n "$head" ] || fail "$bundle is not a git bundle (git bundle list-heads cannot read it)"
    if is_db "$cache" && git -C "$cache" rev-parse -q --verify HEAD >/dev/null 2>&1; then
        if [ "$(git -C "$cache" rev-parse HEAD)" = "$head" ]; then
            return 0
        fi
        git -C "$cache" fetch --quiet "$bundle" "$ref" 2>/dev/null ||
            fail "cannot read $head from $bundle into $cache"
        if [ "$(git -C "$cache" log -1 --format=%ct FETCH_HEAD)" -gt "$(git -C "$cache" log -1 --format=%ct HEAD)" ]; then
            git -C "$cache" -c advice.detachedHead=false checkout --quiet --detach FETCH_HEAD
            say "updated the advisory database in $cache from $bundle (newer)"
        fi
        return 0
    fi
    mkdir -p "$(dirname "$cache")"
    tmp=$(mktemp -d "$(dirname "$cache")/.advisory-db.XXXXXX")
    git clone --quiet "$bundle" "$tmp/db" 2>/dev/null || { rm -rf "$tmp"; fail "cannot clone $bundle"; }
    rm -rf "$cache"
    mv "$tmp/db" "$cache"
    rm -rf "$tmp"
    say "cloned the advisory database from $bundle into $cache"
}

bundle=${TELLTALE_ADVISORY_BUNDLE:-$root/../shared/advisory-db/advisory-db.bundle}
cache=${TELLTALE_ADVISORY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/telltale/advisory-db}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# cargo-deny keeps each database in <db-path>/<name>-<hash of its URL>; this is the name for
# https://github.com/rustsec/advisory-db (the db-urls of deny.toml).
DB_DIR_NAME=advisory-db-3157b0e258782691
db=""
if [ -n "${TELLTALE_ADVISORY_DB:-}" ]; then
    is_db "$TELLTALE_ADVISORY_DB" ||
        fail "TELLTALE_ADVISORY_DB=$TELLTALE_ADVISORY_DB is not a clone of the RustSec advisory database (no crates/ folder)"
    db=$TELLTALE_ADVISORY_DB
elif [ -r "$bundle" ]; then
    from_bundle "$bundle" "$cache"
    db=$cache
elif [ "${TELLTALE_ADVISORY_FALLBACKS:-1}" != 0 ] && is_db "$HOME/.cargo/advisory-db"; then
    db=$HOME/.cargo/advisory-db
elif [ "${TELLTALE_ADVISORY_FALLBACKS:-1}" != 0 ] && is_db "$cargo_home/advisory-dbs/$DB_DIR_NAME"; then
    db=$cargo_home/advisory-dbs/$DB_DIR_NAME
fi

if [ -z "$db" ]; then
    help="put the RustSec snapshot at $bundle (a git bundle), or set TELLTALE_ADVISORY_DB to a clone of https://github.com/rustsec/advisory-db"
    if in_ci; then
        fail "advisories: no RustSec advisory database (CI requires one): $help"
    fi
    say "advisories NOT CHECKED: no RustSec advisory database here; to check them, $help"
    [ -z "${TELLTALE_DENY_SUMMARY:-}" ] || echo "advisories: NOT CHECKED (no RustSec database)" >"$TELLTALE_DENY_SUMMARY"
    exit 0
fi

# --- its date, and the check --------------------------------------------------------------
stamp=$(git -C "$db" log -1 --format=%ct 2>/dev/null || echo "")
# the line `make test` ends with (scripts/skip-summary.sh reads it back)
summary=${TELLTALE_DENY_SUMMARY:-}
if [ -n "$stamp" ]; then
    date_text=$(date -u -d "@$stamp" +%Y-%m-%d)
    age=$(( ($(date -u +%s) - stamp) / 86400 ))
    say "advisories: RustSec database of $date_text ($age days old), from $db"
    [ -z "$summary" ] || echo "advisories: checked against the RustSec database of $date_text ($age days old)" >"$summary"
    if [ "$age" -gt "$FAIL_DAYS" ] && in_ci; then
        fail "the advisory database is $age days old (more than $FAIL_DAYS): advisories published since are not checked; refresh ../shared/advisory-db or TELLTALE_ADVISORY_DB"
    elif [ "$age" -gt "$WARN_DAYS" ]; then
        say "warning: the advisory database is $age days old (more than $WARN_DAYS): advisories published since $date_text are not checked"
    fi
else
    say "advisories: RustSec database of unknown date (not a git clone), from $db"
fi

# Show cargo-deny the database where it looks for its own copy, in a folder of our own.
dbs=$(mktemp -d)
trap 'rm -rf "$dbs"' EXIT
ln -s "$(cd "$db" && pwd)" "$dbs/$DB_DIR_NAME"
config="$dbs/deny.toml"
sed "/^\[advisories\]/a db-path = \"$dbs\"" deny.toml >"$config"
"$CARGO" deny --offline --config "$config" check --hide-inclusion-graph advisories
