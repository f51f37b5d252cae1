using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver.Tests;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Tap.Tests;

/// <summary>
/// The TAP interface's carrier follows the device's link status (VIRTIO_NET_S_LINK_UP) across config-change
/// interrupts, as virtnet_config_changed_work's netif_carrier_on/off does. vdpasim_net's link is always up, so the
/// device here is the driver tests' recording parent with a status word the test flips.
/// </summary>
public sealed class CarrierTests
{
    private static ulong Bits(params int[] bits) => bits.Aggregate(0UL, (m, b) => m | (1UL << b));

    [Fact]
    public void Carrier_FollowsTheLinkStatus_OnConfigChange()
    {
        string ns = $"uvdpa-car{Environment.ProcessId}";
        string ifname = $"uvc{Environment.ProcessId % 1000000}";
        var ops = RecordingVdpaOps.Net(Bits(NetFeatures.Mac, NetFeatures.Status, NetFeatures.Mtu, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform),
            mac: [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30], status: VirtioNetConfig.StatusLinkUp);
        var bus = new VdpaBus();
        bus.RegisterDevice(new VdpaDevice("carrier0", ops, ops.NumVqs, null));
        bus.SetBindOptions("carrier0", new BindOptions([new(TapVirtioDriver.TapNameKey, ifname)]));
        bus.RegisterDriver(new TapVirtioDriver());
        bool nsCreated = false;
        try
        {
            var dev = bus.Devices.Single();
            Assert.True(dev.LastProbeError is null, $"probe failed: {dev.LastProbeError}");
            Assert.NotNull(TapVirtioDriver.GetBridge(dev));
            Shell.Check("ip", "netns", "add", ns);
            nsCreated = true;
            Shell.Check("ip", "link", "set", "dev", ifname, "netns", ns);
            Shell.Check("ip", "-n", ns, "link", "set", ifname, "up");
            WaitForCarrier(ns, ifname, up: true);

            SetStatus(ops, 0);
            WaitForCarrier(ns, ifname, up: false);

            SetStatus(ops, VirtioNetConfig.StatusLinkUp);
            WaitForCarrier(ns, ifname, up: true);
        }
        finally
        {
            foreach (var d in bus.Devices.ToList()) bus.UnregisterDevice(d);
            if (nsCreated) Shell.Run(TimeSpan.FromSeconds(30), "ip", "netns", "del", ns);
        }
    }

    private static void SetStatus(RecordingVdpaOps ops, ushort status)
    {
        BitConverter.TryWriteBytes(ops.Config.AsSpan(VirtioNetConfig.StatusOffset), status);
        ops.RaiseConfigChange();
    }

    // ip(8) prints NO-CARRIER among the flags and "state DOWN" without a carrier, LOWER_UP with one.
    private static void WaitForCarrier(string ns, string ifname, bool up)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        string text;
        while (true)
        {
            text = Shell.Check("ip", "-n", ns, "link", "show", ifname);
            bool hasCarrier = text.Contains("LOWER_UP", StringComparison.Ordinal) && !text.Contains("NO-CARRIER", StringComparison.Ordinal);
            if (hasCarrier == up) return;
            if (DateTime.UtcNow > deadline) break;
            Thread.Sleep(20);
        }
        Assert.Fail($"carrier should be {(up ? "on" : "off")}: {text}");
    }
}
