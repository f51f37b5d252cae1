using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// The guest resets the device in the middle of a session: removing the virtio driver (<c>rmmod</c>) resets the
/// virtio device, QEMU stops the vhost-user device (GET_VRING_BASE on every ring, same connection); loading it again
/// makes QEMU start it anew (SET_FEATURES, memory table, vrings from base 0). I/O before and after must hold.
/// </summary>
public sealed class DriverReloadGuestTests(ITestOutputHelper output)
{
    [GuestFact]
    public async Task BlkIo_SurvivesTheGuestReloadingVirtioBlk()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        long capacity = 64L << 20;
        string image = await bed.AddFileBackedBlkAsync("d0", capacity);
        string socket = bed.SocketOf("d0");

        var chunks = BlkPatterns.Plan(capacity, seed: 4);
        var before = chunks.Take(chunks.Count / 2).ToList();
        var after = chunks.Skip(chunks.Count / 2).ToList();
        string scenario = BlkPatterns.ProbeScript() + BlkPatterns.WriteScript(before) + """
            rmmod virtio_blk || echo "$R reload-failed op=rmmod"
            [ -b /dev/vda ] && echo "$R reload-failed op=still-there"
            insmod /lib/modules/virtio_blk.ko || echo "$R reload-failed op=insmod"
            i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            [ -b /dev/vda ] || echo "$R reload-failed op=no-disk-after-insmod"

            """ + BlkPatterns.WriteScript(after) + BlkPatterns.ReadScript(chunks) + "sync\n";

        GuestConsole console = await bed.BootAsync(new GuestInitramfs(bed.Kernel).AddPatterns(chunks), scenario,
            BlkGuestTests.BlkDeviceArguments(socket));
        string report = bed.LastReport();
        var reload = console.OfKind("reload-failed").ToList();
        Assert.True(reload.Count == 0, $"the driver reload failed in the guest: {string.Join("; ", reload)}\n{report}");
        BlkPatterns.VerifyConsole(console, capacity, chunks, report);
        await BlkPatterns.VerifyImageAsync(image, capacity, chunks, report);
    }

    [GuestFact]
    public async Task NetFrames_LoopBackBeforeAndAfterTheGuestReloadsVirtioNet()
    {
        const string mac = "02:75:76:64:70:62";
        const int frames = 60;
        using var bed = await GuestTestBed.StartAsync(output);
        await bed.VdpaAsync("dev", "add", "name", "n1", "mgmtdev", "vdpasim_net", "mac", mac);
        string socket = bed.SocketOf("n1");
        var initramfs = new GuestInitramfs(bed.Kernel).AddFile("bin/pktloop", await GuestHelpers.BuildAsync("pktloop"), executable: true);
        // Each round: IPv6 off, link up, frames, link down, then the netdev's counters (a reload starts them at 0).
        string round = $$"""
            if [ -d /sys/class/net/eth0 ]; then
              [ -e /proc/sys/net/ipv6/conf/eth0/disable_ipv6 ] && echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
              ip link set eth0 up
              /bin/pktloop eth0 {{frames}}
              ip link set eth0 down
              s=/sys/class/net/eth0/statistics
              echo "$R guest-stats tx_packets=$(cat $s/tx_packets) tx_bytes=$(cat $s/tx_bytes) rx_packets=$(cat $s/rx_packets) rx_bytes=$(cat $s/rx_bytes)"
            else
              echo "$R no-eth0"; ls /sys/class/net; dmesg | tail -20
            fi

            """;
        string scenario = $"R={GuestConsole.ResultPrefix}\n" + round + """
            rmmod virtio_net || echo "$R reload-failed op=rmmod"
            insmod /lib/modules/virtio_net.ko || echo "$R reload-failed op=insmod"

            """ + round;
        GuestConsole console = await bed.BootAsync(initramfs, scenario,
        [
            "-chardev", $"socket,id=vu0,path={socket}",
            "-netdev", "vhost-user,id=net0,chardev=vu0",
            "-device", $"virtio-net-pci,netdev=net0,mac={mac},vectors=0", // vectors=0: see NetGuestTests
        ]);

        string report = bed.LastReport();
        Assert.True(!console.OfKind("reload-failed").Any() && !console.OfKind("no-eth0").Any(), "the driver reload failed in the guest\n" + report);
        var loops = console.OfKind("pktloop").ToList();
        Assert.True(loops.Count == 2 && loops.All(l => l.Long("verified") == frames && l.Long("bad") == 0),
            $"frames did not all come back in both rounds: {string.Join("; ", loops)}\n{report}");
        var stats = console.OfKind("guest-stats").ToList();
        Assert.Equal(2, stats.Count);
        var counters = await bed.CountersAsync("n1");
        long guestTx = stats.Sum(g => g.Long("tx_packets")), guestRx = stats.Sum(g => g.Long("rx_packets"));
        string both = $"guest rounds: {string.Join("; ", stats)}; device rx: {string.Join(", ", counters[0])}; device tx: {string.Join(", ", counters[1])}\n{report}";
        Assert.True(counters[1]["tx packets"] == guestTx && counters[0]["rx packets"] == guestRx, "device and guest disagree over both rounds: " + both);
    }
}
