#!/usr/bin/env bash
# bench/vhost-blk/run.sh — vhost-user-blk back-ends side by side, driven by the same front-end (our virtio_blk driver
# on the vhost-user front-end parent, bench/vhost-blk/Program.cs). Method: /work/shared/docs/BENCHMARKS.md.
#
#   bench/vhost-blk/run.sh                  # RUNS=5 SECONDS_PER=3 SIZE_MIB=1024
#   RUNS=7 SECONDS_PER=5 bench/vhost-blk/run.sh
#
# Like for like: both back-ends serve a raw image of the same size in tmpfs (/dev/shm), each its own file, filled
# with the same random data first:
#   (a) qemu-storage-daemon --blockdev driver=file (QEMU 7.2, libvhost-user, aio=threads, cache=writeback)
#   (b) our vdpad: vdpasim_blk with opt file=IMG, bound to vhost_vdpa (our vhost-user back-end)
#   (c) context only, no ratio: our vdpasim_blk RAM disk (sparse memory) — qsd has no RAM store that keeps data
#       (null-co discards writes), so there is no like-for-like peer for it.
# Each run starts fresh back-ends, then runs every workload against (a), (b), (c) in turn. Pinning: the back-end on
# CPU $BACKEND_CPU, the front-end (this client) on CPU $FRONTEND_CPU, so two busy processes never share a core.
# Output: every sample in $OUT/samples.txt, then a table: min / median / max per back-end and workload, and the
# ratio ours/qsd computed within each run (both measured minutes apart under the same load), min / median / max.
set -euo pipefail

RUNS=${RUNS:-5}
SECONDS_PER=${SECONDS_PER:-3}
WARMUP=${WARMUP:-1}
SIZE_MIB=${SIZE_MIB:-1024}
FRONTEND_CPU=${FRONTEND_CPU:-0}
BACKEND_CPU=${BACKEND_CPU:-1}
WORKLOADS=${WORKLOADS:-randread4k-qd1,randwrite4k-qd1,randread4k-qd32,randwrite4k-qd32,seqread128k-qd32,seqwrite128k-qd32}
RAM=${RAM:-1}

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
OUT=${OUT:-$(mktemp -d /tmp/uvdpa-vhost-blk-bench.XXXXXX)}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/uvdpa-vhost-blk.XXXXXX)
shm=$(mktemp -d /dev/shm/uvdpa-vhost-blk.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work" "$shm"
}
trap cleanup EXIT

command -v qemu-storage-daemon >/dev/null || { echo "qemu-storage-daemon is missing (apt-get install qemu-system-x86)"; exit 1; }
echo "building (Release) ..."
dotnet build "$repo/bench/vhost-blk" -c Release -nologo -v q -clp:ErrorsOnly
dotnet build "$repo/src/Vdpa.Daemon" -c Release -nologo -v q -clp:ErrorsOnly
dotnet build "$repo/src/Vdpa.Cli" -c Release -nologo -v q -clp:ErrorsOnly
client="$repo/bench/vhost-blk/bin/Release/net10.0/VhostBlkBench.dll"
vdpad="$repo/src/Vdpa.Daemon/bin/Release/net10.0/vdpad.dll"
vdpa="$repo/src/Vdpa.Cli/bin/Release/net10.0/vdpa.dll"

echo "images: 2 × $SIZE_MIB MiB in $shm (same random content)"
dd if=/dev/urandom of="$shm/qsd.img" bs=1M count="$SIZE_MIB" status=none
cp "$shm/qsd.img" "$shm/ours.img"

wait_for() { # wait_for PID DESCRIPTION TEST...
  local pid=$1 what=$2; shift 2
  for _ in $(seq 3000); do
    if "$@"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "$what exited before it was ready"; return 1; fi
    sleep 0.02 # polling interval; the loop ends on the first successful check
  done
  echo "$what was not ready after 60 s"; return 1
}

run_client() { # run_client LABEL SOCKET
  taskset -c "$FRONTEND_CPU" dotnet "$client" --socket "$2" --label "$1" --seconds "$SECONDS_PER" --warmup "$WARMUP" \
    --workloads "$WORKLOADS" 2>>"$OUT/client.log" | tee -a "$OUT/samples.txt"
}

