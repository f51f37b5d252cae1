using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;
using Errno = Uvdpa.Vdpa.Core.Errno;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>The bus-driver wrapper: bind options, refusals, and (where the running kernel has nbd) a real /dev/nbdN.</summary>
public sealed class NbdVirtioDriverTests
{
    private sealed class Rig : IDisposable
    {
        public Rig()
        {
            Bus.RegisterManagementDevice(Net);
            Bus.RegisterManagementDevice(Blk);
            Bus.RegisterDriver(Driver);
        }

        public VdpaBus Bus { get; } = new();
        public VdpaSimNetManagementDevice Net { get; } = new();
        public VdpaSimBlkManagementDevice Blk { get; } = new();
        public NbdVirtioDriver Driver { get; } = new(new VirtioVdpaDriver());

        public VdpaDevice Add(Uvdpa.Vdpa.Core.VdpaManagementDevice m, string name, params (string Key, string Value)[] options)
            => Bus.AddDevice(m, name, new DeviceConfigRequest(), VirtioVdpaDriver.DriverName,
                new BindOptions(options.Select(o => new KeyValuePair<string, string>(o.Key, o.Value))));

        public void Dispose()
        {
            foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
        }
    }

    [Theory]
    [InlineData("nbd", "1", -1)]
    [InlineData("nbd", "true", -1)]
    [InlineData("nbd", "on", -1)]
    [InlineData("nbd", "0", null)]
    [InlineData("nbd", "off", null)]
    [InlineData("nbd-index", "0", 0)]
    [InlineData("nbd-index", "15", 15)]
    public void BindOptions_Parse(string key, string value, int? expected)
        => Assert.Equal(expected, NbdVirtioDriver.ParseOptions(new BindOptions([new(key, value)])));

