#!/usr/bin/env bash
# arbot beside two peers on the same Binance recordings, in one run.
#
#   bench/peers.sh [--venv DIR]
#
# Creates a virtual environment (default .venv-peers/), installs cryptofeed and hftbacktest
# from PyPI into it, then:
#   cryptofeed   its Binance feed's message handler over the spot recording (bench/peers.py)
#   hftbacktest  its converter (Python) over the USDⓈ-M recording to binary rows, then its
#                backtester (Rust core) replaying the rows, hash-map and ROI-vector books
#   arbot        the single-thread path (parse + sync + book + detect + risk) over the same
#                recording in memory, and the shipped main job (three recordings, gzip included)
# and prints messages per second for each and the ratios. Needs python3 (3.11 here).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-peers
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv="$2"; shift 2 ;;
        -h|--help) sed -n 2,14p "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
spot=../shared/data/binance/spot_btcusdt_20240808.gz
usdm=../shared/data/binance/usdm_btcusdt_20240808.gz
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q cryptofeed hftbacktest
py="$venv/bin/python"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $($py --version)," \
    "cryptofeed $($py -c 'import importlib.metadata as m; print(m.version("cryptofeed"))')," \
    "hftbacktest $($py -c 'import importlib.metadata as m; print(m.version("hftbacktest"))')"

cf=$("$py" bench/peers.py cryptofeed "$spot" | tail -n 1)
hb=$("$py" bench/peers.py hftbacktest "$usdm" 0.1 0.001 2>/dev/null | tail -n 1)
# arbot: the same files alone, in memory, then the main job
a_spot=$(cargo bench -q --bench backtest -- --venue binance-spot --skip-main | tail -n 1)
a_usdm=$(cargo bench -q --bench backtest -- --venue binance-usdm --skip-main | tail -n 1)
a_main=$(cargo bench -q --bench backtest -- --passes 3 --main-runs 3 | tail -n 1)

"$py" - "$cf" "$hb" "$a_spot" "$a_usdm" "$a_main" <<'PY'
import json, sys
cf, hb, a_spot, a_usdm, a_main = (json.loads(x) for x in sys.argv[1:])
rows = []
cf_rate = cf["msgs"] / cf["secs"]
rows.append(("cryptofeed handler, spot (in memory)", cf["msgs"], cf_rate))
rows.append(("arbot single-thread, spot (in memory)", a_spot["messages"], a_spot["in_memory_msgs_per_s"]))
rows.append(("hftbacktest convert, USDⓈ-M (Python, gz)", hb["msgs"], hb["msgs"] / hb["convert_secs"]))
rows.append(("hftbacktest replay, USDⓈ-M rows, hash map", hb["msgs"], hb["msgs"] / hb["replay_hashmap_secs"]))
rows.append(("hftbacktest replay, USDⓈ-M rows, ROI vector", hb["msgs"], hb["msgs"] / hb["replay_roivector_secs"]))
rows.append(("hftbacktest elapse loop only, ROI vector", hb["msgs"], hb["msgs"] / hb["replay_roivector_loop_secs"]))
rows.append(("arbot single-thread, USDⓈ-M (in memory)", a_usdm["messages"], a_usdm["in_memory_msgs_per_s"]))
rows.append(("arbot main job, 3 recordings (gzip, files)", a_main["messages"], a_main["main_job_msgs_per_s"]))
print(f"{'what':48} {'messages':>9} {'msgs/s':>12}")
for w, n, r in rows:
    print(f"{w:48} {n:>9} {r:>12,.0f}")
print(f"ratios: arbot spot / cryptofeed = {a_spot['in_memory_msgs_per_s'] / cf_rate:.1f}x; "
      f"arbot main job / cryptofeed = {a_main['main_job_msgs_per_s'] / cf_rate:.1f}x; "
      f"arbot USDⓈ-M / hftbacktest replay (ROI vector, incl. load) = "
      f"{a_usdm['in_memory_msgs_per_s'] / (hb['msgs'] / hb['replay_roivector_secs']):.2f}x; "
      f"/ its elapse loop alone = "
      f"{a_usdm['in_memory_msgs_per_s'] / (hb['msgs'] / hb['replay_roivector_loop_secs']):.2f}x; "
      f"/ hftbacktest convert + replay = "
      f"{a_usdm['in_memory_msgs_per_s'] / (hb['msgs'] / (hb['convert_secs'] + hb['replay_roivector_secs'])):.1f}x")
PY
