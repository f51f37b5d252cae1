using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.BlkRequests;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>vdpasim_blk on a raw image file (uvdpa extension): persistence, capacity, FLUSH durability ordering.</summary>
public sealed class BlkFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("uvdpa-blk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Image(long size)
    {
        var path = Path.Combine(_dir, $"img-{Guid.NewGuid():N}.raw");
        using var f = File.Create(path);
        f.SetLength(size);
        return path;
    }

    private static DeviceConfigRequest WithFile(string path)
        => new() { Options = new Dictionary<string, string> { [VdpaSimBlkManagementDevice.FileOption] = path } };

    private static (VdpaBus Bus, VdpaSimBlkManagementDevice Mgmt) Mgmt()
    {
        var bus = new VdpaBus();
        var m = new VdpaSimBlkManagementDevice();
        bus.RegisterManagementDevice(m);
        return (bus, m);
    }

    [Fact]
    public void Data_SurvivesDeletingAndRecreatingTheDevice()
    {
        var path = Image(1 << 20);
        var (bus, m) = Mgmt();
        var data = Pattern(4096, 11);
        using (var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path), name: "f1"))
        {
            Assert.Equal(0, h.Start(DriverFeatures));
            Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.Out, 2040, dataOut: data).Status);
            Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.Flush, 0, token: 2).Status);
        }
        Assert.Empty(bus.Devices);
        using (var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path), name: "f2"))
        {
            Assert.Equal(0, h.Start(DriverFeatures));
            var r = Submit(h, BlkRequestType.In, 2040, dataIn: 4096);
            Assert.Equal(BlkStatus.Ok, r.Status);
            Assert.Equal(data, h.Guest.Get(r.In, 4096));
        }
        // And it really is in the file, at sector * 512.
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(2040 * 512, 4096).ToArray());
    }

    [Fact]
    public void FileBackedDevice_OffersIndirectDescriptors_TheRamDeviceKeepsTheKernelSet()
    {
        var (bus, m) = Mgmt();
        var file = bus.AddDevice(m, "f1", WithFile(Image(1 << 20)));
        var ram = bus.AddDevice(m, "r1", new DeviceConfigRequest());
        Assert.Equal(VdpaSimBlkDevice.SupportedFeatureSet | (1UL << VirtioFeatures.RingIndirectDesc), file.Ops.GetDeviceFeatures());
        Assert.Equal(VdpaSimBlkDevice.SupportedFeatureSet, ram.Ops.GetDeviceFeatures());
        Assert.Equal(0UL, ram.Ops.GetDeviceFeatures() & (1UL << VirtioFeatures.RingIndirectDesc));
        bus.DeleteDevice("f1");
        bus.DeleteDevice("r1");
    }

    [Fact]
    public void Capacity_IsTheFileSizeRoundedDownToSectors()
    {
        var path = Image((1 << 20) + 300);
        var (bus, m) = Mgmt();
        using var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path));
        var c = new byte[8];
        h.Device.GetConfig(VirtioBlkConfig.CapacityOffset, c);
        Assert.Equal(2048ul, BinaryPrimitives.ReadUInt64LittleEndian(c));
        Assert.Equal(0, h.Start(DriverFeatures));
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.In, 2047, dataIn: 512).Status);
        Assert.Equal(BlkStatus.IoErr, Submit(h, BlkRequestType.In, 2048, dataIn: 512, token: 2).Status);
    }

    [Fact]
    public void MissingOrTooSmallImage_IsEinval_WithAMessage()
    {
        var (bus, m) = Mgmt();
        var missing = Assert.Throws<VdpaException>(() => bus.AddDevice(m, "x", WithFile(Path.Combine(_dir, "nope.raw"))));
        Assert.Equal(Errno.EINVAL, missing.Errno);
        Assert.Contains("does not exist", missing.Extack);
        var small = Assert.Throws<VdpaException>(() => bus.AddDevice(m, "x", WithFile(Image(511))));
        Assert.Equal(Errno.EINVAL, small.Errno);
        Assert.Contains("smaller than one 512-byte sector", small.Extack);
        Assert.Empty(bus.Devices);
    }

    [Fact]
    public void WriteZeroes_AndDiscard_OnTheImage()
    {
        var path = Image(1 << 20);
        var (bus, m) = Mgmt();
        using var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path));
        Assert.Equal(0, h.Start(DriverFeatures));
        var data = Pattern(64 * 1024, 12);
        Submit(h, BlkRequestType.Out, 0, dataOut: data, token: 1);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.WriteZeroes, 0, dataOut: Range(8, 8, 0), token: 2).Status);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.Discard, 0, dataOut: Range(32, 8, 0), token: 3).Status);
        var got = h.Guest.Get(Submit(h, BlkRequestType.In, 0, dataIn: data.Length, token: 4).In, data.Length);
        Assert.All(got.AsSpan(8 * 512, 8 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(data.AsSpan(0, 8 * 512).ToArray(), got.AsSpan(0, 8 * 512).ToArray());
        Assert.Equal(data.AsSpan(16 * 512, 16 * 512).ToArray(), got.AsSpan(16 * 512, 16 * 512).ToArray());
    }

    [Fact]
    public void Flush_CompletesStrictlyAfterTheSyncReturned()
    {
        var path = Image(1 << 20);
        var (bus, m) = Mgmt();
        using var entered = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim(false);
        int syncs = 0;
        m.DataSync = handle =>
        {
            Assert.False(handle.IsInvalid);
            entered.Release();
            release.Wait(SimHarness.Timeout);
            Interlocked.Increment(ref syncs);
        };
        using var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path));
        Assert.Equal(0, h.Start(DriverFeatures));
        Submit(h, BlkRequestType.Out, 0, dataOut: Pattern(512, 1), token: 1);
        Assert.Equal(0, Volatile.Read(ref syncs)); // OUT does not sync

        var status = Issue(h, BlkRequestType.Flush, 0, null, 0, token: 2, out _);
        Assert.True(entered.Wait(SimHarness.Timeout), "FLUSH did not reach the sync hook");
        // The device is inside fdatasync: nothing may be visible in the used ring yet.
        Assert.False(h.TryWaitUsed(0, TimeSpan.FromMilliseconds(100), out _, out _));
        Assert.Equal(0xEE, h.Guest.Get(status, 1)[0]);
        release.Set();
        Assert.Equal((2, 1u), h.WaitUsed(0));
        Assert.Equal(1, Volatile.Read(ref syncs));
        Assert.Equal((byte)BlkStatus.Ok, h.Guest.Get(status, 1)[0]);
    }

    [Fact]
    public void FailingSync_IsIoErr_AndTheDeviceCarriesOn()
    {
        var path = Image(1 << 20);
        var (bus, m) = Mgmt();
        m.DataSync = _ => throw new IOException("EIO");
        using var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path));
        Assert.Equal(0, h.Start(DriverFeatures));
        Assert.Equal(BlkStatus.IoErr, Submit(h, BlkRequestType.Flush, 0).Status);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.GetId, 0, dataIn: 20, token: 2).Status);
    }

    [Fact]
    public void DefaultSync_IsFdatasync_AndWorks()
    {
        var path = Image(1 << 20);
        var (bus, m) = Mgmt();
        using var h = SimHarness.Blk(mgmt: m, bus: bus, config: WithFile(path));
        Assert.Equal(0, h.Start(DriverFeatures));
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.Flush, 0).Status);
    }

}
