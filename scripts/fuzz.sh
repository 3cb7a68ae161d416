#!/usr/bin/env bash
# Run every cargo-fuzz target in tests/fuzz for a number of executions or seconds each.
#
#   scripts/fuzz.sh [--runs N] [--seconds S] [--direct] [TARGET ...]
#
# Default: 1,000,000 executions per target, through cargo-fuzz (nightly toolchain, `cargo install
# cargo-fuzz` from crates.io, AddressSanitizer on). `--direct` (or no cargo-fuzz here) builds the
# same libFuzzer binaries with plain cargo and the coverage flags cargo-fuzz passes, without a
# sanitizer (stable toolchain; what CI runs: it saves installing cargo-fuzz, ~8 min there), and
# runs them. The seed corpora are cut from ../shared/data by scripts/fuzz-seeds.py when missing.
# Prints one line per target: executions, seconds, crashes (a crash stops that target; its input
# is in tests/fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000
secs=0
direct=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --seconds) secs="$2"; runs=0; shift 2 ;;
        --direct) direct=1; shift ;;
        -h|--help) sed -n 2,13p "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(md binance_orders replay_reader config binance_scan ws_frames)
if [ "$direct" = 0 ] && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz (nightly) not found: building the targets directly, no sanitizer" >&2
    direct=1
fi
for t in "${targets[@]}"; do
    [ -d "tests/fuzz/corpus/$t" ] || { python3 scripts/fuzz-seeds.py; break; }
done
# cargo-fuzz's own coverage flags (cargo-fuzz 0.13, `cargo fuzz build --sanitizer none`)
direct_dir="${CARGO_TARGET_DIR:-target}/fuzz-direct"
# an explicit --target keeps the flags off build scripts and proc macros (as cargo-fuzz does)
triple="$(rustc -vV | sed -n 's/^host: //p')"
if [ "$direct" = 1 ]; then
    RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions" \
        cargo build --manifest-path tests/fuzz/Cargo.toml --release --target "$triple" --target-dir "$direct_dir" \
        $(printf -- '--bin %s ' "${targets[@]}")
else
    for t in "${targets[@]}"; do cargo +nightly fuzz build --fuzz-dir tests/fuzz "$t"; done
fi
# glibc malloc: no heap trimming and no mmap for large blocks during the runs. Targets that build
# and drop large buffers every execution (replay_reader: readers, gzip state) otherwise spend
# much of their time in page faults re-zeroing returned memory (540 -> 1,333 executions/s here)
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=268435456:glibc.malloc.top_pad=67108864}"
status=0
for t in "${targets[@]}"; do
    mkdir -p "tests/fuzz/corpus/$t"
    log="tests/fuzz/artifacts/$t.log"
    mkdir -p tests/fuzz/artifacts
    args=(-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
    if [ "$secs" != 0 ]; then args+=(-max_total_time="$secs"); else args+=(-runs="$runs"); fi
    t0=$SECONDS
    if [ "$direct" = 1 ]; then
        run=("$direct_dir/$triple/release/$t" -artifact_prefix="tests/fuzz/artifacts/$t/" "tests/fuzz/corpus/$t" "${args[@]}")
        mkdir -p "tests/fuzz/artifacts/$t"
    else
        run=(cargo +nightly fuzz run --fuzz-dir tests/fuzz "$t" "tests/fuzz/corpus/$t" -- "${args[@]}")
    fi
    if "${run[@]}" >"$log" 2>&1; then
        res=ok
    else
        res="CRASH (see $log, tests/fuzz/artifacts/$t/)"
        status=1
    fi
    done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    echo "fuzz $t: ${done_runs:-?} executions in $((SECONDS - t0)) s: $res"
done
exit $status
