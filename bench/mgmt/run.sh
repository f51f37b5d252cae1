#!/usr/bin/env bash
# bench/mgmt/run.sh — management-plane benchmarks of vdpad (docs/PERFORMANCE.md, "Management plane (issue 3)").
#
#   bench/mgmt/run.sh            # RUNS=5 N=10000
#   RUNS=7 N=2000 bench/mgmt/run.sh
#
# What it measures, side by side in one run (docs: /work/shared/docs/BENCHMARKS.md):
#   (a) time to add N vdpasim_net devices to one vdpad through VdpaClient (one process, one connection, one
#       request at a time: bench/mgmt/MgmtBench), then a full DEV_GET dump of the N devices: through VdpaClient
#       (in process, no start-up), through our Native AOT CLI `vdpa -j dev show` / `vdpa dev show`, and through
#       the installed iproute2 6.1 `vdpa` redirected to vdpad by tests/Interop/netlink-redirect (LD_PRELOAD);
#       then the time to delete the N devices.
#   (b) vdpad's VmRSS and thread count (/proc/PID/status) and open fds with 0 and with N idle devices.
#   (c) wall time of single CLI commands against a vdpad holding net0: our AOT CLI, our JIT CLI
#       (dotnet vdpa.dll) and iproute2 6.1 redirected; ratio to iproute2.
# vdpad runs as configured by default (drivers: virtio_vdpa, so every net device is bound to the in-process
# virtio driver and allocates its DMA memory). Every figure: min / median / max over all samples of RUNS runs.
# Raw samples stay in $OUT (printed at the end).
set -euo pipefail

RUNS=${RUNS:-5}
N=${N:-10000}
CLI_RUNS=${CLI_RUNS:-30}     # hyperfine runs per CLI command and per outer run
DUMP_RUNS=${DUMP_RUNS:-10}   # hyperfine runs per CLI dump and per outer run
SETTLE=${SETTLE:-2}          # seconds an idle vdpad is left alone before its memory is read
VDPAD_ARGS=${VDPAD_ARGS:-}   # extra vdpad arguments, e.g. VDPAD_ARGS="--drivers ''" for unbound devices
SKIP_CLI=${SKIP_CLI:-0}      # 1: only (a) and (b)

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
OUT=${OUT:-$(mktemp -d /tmp/uvdpa-mgmt-bench.XXXXXX)}
mkdir -p "$OUT"
work="$(mktemp -d /tmp/uvdpa-mgmt-run.XXXXXX)"
sock="$work/vdpad.sock"
export UVDPA_SOCKET="$sock"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

vdpad_dll="$repo/src/Vdpa.Daemon/bin/Release/net10.0/vdpad.dll"
jit_dll="$repo/src/Vdpa.Cli/bin/Release/net10.0/vdpa.dll"
aot="$repo/src/Vdpa.Cli/bin/aot/vdpa"
bench_dll="$repo/bench/mgmt/MgmtBench/bin/Release/net10.0/mgmt-bench.dll"
shim="$work/netlink_redirect.so"
iproute2=/usr/sbin/vdpa

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------- build
say "building (Release): vdpad, vdpa (JIT), mgmt-bench; Native AOT vdpa if missing or stale; the shim"
dotnet build "$repo/src/Vdpa.Daemon" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || die "vdpad build failed"
dotnet build "$repo/src/Vdpa.Cli" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || die "vdpa build failed"
dotnet build "$repo/bench/mgmt/MgmtBench" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || die "mgmt-bench build failed"
if [[ ! -x "$aot" || -n "$(find "$repo/src/Vdpa.Cli" "$repo/src/Vdpa.Netlink" "$repo/src/Virtio.Platform.Linux" \( -name bin -o -name obj \) -prune -o \
        -type f \( -name '*.cs' -o -name '*.csproj' \) -newer "$aot" -print -quit)" ]]; then
  dotnet publish "$repo/src/Vdpa.Cli" -c Release -r linux-x64 -p:PublishAot=true -o "$repo/src/Vdpa.Cli/bin/aot" -nologo -v q \
    >/dev/null || die "Native AOT publish failed (needs clang zlib1g-dev)"
