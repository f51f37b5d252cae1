using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vhost.User.Backend;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests.Fuzz;

/// <summary>
/// The fuzz target over the message decoder and the back-end state machine: a case's messages go to
/// <see cref="VhostUserBackend.RunSession"/> over a socket pair, replies are drained, then the write side closes. The
/// session must end (within a timeout) with nothing, a <see cref="VhostUserException"/> or a
/// <see cref="PlatformException"/>; anything thrown is a finding. Afterwards the device must be reset (status 0, no
/// ring ready) and, when asked, serve a complete well-behaved session.
/// </summary>
internal sealed class BackendFuzzTarget : IDisposable
{
    private readonly VdpaBus _bus = new();
    private readonly FileDescriptor _memory = MemFd.Create("fuzz-guest", 1 << 20);
    private readonly FileDescriptor _shortMemory = MemFd.Create("fuzz-short", 4096);
    private readonly EventFd _event = EventFd.Create();
    private readonly UnixStreamSocket _socket = UnixStreamSocket.CreatePair().First;

    public BackendFuzzTarget()
    {
        var net = new VdpaSimNetManagementDevice();
        var blk = new VdpaSimBlkManagementDevice();
        _bus.RegisterManagementDevice(net);
        _bus.RegisterManagementDevice(blk);
        // No bus driver: the target drives the back-end directly.
        Net = new VhostUserBackend(_bus.AddDevice(net, "fuzznet", new DeviceConfigRequest { Mac = DeviceFixture.Mac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) }));
        Blk = new VhostUserBackend(_bus.AddDevice(blk, "fuzzblk", new DeviceConfigRequest()));
    }

    public VhostUserBackend Net { get; }
    public VhostUserBackend Blk { get; }

    /// <summary>What happened, for picking corpus entries: how the session ended and which replies came back.</summary>
    public readonly record struct Outcome(string Ending, int Replies, int Nacks, bool RingStarted);

    public Outcome Run(FuzzCase c)
    {
        var backend = c.Blk ? Blk : Net;
        var (front, back) = UnixStreamSocket.CreatePair();
        using var frontConnection = new VhostUserConnection(front);
        using var backConnection = new VhostUserConnection(back);
        bool ringStarted = false;
        var session = Task.Factory.StartNew(() =>
        {
            // A ring the device accepted is visible as ready while the session runs.
            var error = backend.RunSession(backConnection);
            backConnection.Shutdown();
            return error;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        int replies = 0, nacks = 0;
        var drain = Task.Factory.StartNew(() =>
        {
            try
            {
                while (true)
                {
                    using var m = frontConnection.Read(expectReply: true);
                    if (m is null) return;
                    replies++;
                    if (m.Payload.Length == 8 && m.ReadU64() == 1 && m.Request != FrontendRequest.GetFeatures) nacks++;
                    for (int i = 0; i < backend.Device.NumVqs; i++) ringStarted |= backend.Device.Ops.GetVqReady(i);
                }
            }
            catch (Exception e) when (e is VhostUserException or PlatformException)
            {
                // Replies are not what this target checks.
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            foreach (var m in c.Messages)
            {
                var fds = m.Fds.Select(Descriptor).ToArray();
                var buffer = new byte[VhostUserHeader.Size + m.Payload.Length];
                new VhostUserHeader { Request = m.Request, Flags = m.Flags, PayloadSize = (uint)m.Payload.Length }.Write(buffer);
                m.Payload.CopyTo(buffer.AsSpan(VhostUserHeader.Size));
                front.Send(buffer, fds);
            }
            front.ShutdownWrite();
        }
        catch (PlatformException)
        {
            // The back-end closed the connection (a protocol error): the rest of the input is not read.
        }

        if (!session.Wait(TimeSpan.FromSeconds(20))) throw new TimeoutException($"the session did not end: {c}");
        var ending = session.Result; // rethrows anything RunSession let escape: a finding
        Assert.True(ending is null or VhostUserException or PlatformException, $"unexpected ending {ending?.GetType().Name}: {ending?.Message}");
        Assert.True(drain.Wait(TimeSpan.FromSeconds(20)), "replies did not end");
        AssertReset(backend.Device);
        return new Outcome(ending?.GetType().Name ?? "eof", replies, nacks, ringStarted);
    }

    private FileDescriptor Descriptor(FuzzFd kind) => kind switch
    {
        FuzzFd.Memory => _memory,
        FuzzFd.Socket => _socket.Descriptor,
        FuzzFd.ShortMemory => _shortMemory,
        _ => _event.Descriptor,
    };

    public static void AssertReset(VdpaDevice device)
    {
        Assert.Equal(0, device.GetStatus());
        for (int i = 0; i < device.NumVqs; i++) Assert.False(device.Ops.GetVqReady(i), $"vq {i} still ready after the session");
    }

    /// <summary>A well-behaved front-end on the same back-end: negotiation, a ring, one request.</summary>
    public void AssertServesACleanSession(bool blk)
    {
        var backend = blk ? Blk : Net;
        var (front, back) = UnixStreamSocket.CreatePair();
        using var backConnection = new VhostUserConnection(back);
        var session = Task.Run(() => backend.RunSession(backConnection));
        using (var fe = new TestFrontend(new VhostUserConnection(front)))
        {
            fe.Negotiate(1UL << VirtioFeatures.Version1 | (blk ? 0 : 1UL << NetFeatures.Mac));
            fe.SetupRing(0);
            if (blk)
            {
                Assert.Equal(0, Io.Blk(fe, BlkRequestType.Flush, 0, null, 0, 1).Status);
            }
            else
            {
                fe.SetupRing(1);
                Io.NetLoopback(fe, 1, 1);
            }
        }
        Assert.True(session.Wait(TimeSpan.FromSeconds(20)));
        Assert.Null(session.Result);
        AssertReset(backend.Device);
    }

    public void Dispose()
    {
        foreach (var d in _bus.Devices.ToArray()) _bus.DeleteDevice(d.Name);
        _memory.Dispose();
        _shortMemory.Dispose();
        _event.Dispose();
        _socket.Dispose();
    }
}