    [Theory]
    [InlineData("nbd", "yes", "bad nbd 'yes' (expected 1 or 0)")]
    [InlineData("nbd-index", "-1", "bad nbd-index '-1' (expected a device index 0, 1, ...)")]
    [InlineData("nbd-index", "x", "bad nbd-index 'x' (expected a device index 0, 1, ...)")]
    [InlineData("nbd-index", "99999999999", "bad nbd-index '99999999999' (expected a device index 0, 1, ...)")]
    public void BadBindOptions_AreEinval(string key, string value, string message)
    {
        var e = Assert.Throws<VdpaException>(() => NbdVirtioDriver.ParseOptions(new BindOptions([new(key, value)])));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ContradictingOptions_AreEinval()
    {
        var e = Assert.Throws<VdpaException>(() => NbdVirtioDriver.ParseOptions(new BindOptions([new("nbd", "0"), new("nbd-index", "3")])));
        Assert.Equal("nbd=0 contradicts nbd-index=3", e.Message);
    }

    [Fact]
    public void WithoutNbdOptions_ItIsTheInnerDriver()
    {
        using var rig = new Rig();
        var dev = rig.Add(rig.Blk, "blk0");
        Assert.Same(rig.Driver, dev.Driver);
        Assert.Equal(VirtioVdpaDriver.DriverName, rig.Driver.Name);
        Assert.NotNull(VirtioVdpaDriver.GetBlkDevice(dev));
        Assert.DoesNotContain(dev.Exposures, e => e.Kind == NbdVirtioDriver.ExposureKind);
        Assert.Null(NbdVirtioDriver.GetExport(dev));
    }

    [Fact]
    public void NetDevice_WithNbd_IsRefused_AndLeftUnbound()
    {
        using var rig = new Rig();
        var dev = rig.Add(rig.Net, "net0", ("nbd", "1"));
        Assert.Null(dev.Driver);
        Assert.Empty(dev.Exposures);
        Assert.NotNull(dev.LastProbeError);
        Assert.Equal(Errno.EINVAL, dev.LastProbeError.Errno);
        Assert.Equal("virtio_vdpa: net0: nbd needs a block device", dev.LastProbeError.Message);
    }

    [NoKernelNbdFact]
    public void BlkDevice_WithNbd_OnAKernelWithoutNbd_FailsClearly_AndIsLeftUnbound()
    {
        using var rig = new Rig();
        var dev = rig.Add(rig.Blk, "blk0", ("nbd", "1"));
        Assert.Null(dev.Driver);
        Assert.Empty(dev.Exposures);
        Assert.NotNull(dev.LastProbeError);
        Assert.Equal(Errno.EOPNOTSUPP, dev.LastProbeError.Errno);
        Assert.Equal("virtio_vdpa: blk0: NBD: this kernel has no nbd driver (generic netlink family \"nbd\" not found; modprobe nbd)", dev.LastProbeError.Message);
        // The device is still usable: binding again without nbd works.
        rig.Bus.Rebind("blk0", VirtioVdpaDriver.DriverName, BindOptions.Empty);
        Assert.NotNull(VirtioVdpaDriver.GetBlkDevice(dev));
    }

    [KernelNbdFact]
    public async Task BlkDevice_WithNbd_IsADevNbdDevice_ThatReadsTheDevice_AndIsReleasedOnDelete()
    {
        using var rig = new Rig();
        var dev = rig.Add(rig.Blk, "nbdblk0", ("nbd", "1"));
        Assert.True(dev.Driver is not null, $"probe failed: {dev.LastProbeError?.Message}");
        var export = NbdVirtioDriver.GetExport(dev);
        Assert.NotNull(export);
        Assert.Contains(dev.Exposures, e => e.Kind == NbdVirtioDriver.ExposureKind && e.Location == export.DevicePath);
        string sys = $"/sys/block/nbd{export.Index}";
        Assert.True(File.Exists($"{sys}/pid"), $"{sys}/pid missing while connected");
        Assert.Equal((128L << 20) / 512, long.Parse(File.ReadAllText($"{sys}/size").Trim(), System.Globalization.CultureInfo.InvariantCulture));

        var blk = VirtioVdpaDriver.GetBlkDevice(dev)!;
        byte[] pattern = new byte[8192];
        new Random(5).NextBytes(pattern);
        await blk.WriteAsync(16, pattern);
        byte[] seen = new byte[8192];
        await using (var f = new FileStream(export.DevicePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            f.Position = 16 * 512;
            await f.ReadExactlyAsync(seen);
        }
        Assert.Equal(pattern, seen);

        rig.Bus.DeleteDevice("nbdblk0");
        Assert.Null(export.TeardownProblem);
        Assert.False(File.Exists($"{sys}/pid"), $"{sys}/pid still there after the device was deleted");
        Assert.Equal("0", File.ReadAllText($"{sys}/size").Trim());
    }
}

/// <summary>Whether the running kernel answers for the "nbd" generic netlink family (asked once).</summary>
internal static class KernelNbd
{
    public static readonly Lazy<string?> Missing = new(() =>
    {
        try
        {
            NbdKernelClient.Open().Dispose();
            return null;
        }
        catch (VdpaFamilyNotFoundException)
        {
            return "the running kernel has no nbd generic netlink family";
        }
        catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException)
        {
            return $"cannot ask the kernel for the nbd family: {e.Message}";
        }
    });
}

/// <summary>Runs where the kernel has nbd (and we are root); skipped with the reason otherwise.</summary>
internal sealed class KernelNbdFactAttribute : FactAttribute
{
    public KernelNbdFactAttribute()
    {
        if (KernelNbd.Missing.Value is string why) Skip = $"SKIPPED: {why} (the VM test covers nbd)";
    }
}

/// <summary>Runs where the kernel has no nbd (the error path); skipped where it has one.</summary>
internal sealed class NoKernelNbdFactAttribute : FactAttribute
{
    public NoKernelNbdFactAttribute()
    {
        if (KernelNbd.Missing.Value is null) Skip = "SKIPPED: this kernel has nbd (the real export test runs instead)";
        else if (!KernelNbd.Missing.Value.StartsWith("the running kernel has no nbd", StringComparison.Ordinal)) Skip = $"SKIPPED: {KernelNbd.Missing.Value}";
    }
}
