using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vhost.User.Backend;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>A QEMU-like front-end against vdpasim_net / vdpasim_blk bound to the vhost-user driver.</summary>
public sealed class BackendTests
{
    private static readonly ulong NetFeatures = (1UL << VirtioFeatures.Version1) | (1UL << Virtio.Abi.NetFeatures.Mac);
    private static readonly ulong BlkFeatures = 1UL << VirtioFeatures.Version1;

    [Fact]
    public void Net_FramesComeBackByteForByte_CallIsSignalled_GetVringBaseReturnsIndex()
    {
        using var f = DeviceFixture.Net();
        Assert.Contains(f.Device.Exposures, e => e.Kind == "vhost-user" && e.Location == f.SocketPath);
        using var fe = f.Connect();
        ulong features = fe.Negotiate(NetFeatures);
        Assert.Equal(0ul, features & (1UL << Virtio.Abi.NetFeatures.CtrlVq)); // the CVQ stays with the front-end
        Assert.Equal(1ul, fe.GetU64(FrontendRequest.GetQueueNum));
        fe.SetupRing(0);
        fe.SetupRing(1);
        Assert.NotEqual(0, f.Device.GetStatus() & (byte)DeviceStatus.DriverOk);
        Assert.NotEqual(0ul, f.Device.Ops.GetDriverFeatures() & (1UL << VirtioFeatures.AccessPlatform));

        for (int i = 0; i < 3; i++) Io.NetLoopback(fe, (byte)i, 10 * i + 1);
        Assert.Equal(3u, fe.GetVringBase(0));
        Assert.Equal(3u, fe.GetVringBase(1));
        Assert.False(f.Device.Ops.GetVqReady(0));
    }

    [Fact]
    public void Net_RestartAfterGetVringBase_ResumesAtTheBase()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(NetFeatures);
        fe.SetupRing(0);
        fe.SetupRing(1);
        Io.NetLoopback(fe, 1, 1);
        uint rxBase = fe.GetVringBase(0);
        uint txBase = fe.GetVringBase(1);
        // Restart both rings at the returned bases (QEMU after a stop): same memory, same rings.
        foreach (var (i, b) in new[] { (0, rxBase), (1, txBase) })
        {
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringBase, new VhostVringState { Index = (uint)i, Num = b }));
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringKick, (ulong)i, fe.Kicks[i]!.Descriptor));
        }
        Io.NetLoopback(fe, 2, 5);
        Assert.Equal(2u, fe.GetVringBase(0));
    }

    [Fact]
    public void Blk_WriteThenRead_ReturnsThePattern_AndConfigIsReadable()
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures);
        var cfg = new byte[VhostUserConfigHeader.Size + 8];
        MemoryMarshal.Write(cfg, new VhostUserConfigHeader { Offset = 0, ConfigSize = 8 });
        fe.Send(FrontendRequest.GetConfig, cfg);
        using (var reply = fe.ReadReply(FrontendRequest.GetConfig))
        {
            Assert.Equal(cfg.Length, reply.Payload.Length);
            Assert.True(BinaryPrimitives.ReadUInt64LittleEndian(reply.Payload.AsSpan(VhostUserConfigHeader.Size)) > 0); // capacity
        }
        fe.SetupRing(0);

        var pattern = new byte[4096];
        new Random(7).NextBytes(pattern);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, 8, pattern, 0, 1).Status);
        var (status, data) = Io.Blk(fe, BlkRequestType.In, 8, null, 4096, 2);
        Assert.Equal(0, status);
        Assert.Equal(pattern, data);
        Assert.Equal(2u, fe.GetVringBase(0));
    }

    [Fact]
    public void Disconnect_ResetsTheDevice_AndASecondFrontendWorks()
    {
        using var f = DeviceFixture.Net();
        using (var fe = f.Connect())
        {
            fe.Negotiate(NetFeatures);
            fe.SetupRing(0);
            fe.SetupRing(1);
            Io.NetLoopback(fe, 1, 1);
        }
        Assert.Null(f.WaitSessionEnded());
        Assert.Equal(0, f.Device.GetStatus());
        Assert.False(f.Device.Ops.GetVqReady(0));

        using var fe2 = f.Connect();
        fe2.Negotiate(NetFeatures);
        fe2.SetupRing(0);
        fe2.SetupRing(1);
        Io.NetLoopback(fe2, 9, 1);
    }

    [Fact]
    public void ConcurrentSecondFrontend_IsRefused_FirstKeepsWorking()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(NetFeatures);
        using var second = f.Connect();
        Assert.Contains("another front-end", f.WaitRefused());
        Assert.True(second.WaitClosed());
        fe.SetupRing(0);
        fe.SetupRing(1);
        Io.NetLoopback(fe, 3, 1);
    }

    [Fact]
    public void Remove_ClosesTheConnection_UnlinksTheSocket_ResetsTheDevice()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(NetFeatures);
        fe.SetupRing(0);
        Assert.True(f.Bus.Unbind(f.Device.Name));
        Assert.True(fe.WaitClosed());
        Assert.False(File.Exists(f.SocketPath));
        Assert.Equal(0, f.Device.GetStatus());
        Assert.Empty(f.Device.Exposures);
    }

    [Fact]
    public void Probe_PathTooLong_IsEinval()
    {
        var bus = new VdpaBus();
        bus.RegisterDriver(new VhostUserBusDriver());
        var mgmt = new Vdpa.Simulator.VdpaSimNetManagementDevice();
        bus.RegisterManagementDevice(mgmt);
        var dir = "/tmp/" + new string('d', 120);
        var dev = bus.AddDevice(mgmt, "net0", new DeviceConfigRequest(), VhostUserBusDriver.DriverName,
            new BindOptions([new(VhostUserDriverOptions.DirectoryKey, dir)]));
        Assert.Null(dev.Driver);
        Assert.Equal(Errno.EINVAL, dev.LastProbeError?.Errno);
    }

    [Fact]
    public void Probe_ExistingNonSocket_IsRefused_StaleSocketIsReplaced()
    {
        var dir = Path.Combine(Path.GetTempPath(), "uvdpa-vu-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var bus = new VdpaBus();
            bus.RegisterDriver(new VhostUserBusDriver());
            var mgmt = new Vdpa.Simulator.VdpaSimNetManagementDevice();
            bus.RegisterManagementDevice(mgmt);
            File.WriteAllText(Path.Combine(dir, "net0.sock"), "not a socket");
            var opts = new BindOptions([new(VhostUserDriverOptions.DirectoryKey, dir)]);
            var dev = bus.AddDevice(mgmt, "net0", new DeviceConfigRequest(), VhostUserBusDriver.DriverName, opts);
            Assert.Equal(Errno.EEXIST, dev.LastProbeError?.Errno);

            File.Delete(Path.Combine(dir, "net0.sock"));
            UnixStreamListener.Bind(Path.Combine(dir, "net0.sock")).Dispose(); // leaves a stale socket file
            bus.Bind("net0", VhostUserBusDriver.DriverName);
            Assert.NotNull(dev.Driver);
            bus.DeleteDevice("net0");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
