# Runs as root inside ../shared/vm (6.12 guest). Needs BIN (a folder with vdpad.dll and vdpa.dll) set before it.
# vdpad exposes a vdpasim_blk RAM disk and a file-backed disk (image in /mnt) as /dev/nbdN through our virtio_blk
# driver and NBD server; each gets ext4, files, fsck, a remount with checksums; deleting the devices and stopping
# vdpad must leave no configured nbd device. Every step is echoed; the first failure prints vdpad's log and exits 1.
set -u
SOCK=/run/uvdpa-nbd/vdpad.sock
export UVDPA_SOCKET=$SOCK DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
mkdir -p /run/uvdpa-nbd
IMG=/mnt/disk.img
VDPAD=

fail() {
    echo "FAIL: $*"
    echo "--- vdpad log ---"; cat /tmp/vdpad.log 2>/dev/null
    echo "--- dmesg (nbd) ---"; dmesg | grep -i nbd | tail -40
    [ -n "$VDPAD" ] && kill -TERM "$VDPAD" 2>/dev/null
    exit 1
}
run() { echo "+ $*"; "$@" || fail "exit $? from: $*"; }
cli() { echo "+ vdpa $*"; dotnet "$BIN/vdpa.dll" "$@" || fail "exit $? from: vdpa $*"; }

# Readiness: the management socket is listening (SOCK_SEQPACKET, __SO_ACCEPTCON in /proc/net/unix).
wait_listening() {
    i=0
    until awk -v p="$SOCK" '$4 == "00010000" && $8 == p { found = 1 } END { exit !found }' /proc/net/unix; do
        kill -0 "$VDPAD" 2>/dev/null || fail "vdpad exited before listening"
        i=$((i + 1)); [ $i -le 1800 ] || fail "vdpad not listening after 180 s"
        sleep 0.1
    done
}

# /sys state of nbdN: "connected" while the kernel holds a configuration (pid file present), else "free".
nbd_state() { if [ -e "/sys/block/$1/pid" ]; then echo connected; else echo "free size=$(cat /sys/block/$1/size)"; fi; }

