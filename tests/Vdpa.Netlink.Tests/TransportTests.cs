using System.Net.Sockets;
using Uvdpa.Virtio.Platform.Linux;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

public sealed class TransportTests
{
    private static string TempSocketPath() => Path.Combine(Path.GetTempPath(), $"uvdpa-test-{Guid.NewGuid():N}.sock");

    [Fact]
    public async Task UnixSeqpacket_ExchangesWholeDatagrams_AndSeesPeerCredentials()
    {
        string path = TempSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        PeerCredentials creds = default;
        Task server = Task.Run(() =>
        {
            using Socket s = listener.Accept();
            creds = LinuxSockets.GetPeerCredentials(s);
            var buf = new byte[65536];
            int n = s.Receive(buf);
            s.Send(buf.AsSpan(0, n));            // echo
            s.Send(new byte[100]);               // a second datagram keeps its boundary
            s.Send(new byte[40000]);             // larger than the client's buffer
        });
        try
        {
            using UnixSeqpacketTransport t = UnixSeqpacketTransport.Connect(path, new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(10) });
            var w = new NetlinkWriter(new byte[64]);
            GenlCtrl.WriteGetFamilyRequest(ref w, "vdpa", 77);
            byte[] request = w.ToArray();
            t.Send(request);
            Assert.Equal(request, t.Receive().ToArray());
            Assert.Equal(100, t.Receive().Length);
            var e = Assert.Throws<NetlinkTransportException>(() => t.Receive());
            Assert.Equal(Errno.EMSGSIZE, e.Errno);
            await server;
            Assert.Equal(Environment.ProcessId, creds.ProcessId);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task UnixSeqpacket_ServesAVdpaClientFromTheCapture()
    {
        string path = TempSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var responder = new CaptureResponder("6.12");
        Task server = Task.Run(() =>
        {
            using Socket s = listener.Accept();
            var buf = new byte[65536];
            while (true)
            {
                int n = s.Receive(buf);
                if (n == 0) return;
                foreach (byte[] reply in responder.Respond(buf.AsSpan(0, n))) s.Send(reply);
            }
        });
        try
        {
            Environment.SetEnvironmentVariable(UnixSeqpacketTransport.SocketPathEnvironmentVariable, path);
            Assert.Equal(path, UnixSeqpacketTransport.ResolveSocketPath());
            using (VdpaClient client = VdpaClient.ConnectDaemon(options: new VdpaClientOptions { SequenceSource = () => 5 },
                       transportOptions: new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(10) }))
            {
                Assert.Equal(3, client.ListManagementDevices().Count);
                Assert.Equal("vdpa: device not found", Assert.Throws<VdpaNetlinkException>(() => client.DeleteDevice("nosuch")).ExtackMessage);
            }
            await server;
            Assert.Empty(responder.Unmatched);
        }
        finally
        {
            Environment.SetEnvironmentVariable(UnixSeqpacketTransport.SocketPathEnvironmentVariable, null);
            File.Delete(path);
        }
    }

    [Fact]
    public void UnixSeqpacket_MissingDaemon_IsATransportError()
    {
        var e = Assert.Throws<NetlinkTransportException>(() => UnixSeqpacketTransport.Connect(TempSocketPath()));
        Assert.Contains("cannot connect to vdpad", e.Message);
        Assert.Equal(UnixSeqpacketTransport.DefaultSocketPath, UnixSeqpacketTransport.ResolveSocketPath());
    }

    [Fact]
    public void Kernel_ResolvesNlctrlItself()
    {
        using KernelNetlinkTransport t = KernelNetlinkTransport.Open(new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(10) });
        Assert.True(t.AckOptions.CapAck);
        Assert.True(t.AckOptions.ExtendedAck);
        GenlFamilyInfo f = VdpaClient.ResolveFamily(t, GenlCtrl.FamilyName, 42);
        Assert.Equal(Netlink.GenlIdCtrl, f.Id);
        Assert.Equal("nlctrl", f.Name);
        Assert.Equal(2u, f.Version);
        Assert.Equal(GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapDump | GenlOpFlags.CmdCapHasPolicy, f.GetOperationFlags((uint)CtrlCommand.GetFamily));
        Assert.Contains(f.MulticastGroups, g => g.Name == "notify");

        // Our writer reproduces the kernel's own nlctrl reply byte for byte.
        var w = new NetlinkWriter(new byte[64]);
        GenlCtrl.WriteGetFamilyRequest(ref w, "nlctrl", 43);
        NetlinkReply reply = NetlinkExchange.Execute(t, w.WrittenSpan);
        NetlinkReplyMessage m = Assert.Single(reply.Messages);
        var again = new NetlinkWriter(new byte[512]);
        GenlCtrl.WriteFamilyReply(ref again, f, 43, m.Header.PortId);
        Assert.Equal(TestUtil.Hex(m.Raw), TestUtil.Hex(again.WrittenSpan));
        Assert.Equal(2, reply.Datagrams.Count); // the family message, then the ACK (capped) in its own datagram
    }

    [Fact]
    public void Kernel_WithoutVdpaFamily_FailsToConnectWithEnoent()
    {
        if (Directory.Exists("/sys/bus/vdpa")) return; // the vdpa module is loaded here; nothing to assert
        using KernelNetlinkTransport t = KernelNetlinkTransport.Open(new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(10) });
        var e = Assert.Throws<VdpaFamilyNotFoundException>(() => VdpaClient.ResolveFamily(t, VdpaFamily.Name, 1));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Throws<VdpaFamilyNotFoundException>(() => VdpaClient.ConnectKernel());
    }

    [Fact]
    public void Kernel_ErrorsCarryExtack()
    {
        // CTRL_CMD_GETFAMILY without a name or id: the kernel answers EINVAL; the ACK is capped (NETLINK_CAP_ACK).
        using KernelNetlinkTransport t = KernelNetlinkTransport.Open(new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(10) });
        var w = new NetlinkWriter(new byte[32]);
        NetlinkMessageToken m = w.BeginMessage(Netlink.GenlIdCtrl, VdpaClient.DoFlags, 9, 0);
        w.PutGenlHeader((byte)CtrlCommand.GetFamily, 1);
        w.EndMessage(m);
        byte[] request = w.ToArray();
        var e = Assert.Throws<VdpaNetlinkException>(() => NetlinkExchange.Execute(t, request));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
