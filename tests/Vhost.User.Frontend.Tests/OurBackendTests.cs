using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vhost.User.Frontend.Tests;

/// <summary>Our virtio_blk driver through the front-end parent against our own back-end (vhost_vdpa on vdpasim_blk) in one process.</summary>
public sealed class OurBackendTests
{
    [Fact]
    public void Negotiates_AndShowsTheSimulatorsDevice()
    {
        using var backend = new OurBackend();
        using var fe = new FrontendBus();
        var dev = fe.Add("fe0", backend.SocketPath);
        var blk = FrontendBus.Blk(dev);
        var ops = Assert.IsType<VhostUserFrontendDevice>(dev.Ops);

        Assert.Equal((uint)VirtioDeviceId.Block, dev.DeviceId);
        Assert.Equal(1, dev.NumVqs);
        Assert.Equal(128UL * 1024 * 1024 / 512, blk.Capacity); // vdpasim_blk's 128 MiB RAM disk
        Assert.True(blk.SupportsFlush);
        Assert.Equal(ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config, ops.Frontend.ProtocolFeatures);
        // ACCESS_PLATFORM is neither offered by a vhost-user back-end nor passed on; bit 30 is the protocol's own.
        Assert.Equal(0UL, dev.Ops.GetDeviceFeatures() & ((1UL << VirtioFeatures.AccessPlatform) | (1UL << 30)));
        var status = (DeviceStatus)dev.GetStatus();
        Assert.True(status.HasFlag(DeviceStatus.DriverOk), $"status {status}");
        Assert.False(status.HasFlag(DeviceStatus.NeedsReset), $"status {status}: {ops.LastError}");
        // The back-end device sees what a QEMU front-end would make it see.
        Assert.True(((DeviceStatus)backend.Device.GetStatus()).HasFlag(DeviceStatus.DriverOk));
        Assert.Null(ops.LastError);
    }

    [Fact]
    public async Task WritesAndReadsPatterns_RamDisk()
    {
        using var backend = new OurBackend();
        using var fe = new FrontendBus();
        var blk = FrontendBus.Blk(fe.Add("fe0", backend.SocketPath));
        await Patterns.WriteVerifyAsync(blk, seed: 1, count: 96, depth: 32);
        Assert.Equal("vdpa_blk_sim", await blk.GetIdAsync());
        var ops = (VhostUserFrontendDevice)fe.Bus.Devices[0].Ops;
        Assert.True(ops.GetCallCount(0) > 0, "completions arrive through the call eventfd");
    }

    [Fact]
    public async Task FileBacked_DataLandsInTheImage()
    {
        string image = Path.Combine(Path.GetTempPath(), "uvdpa-fe-" + Guid.NewGuid().ToString("N")[..8] + ".img");
        try
        {
            using (var f = File.Create(image)) f.SetLength(64L << 20);
            List<(ulong, int)> chunks;
            using (var backend = new OurBackend(image))
            using (var fe = new FrontendBus())
            {
                var blk = FrontendBus.Blk(fe.Add("fe0", backend.SocketPath));
                Assert.Equal(64UL << 20 >> 9, blk.Capacity);
                chunks = await Patterns.WriteVerifyAsync(blk, seed: 2, count: 48, depth: 4);
            }
            Patterns.VerifyFile(image, chunks, seed: 2);
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Fact]
    public async Task Disconnect_IsCleanForTheBackend_AndAReconnectSeesTheData()
    {
        using var backend = new OurBackend();
        using var fe = new FrontendBus();
        var chunks = await Patterns.WriteVerifyAsync(FrontendBus.Blk(fe.Add("fe0", backend.SocketPath)), seed: 3, count: 16);
        fe.Delete("fe0");
        Assert.Null(backend.WaitSessionEnded()); // end of stream at a message boundary, after GET_VRING_BASE
        Assert.Equal(0, backend.Device.GetStatus()); // the back-end reset its device for the next front-end

        var blk = FrontendBus.Blk(fe.Add("fe1", backend.SocketPath));
        await Patterns.VerifyAsync(blk, chunks, seed: 3);
    }

    [Fact]
    public async Task Rebind_StopsAndRestartsTheRing_WithTheBaseItStoppedAt()
    {
        using var backend = new OurBackend();
        using var fe = new FrontendBus();
        var dev = fe.Add("fe0", backend.SocketPath);
        var chunks = await Patterns.WriteVerifyAsync(FrontendBus.Blk(dev), seed: 4, count: 8);
        // Unbind resets the device (GET_VRING_BASE), probe starts it again from a fresh ring on the same connection.
        fe.Bus.Rebind("fe0", VirtioVdpaDriver.DriverName);
        await Patterns.VerifyAsync(FrontendBus.Blk(dev), chunks, seed: 4);
        await Patterns.WriteVerifyAsync(FrontendBus.Blk(dev), seed: 5, count: 8);
        Assert.Null(((VhostUserFrontendDevice)dev.Ops).LastError);
    }
}
