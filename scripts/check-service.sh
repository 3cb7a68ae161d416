#!/usr/bin/env bash
# Check the systemd unit scripts/arbot.service (R6.7): `systemd-analyze verify` (Debian's
# `systemd` package) on a copy whose ExecStart points at a built arbot binary (verify refuses a
# command that does not exist on this host), then the settings issue 12 asks for.
# Usage: scripts/check-service.sh [path/to/arbot]   (default: target/release/arbot)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/release/arbot}"
unit=scripts/arbot.service
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing: apt-get install systemd"; exit 1; }
test -x "$bin" || { echo "no arbot binary at $bin (cargo build --release)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/opt/arbot/bin/arbot #ExecStart=$(realpath "$bin") #" "$unit" > "$tmp/arbot.service"
grep -q "^ExecStart=$(realpath "$bin") " "$tmp/arbot.service" || { echo "ExecStart not found in $unit"; exit 1; }
out=$(systemd-analyze verify "$tmp/arbot.service" 2>&1 || true)
# verify also reports on units it pulls in from the host; only lines about arbot.service count
if echo "$out" | grep -q "arbot.service"; then
    echo "$out"
    echo "systemd-analyze verify: problems in $unit"
    exit 1
fi
for want in '^Restart=on-failure$' '^StartLimitBurst=[0-9]' '^StartLimitIntervalSec=[0-9]' \
    '^EnvironmentFile=' '^LimitMEMLOCK=' '^CPUAffinity=' '^NoNewPrivileges=yes$' \
    '^ProtectSystem=strict$' '^ReadWritePaths=/var/lib/arbot$' '^KillSignal=SIGTERM$' \
    '--out /var/lib/arbot/out'; do
    grep -qe "$want" "$unit" || { echo "$unit: no line matching $want"; exit 1; }
done
echo "scripts/arbot.service: systemd-analyze verify clean, required settings present"
