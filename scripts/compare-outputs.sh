#!/usr/bin/env bash
# Compare the engine's outputs with a saved baseline: report.json (all but `latency_ns`,
# `run` and wall-clock fields), signals.jsonl and trades.jsonl of each shipped replay config,
# and `verify-book` on every shared recording.
#
#   scripts/compare-outputs.sh save  DIR   # write the current outputs to DIR
#   scripts/compare-outputs.sh check DIR   # compare the current outputs with DIR; exit 1 on a difference
#
# Uses target/release/arbot (build it first). Refactors that must not change behaviour are
# checked with it (the architecture issue: "byte-identical before and after").
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?save|check}; dir=${2:?directory}
bin=./target/release/arbot
data=../shared/data
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$tmp/now; mkdir -p "$out"
for c in replay replay-vip replay-okx-kraken; do
  $bin run --config configs/$c.toml --out "$tmp/run-$c" >/dev/null
  python3 - "$tmp/run-$c/report.json" > "$out/$c.report.json" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
for k in ("latency_ns","run"):
    r.pop(k,None)
print(json.dumps(r,indent=1,sort_keys=True))
PY
  cp "$tmp/run-$c/signals.jsonl" "$out/$c.signals.jsonl"
  cp "$tmp/run-$c/trades.jsonl" "$out/$c.trades.jsonl"
done
for f in $data/recorded/*.ws.* $data/recorded/bybit_v5_*.data $data/binance/*.gz; do
  echo "== $(basename "$f")"; $bin verify-book "$f" 2>&1 | sed "s#$data#DATA#g" || true
done > "$out/verify.txt"
if [ "$mode" = save ]; then
  mkdir -p "$dir"; cp "$out"/* "$dir"/; echo "saved to $dir"
else
  diff -r "$dir" "$out" && echo "identical: reports, signals, trades of 3 replays and verify-book on every recording"
fi
