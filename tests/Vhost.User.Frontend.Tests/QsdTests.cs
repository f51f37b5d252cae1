using Uvdpa.Vdpa.Core;
using Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Xunit.Abstractions;

namespace Uvdpa.Vhost.User.Frontend.Tests;

/// <summary>Our virtio_blk driver through the front-end parent against QEMU 7.2's qemu-storage-daemon (libvhost-user).</summary>
public sealed class QsdTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("uvdpa-fe-qsd-").FullName;

    private string NewImage(long size)
    {
        string image = Path.Combine(_dir, "disk.img");
        using var f = File.Create(image);
        f.SetLength(size);
        return image;
    }

    [QsdFact]
    public async Task PatternsLandInTheImage()
    {
        string image = NewImage(64L << 20);
        List<(ulong, int)> chunks;
        using (var qsd = QsdProcess.Start(image, _dir))
        {
            try
            {
                using var fe = new FrontendBus();
                var dev = fe.Add("fe0", qsd.SocketPath);
                var blk = FrontendBus.Blk(dev);
                Assert.Equal((64UL << 20) / 512, blk.Capacity);
                Assert.Equal((uint)VirtioDeviceId.Block, dev.DeviceId);
                Assert.False(((DeviceStatus)dev.GetStatus()).HasFlag(DeviceStatus.NeedsReset), ((VhostUserFrontendDevice)dev.Ops).LastError);
                try
                {
                    chunks = await Patterns.WriteVerifyAsync(blk, seed: 7, count: 64, depth: 16);
                }
                catch
                {
                    output.WriteLine(((VhostUserFrontendDevice)dev.Ops).DescribeQueue(0));
                    throw;
                }
                fe.Delete("fe0"); // clean disconnect: rings stopped with GET_VRING_BASE, socket closed
                Assert.Equal(0, qsd.Stop());
            }
            catch
            {
                output.WriteLine("qemu-storage-daemon output:\n" + qsd.Log);
                throw;
            }
        }
        Patterns.VerifyFile(image, chunks, seed: 7);
    }

    [QsdFact]
    public async Task Reconnect_ToTheSameDaemon_SeesTheData()
    {
        string image = NewImage(32L << 20);
        using var qsd = QsdProcess.Start(image, _dir);
        try
        {
            using var fe = new FrontendBus();
            var chunks = await Patterns.WriteVerifyAsync(FrontendBus.Blk(fe.Add("fe0", qsd.SocketPath)), seed: 8, count: 16);
            fe.Delete("fe0");
            // qsd accepts the next front-end once it has noticed the previous one left; connect refusals until then
            // are retried (bounded), anything else fails at once.
            var blk = FrontendBus.Blk(AddWithRetry(fe, "fe1", qsd));
            await Patterns.VerifyAsync(blk, chunks, seed: 8);
        }
        catch
        {
            output.WriteLine("qemu-storage-daemon output:\n" + qsd.Log);
            throw;
        }
    }

    private static VdpaDevice AddWithRetry(FrontendBus fe, string name, QsdProcess qsd)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return fe.Add(name, qsd.SocketPath);
            }
            catch (VdpaException e) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !qsd.HasExited && e.Errno is Errno.EIO)
            {
                Thread.Sleep(20);
            }
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
