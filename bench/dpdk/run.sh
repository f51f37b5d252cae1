#!/usr/bin/env bash
# bench/dpdk/run.sh — vhost-user-net packet rates: our vdpasim_net behind vdpad's vhost_vdpa driver next to DPDK's
# own vhost-user back-end (net_vhost), both driven by the same DPDK 22.11 testpmd net_virtio_user front-end, in one
# run (method: /work/shared/docs/BENCHMARKS.md; results: docs/PERFORMANCE.md).
#
#   bench/dpdk/run.sh                      # RUNS=5 SECONDS_PER_RUN=10 SIZES="64 1500"
#   RUNS=7 SIZES=64 bench/dpdk/run.sh
#   VDPAD_ARGS="..." bench/dpdk/run.sh     # extra vdpad arguments
#   DRIVER_OPTS="poll=1" bench/dpdk/run.sh # vhost_vdpa bind options for our device (driver-opt KEY=VALUE ...)
#
# Workloads, each for every frame size, RUNS times, interleaved (ours, DPDK, ours, DPDK, ...):
#   loop    front-end io + tx_first (one 32-frame burst circulates). Ours: vdpasim_net (a loopback) returns every
#           frame; DPDK: net_vhost in io mode sends back what it receives. Figure: front-end Rx-pps.
#   intake  front-end txonly. DPDK: net_vhost in rxonly mode; ours: the loopback (its RX ring fills and every later
#           frame is an overrun, the device only takes frames). Figure: front-end Tx-pps (= what the back-end took).
# Frames go to the device's MAC (--eth-peer), or the simulator's receive filter would drop them.
# Pinning (2 cores): the front-end's lcores on CPU 0; DPDK's back-end lcores on CPU 1; vdpad (all threads) on CPU 1.
# A run's figure is the mean of SECONDS_PER_RUN of testpmd's per-second "Throughput" lines after WARMUP seconds (a run
# that printed fewer counts as failed: "nan", left out); each cell prints min / median / max over the RUNS runs, the
# ratio ours/DPDK of the medians, and min / median / max of the per-run ratios (ours and DPDK measured back to back:
# this machine's speed moves by 2x over minutes, for both alike). Raw logs stay in $OUT.
set -euo pipefail

RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
WARMUP=${WARMUP:-3}
SIZES=${SIZES:-"64 1500"}
WORKLOADS=${WORKLOADS:-"loop intake"}
VDPAD_ARGS=${VDPAD_ARGS:-}
DRIVER_OPTS=${DRIVER_OPTS:-}
FE_CPU=${FE_CPU:-0}
BE_CPU=${BE_CPU:-1}
MAC=02:00:00:00:be:01

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
OUT=${OUT:-$(mktemp -d /tmp/uvdpa-dpdk-bench.XXXXXX)}
mkdir -p "$OUT"
work="$(mktemp -d /tmp/uvdpa-dpdk-run.XXXXXX)"
export UVDPA_SOCKET="$work/vdpad.sock"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
vdpad_dll="$repo/src/Vdpa.Daemon/bin/Release/net10.0/vdpad.dll"
vdpa_dll="$repo/src/Vdpa.Cli/bin/Release/net10.0/vdpa.dll"
testpmd=$(command -v dpdk-testpmd || true)
fe_prefix=uvdpa-bench-fe
be_prefix=uvdpa-bench-be
vdpad_pid=""
be_pid=""

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

cleanup() {
  [[ -n "$be_pid" ]] && kill -INT "$be_pid" 2>/dev/null && wait "$be_pid" 2>/dev/null || true
  [[ -n "$vdpad_pid" ]] && kill -TERM "$vdpad_pid" 2>/dev/null && wait "$vdpad_pid" 2>/dev/null || true
  rm -f /dev/hugepages/${fe_prefix}* /dev/hugepages/${be_prefix}*
  rm -rf "/var/run/dpdk/$fe_prefix" "/var/run/dpdk/$be_prefix" "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------------ set-up
[[ $EUID -eq 0 ]] || die "needs root (hugepages, testpmd)"
[[ -n "$testpmd" ]] || die "dpdk-testpmd is not installed (apt-get install dpdk)"
free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if (( free_pages < 600 )); then
  echo $(( $(cat /proc/sys/vm/nr_hugepages) + 600 - free_pages )) > /proc/sys/vm/nr_hugepages
fi
grep -qs ' hugetlbfs ' /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
rm -f /dev/hugepages/${fe_prefix}* /dev/hugepages/${be_prefix}*   # leftovers of killed runs

say "building vdpad and vdpa (Release)"
dotnet build "$repo/src/Vdpa.Daemon" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || die "vdpad build failed"
dotnet build "$repo/src/Vdpa.Cli" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || die "vdpa build failed"

say "starting vdpad on CPU $BE_CPU"
# shellcheck disable=SC2086
taskset -c "$BE_CPU" dotnet "$vdpad_dll" --socket "$UVDPA_SOCKET" --mgmtdev vdpasim_net --drivers vhost_vdpa \
  --vhost-user-dir "$work/vu" $VDPAD_ARGS >"$OUT/vdpad.log" 2>&1 &
vdpad_pid=$!
for _ in $(seq 600); do [[ -S "$UVDPA_SOCKET" ]] && break; sleep 0.1; done
[[ -S "$UVDPA_SOCKET" ]] || { cat "$OUT/vdpad.log" >&2; die "vdpad did not start"; }
opts=()
for o in $DRIVER_OPTS; do opts+=(driver-opt "$o"); done
dotnet "$vdpa_dll" uvdpa dev add name bench0 mgmtdev vdpasim_net mac "$MAC" driver vhost_vdpa "${opts[@]}" \
  || die "cannot add the device"
ours_sock="$work/vu/bench0.sock"
[[ -S "$ours_sock" ]] || die "no socket at $ours_sock"

# ------------------------------------------------------------------------------------------------ runs
# mean of the per-second Rx-pps (or Tx-pps) lines WARMUP+1 .. WARMUP+SECONDS_PER_RUN (the first line is testpmd's
# zero before forwarding starts)
rate() { # file Rx|Tx
  awk -v key="$2-pps:" -v skip="$((WARMUP + 1))" -v n="$SECONDS_PER_RUN" '$1 == key { v[c++] = $2 } END {
      s = 0; k = 0; for (i = skip; i < skip + n && i < c; i++) { s += v[i]; k++ }
      if (k < n) print "nan"; else printf "%.0f\n", s / k }' "$1"
}

