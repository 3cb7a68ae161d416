#!/usr/bin/env bash
# Soak (R6, issue "Reliability" item 3): the shared recordings played end to end in a loop until
# HOURS of data time have passed, at maximum pace, with trading on, and the run checked:
#  - resident memory flat after warm-up: RSS is sampled every 0.2 s (/proc/PID/status VmRSS,
#    written to OUT/rss.csv, Unix time in s); warm-up = the first 2 h of data time (the 24 h
#    run plateaus within it), reckoned as that share of the wall time; growth = the median RSS
#    of the last 10 % of samples against the median of the first 10 % after warm-up; must stay
#    < 5 %. (Medians: the end of the run reads the PnL curve back from its file for the report,
#    a peak of a fraction of a second that the summary shows as the max.) Gated for runs of 4 h
#    or more (CI runs 6 h); a shorter run prints it only;
#  - no latency histogram saturated: every stage's max below the histograms' 60 s ceiling;
#  - log rotation worked: the log is capped at 4 KB per file here (run.log_max_bytes, keep 3),
#    so even a 1 h run rotates: arbot.log.1 must exist and no file may pass the cap by more
#    than a line;
#  - counters consistent at the end: messages per venue = lines read, every pass played,
#    trades attempted = filled + partial + one-leg + missed, signals total = signals.jsonl lines,
#    trades.jsonl lines = trades attempted.
# The loop (`replay.loops`): each pass's receive times are shifted forward by the recording's
# span + 1 ms and every book resyncs at a pass boundary from the recording's own snapshots
# (update ids are not shifted). Risk, inventory, PnL and journals carry on across passes.
#
# Trading: the config's risk settings apply, except the exposure limits, lifted (--set
# risk.max_exposure_per_venue_usd=1e12, risk.max_total_exposure_usd=1e12): nothing closes the
# basis inventory the strategy builds, so with the shipped limits every pass after the first
# would be refused whole at the exposure limit and the soak would exercise no trading. The
# breaker, loss and rate limits still act (their trips and refusals are in the summary).
#
# Usage: scripts/soak.sh [--hours H] [--config FILE] [--out DIR] [--debug] [--set KEY=VALUE]...
#   defaults: 24 h of data time, configs/replay-vip.toml (it trades), out/soak, release build;
#   --set is passed to `arbot run` (after the soak's own).
# CI runs `scripts/soak.sh --hours 6` (~1 min). Prints a summary and writes OUT/soak.json; exits 1 when a
# check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS=24
CONFIG=configs/replay-vip.toml
OUT=out/soak
PROFILE=release
SETS=(--set risk.max_exposure_per_venue_usd=1e12 --set risk.max_total_exposure_usd=1e12)
while [ $# -gt 0 ]; do
  case "$1" in
    --hours) HOURS="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n 2,32p "$0"; exit 0 ;;
    *) echo "usage: $0 [--hours H] [--config FILE] [--out DIR] [--debug] [--set KEY=VALUE]..." >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "soak: python3 is needed to check the run" >&2; exit 2; }
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/arbot
rm -rf "$OUT"; mkdir -p "$OUT"

# passes: the recording's span (first to last receive time over its files) into HOURS
LOOPS=$(python3 - "$CONFIG" "$HOURS" <<'PY'
import gzip, math, os, sys, tomllib
cfg_path, hours = sys.argv[1], float(sys.argv[2])
cfg = tomllib.load(open(cfg_path, "rb"))
root = os.path.dirname(os.path.dirname(os.path.abspath(cfg_path)))
first, last = None, None
for f in cfg["replay"]["files"]:
    p = f["path"] if os.path.isabs(f["path"]) else os.path.join(root, f["path"])
    op = gzip.open if p.endswith(".gz") else open
    with op(p, "rb") as fh:
        for line in fh:
            try:
                t = int(line.split(b" ", 1)[0])
            except ValueError:
                continue
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
span = (last - first) + 1_000_000
print(max(1, math.ceil(hours * 3600e9 / span)))
PY
)
echo "soak: $HOURS h of data time = $LOOPS passes of $CONFIG ($PROFILE build)"

start=$EPOCHREALTIME
"$BIN" run --fresh --config "$CONFIG" --out "$OUT/run" --set "replay.loops=$LOOPS" \
    --set run.log_max_bytes=4096 --set run.log_keep=3 "${SETS[@]}" > "$OUT/summary.txt" 2> "$OUT/stderr.txt" &
PID=$!
echo "t_s,rss_kb" > "$OUT/rss.csv"   # t_s: Unix time, s
while kill -0 $PID 2>/dev/null; do
  rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$PID/status 2>/dev/null || true)
  [ -n "$rss" ] && echo "$EPOCHREALTIME,$rss" >> "$OUT/rss.csv"
  sleep 0.2
done
rc=0; wait $PID || rc=$?
end=$EPOCHREALTIME
if [ "$rc" != 0 ]; then
  cat "$OUT/stderr.txt" >&2
  echo "soak: the run failed (exit $rc)" >&2
  exit 1
fi

python3 - "$OUT" "$HOURS" "$LOOPS" "$start" "$end" <<'PY'
import csv, json, os, statistics, sys
out, hours, loops = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
start, wall = float(sys.argv[4]), float(sys.argv[5]) - float(sys.argv[4])
run = os.path.join(out, "run")
r = json.load(open(os.path.join(run, "report.json")))
bad = []
files = r["data"]["files"]
data_ns = max(f["last_ns"] for f in files) - min(f["first_ns"] for f in files if f["lines"])
data_h = data_ns / 3.6e12
lines = sum(f["lines"] for f in files)
msgs = sum(v["messages"] for v in r["venues"].values())
loops_rep = r["data"].get("loops") or {"passes_played": 1}
if loops > 1 and loops_rep["passes_played"] != loops:
    bad.append(f"passes played {loops_rep['passes_played']} of {loops}")
