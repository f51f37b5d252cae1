using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// QEMU 7.2 (TCG) <c>virtio-net-pci</c> on <c>-netdev vhost-user</c> bound to a vdpasim_net device whose MAC is the
/// guest's: the guest's helper (helpers/pktloop.c) sends frames addressed to its own MAC through its virtio_net
/// driver; the simulator loops each back and the helper verifies it byte for byte. Then the guest's interface
/// counters (read after the link is down, so nothing else is sent) and the device's per-queue counters agree.
/// </summary>
public sealed class NetGuestTests(ITestOutputHelper output)
{
    private const string Mac = "02:75:76:64:70:61";
    private const int Frames = 200;

    /// <summary>
    /// The simulator counts the virtio-net header with each frame (vdpa_sim_net.c adds what it pulled from the
    /// descriptors); the guest's netdev counts the frame only. VERSION_1 without MRG_RXBUF: struct virtio_net_hdr_v1,
    /// 12 bytes (VIRTIO 1.3 §5.1.6).
    /// </summary>
    private const int VirtioNetHeaderBytes = 12;

    [GuestFact]
    public async Task GuestFrames_LoopBackThroughVdpasimNet_AndGuestAndDeviceCountersAgree()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        await bed.VdpaAsync("dev", "add", "name", "n0", "mgmtdev", "vdpasim_net", "mac", Mac);
        string socket = bed.SocketOf("n0");
        var initramfs = new GuestInitramfs(bed.Kernel).AddFile("bin/pktloop", await GuestHelpers.BuildAsync("pktloop"), executable: true);
        string scenario = $$"""
            R={{GuestConsole.ResultPrefix}}
            if [ -d /sys/class/net/eth0 ]; then
              echo "$R mac value=$(cat /sys/class/net/eth0/address)"
              # Nothing but the helper's frames: no IPv6 (router solicitations, DAD) and no IPv4 address (ARP).
              [ -e /proc/sys/net/ipv6/conf/eth0/disable_ipv6 ] && echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
              ip link set eth0 up
              /bin/pktloop eth0 {{Frames}}
              ip link set eth0 down
              s=/sys/class/net/eth0/statistics
              echo "$R guest-stats tx_packets=$(cat $s/tx_packets) tx_bytes=$(cat $s/tx_bytes) rx_packets=$(cat $s/rx_packets) rx_bytes=$(cat $s/rx_bytes) rx_dropped=$(cat $s/rx_dropped) tx_dropped=$(cat $s/tx_dropped)"
            else
              echo "$R no-eth0"; ls /sys/class/net; dmesg | tail -20
            fi
            """;
        GuestConsole console = await bed.BootAsync(initramfs, scenario,
        [
            "-chardev", $"socket,id=vu0,path={socket}",
            "-netdev", "vhost-user,id=net0,chardev=vu0",
            // vectors=0 (INTx): QEMU 7.2 under TCG segfaults in msix_set_vector_notifiers when a vhost-user net
            // device starts with MSI-X (shared/docs/BENCHMARKS.md "Pitfalls").
            "-device", $"virtio-net-pci,netdev=net0,mac={Mac},vectors=0",
        ]);

        string report = bed.LastReport();
        Assert.True(!console.OfKind("no-eth0").Any(), "the guest has no eth0\n" + report);
        Assert.True(console.OfKind("mac").Single()["value"] == Mac, $"the guest's MAC is not {Mac}\n{report}");
        GuestResult loop = console.OfKind("pktloop").SingleOrDefault() ?? throw new Xunit.Sdk.XunitException("pktloop printed no result\n" + report);
        Assert.True(loop.Long("sent") == Frames && loop.Long("verified") == Frames && loop.Long("bad") == 0 && loop.Long("timeouts") == 0,
            $"frames did not all come back intact: {loop}\n{report}");
        GuestResult g = console.OfKind("guest-stats").Single();

        var counters = await bed.CountersAsync("n0");
        var rx = counters[0];
        var tx = counters[1];
        string both = $"guest: {g}; device rx: {string.Join(", ", rx)}; device tx: {string.Join(", ", tx)}\n{report}";
        Assert.True(g.Long("tx_packets") >= Frames, "the guest counted fewer transmitted frames than it sent: " + both);
        Assert.True(tx["tx packets"] == g.Long("tx_packets"), "device and guest disagree on transmitted frames: " + both);
        Assert.True(rx["rx packets"] == g.Long("rx_packets"), "device and guest disagree on received frames: " + both);
        Assert.True(rx["rx packets"] == tx["tx packets"], "the loopback lost frames: " + both);
        Assert.True(tx["tx bytes"] == g.Long("tx_bytes") + VirtioNetHeaderBytes * g.Long("tx_packets"), "transmitted bytes disagree: " + both);
        Assert.True(rx["rx bytes"] == g.Long("rx_bytes") + VirtioNetHeaderBytes * g.Long("rx_packets"), "received bytes disagree: " + both);
        Assert.True(tx["tx errors"] == 0 && tx["tx drops"] == 0 && rx["rx errors"] == 0 && rx["rx drops"] == 0 && rx["rx overruns"] == 0,
            "the device counted errors or drops: " + both);
        Assert.True(g.Long("rx_dropped") == 0 && g.Long("tx_dropped") == 0, "the guest dropped frames: " + both);
    }
}
