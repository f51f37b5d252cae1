using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Uvdpa.Conformance.Tests.Golden;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Conformance.Tests;

/// <summary>
/// What <c>vdpa mgmtdev/dev show</c>, <c>dev config show</c>, sysfs and the vhost-vdpa GET ioctls report on Linux 6.12
/// versus what our management devices, ops and virtio driver report for devices provisioned with the same command lines.
/// </summary>
public sealed partial class IdentityTests
{
    private static readonly GoldenTranscript NetGolden = GoldenTranscript.Load("sim-net.txt");
    private static readonly GoldenTranscript BlkGolden = GoldenTranscript.Load("sim-blk.txt");

    /// <summary>
    /// Feature bits the kernel's virtio_blk negotiates that our driver leaves out on purpose (its feature table is
    /// "virtio_blk's features[] minus MQ, zoned and secure erase"): MQ (12), ZONED (17), SECURE_ERASE (16).
    /// </summary>
    private static readonly ulong BlkDriverOmits =
        VirtioFeatures.Bit(BlkFeatures.Mq) | VirtioFeatures.Bit(BlkFeatures.Zoned) | VirtioFeatures.Bit(BlkFeatures.SecureErase);

    public static TheoryData<string, string> DevShowCases => new()
    {
        { "sim-net.txt", "vdpa -j dev show" },
        { "sim-net.txt", "vdpa -j dev show netv" },
        { "sim-blk.txt", "vdpa -j dev show blk0" },
    };

    [Theory]
    [MemberData(nameof(DevShowCases))]
    public void DevShow_MatchesKernel(string file, string command)
    {
        var golden = file == "sim-net.txt" ? NetGolden : BlkGolden;
        using var json = JsonDocument.Parse(golden.Command(command).Output);
        using var stack = new UvdpaStack();
        int compared = 0;
        foreach (var d in json.RootElement.GetProperty("dev").EnumerateObject())
        {
            var dev = stack.Add(golden, d.Name);
            var g = d.Value;
            Assert.Equal(Iproute2.DeviceType(g.GetProperty("type").GetString()!), (VirtioDeviceId)dev.DeviceId);
            Assert.Equal(g.GetProperty("mgmtdev").GetString(), dev.ManagementDevice!.Handle);
            Assert.Equal(g.GetProperty("vendor_id").GetUInt32(), dev.VendorId);
            Assert.Equal(g.GetProperty("max_vqs").GetInt32(), dev.NumVqs);
            Assert.Equal(g.GetProperty("max_vq_size").GetUInt16(), dev.Ops.GetVqNumMax());
            // The kernel sends VDPA_ATTR_DEV_MIN_VQ_SIZE only when the parent has get_vq_num_min.
            if (g.TryGetProperty("min_vq_size", out var min))
                Assert.Equal(min.GetUInt16(), dev.Ops.GetVqNumMin());
            else
                Assert.False(dev.Ops.Supports(VdpaOptionalOps.VqNumMin), $"{d.Name}: the kernel reports no min_vq_size, ours has get_vq_num_min");
            compared++;
        }
        Assert.True(compared > 0);
    }

    [Fact]
    public void MgmtdevShow_MatchesKernel()
    {
        using var json = JsonDocument.Parse(NetGolden.Command("vdpa -j mgmtdev show", first: true).Output);
        using var blkJson = JsonDocument.Parse(BlkGolden.Command("vdpa -j mgmtdev show vdpasim_blk").Output);
        using var stack = new UvdpaStack();
        var ours = stack.Bus.ManagementDevices.ToDictionary(m => m.Handle);
        var compared = new List<string>();
        foreach (var doc in new[] { json, blkJson })
        {
            foreach (var m in doc.RootElement.GetProperty("mgmtdev").EnumerateObject())
            {
                // vduse is a different parent (user-space devices), not part of uvdpa's simulator.
                if (!ours.TryGetValue(m.Name, out var mgmt)) continue;
                var classes = m.Value.GetProperty("supported_classes").EnumerateArray().Select(c => Iproute2.ClassName(c.GetString()!)).ToList();
                Assert.Equal(classes, mgmt.IdTable);
                Assert.Equal(m.Value.GetProperty("max_supported_vqs").GetUInt32(), mgmt.MaxSupportedVqs);
                ulong features = Iproute2.FeatureBits(m.Value.GetProperty("dev_features"), classes[0]);
                Assert.True(features == mgmt.SupportedFeatures,
                    $"{m.Name}: dev_features kernel 0x{features:x} ours 0x{mgmt.SupportedFeatures:x}");
                compared.Add(m.Name);
            }
        }
        Assert.Contains("vdpasim_net", compared);
        Assert.Contains("vdpasim_blk", compared);
    }

