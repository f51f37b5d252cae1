using Uvdpa.Vdpa.Core;
using Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend.Tests;

/// <summary>The back-end is not trusted: every malformed or refusing reply gives a clear error, never a hang or a crash.</summary>
public sealed class BadBackendTests
{
    private static readonly VhostUserFrontendOptions Fast = new() { ReplyTimeout = TimeSpan.FromMilliseconds(300) };

    private static VhostUserProtocolException Broken(Func<VhostUserMessage, VhostUserConnection, bool> misbehave, Action<VhostUserFrontend>? after = null)
    {
        using var fake = new FakeBackend(misbehave);
        var e = Assert.Throws<VhostUserProtocolException>(() =>
        {
            using var f = VhostUserFrontend.Start(fake.FrontendConnection, Fast);
            after?.Invoke(f);
        });
        Assert.True(e.MustDisconnect);
        return e;
    }

    private static bool On(VhostUserMessage m, FrontendRequest r) => m.Request == r;

    [Fact]
    public void ReplyForAnotherRequest_IsAProtocolError()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetFeatures) && Do(() => c.ReplyU64(FrontendRequest.GetProtocolFeatures, 0)));
        Assert.Contains("reply is for request 15, expected 1", e.Message);
    }

    [Fact]
    public void ReplyWithoutTheReplyFlag_IsAProtocolError()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetFeatures) && Do(() => c.Send(FrontendRequest.GetFeatures, 0, BitConverter.GetBytes(FakeBackend.Features))));
        Assert.Contains("malformed reply", e.Message);
        Assert.Contains("expected a reply", e.Message);
    }

    [Fact]
    public void ShortFeaturesReply_IsAProtocolError()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetFeatures) && Do(() => c.Reply(FrontendRequest.GetFeatures, new byte[4])));
        Assert.Contains("reply of 4 bytes, expected 8", e.Message);
    }

    [Fact]
    public void OversizedReply_IsRefusedBeforeItsPayloadIsRead()
    {
        // A header announcing 1 MiB: refused on the header alone (nothing is allocated for it).
        var e = Broken((m, c) => On(m, FrontendRequest.GetFeatures) && Do(() =>
        {
            var h = new byte[VhostUserHeader.Size];
            new VhostUserHeader { Request = 1, Flags = 0x5, PayloadSize = 1 << 20 }.Write(h);
            c.Socket.Send(h);
        }));
        Assert.Contains("exceeds 4096", e.Message);
    }

    [Fact]
    public void ReplyCarryingDescriptors_IsAProtocolError_AndTheyAreClosed()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetFeatures) && Do(() =>
        {
            using var fd = EventFd.Create();
            ulong v = FakeBackend.Features;
            c.Send(FrontendRequest.GetFeatures, VhostUserHeader.ReplyFlag, BitConverter.GetBytes(v), [fd.Descriptor]);
        }));
        Assert.Contains("carries 1 descriptors", e.Message);
    }

    [Fact]
    public void MissingReply_TimesOut()
    {
        var e = Broken((m, _) => On(m, FrontendRequest.GetProtocolFeatures)); // swallowed: never answered
        Assert.Contains("no reply within 300 ms", e.Message);
    }

    [Fact]
    public void BackendClosing_IsReported()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetQueueNum) && Do(c.Shutdown));
        Assert.Contains("GetQueueNum", e.Message);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(257UL)]
    public void ImplausibleQueueCount_IsAProtocolError(ulong queues)
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetQueueNum) && Do(() => c.ReplyU64(m.Request, queues)));
        Assert.Contains($"back-end reports {queues} queues", e.Message);
    }

    [Fact]
    public void Nack_FailsTheRequestOnly_AndTheConnectionStaysUsable()
    {
        using var fake = new FakeBackend((m, c) => On(m, FrontendRequest.SetFeatures) && Do(() => c.ReplyU64(m.Request, 1)));
        using var f = VhostUserFrontend.Start(fake.FrontendConnection, Fast);
        var e = Assert.Throws<VhostUserRequestException>(() => f.SetFeatures(1UL << 32));
        Assert.False(e.MustDisconnect);
        Assert.Contains("REPLY_ACK status 1", e.Message);
        Assert.Null(f.BrokenReason);
        f.SetVringNum(0, 128); // still works
    }

    [Fact]
    public void ConfigReplyOfAnotherSize_IsAProtocolError()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetConfig) && Do(() =>
        {
            var reply = new byte[VhostUserConfigHeader.Size + 8];
            System.Runtime.InteropServices.MemoryMarshal.Write(reply, new VhostUserConfigHeader { Offset = 0, ConfigSize = 8 });
            c.Reply(m.Request, reply);
        }), f => f.TryGetConfig(0, new byte[60]));
        Assert.Contains("reply describes 8 bytes", e.Message);
    }

    [Fact]
    public void ConfigRefusal_IsNotAnError_ButFalse()
    {
        using var fake = new FakeBackend((m, c) => On(m, FrontendRequest.GetConfig) && Do(() => c.Reply(m.Request, [])));
        using var f = VhostUserFrontend.Start(fake.FrontendConnection, Fast);
        Assert.False(f.TryGetConfig(0, new byte[60]));
        Assert.Null(f.BrokenReason);
    }

    [Fact]
    public void VringBaseForAnotherRing_IsAProtocolError()
    {
        var e = Broken((m, c) => On(m, FrontendRequest.GetVringBase) && Do(() =>
            c.Send(FrontendRequest.GetVringBase, VhostUserHeader.ReplyFlag, new VhostVringState { Index = 3, Num = 0 })),
            f => f.GetVringBase(0));
        Assert.Contains("reply names vring 3, asked for 0", e.Message);
    }

    [Fact]
    public void AfterAProtocolError_EveryRequestFailsAtOnce()
    {
        using var fake = new FakeBackend((m, c) => On(m, FrontendRequest.GetVringBase) && Do(() => c.Reply(m.Request, new byte[3])));
        using var f = VhostUserFrontend.Start(fake.FrontendConnection, Fast);
        Assert.Throws<VhostUserProtocolException>(() => f.GetVringBase(0));
        Assert.NotNull(f.BrokenReason);
        var e = Assert.Throws<VhostUserProtocolException>(() => f.SetVringNum(0, 64));
        Assert.Contains("connection is broken", e.Message);
    }

    [Fact]
    public async Task BackendWithoutConfig_CannotBecomeABlkDevice()
    {
        string dir = Directory.CreateTempSubdirectory("uvdpa-fe-fake-").FullName;
        string path = Path.Combine(dir, "fake.sock");
        try
        {
            using var listener = UnixStreamListener.Bind(path);
            var serve = Task.Run(() =>
            {
                using var s = listener.Accept()!;
                using var c = new VhostUserConnection(s);
                while (c.Read() is { } m)
                {
                    using (m)
                    {
                        if (m.Request == FrontendRequest.GetFeatures) c.ReplyU64(m.Request, FakeBackend.Features);
                        else if (m.Request == FrontendRequest.GetProtocolFeatures) c.ReplyU64(m.Request, (ulong)ProtocolFeatures.ReplyAck);
                        else if (m.Header.NeedsReply) c.ReplyU64(m.Request, 0);
                    }
                }
            });
            using var fe = new FrontendBus();
            var e = Assert.Throws<VdpaException>(() => fe.Add("fe0", path));
            Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
            Assert.Contains("VHOST_USER_PROTOCOL_F_CONFIG", e.Message);
            await serve.WaitAsync(TimeSpan.FromSeconds(30)); // the front-end closed the connection
            Assert.Empty(fe.Bus.Devices);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool Do(Action a)
    {
        a();
        return true;
    }
}

/// <summary>Management-device options and the memory contract of the parent.</summary>
public sealed class ParentContractTests
{
    [Theory]
    [InlineData("socket", "relative.sock", "must be an absolute path")]
    [InlineData("queue-size", "100", "not a power of two")]
    [InlineData("queue-size", "65536", "bad queue-size")]
    [InlineData("reply-timeout-ms", "0", "bad reply-timeout-ms")]
    [InlineData("colour", "blue", "unknown option 'colour'")]
    public void BadOptions_AreEinval(string key, string value, string message)
    {
        using var fe = new FrontendBus();
        var options = new Dictionary<string, string> { ["socket"] = "/nonexistent/x.sock", [key] = value };
        var e = Assert.Throws<VdpaException>(() => fe.Bus.AddDevice(fe.Management, "fe0", new DeviceConfigRequest { Options = options }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MissingSocketOption_IsEinval()
    {
        using var fe = new FrontendBus();
        var e = Assert.Throws<VdpaException>(() => fe.Bus.AddDevice(fe.Management, "fe0", new DeviceConfigRequest()));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("socket=PATH", e.Message);
    }

    [Fact]
    public void NobodyListening_IsTheConnectErrno()
    {
        using var fe = new FrontendBus();
        var e = Assert.Throws<VdpaException>(() => fe.Add("fe0", "/nonexistent-dir/none.sock"));
        Assert.Equal(2, e.Errno); // ENOENT
        Assert.Contains("cannot connect", e.Message);
    }

    [Fact]
    public void PrivateMemory_IsRefused_SharedMemoryIsAccepted()
    {
        using var backend = new OurBackend();
        var ops = VhostUserFrontendDevice.Connect("fe0", backend.SocketPath, VirtioDeviceId.Block);
        try
        {
            Assert.True(ops.Supports(VdpaOptionalOps.SharedMemory));
            using var anon = MemoryRegion.Anonymous(new GuestAddress(0x1000_0000), 1 << 20);
            Assert.Equal(-Errno.EINVAL, ops.BindMemory(GuestMemory.Create(anon)));
            Assert.Contains("fd-backed", ops.LastError);
            using var shared = MemoryRegion.Shared(new GuestAddress(0x1000_0000), 1 << 20);
            Assert.Equal(0, ops.BindMemory(GuestMemory.Create(shared)));
            // A map whose target is not page aligned in the file cannot become a memory-table region.
            Assert.True(IotlbEntry.TryCreate(new Iova(0x2000_0000), 4096, new GuestAddress(0x1000_0800), AccessPermission.ReadWrite, out var bad));
            Assert.Equal(-Errno.EINVAL, ops.SetMap(0, [bad]));
            Assert.True(IotlbEntry.TryCreate(new Iova(0x2000_0000), 8192, new GuestAddress(0x1000_1000), AccessPermission.ReadWrite, out var good));
            Assert.Equal(0, ops.SetMap(0, [good]));
            Assert.Equal(0, ops.ResetMap(0));
        }
        finally
        {
            ops.Free();
        }
    }
}