fi
cc -shared -fPIC -O2 -o "$shim" "$repo/tests/Interop/netlink-redirect/netlink_redirect.c" -ldl || die "cannot build the shim"
[[ -x "$iproute2" ]] || die "iproute2's vdpa is not installed at $iproute2"
if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >/dev/null 2>&1 || say "hyperfine not installable: timing with a date +%s%N loop"
fi

# ---------------------------------------------------------------------------------------------- helpers
vdpad_pid=
start_vdpad() {
  rm -f "$sock"
  eval "extra=($VDPAD_ARGS)"
  dotnet "$vdpad_dll" --socket "$sock" --mgmtdev vdpasim_net,vdpasim_blk "${extra[@]}" >"$work/vdpad.log" 2>&1 &
  vdpad_pid=$!
  local i
  for ((i = 0; i < 1200; i++)); do            # up to 60 s; ends at the first successful request
    "$aot" mgmtdev show >/dev/null 2>&1 && return 0
    kill -0 "$vdpad_pid" 2>/dev/null || { cat "$work/vdpad.log" >&2; die "vdpad exited"; }
    sleep 0.05
  done
  die "vdpad did not answer within 60 s"
}
stop_vdpad() {
  [[ -n "$vdpad_pid" ]] || return 0
  kill -TERM "$vdpad_pid" 2>/dev/null || true
  wait "$vdpad_pid" 2>/dev/null || true
  vdpad_pid=
}
cleanup() { stop_vdpad; rm -rf "$work"; }
trap cleanup EXIT

status() { # "rss_kib threads fds rss_anon_kib rss_shmem_kib"
  local fds
  fds=$(ls "/proc/$vdpad_pid/fd" | wc -l)
  awk -v fds="$fds" '/^VmRSS:/ {r=$2} /^Threads:/ {t=$2} /^RssAnon:/ {a=$2} /^RssShmem:/ {s=$2} END {print r, t, fds, a, s}' "/proc/$vdpad_pid/status"
}

# time_cmd NAME RUNS WARMUP CMD...: appends one wall time in ms per run to $OUT/NAME.ms
time_cmd() {
  local name=$1 runs=$2 warmup=$3; shift 3
  if command -v hyperfine >/dev/null; then
    hyperfine -N --style none --runs "$runs" --warmup "$warmup" --export-json "$work/hf.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
      || { "$@" >/dev/null; die "$name: the command failed"; }
    python3 -c 'import json,sys; [print("%.3f" % (t*1000)) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' "$work/hf.json" >>"$OUT/$name.ms"
  else
    local i t0 t1
    for ((i = 0; i < warmup; i++)); do "$@" >/dev/null 2>&1 || true; done
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
      echo "scale=3; ($t1 - $t0) / 1000000" | bc >>"$OUT/$name.ms"
    done
  fi
}
# The failing command exits 1 on purpose: hyperfine -i accepts it.
time_failing() {
  local name=$1 runs=$2 warmup=$3; shift 3
  if command -v hyperfine >/dev/null; then
    hyperfine -N -i --style none --runs "$runs" --warmup "$warmup" --export-json "$work/hf.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
    python3 -c 'import json,sys; [print("%.3f" % (t*1000)) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' "$work/hf.json" >>"$OUT/$name.ms"
  else
    time_cmd "$name" "$runs" "$warmup" "$@"
  fi
}

stats() { # min median max of a file of numbers
  sort -g "$1" | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.2f %.2f %.2f %d\n", v[1], m, v[NR], NR}'
}
median() { stats "$1" | awk '{print $2}'; }