for run in $(seq "$RUNS"); do
  echo "== run $run/$RUNS"
  echo "RUN $run" >> "$OUT/samples.txt"
  # (a) qemu-storage-daemon: ready when its pid file exists (written after the export, before accepting).
  rm -f "$work/qsd.pid" "$work/qsd.sock"
  taskset -c "$BACKEND_CPU" qemu-storage-daemon \
    --blockdev driver=file,node-name=f0,filename="$shm/qsd.img" \
    --export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path="$work/qsd.sock",writable=on \
    --pidfile "$work/qsd.pid" >>"$OUT/qsd.log" 2>&1 &
  qsd=$!; pids+=("$qsd")
  wait_for "$qsd" qemu-storage-daemon test -s "$work/qsd.pid" || { cat "$OUT/qsd.log"; exit 1; }
  run_client qsd "$work/qsd.sock"
  kill -TERM "$qsd"; wait "$qsd" || true

  # (b) and (c) our vdpad with vhost_vdpa: ready when it answers the CLI.
  rm -rf "$work/vu"; mkdir -p "$work/vu"
  taskset -c "$BACKEND_CPU" dotnet "$vdpad" --socket "$work/vdpad.sock" --mgmtdev vdpasim_blk --drivers vhost_vdpa \
    --vhost-user-dir "$work/vu" >>"$OUT/vdpad.log" 2>&1 &
  vd=$!; pids+=("$vd")
  export UVDPA_SOCKET="$work/vdpad.sock"
  wait_for "$vd" vdpad dotnet "$vdpa" mgmtdev show >/dev/null 2>&1 || { cat "$OUT/vdpad.log"; exit 1; }
  dotnet "$vdpa" uvdpa dev add name file0 mgmtdev vdpasim_blk opt file="$shm/ours.img"
  run_client ours-file "$work/vu/file0.sock"
  if [[ "$RAM" == 1 ]]; then
    dotnet "$vdpa" uvdpa dev add name ram0 mgmtdev vdpasim_blk
    run_client ours-ram "$work/vu/ram0.sock"
  fi
  kill -TERM "$vd"; wait "$vd" || true
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo ' (dirty)')"
echo "load average before the summary: $(cut -d" " -f1-3 /proc/loadavg)"
echo "runs: $RUNS × ${SECONDS_PER} s per workload (warm-up ${WARMUP} s), image ${SIZE_MIB} MiB in tmpfs, front-end CPU $FRONTEND_CPU, back-end CPU $BACKEND_CPU"
python3 - "$OUT/samples.txt" <<'PY'
import sys, statistics, collections
s = collections.defaultdict(list); alloc = collections.defaultdict(list); unit = {}
per_run = collections.defaultdict(dict)  # run -> (label, workload) -> value
run = 0
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 2 and p[0] == "RUN": run = int(p[1]); continue
    if len(p) < 7 or p[0] != "RESULT": continue
    v = float(p[3])
    s[(p[1], p[2])].append(v); unit[p[2]] = p[4]; alloc[(p[1], p[2])].append(float(p[6]))
    per_run[run][(p[1], p[2])] = v
workloads = list(dict.fromkeys(w for _, w in s))
def mmm(v, fmt="{:,.0f}"): return " / ".join(fmt.format(x) for x in (min(v), statistics.median(v), max(v))) if v else "-"
print("| workload | unit | qsd min / median / max | ours (file) min / median / max | ours/qsd per run: min / median / max | ours (RAM) median | B alloc/op (front-end, ours-file median) |")
print("|---|---|---|---|---|---|---|")
for w in workloads:
    q = s.get(("qsd", w), []); o = s.get(("ours-file", w), []); r = s.get(("ours-ram", w), [])
    ratios = [d[("ours-file", w)] / d[("qsd", w)] for d in per_run.values() if ("ours-file", w) in d and ("qsd", w) in d and d[("qsd", w)] > 0]
    a = alloc.get(("ours-file", w), [])
    print(f"| {w} | {unit[w]} | {mmm(q)} | {mmm(o)} | {mmm(ratios, '{:.2f}×')} | {statistics.median(r):,.0f} |" if r else f"| {w} | {unit[w]} | {mmm(q)} | {mmm(o)} | {mmm(ratios, '{:.2f}×')} | - |", f"{statistics.median(a):.1f} |" if a else "- |")
PY
echo "samples: $OUT/samples.txt (logs: $OUT/*.log)"