if data_h < hours * 0.999:
    bad.append(f"data time {data_h:.3f} h < {hours} h")
if msgs != lines:
    bad.append(f"messages per venue sum to {msgs}, lines read {lines}")
t = r["trades"]
if t["attempted"] != t["filled"] + t["partial"] + t["one_leg"] + t["missed"]:
    bad.append(f"trades attempted {t['attempted']} != filled + partial + one-leg + missed")
def nlines(name):
    p = os.path.join(run, name)
    return sum(1 for _ in open(p)) if os.path.exists(p) else 0
if r["signals"]["total"] != nlines("signals.jsonl"):
    bad.append(f"signals total {r['signals']['total']} != signals.jsonl lines {nlines('signals.jsonl')}")
if t["attempted"] != nlines("trades.jsonl"):
    bad.append(f"trades attempted {t['attempted']} != trades.jsonl lines {nlines('trades.jsonl')}")
# latency: no stage at the 60 s ceiling of its histogram
lat = r["latency_ns"]
maxes = {k: v["max"] for k, v in lat.items() if isinstance(v, dict) and "max" in v and v.get("count")}
sat = [k for k, m in maxes.items() if m >= 59_000_000_000]
if sat:
    bad.append(f"latency histograms at their 60 s ceiling: {sat}")
# log rotation: 4 KB per file, 3 kept
logs = sorted(f for f in os.listdir(run) if f.startswith("arbot.log"))
log_bytes = sum(os.path.getsize(os.path.join(run, f)) for f in logs)
if "arbot.log.1" not in logs:
    bad.append(f"no arbot.log.1 (log rotation at 4 KB): {logs}")
if len(logs) > 4:
    bad.append(f"more log files than the 3 kept + the current one: {logs}")
if any(os.path.getsize(os.path.join(run, f)) > 4096 + 4096 for f in logs):
    bad.append(f"a log file past its 4 KB cap by more than a line: {logs}")
# memory
rows = [(float(a) - start, int(b)) for a, b in csv.reader(open(os.path.join(out, "rss.csv"))) if a != "t_s"]
rss = [b for _, b in rows]
growth, warm = None, None
after = [b for t, b in rows if t >= wall * min(1.0, 2.0 / hours)]
if len(after) >= 20:
    k = max(1, len(after) // 10)
    warm = statistics.median(after[:k])
    late = statistics.median(after[-k:])
    growth = (late - warm) / warm * 100
    if hours >= 4 and growth >= 5.0:
        bad.append(f"RSS grew {growth:.1f} % after warm-up ({warm:.0f} kB → {late:.0f} kB)")
elif hours >= 4:
    bad.append(f"only {len(after)} RSS samples after warm-up: the run was too short to judge")
summary = {
    "config": r["config"],
    "data_hours": round(data_h, 3),
    "passes": loops_rep["passes_played"],
    "messages": msgs,
    "wall_s": round(wall, 1),
    "msgs_per_s": round(msgs / wall),
    "rss_kb": {"first": rss[0] if rss else None, "after_warm_up": warm, "end_of_run": late if growth is not None else None,
               "last": rss[-1] if rss else None, "max": max(rss) if rss else None, "samples": len(rss)},
    "rss_growth_after_warm_up_pct": None if growth is None else round(growth, 2),
    "rss_gated": hours >= 4,
    "latency_max_ns": maxes,
    "log_files": logs,
    "log_bytes": log_bytes,
    "signals": r["signals"]["total"],
    "trades": {k: t[k] for k in ("attempted", "filled", "partial", "one_leg", "missed")},
    "pnl_mark_to_market_usd": r["pnl"]["mark_to_market_usd"],
    "breaker_trips": r["risk"]["limits"]["breaker"]["trips"],
    "refusals": {k: v["count"] for k, v in r["risk"]["limits"]["refusals"].items()},
    "checks_failed": bad,
}
json.dump(summary, open(os.path.join(out, "soak.json"), "w"), indent=1)
print(f"soak: {summary['data_hours']} h of data, {summary['passes']} passes, {msgs} messages in {wall:.1f} s wall ({summary['msgs_per_s']} msgs/s)")
s = summary["rss_kb"]
print(f"  RSS kB (medians): after warm-up {s['after_warm_up']}, last 10 % {s['end_of_run']}; first sample {s['first']}, max {s['max']} ({s['samples']} samples); growth after warm-up {summary['rss_growth_after_warm_up_pct']} %" + ("" if hours >= 4 else " (not gated under 4 h)"))
print(f"  latency max (ns): " + ", ".join(f"{k} {v}" for k, v in sorted(maxes.items())))
print(f"  log: {len(logs)} files, {log_bytes} bytes; signals {summary['signals']}; trades {summary['trades']}; breaker trips {summary['breaker_trips']}; refusals {summary['refusals']}")
print(f"  PnL mark to market {summary['pnl_mark_to_market_usd']} USD")
if bad:
    print("soak: FAILED: " + "; ".join(bad))
    sys.exit(1)
print(f"soak: OK ({os.path.join(out, 'soak.json')})")
PY