# ---------------------------------------------------------------------------------------------- machine
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r)"
  echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted changes in src/)')"
  echo "dotnet: $(dotnet --version); iproute2: $("$iproute2" -V); ours: $("$aot" -V)"
  echo "hyperfine: $(command -v hyperfine >/dev/null && hyperfine --version || echo 'absent (date loop)')"
  echo "ulimit -n: $(ulimit -n); RUNS=$RUNS N=$N CLI_RUNS=$CLI_RUNS DUMP_RUNS=$DUMP_RUNS"
  echo "vdpad: dotnet $vdpad_dll --socket SOCK --mgmtdev vdpasim_net,vdpasim_blk ${VDPAD_ARGS:-(default drivers: virtio_vdpa)}"
} | tee "$OUT/machine.txt" >&2

# ---------------------------------------------------------------------------------------------- (a) + (b)
for ((r = 1; r <= RUNS; r++)); do
  say "run $r/$RUNS: fresh vdpad, add $N devices, dumps, idle memory, delete"
  start_vdpad
  sleep "$SETTLE"
  status >>"$OUT/idle0.txt"
  read -r rss0 thr0 fd0 _ < <(tail -1 "$OUT/idle0.txt")

  dotnet "$bench_dll" add "$sock" "$N" vdpasim_net n | tee -a "$OUT/add.txt" >&2

  sleep "$SETTLE"
  status >>"$OUT/idleN.txt"
  read -r rss1 thr1 fd1 _ < <(tail -1 "$OUT/idleN.txt")
  say "  idle: 0 devices ${rss0} KiB ${thr0} threads ${fd0} fds; $N devices ${rss1} KiB ${thr1} threads ${fd1} fds"

  # Client dump: 1 cold + 9 warm dumps on one connection (no process start-up).
  dotnet "$bench_dll" dump "$sock" 10 >"$work/dump.txt"
  awk 'NR == 1 {print $4 >> "'"$OUT/client-dump-cold.ms"'"} NR > 1 {print $4 >> "'"$OUT/client-dump-warm.ms"'"}' "$work/dump.txt"
  awk '{ if ($3 != '"$N"') { print "client dump saw " $3 " devices"; exit 1 } }' "$work/dump.txt"

  [[ "$("$aot" dev show | wc -l)" == "$N" ]] || die "our CLI did not print $N devices"
  [[ "$(env LD_PRELOAD="$shim" "$iproute2" dev show | wc -l)" == "$N" ]] || die "iproute2 did not print $N devices"
  time_cmd dump-aot-json "$DUMP_RUNS" 2 "$aot" -j dev show
  time_cmd dump-aot-text "$DUMP_RUNS" 2 "$aot" dev show
  time_cmd dump-jit-json "$DUMP_RUNS" 2 dotnet "$jit_dll" -j dev show
  time_cmd dump-iproute2-json "$DUMP_RUNS" 2 env LD_PRELOAD="$shim" "$iproute2" -j dev show
  time_cmd dump-iproute2-text "$DUMP_RUNS" 2 env LD_PRELOAD="$shim" "$iproute2" dev show

  dotnet "$bench_dll" del "$sock" "$N" n | tee -a "$OUT/del.txt" >&2
  stop_vdpad
done

# ---------------------------------------------------------------------------------------------- (c)
if [[ $SKIP_CLI != 1 ]]; then
say "CLI commands: vdpad with net0, $RUNS rounds of $CLI_RUNS runs per tool and command"
start_vdpad
"$aot" dev add name net0 mgmtdev vdpasim_net
for ((r = 1; r <= RUNS; r++)); do
  for tool in aot jit iproute2; do
    case $tool in
      aot) t=("$aot") ;;
      jit) t=(dotnet "$jit_dll") ;;
      iproute2) t=(env LD_PRELOAD="$shim" "$iproute2") ;;
    esac
    # Like for like: every tool runs under env (iproute2 needs it for LD_PRELOAD).
    [[ $tool == iproute2 ]] || t=(env "${t[@]}")
    time_cmd "cli-$tool-mgmtdev-show" "$CLI_RUNS" 3 "${t[@]}" mgmtdev show
    time_cmd "cli-$tool-dev-show-net0" "$CLI_RUNS" 3 "${t[@]}" dev show net0
    time_cmd "cli-$tool-json-config-show-net0" "$CLI_RUNS" 3 "${t[@]}" -j dev config show net0
    time_cmd "cli-$tool-vstats-net0-qidx1" "$CLI_RUNS" 3 "${t[@]}" dev vstats show net0 qidx 1
    time_failing "cli-$tool-dev-show-nosuch" "$CLI_RUNS" 3 "${t[@]}" dev show nosuch
  done