    [Fact]
    public void DevConfigShow_Net_MatchesKernel()
    {
        using var json = JsonDocument.Parse(NetGolden.Command("vdpa -j dev config show").Output);
        using var stack = new UvdpaStack();
        foreach (var d in json.RootElement.GetProperty("config").EnumerateObject())
        {
            var dev = stack.Add(NetGolden, d.Name);
            NetConfigView.AssertMatches(d.Value, dev);
        }
    }

    [Fact]
    public void DevConfigShow_Netv_OnVhostVdpa_MatchesKernel()
    {
        // netv was added, unbound from virtio_vdpa and bound to vhost_vdpa: no driver ever negotiated features.
        using var json = JsonDocument.Parse(NetGolden.Command("vdpa -j dev config show netv").Output);
        using var stack = new UvdpaStack();
        var dev = stack.Add(NetGolden, "netv");
        Assert.True(stack.Bus.Unbind("netv"));
        NetConfigView.AssertMatches(json.RootElement.GetProperty("config").GetProperty("netv"), dev);
    }

    public static TheoryData<string, string> VirtioDevices => new()
    {
        { "sim-net.txt", "net0" },
        { "sim-net.txt", "net1" },
        { "sim-blk.txt", "blk0" },
    };

    /// <summary>/sys/bus/virtio/devices/virtioN/{device,vendor,status,modalias,features} of the device virtio_vdpa created.</summary>
    [Theory]
    [MemberData(nameof(VirtioDevices))]
    public void VirtioSysfs_IdsAndStatus_MatchKernel(string file, string name)
    {
        var golden = file == "sim-net.txt" ? NetGolden : BlkGolden;
        string virtio = VirtioNameOf(golden, name);
        string dir = $"/sys/bus/virtio/devices/{virtio}";
        var ids = golden.Command($"cat {dir}/device {dir}/vendor {dir}/status {dir}/modalias").Stdout;

        using var stack = new UvdpaStack();
        var dev = stack.Add(golden, name);
        var v = VirtioVdpaDriver.GetVirtioDevice(dev) ?? throw new InvalidOperationException($"{name} is not bound to virtio_vdpa");
        Assert.Equal(Iproute2.Number(ids[0]), (ulong)v.DeviceId);
        Assert.Equal(Iproute2.Number(ids[1]), v.VendorId);
        Assert.Equal(Iproute2.Number(ids[2]), (ulong)v.Status);
        Assert.Equal(ids[3], $"virtio:d{(uint)v.DeviceId:x8}v{v.VendorId:x8}");
    }

    /// <summary>
    /// Negotiated features (the sysfs bit string) for net: the kernel's virtio_net takes 0x300830028, without ANY_LAYOUT.
    /// </summary>
    [Fact]
    public void NegotiatedFeatures_Net_MatchKernel()
    {
        foreach (string name in new[] { "net0", "net1" })
        {
            ulong kernel = Iproute2.SysfsFeatures(NetGolden.Command($"cat /sys/bus/virtio/devices/{VirtioNameOf(NetGolden, name)}/features").SingleLine);
            using var stack = new UvdpaStack();
            var v = VirtioVdpaDriver.GetVirtioDevice(stack.Add(NetGolden, name))!;
            Assert.True(kernel == v.NegotiatedFeatures, $"{name}: kernel negotiated 0x{kernel:x} ({FeatureNames.Describe(kernel, VirtioDeviceId.Net)}), " +
                $"ours 0x{v.NegotiatedFeatures:x} ({FeatureNames.Describe(v.NegotiatedFeatures, VirtioDeviceId.Net)})");
            // What the device reports as negotiated (get_driver_features, shown by dev config show) is the same set.
            Assert.Equal(kernel, v.VdpaDevice.Ops.GetDriverFeatures());
        }
    }

