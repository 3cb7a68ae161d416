#!/usr/bin/env bash
# End-to-end check of the live feed path without internet:
#  1. starts `arbot replay-server` (Binance protocol, the three recordings of
#     configs/paper-loopback.toml) on a free loopback port, as fast as possible, in lockstep
#     (messages of all connections in the recording's merged order);
#  2. runs the engine in paper mode against it until the recording ends (--until-eof);
#  3. runs file replay of the same data (configs/replay.toml);
#  4. compares the two reports: per-venue message counts and sync state (messages, bbo, depth,
#     trades, snapshots, syncs, gaps, resyncs, parse errors) and per-pair max gross spread must
#     be equal; exits non-zero on any difference.
# The last line printed is the path of the paper-mode report.json.
#
# Usage: scripts/e2e-loopback.sh [--tls] [--release|--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
TLS=""
PROFILE="--release"
for a in "$@"; do
  case "$a" in
    --tls) TLS="--tls" ;;
    --release) PROFILE="--release" ;;
    --debug) PROFILE="" ;;
    *) echo "usage: $0 [--tls] [--release|--debug]" >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "e2e-loopback: python3 is needed to compare the reports" >&2; exit 2; }
cargo build $PROFILE --quiet
BIN=target/$([ -n "$PROFILE" ] && echo release || echo debug)/arbot
OUT=out/e2e-loopback${TLS:+-tls}
rm -rf "$OUT"; mkdir -p "$OUT"

SERVER_ARGS=(replay-server --config configs/paper-loopback.toml --bind 127.0.0.1:0 --speed max --lockstep)
[ -n "$TLS" ] && SERVER_ARGS+=(--tls --cert-out "$OUT/cert.pem")
"$BIN" "${SERVER_ARGS[@]}" > "$OUT/server.out" 2> "$OUT/server.err" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q '^listening ' "$OUT/server.out" 2>/dev/null && break
  kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/server.err" >&2; echo "e2e-loopback: replay server died" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(sed -n 's#^listening wss\{0,1\}://##p' "$OUT/server.out")
[ -n "$ADDR" ] || { echo "e2e-loopback: no address from the replay server" >&2; exit 1; }
echo "replay server on $ADDR${TLS:+ (TLS)}"

# the paper config with the server's port (and scheme, CA for TLS); the data paths stay absolute
CFG="$OUT/paper-loopback.toml"
ROOT=$(pwd)
sed -e "s#127.0.0.1:9901#$ADDR#g" -e "s#\"\.\./shared/#\"$ROOT/../shared/#g" configs/paper-loopback.toml > "$CFG"
if [ -n "$TLS" ]; then
  sed -i -e 's#"ws://#"wss://#' -e 's#"http://#"https://#' \
      -e "s#^\(rest_url = .*\)\$#\1\ntls_ca_file = \"$ROOT/$OUT/cert.pem\"#" "$CFG"
fi
"$BIN" run --config "$CFG" --out "$OUT/paper" --until-eof > "$OUT/paper.txt"
wait $SERVER_PID || { echo "e2e-loopback: replay server failed" >&2; exit 1; }
trap - EXIT
"$BIN" run --config configs/replay.toml --out "$OUT/replay" > "$OUT/replay.txt"

python3 - "$OUT/paper/report.json" "$OUT/replay/report.json" <<'PY'
import json, sys
paper, replay = (json.load(open(p)) for p in sys.argv[1:3])
diffs = []
keys = ["messages", "bbo_updates", "depth_updates", "trades", "snapshots", "syncs", "gaps",
        "resyncs", "parse_errors", "invalid_book_events", "failed_validations", "checksum_mismatches"]
for venue, r in replay["venues"].items():
    p = paper["venues"].get(venue)
    if p is None:
        diffs.append(f"{venue}: missing in the paper report"); continue
    for k in keys:
        if p[k] != r[k]:
            diffs.append(f"{venue}.{k}: paper {p[k]} vs replay {r[k]}")
    if p["disconnects"] != 0:
        diffs.append(f"{venue}: {p['disconnects']} disconnects in a run without faults")
def pairs(rep):
    return {(x["buy_venue"], x["sell_venue"]): x["max_gross_spread_bps"] for x in rep["pairs"]}
pp, rp = pairs(paper), pairs(replay)
for k, v in rp.items():
    if pp.get(k) != v:
        diffs.append(f"pair {k[0]} -> {k[1]}: max gross spread paper {pp.get(k)} vs replay {v} bps")
# (data.messages_applied differs by design: detection also counts the venue-status events of
# paper mode, one "connected" per venue)
for venue, n in (paper.get("net") or {}).get("venues", {}).items():
    w = (n.get("ws") or {}).get("wire_to_event_ns", {})
    print(f"{venue}: wire-to-event ns p50 {w.get('p50')} p99 {w.get('p99')} p99.9 {w.get('p999')} max {w.get('max')} (n={w.get('count')})")
if diffs:
    print("e2e-loopback: paper and file replay differ:")
    for d in diffs:
        print("  " + d)
    sys.exit(1)
print(f"e2e-loopback: OK — paper == file replay: {sum(v['messages'] for v in paper['venues'].values())} messages, "
      f"{len(rp)} pairs, books synced on every venue")
PY
echo "$OUT/paper/report.json"