exercise() { # NAME DEV
    name=$1 dev=$2 n=${2#/dev/}
    echo "== $name on $dev"
    [ "$(nbd_state "$n")" = connected ] || fail "$dev is not connected: $(nbd_state "$n")"
    echo "pid $(cat /sys/block/$n/pid) backend $(cat /sys/block/$n/backend 2>/dev/null) size $(blockdev --getsize64 "$dev") lbs $(blockdev --getss "$dev") wc $(cat /sys/block/$n/queue/write_cache) discard_max $(cat /sys/block/$n/queue/discard_max_bytes)"
    [ "$(cat /sys/block/$n/backend 2>/dev/null)" = "uvdpa:$name" ] || fail "$dev backend is not uvdpa:$name"
    run mkfs.ext4 -q -F "$dev"
    m=/tmp/m-$name; mkdir -p "$m"
    run mount "$dev" "$m"
    run dd if=/dev/urandom of="$m/random.bin" bs=1M count=6 status=none
    mkdir -p "$m/dir"
    for i in 1 2 3 4 5 6 7 8; do head -c $((i * 1537)) /dev/urandom > "$m/dir/f$i"; done
    echo "hello from $name" > "$m/hello.txt"
    (cd "$m" && sha256sum random.bin hello.txt dir/*) > "/tmp/sums-$name" || fail "sha256sum"
    run sync
    run umount "$m"
    run e2fsck -fn "$dev"
    run mount "$dev" "$m"
    (cd "$m" && sha256sum -c "/tmp/sums-$name") || fail "checksums differ after remount of $dev"
    run umount "$m"
}

dev_of() { # NAME: the /dev/nbdN exposure of NAME in /tmp/show.json
    python3 -c 'import json,sys; d=json.load(open("/tmp/show.json"))["dev"][sys.argv[1]]; print(next(e["location"] for e in d["exposures"] if e["kind"]=="blockdev"))' "$1"
}

run truncate -s 96M "$IMG"
dotnet "$BIN/vdpad.dll" --socket "$SOCK" --mgmtdev vdpasim_blk > /tmp/vdpad.log 2>&1 &
VDPAD=$!
wait_listening

cli uvdpa dev add name b0 mgmtdev vdpasim_blk driver virtio_vdpa driver-opt nbd=1
cli uvdpa dev add name f0 mgmtdev vdpasim_blk opt file="$IMG" driver virtio_vdpa driver-opt nbd-index=5
echo "+ vdpa -j uvdpa dev show"
dotnet "$BIN/vdpa.dll" -j uvdpa dev show > /tmp/show.json || fail "uvdpa dev show"
cat /tmp/show.json; echo
B0=$(dev_of b0) || fail "no blockdev exposure for b0"
F0=$(dev_of f0) || fail "no blockdev exposure for f0"
[ "$F0" = /dev/nbd5 ] || fail "f0 asked for nbd-index=5 but is exposed as $F0"
[ "$(blockdev --getsize64 "$B0")" = 134217728 ] || fail "$B0 is not 128 MiB"
[ "$(blockdev --getsize64 "$F0")" = 100663296 ] || fail "$F0 is not 96 MiB (the image)"

exercise b0 "$B0"
exercise f0 "$F0"
cp /tmp/sums-f0 /mnt/sums-f0

cli dev del b0
cli dev del f0
for d in "$B0" "$F0"; do
    s=$(nbd_state "${d#/dev/}"); echo "after dev del: $d $s"
    [ "$s" = "free size=0" ] || fail "$d still configured after its device was deleted: $s"
done

# The image alone: clean file system, same data (read with debugfs, no mount).
run e2fsck -fn "$IMG"
for f in random.bin hello.txt dir/f1 dir/f8; do
    want=$(grep " $f\$" /tmp/sums-f0 | cut -d' ' -f1)
    got=$(debugfs -R "cat /$f" "$IMG" 2>/dev/null | sha256sum | cut -d' ' -f1)
    echo "image $f $got"
    [ "$want" = "$got" ] || fail "image: $f has sha256 $got, expected $want"
done

# Deleting a device whose block device is still mounted: the device goes; the kernel keeps /dev/nbd6 configured
# until the last opener closes it, and vdpad says so in its log (after waiting up to 15 s for the release).
cli uvdpa dev add name m0 mgmtdev vdpasim_blk driver virtio_vdpa driver-opt nbd-index=6
run mkfs.ext4 -q -F /dev/nbd6
mkdir -p /tmp/m-m0
run mount /dev/nbd6 /tmp/m-m0
cli dev del m0
i=0; until grep -q "nbd m0: /dev/nbd6 was not released cleanly" /tmp/vdpad.log; do
    i=$((i + 1)); [ $i -le 100 ] || fail "vdpad did not log that the mounted /dev/nbd6 was not released"
    sleep 0.1
done
grep -A1 "nbd m0:" /tmp/vdpad.log
umount -l /tmp/m-m0 2>/dev/null

# Daemon stop tears down what is still exposed.
cli uvdpa dev add name b1 mgmtdev vdpasim_blk driver virtio_vdpa driver-opt nbd-index=7
[ "$(nbd_state nbd7)" = connected ] || fail "nbd7 not connected for b1"
run dd if=/dev/urandom of=/dev/nbd7 bs=64k count=4 oflag=direct status=none
echo "+ kill -TERM vdpad"
kill -TERM "$VDPAD"
i=0; while kill -0 "$VDPAD" 2>/dev/null; do i=$((i + 1)); [ $i -le 600 ] || fail "vdpad still running 60 s after SIGTERM"; sleep 0.1; done
wait "$VDPAD"; rc=$?
VDPAD=
echo "vdpad exited with $rc"
[ "$rc" = 0 ] || fail "vdpad exit status $rc"
s=$(nbd_state nbd7); echo "after vdpad stop: /dev/nbd7 $s"
[ "$s" = "free size=0" ] || fail "/dev/nbd7 still configured after vdpad stopped: $s"
echo "--- vdpad log ---"; cat /tmp/vdpad.log
echo "NBD-VM-SESSION-OK"