    /// <summary>
    /// Negotiated features for blk. The kernel's virtio_blk negotiates 0x300007646; ours must be the same except for the
    /// features our driver deliberately does not implement (<see cref="BlkDriverOmits"/>): today that is MQ (bit 12).
    /// </summary>
    [Fact]
    public void NegotiatedFeatures_Blk_MatchKernel_ExceptDeliberateOmissions()
    {
        ulong kernel = Iproute2.SysfsFeatures(BlkGolden.Command($"cat /sys/bus/virtio/devices/{VirtioNameOf(BlkGolden, "blk0")}/features").SingleLine);
        using var stack = new UvdpaStack();
        var v = VirtioVdpaDriver.GetVirtioDevice(stack.Add(BlkGolden, "blk0"))!;
        ulong ours = v.NegotiatedFeatures;
        Assert.True((ours & ~kernel) == 0, $"ours negotiates bits the kernel does not: 0x{ours & ~kernel:x}");
        Assert.True((kernel & ~ours & ~BlkDriverOmits) == 0,
            $"ours misses kernel-negotiated bits 0x{kernel & ~ours:x} (kernel 0x{kernel:x}, ours 0x{ours:x})");
        Assert.Equal(kernel & ~BlkDriverOmits, ours);
    }

    /// <summary>The netdev view virtio_net built: address, mtu (sysfs) and ring sizes (ethtool -g).</summary>
    [Theory]
    [InlineData("net0")]
    [InlineData("net1")]
    public void Netdev_AddressMtuAndRings_MatchKernel(string name)
    {
        string virtio = VirtioNameOf(NetGolden, name);
        string ifname = NetGolden.Command($"ls /sys/bus/virtio/devices/{virtio}/net/").SingleLine;
        var sysfs = NetGolden.Command(
            $"cat /sys/class/net/{ifname}/address /sys/class/net/{ifname}/mtu /sys/class/net/{ifname}/operstate " +
            $"/sys/class/net/{ifname}/carrier /sys/class/net/{ifname}/addr_assign_type /sys/class/net/{ifname}/type").Stdout;
        var rings = RingSizes(NetGolden.Command($"ethtool -g {ifname}").Stdout);

        using var stack = new UvdpaStack();
        var net = VirtioVdpaDriver.GetNetDevice(stack.Add(NetGolden, name))!;
        Assert.Equal(sysfs[0], Iproute2.Mac(net.MacAddress.GetAddressBytes()));
        Assert.Equal(int.Parse(sysfs[1], CultureInfo.InvariantCulture), net.Mtu);
        Assert.Equal(rings["RX"], net.RxBufferCount);
        Assert.Equal(rings["TX"], net.TxSlotCount);
    }

    /// <summary>The vhost-vdpa GET ioctls and the raw config space of a device bound to vhost_vdpa, against our ops.</summary>
    [Theory]
    [InlineData("sim-net.txt", "netv")]
    [InlineData("sim-blk.txt", "blkv")]
    public void VhostVdpaView_IdsFeaturesQueuesAndRawConfig_MatchKernel(string file, string name)
    {
        var golden = file == "sim-net.txt" ? NetGolden : BlkGolden;
        var vhost = VhostIoctls.Parse(golden.Commands.Single(c => c.Text.StartsWith("python3 /tmp/vhost.py", StringComparison.Ordinal)));
        using var stack = new UvdpaStack();
        var dev = stack.Add(golden, name);
        // As captured: echo NAME > /sys/bus/vdpa/drivers/virtio_vdpa/unbind, then vhost_vdpa (which sets nothing).
        Assert.Contains(golden.Commands, c => c.Text == $"echo {name} > /sys/bus/vdpa/drivers/virtio_vdpa/unbind");
        Assert.True(stack.Bus.Unbind(name));
        var ops = dev.Ops;

        Assert.Equal(vhost.Value("VHOST_VDPA_GET_DEVICE_ID"), (ulong)dev.DeviceId);
        ulong kernelFeatures = vhost.Value("VHOST_GET_FEATURES");
        Assert.True(kernelFeatures == ops.GetDeviceFeatures(), $"{name}: device features kernel 0x{kernelFeatures:x} ours 0x{ops.GetDeviceFeatures():x}");
        // vhost-vdpa ORs its own bits (IOTLB_MSG_V2, BATCH, ASID, SUSPEND, RESUME, PERSIST) into the parent's.
        ulong backend = ops.GetBackendFeatures();
        Assert.True((backend & ~vhost.Value("VHOST_GET_BACKEND_FEATURES")) == 0, $"{name}: backend features 0x{backend:x} not within the kernel's");
        Assert.Equal(vhost.Value("VHOST_VDPA_GET_STATUS"), (ulong)dev.GetStatus());
        Assert.Equal(vhost.Value("VHOST_VDPA_GET_VRING_NUM"), (ulong)ops.GetVqNumMax());
        Assert.Equal(vhost.Value("VHOST_VDPA_GET_VQS_COUNT"), (ulong)dev.NumVqs);
        var range = ops.GetIovaRange();
        Assert.Equal(vhost.Values("VHOST_VDPA_GET_IOVA_RANGE"), new[] { range.First, range.Last });
        for (int i = 0; i < dev.NumVqs; i++)
        {
            Assert.Equal(vhost.Values($"VHOST_VDPA_GET_VRING_GROUP[{i}]", afterOwner: true), new[] { (ulong)i, ops.GetVqGroup(i) });
            Assert.Equal(0, ops.GetVqState(i, out var state));
            Assert.Equal(vhost.Values($"VHOST_GET_VRING_BASE[{i}]", afterOwner: true), new[] { (ulong)i, state.AvailIndex });
            // ENOTSUP: the batch-mapping op table has no get_vq_size.
            Assert.Equal(vhost.Error($"VHOST_VDPA_GET_VRING_SIZE[{i}]", afterOwner: true) != 0, !ops.Supports(VdpaOptionalOps.VqSize));
        }
        Assert.Equal(vhost.Value("VHOST_VDPA_GET_CONFIG_SIZE"), (ulong)ops.GetConfigSize());
        var config = new byte[vhost.Config.Length];
        dev.GetConfig(0, config);
        Assert.Equal(Convert.ToHexString(vhost.Config), Convert.ToHexString(config));
    }

