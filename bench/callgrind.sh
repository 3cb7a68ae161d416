#!/usr/bin/env bash
# Instructions per message (and per order) of each engine stage, counted by callgrind:
# figures that do not move with the load of a shared VM, unlike wall-clock times.
#
#   bench/callgrind.sh [--messages N]
#
# Runs `bench/stages.rs` (built by `cargo bench --bench stages --no-run`, the shipped release
# profile) under `valgrind --tool=callgrind --toggle-collect=<stage function>`, so only the
# stage's own work is counted (not reading, inflating or merging the input), on the three
# shared Binance recordings of configs/replay.toml (all 183,473 messages by default):
#   parse         Binance wire parse + book-sync rules, per message      (stage_parse)
#   book          events applied to the L2 books, per message            (stage_book)
#   detect        detection core minus books: spatial detection + risk   (stage_core − stage_book)
#   encode+sign   one order's request encoded and HMAC-SHA256 signed     (the Binance encoder's
#                 `place`, in a single-thread replay of bench/configs/e2e.toml)
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=0
while [ $# -gt 0 ]; do
    case "$1" in
        --messages) messages="$2"; shift 2 ;;
        -h|--help) sed -n 2,16p "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed" >&2; exit 1; }
bin=$(cargo bench --bench stages --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*stages[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "callgrind.sh: could not build bench/stages.rs" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run stage $1 collecting inside function pattern $2; prints "<instructions> <stdout line>"
count() {
    local stage="$1" fn="$2" out="$tmp/$1.out"
    local line
    line=$(valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
        --toggle-collect="$fn" "$bin" "$stage" --messages "$messages" 2>/dev/null | tail -n 1)
    local ir
    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p; s/^summary: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
    echo "$ir $line"
}

read -r parse_ir parse_line < <(count parse '*stages::stage_parse*')
read -r book_ir book_line < <(count book '*stages::stage_book*')
read -r core_ir core_line < <(count core '*stages::stage_core*')
read -r ord_ir ord_line < <(count orders '*as arbot::venues::order_entry::OrderEntry>::place*')
msgs=$(echo "$parse_line" | sed -n 's/.*messages \([0-9]*\).*/\1/p')
orders=$(echo "$ord_line" | sed -n 's/.*orders \([0-9]*\).*/\1/p')
echo "callgrind instruction counts (Ir), $(valgrind --version), $msgs messages of configs/replay.toml"
printf '%-14s %16s %10s %22s\n' stage instructions 'per unit' unit
awk -v m="$msgs" -v o="$orders" -v p="$parse_ir" -v b="$book_ir" -v c="$core_ir" -v e="$ord_ir" 'BEGIN {
    printf "%-14s %16d %10.0f %22s\n", "parse", p, p / m, "per message"
    printf "%-14s %16d %10.0f %22s\n", "book", b, b / m, "per message"
    printf "%-14s %16d %10.0f %22s\n", "detect", c - b, (c - b) / m, "per message"
    printf "%-14s %16d %10.0f %22s\n", "parse+book+det", p + c, (p + c) / m, "per message"
    printf "%-14s %16d %10.0f %22s\n", "encode+sign", e, e / o, "per order (" o " orders)"
}'