frontend() { # socket mode size log
  local extra=() pid deadline
  [[ "$2" == io ]] && extra=(--tx-first)
  "$testpmd" --lcores "0@$FE_CPU,1@$FE_CPU" --no-pci --file-prefix=$fe_prefix \
    --single-file-segments -m 512 --vdev "net_virtio_user0,path=$1,queues=1,queue_size=256" -- \
    --total-num-mbufs=16384 --nb-cores=1 --forward-mode="$2" --eth-peer=0,$MAC --txpkts="$3" \
    --stats-period 1 --auto-start "${extra[@]}" >"$4" 2>&1 &
  pid=$!
  # Stop after enough stats periods (EAL start-up time varies a lot on a loaded machine), or after a deadline.
  deadline=$((SECONDS + 120 + WARMUP + SECONDS_PER_RUN))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
    (( $(grep -c 'Rx-pps:' "$4" || true) > WARMUP + SECONDS_PER_RUN + 1 )) && break
    sleep 0.2
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

dpdk_backend() { # mode log
  rm -f "$work/vhost.sock"
  "$testpmd" --lcores "0@$BE_CPU,1@$BE_CPU" --no-pci --file-prefix=$be_prefix --single-file-segments -m 512 \
    --vdev "net_vhost0,iface=$work/vhost.sock,queues=1" -- --total-num-mbufs=16384 --nb-cores=1 \
    --forward-mode="$1" --stats-period 1 --auto-start >"$2" 2>&1 &
  be_pid=$!
  for _ in $(seq 600); do [[ -S "$work/vhost.sock" ]] && return 0; sleep 0.1; done
  cat "$2" >&2; die "DPDK's back-end did not create its socket"
}

stop_backend() {
  kill -INT "$be_pid" 2>/dev/null || true
  wait "$be_pid" 2>/dev/null || true
  be_pid=""
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A samples ratios
for run in $(seq "$RUNS"); do
  for size in $SIZES; do
    for w in $WORKLOADS; do
      if [[ $w == loop ]]; then fe_mode=io; be_mode=io; key=Rx; else fe_mode=txonly; be_mode=rxonly; key=Tx; fi
      log="$OUT/ours-$w-$size-$run.log"
      frontend "$ours_sock" "$fe_mode" "$size" "$log"
      r=$(rate "$log" $key); samples[ours,$w,$size]+="$r "
      log="$OUT/dpdk-$w-$size-$run.log"
      dpdk_backend "$be_mode" "$OUT/dpdk-be-$w-$size-$run.log"
      frontend "$work/vhost.sock" "$fe_mode" "$size" "$log"
      stop_backend
      d=$(rate "$log" $key); samples[dpdk,$w,$size]+="$d "
      ratios[$w,$size]+="$(awk -v a="$r" -v b="$d" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.4f", a / b }') "
      say "run $run size $size $w: ours $r pps, DPDK $d pps"
    done
  done
done

# ------------------------------------------------------------------------------------------------ report
stats() { tr ' ' '\n' | grep -v '^$' | grep -v nan | sort -n | awk '{ v[n++] = $1 } END { printf "%d %d %d\n", v[0], v[int((n-1)/2)], v[n-1] }'; }
fstats() { tr ' ' '\n' | grep -v '^$' | grep -v nan | sort -g | awk '{ v[n++] = $1 } END { printf "%s %s %s\n", v[0], v[int((n-1)/2)], v[n-1] }'; }
echo
echo "machine: $(nproc) CPUs, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//'); commit $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo -dirty)"
echo "load average (1/5/15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (busy pollers need idle CPUs: compare only runs on a quiet machine)"
echo "runs $RUNS x ${SECONDS_PER_RUN}s (mean after ${WARMUP}s warm-up); vdpad args: ${VDPAD_ARGS:-none}; driver opts: ${DRIVER_OPTS:-none}"
printf '| workload | frame | ours Mpps min / median / max | DPDK net_vhost Mpps min / median / max | ours/DPDK (medians) | ours/DPDK per run min / median / max |\n'
printf '|---|---|---|---|---|---|\n'
for w in $WORKLOADS; do
  for size in $SIZES; do
    read -r omin omed omax < <(echo "${samples[ours,$w,$size]}" | stats)
    read -r dmin dmed dmax < <(echo "${samples[dpdk,$w,$size]}" | stats)
    read -r rmin rmed rmax < <(echo "${ratios[$w,$size]}" | fstats)
    awk -v w="$w" -v s="$size" -v a="$omin" -v b="$omed" -v c="$omax" -v d="$dmin" -v e="$dmed" -v f="$dmax" \
      -v g="${rmin:-0}" -v h="${rmed:-0}" -v i="${rmax:-0}" 'BEGIN {
      printf "| %s | %d B | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.2f | %.2f / %.2f / %.2f |\n", w, s, a/1e6, b/1e6, c/1e6, d/1e6, e/1e6, f/1e6, (e > 0 ? b/e : 0), g, h, i }'
  done
done
echo
echo "raw logs: $OUT"