    /// <summary>The same raw config bytes through our virtio driver (virtio_vdpa bound) for a device provisioned alike.</summary>
    [Theory]
    [InlineData("sim-net.txt", "netv")]
    [InlineData("sim-blk.txt", "blkv")]
    public void RawConfig_ThroughOurDriver_MatchesKernel(string file, string name)
    {
        var golden = file == "sim-net.txt" ? NetGolden : BlkGolden;
        var vhost = VhostIoctls.Parse(golden.Commands.Single(c => c.Text.StartsWith("python3 /tmp/vhost.py", StringComparison.Ordinal)));
        using var stack = new UvdpaStack();
        var v = VirtioVdpaDriver.GetVirtioDevice(stack.Add(golden, name))!;
        Assert.Equal((int)vhost.Value("VHOST_VDPA_GET_CONFIG_SIZE"), v.ConfigSize);
        var config = new byte[vhost.Config.Length];
        v.ReadConfig(0, config);
        Assert.Equal(Convert.ToHexString(vhost.Config), Convert.ToHexString(config));
    }

    [Fact]
    public void Vstats_BeforeTraffic_AndOutOfRangeIndex_MatchKernel()
    {
        using var stack = new UvdpaStack();
        var devices = new Dictionary<string, VdpaDevice>();
        int compared = 0;
        foreach (var (c, m) in NetGolden.Matching(VstatsCommand()))
        {
            string name = m.Groups["dev"].Value;
            if (!devices.TryGetValue(name, out var dev)) devices[name] = dev = stack.Add(NetGolden, name);
            var reading = VstatsReading.FromGolden(c, m.Groups["json"].Success);
            var ours = VstatsReading.FromOps(dev, int.Parse(m.Groups["qidx"].Value, CultureInfo.InvariantCulture));
            reading.AssertSame(ours, c.ToString());
            compared++;
        }
        Assert.True(compared >= 8);
    }

    internal static string VirtioNameOf(GoldenTranscript golden, string name)
        => golden.Command($"ls /sys/bus/vdpa/devices/{name}/").Stdout.Single(l => l.StartsWith("virtio", StringComparison.Ordinal));

    private static Dictionary<string, int> RingSizes(IReadOnlyList<string> ethtool)
    {
        // "Current hardware settings:" section: "RX:\t\t256", "TX:\t\t256".
        int start = ethtool.ToList().FindIndex(l => l.StartsWith("Current hardware settings", StringComparison.Ordinal));
        var sizes = new Dictionary<string, int>();
        foreach (string line in ethtool.Skip(start + 1))
        {
            var parts = line.Split(':', 2);
            if (parts.Length == 2 && int.TryParse(parts[1].Trim(), CultureInfo.InvariantCulture, out int n)) sizes.TryAdd(parts[0].Trim(), n);
        }
        return sizes;
    }

    [GeneratedRegex(@"^vdpa (?<json>-j )?dev vstats show (?<dev>\S+) qidx (?<qidx>\d+)$")]
    internal static partial Regex VstatsCommand();
}
