#!/usr/bin/env bash
# The main job on a quiet machine and beside two CPU-bound processes, in one run.
#
#   bench/busy.sh [--runs N] [--config configs/replay.toml] [--hogs 2]
#
# For each thread mode (threaded: the live shape's threads and rings; single: the replay
# default) it times `arbot run --config <config> --fresh` N times quiet, then N times with
# <hogs> `yes > /dev/null` processes running, and prints the medians and the ratio busy/quiet
# (target: at most 3). The hogs are started and stopped by this script (their pids only).
# Uses the release binary in ${CARGO_TARGET_DIR:-target}/release (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
config=configs/replay.toml
hogs=2
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --config) config="$2"; shift 2 ;;
        --hogs) hogs="$2"; shift 2 ;;
        -h|--help) sed -n 2,11p "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bin="${CARGO_TARGET_DIR:-target}/release/arbot"
[ -x "$bin" ] || cargo build --release
out="$(mktemp -d)"
pids=()
stop_hogs() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_hogs; rm -rf "$out"' EXIT

# median wall seconds of $runs runs of the main job in mode $1
median_run() {
    local mode="$1" ts=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$bin" run --config "$config" --out "$out/$mode" --fresh --set "threads.mode=$mode" >/dev/null
        t1=$(date +%s.%N)
        ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')")
    done
    printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); config $config; $runs runs each, medians"
printf '%-10s %10s %10s %8s\n' mode quiet_s busy_s ratio
for mode in threaded single; do
    quiet=$(median_run "$mode")
    for _ in $(seq "$hogs"); do
        yes >/dev/null &
        pids+=($!)
    done
    sleep 0.5
    busy=$(median_run "$mode")
    stop_hogs
    ratio=$(awk -v a="$quiet" -v b="$busy" 'BEGIN {print b / a}')
    printf '%-10s %10s %10s %8.2f\n' "$mode" "$quiet" "$busy" "$ratio"
done
