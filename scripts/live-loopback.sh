#!/usr/bin/env bash
# Live mode end to end without internet or money: `arbot replay-server` acts as Binance
# (spot, USDⓈ-M, COIN-M: the recordings of configs/live-loopback.toml as its books, signed
# REST orders, accounts, user-data streams) and `arbot run --live` trades against it.
#  1. starts the exchange on a free loopback port, with any extra replay-server flags given
#     after `--` (order faults: --order-503 N, --swallow-order N, --disconnect-order N,
#     --stream-only-fill N, --partial-fill-order N, --order-429 N, --reject-order N,
#     --clock-skew-ms MS; see `arbot replay-server --help`);
#  2. runs the engine in live mode against it with the public key pair of Binance's signing
#     examples (through the environment, as a real run reads its keys);
#  3. checks: reconciliation OK (balance changes and positions on the exchange equal the
#     engine's fills and fees), no order left open, and every order in the exchange's own
#     ledger has the executed quantity the engine's journal (orders.jsonl) says.
# The last line printed is the path of the engine's report.json.
# tests/live_loopback.rs runs the same check with one of each fault.
#
# Usage: scripts/live-loopback.sh [--speed N|max] [--release|--debug] [-- SERVER_FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
SPEED=10
PROFILE="--release"
while [ $# -gt 0 ]; do
  case "$1" in
    --speed) SPEED="$2"; shift 2 ;;
    --release) PROFILE="--release"; shift ;;
    --debug) PROFILE=""; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--speed N|max] [--release|--debug] [-- SERVER_FLAGS...]" >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "live-loopback: python3 is needed to check the run" >&2; exit 2; }
cargo build $PROFILE --quiet
BIN=${CARGO_TARGET_DIR:-target}/$([ -n "$PROFILE" ] && echo release || echo debug)/arbot
OUT=out/live-loopback
rm -rf "$OUT"; mkdir -p "$OUT"
# Binance's documented example key pair (rest-api.md, "SIGNED Endpoint Examples"): public,
# accepted only by the loopback exchange
export ARBOT_LOOPBACK_API_KEY=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A
export ARBOT_LOOPBACK_API_SECRET=NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j
export ARBOT_BINANCE_API_KEY=$ARBOT_LOOPBACK_API_KEY ARBOT_BINANCE_API_SECRET=$ARBOT_LOOPBACK_API_SECRET

"$BIN" replay-server --config configs/live-loopback.toml --bind 127.0.0.1:0 --speed "$SPEED" \
    --linger-s 10 --ledger-out "$OUT/ledger.jsonl" "$@" > "$OUT/server.out" 2> "$OUT/server.err" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q '^listening ' "$OUT/server.out" 2>/dev/null && break
  kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/server.err" >&2; echo "live-loopback: exchange died" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(sed -n 's#^listening ws://##p' "$OUT/server.out")
[ -n "$ADDR" ] || { echo "live-loopback: no address from the exchange" >&2; exit 1; }
echo "loopback exchange on $ADDR (speed $SPEED${*:+, faults: $*})"
sed -e "s#127.0.0.1:9901#$ADDR#g" configs/live-loopback.toml > "$OUT/live.toml"
"$BIN" run --live --config "$OUT/live.toml" --out "$OUT/run" | tee "$OUT/summary.txt"
wait $SERVER_PID || { echo "live-loopback: exchange failed" >&2; exit 1; }
trap - EXIT
tail -n 1 "$OUT/server.out"

python3 - "$OUT/run/report.json" "$OUT/run/orders.jsonl" "$OUT/ledger.jsonl" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rec = report["live"]["reconciliation"]
bad = []
if not rec["ok"]:
    bad += [f"{r['venue']} {r['asset']}: diff {r['diff']}" for r in rec["rows"] if not r["ok"]]
bad += [f"open at the end: {o}" for o in rec["open_orders"] if o["client_ids"]]
bad += rec["errors"]
last = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    m = {"binance-spot": "spot", "binance-usdm": "usdm"}.get(e["venue"], "coinm")
    last[(m, e["client_order_id"])] = e
n = 0
for line in open(sys.argv[3]):
    o = json.loads(line); n += 1
    k = (o["market"], int(o["client_order_id"][3:]))
    e = last.get(k)
    if e is None:
        bad.append(f"exchange order {k} not in the engine's journal"); continue
    if abs(e["filled_qty"] - o["executed_qty"]) > 1e-9:
        bad.append(f"order {k}: engine filled {e['filled_qty']}, exchange {o['executed_qty']}")
if bad:
    print("live-loopback: FAILED"); [print("  " + b) for b in bad]; sys.exit(1)
print(f"live-loopback: OK — {n} orders on the exchange, each as the engine journals it; "
      f"{len(rec['rows'])} balances and positions reconciled; none left open")
PY
echo "$OUT/run/report.json"