done
stop_vdpad
fi

# ---------------------------------------------------------------------------------------------- report
{
  echo
  echo "## results (min / median / max, samples)"
  awk '{print $3}' "$OUT/add.txt" >"$OUT/add-total.ms"
  awk '{print $4}' "$OUT/add.txt" >"$OUT/add-per.us"
  awk '{print $3}' "$OUT/del.txt" >"$OUT/del-total.ms"
  echo "add $N devices, total ms:          $(stats "$OUT/add-total.ms")"
  echo "add, µs per device:                $(stats "$OUT/add-per.us")"
  echo "delete $N devices, total ms:       $(stats "$OUT/del-total.ms")"
  for f in client-dump-cold client-dump-warm dump-aot-json dump-aot-text dump-jit-json dump-iproute2-json dump-iproute2-text; do
    printf '%-34s %s\n' "dump $N: $f ms:" "$(stats "$OUT/$f.ms")"
  done
  awk '{print $1}' "$OUT/idle0.txt" >"$OUT/rss0"; awk '{print $1}' "$OUT/idleN.txt" >"$OUT/rssN"
  awk '{print $2}' "$OUT/idle0.txt" >"$OUT/thr0"; awk '{print $2}' "$OUT/idleN.txt" >"$OUT/thrN"
  awk '{print $3}' "$OUT/idle0.txt" >"$OUT/fd0"; awk '{print $3}' "$OUT/idleN.txt" >"$OUT/fdN"
  paste "$OUT/rss0" "$OUT/rssN" | awk -v n="$N" '{print ($2 - $1) / n}' >"$OUT/rss-per-dev.kib"
  echo "vdpad VmRSS KiB, 0 devices:        $(stats "$OUT/rss0")"
  echo "vdpad VmRSS KiB, $N devices:    $(stats "$OUT/rssN")"
  echo "VmRSS KiB per idle device:         $(stats "$OUT/rss-per-dev.kib")"
  paste "$OUT/idle0.txt" "$OUT/idleN.txt" | awk -v n="$N" '{print ($9 - $4) / n}' >"$OUT/anon-per-dev.kib"
  paste "$OUT/idle0.txt" "$OUT/idleN.txt" | awk -v n="$N" '{print ($10 - $5) / n}' >"$OUT/shmem-per-dev.kib"
  echo "  of which RssAnon KiB per device:  $(stats "$OUT/anon-per-dev.kib")"
  echo "  of which RssShmem KiB per device: $(stats "$OUT/shmem-per-dev.kib")"
  echo "threads, 0 / $N devices:        $(stats "$OUT/thr0") / $(stats "$OUT/thrN")"
  echo "open fds, 0 / $N devices:       $(stats "$OUT/fd0") / $(stats "$OUT/fdN")"
  echo
  [[ $SKIP_CLI == 1 ]] || {
  echo "CLI wall time, ms (min / median / max, samples); ratio = median / iproute2 median"
  for c in mgmtdev-show dev-show-net0 json-config-show-net0 vstats-net0-qidx1 dev-show-nosuch; do
    base=$(median "$OUT/cli-iproute2-$c.ms")
    for tool in iproute2 aot jit; do
      m=$(median "$OUT/cli-$tool-$c.ms")
      printf '%-24s %-9s %-34s ratio %s\n' "$c" "$tool" "$(stats "$OUT/cli-$tool-$c.ms")" "$(echo "scale=2; $m / $base" | bc)"
    done
  done
  }
  echo
  echo "raw samples: $OUT"
} | tee "$OUT/summary.txt"
