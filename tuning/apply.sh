#!/usr/bin/env bash
# Apply the host tuning of tuning/README.md for one machine, described by its core map.
#
#   tuning/apply.sh [--dry-run] [--coremap tuning/coremaps/<machine>.toml] [--only ITEMS]
#   sudo tuning/apply.sh --apply --coremap tuning/coremaps/<machine>.toml
#
# --dry-run (the default) prints what would change and changes nothing. --apply needs root and
# writes the runtime settings (/proc, /sys, ethtool, irqbalance) plus the persistent ones
# (/etc/sysctl.d/99-arbot.conf, /etc/default/grub.d/99-arbot.cfg); kernel command-line
# settings (isolcpus, nohz_full, rcu_nocbs, C-state limits) take effect after a reboot.
# --root DIR runs against a copy of /proc, /sys and /etc under DIR (tests); commands such as
# systemctl, ethtool and update-grub are then only printed.
# ITEMS: cmdline,irq,irqbalance,governor,cstates,thp,hugepages,sysctl,nic (default: all).
# Check the result with `arbot tuning-check --coremap <same file>`.
set -uo pipefail

MODE=dry-run
MAP=""
ONLY=""
ROOT="/"
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) MODE=dry-run ;;
    --apply) MODE=apply ;;
    --coremap) MAP="${2:?--coremap needs a file}"; shift ;;
    --only) ONLY="${2:?--only needs a list}"; shift ;;
    --root) ROOT="${2:?--root needs a directory}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "apply.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
ROOT="${ROOT%/}/"
REAL=0; [[ "$ROOT" == "/" ]] && REAL=1
if [[ $MODE == apply && $REAL == 1 && $EUID -ne 0 ]]; then
  echo "apply.sh: --apply changes kernel settings and needs root (try the default --dry-run first)" >&2
  exit 1
fi
P() { echo "${ROOT}${1#/}"; }

# ---- core map (top-level `key = "value"` lines, before the first [section]) ----
get() {
  [[ -n "$MAP" ]] || return 0
  awk -v k="$1" '/^\[/ {exit}
    { line=$0; sub(/#.*/, "", line); n=index(line, "=");
      if (n == 0) next; key=substr(line, 1, n-1); gsub(/[ \t]/, "", key);
      if (key != k) next; v=substr(line, n+1); gsub(/^[ \t"]+|[ \t"]+$/, "", v); print v; exit }' "$MAP"
}
if [[ -n "$MAP" && ! -f "$MAP" ]]; then echo "apply.sh: core map $MAP not found" >&2; exit 2; fi
ISO="$(get isolated_cores)"
HK="$(get housekeeping_cores)"
NIC="$(get nic)"
NIC_IRQ="$(get nic_irq_cores)"
HUGE="$(get hugepages_2m)"; HUGE="${HUGE:-0}"
MACHINE="$(get machine)"

# ---- helpers ----
CHANGED=0; WOULD=0; OK=0; FAILED=0; SKIPPED=0
want() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }
say() { printf '%-15s %s\n' "[$1]" "$2"; }
ok() { OK=$((OK + 1)); say ok "$1"; }
skip() { SKIPPED=$((SKIPPED + 1)); say skip "$1"; }
# change FILE VALUE WHAT [CURRENT]: write VALUE into FILE unless it already holds it
change() {
  local f; f="$(P "$1")"; local v="$2" what="$3" cur="${4-}"
  if [[ -z "$cur" ]]; then cur="$(cat "$f" 2>/dev/null || echo '<missing>')"; fi
  if [[ "$cur" == "$v" ]]; then ok "$what: $1 = $v"; return 0; fi
  if [[ $MODE == dry-run ]]; then
    WOULD=$((WOULD + 1)); say "would change" "$what: $1: $cur → $v"
  elif { echo "$v" > "$f"; } 2>/dev/null; then
    CHANGED=$((CHANGED + 1)); say changed "$what: $1: $cur → $v"
  else
    FAILED=$((FAILED + 1)); say failed "$what: $1: could not write $v (kept $cur)"
  fi
}
# run_cmd WHAT CMD...: run a command on the real host in --apply mode; else print it
run_cmd() {
  local what="$1"; shift
  if [[ $MODE == apply && $REAL == 1 ]]; then
    if "$@" >/dev/null 2>&1; then CHANGED=$((CHANGED + 1)); say changed "$what: $*";
    else FAILED=$((FAILED + 1)); say failed "$what: $* (exit $?)"; fi
  else
    WOULD=$((WOULD + 1)); say "would run" "$what: $*"
  fi
}
# expand a CPU list (0-2,5) into words
cpus() {
  local part a b out=()
  IFS=',' read -ra parts <<< "$1"
  for part in "${parts[@]}"; do
    [[ -z "$part" ]] && continue
    if [[ "$part" == *-* ]]; then a="${part%-*}"; b="${part#*-}"; for ((i = a; i <= b; i++)); do out+=("$i"); done
    else out+=("$part"); fi
  done
  echo "${out[@]:-}"
}
# CPU list → hex mask as in /proc/irq/default_smp_affinity
mask() {
  local m=0 c; for c in $(cpus "$1"); do
    if ((c >= 63)); then echo ""; return; fi
    m=$((m | (1 << c))); done
  printf '%x' "$m"
}
selected() { sed -n 's/.*\[\([^]]*\)\].*/\1/p' "$(P "$1")" 2>/dev/null; }

echo "arbot host tuning — mode: $MODE — root: $ROOT — core map: ${MAP:-none}${MACHINE:+ ($MACHINE)}"
echo "isolated cores: ${ISO:-none}; housekeeping: ${HK:-all}; NIC: ${NIC:-default route}; NIC IRQ cores: ${NIC_IRQ:-housekeeping}"
[[ -z "$MAP" ]] && echo "(no core map: core isolation and IRQ steering are skipped; pass --coremap tuning/coremaps/<machine>.toml)"

# ---- 1. kernel command line ----
if want cmdline; then
  if [[ -z "$ISO" ]]; then
    skip "kernel command line: no isolated cores in the core map"
  else
    params=("isolcpus=managed_irq,domain,$ISO" "nohz_full=$ISO" "rcu_nocbs=$ISO" "rcu_nocb_poll"
            "intel_idle.max_cstate=1" "processor.max_cstate=1" "transparent_hugepage=never"
            "nosoftlockup" "nmi_watchdog=0" "tsc=reliable")
    [[ -n "$HK" ]] && params+=("irqaffinity=$HK")
    cur="$(cat "$(P /proc/cmdline)" 2>/dev/null || true)"
    missing=()
    for p in "${params[@]}"; do [[ " $cur " == *" $p "* ]] || missing+=("$p"); done
    if [[ ${#missing[@]} -eq 0 ]]; then
      ok "kernel command line has ${params[*]}"
    else
      cfg="$(P /etc/default/grub.d/99-arbot.cfg)"
      line="GRUB_CMDLINE_LINUX_DEFAULT=\"\$GRUB_CMDLINE_LINUX_DEFAULT ${params[*]}\""
      if [[ $MODE == dry-run ]]; then
        WOULD=$((WOULD + 1)); say "would change" "kernel command line: add ${missing[*]} (via /etc/default/grub.d/99-arbot.cfg, then update-grub and reboot)"
      elif [[ -d "$(dirname "$cfg")" ]] && printf '# written by arbot tuning/apply.sh\n%s\n' "$line" > "$cfg"; then
        CHANGED=$((CHANGED + 1)); say changed "kernel command line: wrote ${cfg#"$ROOT"} (reboot needed)"
        if command -v update-grub >/dev/null 2>&1; then run_cmd "grub" update-grub
        elif command -v grub2-mkconfig >/dev/null 2>&1; then run_cmd "grub" grub2-mkconfig -o /boot/grub2/grub.cfg
        else say note "no update-grub / grub2-mkconfig: regenerate the boot loader config by hand"; fi
      else
        FAILED=$((FAILED + 1)); say failed "kernel command line: no /etc/default/grub.d; add to GRUB_CMDLINE_LINUX_DEFAULT by hand: ${params[*]}"
      fi
    fi
  fi
fi

# ---- 2. IRQ affinity ----
if want irq; then
  if [[ -z "$HK" || -z "$ISO" ]]; then
    skip "IRQ affinity: the core map names no isolated/housekeeping cores"
  else
    m="$(mask "$HK")"
    [[ -n "$m" ]] && change /proc/irq/default_smp_affinity "$m" "default IRQ affinity" \
      "$(sed 's/^0*//; s/,//g' "$(P /proc/irq/default_smp_affinity)" 2>/dev/null || echo '<missing>')"
    for d in "$(P /proc/irq)"/[0-9]*; do
      [[ -f "$d/smp_affinity_list" ]] || continue
      n="${d##*/}"
      name="$(ls "$d" 2>/dev/null | grep -v -E '^(affinity_hint|effective_affinity|effective_affinity_list|node|smp_affinity|smp_affinity_list|spurious)$' | head -1)"
      target="$HK"
      if [[ -n "$NIC" && -n "$NIC_IRQ" && "$name" == "$NIC"* ]]; then target="$NIC_IRQ"; fi
      change "/proc/irq/$n/smp_affinity_list" "$target" "IRQ $n${name:+ ($name)}"
    done
  fi
fi

# ---- 3. irqbalance ----
if want irqbalance; then
  running=0
  for c in "$(P /proc)"/[0-9]*/comm; do [[ "$(cat "$c" 2>/dev/null)" == irqbalance ]] && running=1 && break; done
  if [[ $running == 0 ]]; then ok "irqbalance not running"
  else
    run_cmd "irqbalance (it would move IRQs back onto isolated cores)" systemctl stop irqbalance
    run_cmd "irqbalance" systemctl disable irqbalance
  fi
fi

# ---- 4. CPU frequency governor ----
if want governor; then
  found=0
  for g in "$(P /sys/devices/system/cpu)"/cpu[0-9]*/cpufreq/scaling_governor; do
    [[ -f "$g" ]] || continue; found=1
    change "${g#"${ROOT%/}"}" performance "governor"
  done
  [[ $found == 0 ]] && skip "governor: no cpufreq driver (VM, or firmware-controlled: set the BIOS power profile to maximum performance)"
fi

# ---- 5. C-states (runtime; the command line limits them at boot) ----
if want cstates; then
  targets="$(cpus "${ISO:-}")"
  if [[ -z "$targets" ]]; then
    targets=""; for c in "$(P /sys/devices/system/cpu)"/cpu[0-9]*; do targets+="${c##*cpu} "; done
  fi
  found=0; deep=0
  if grep -qw hypervisor "$(P /proc/cpuinfo)" 2>/dev/null; then
    skip "C-states: virtual machine (the guest's idle states are not the host's C-states)"
  else
    for c in $targets; do
      for s in "$(P "/sys/devices/system/cpu/cpu$c/cpuidle")"/state*; do
        [[ -f "$s/latency" && -f "$s/disable" ]] || continue; found=1
        lat="$(cat "$s/latency")"
        if ((lat > 2)); then deep=1; change "${s#"${ROOT%/}"}/disable" 1 "C-state $(cat "$s/name" 2>/dev/null) (exit ${lat} µs) on cpu$c"; fi
      done
    done
    if [[ $found == 0 ]]; then skip "C-states: no cpuidle states visible"
    elif [[ $deep == 0 ]]; then ok "C-states: no idle state deeper than 2 µs exit latency"; fi
  fi
fi

# ---- 6. transparent huge pages ----
if want thp; then
  for f in enabled defrag; do
    p="/sys/kernel/mm/transparent_hugepage/$f"
    if [[ -f "$(P "$p")" ]]; then change "$p" never "transparent huge pages $f" "$(selected "$p")"
    else skip "transparent huge pages: no $p"; fi
  done
fi

# ---- 7. explicit huge pages ----
if want hugepages; then
  if [[ "$HUGE" -gt 0 ]]; then change /proc/sys/vm/nr_hugepages "$HUGE" "explicit 2 MiB huge pages"
  else skip "explicit huge pages: hugepages_2m = 0 in the core map"; fi
fi

# ---- 8. sysctls ----
if want sysctl; then
  declare -A SYSCTL=(
    [net.core.busy_poll]=50 [net.core.busy_read]=50 [kernel.numa_balancing]=0
    [vm.stat_interval]=10 [kernel.nmi_watchdog]=0
  )
  persist=""
  for k in net.core.busy_poll net.core.busy_read kernel.numa_balancing vm.stat_interval kernel.nmi_watchdog; do
    f="/proc/sys/${k//./\/}"
    if [[ -f "$(P "$f")" ]]; then change "$f" "${SYSCTL[$k]}" "sysctl $k"; persist+="$k = ${SYSCTL[$k]}"$'\n'
    else skip "sysctl $k: not in this kernel"; fi
  done
  conf="$(P /etc/sysctl.d/99-arbot.conf)"
  body="# written by arbot tuning/apply.sh"$'\n'"$persist"
  if [[ -f "$conf" && "$(cat "$conf")"$'\n' == "$body" ]]; then ok "persistent sysctls: /etc/sysctl.d/99-arbot.conf"
  elif [[ $MODE == dry-run ]]; then WOULD=$((WOULD + 1)); say "would change" "persistent sysctls: write /etc/sysctl.d/99-arbot.conf"
  elif mkdir -p "$(dirname "$conf")" && printf '%s' "$body" > "$conf"; then CHANGED=$((CHANGED + 1)); say changed "persistent sysctls: /etc/sysctl.d/99-arbot.conf"
  else FAILED=$((FAILED + 1)); say failed "persistent sysctls: could not write /etc/sysctl.d/99-arbot.conf"; fi
fi

# ---- 9. NIC interrupt coalescing ----
if want nic; then
  nic="$NIC"
  if [[ -z "$nic" ]]; then nic="$(awk 'NR > 1 && $2 == "00000000" {print $1; exit}' "$(P /proc/net/route)" 2>/dev/null)"; fi
  if [[ -z "$nic" ]]; then skip "NIC coalescing: no NIC in the core map and no default route"
  elif ! command -v ethtool >/dev/null 2>&1; then skip "NIC coalescing: ethtool not installed (apt-get install ethtool); would run: ethtool -C $nic adaptive-rx off rx-usecs 0 rx-frames 1"
  else
    cur="$( [[ $REAL == 1 ]] && ethtool -c "$nic" 2>/dev/null | awk -F: '/^rx-usecs:/ {gsub(/ /, "", $2); print $2}')"
    if [[ "$cur" == 0 ]]; then ok "NIC coalescing: $nic rx-usecs 0"
    elif [[ $REAL == 1 && -z "$cur" ]]; then skip "NIC coalescing: $nic does not report coalescing (virtual NIC?)"
    else run_cmd "NIC coalescing on $nic (rx-usecs ${cur:-?} → 0)" ethtool -C "$nic" adaptive-rx off rx-usecs 0 rx-frames 1
    fi
  fi
fi

echo "summary: $OK already set, $WOULD would change, $CHANGED changed, $FAILED failed, $SKIPPED skipped (mode $MODE)"
[[ $MODE == apply && $FAILED -gt 0 ]] && exit 1
exit 0
