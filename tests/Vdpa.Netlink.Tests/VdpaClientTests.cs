using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary>The client against the real kernel's captured answers.</summary>
public sealed class VdpaClientTests
{
    private static readonly VdpaClientOptions FixedSeq = new() { SequenceSource = () => 1234 };

    private static (VdpaClient Client, CaptureResponder Responder, FakeTransport Transport) Connect(string kernel)
    {
        var responder = new CaptureResponder(kernel);
        var transport = new FakeTransport(r => responder.Respond(r));
        return (VdpaClient.Connect(transport, FixedSeq), responder, transport);
    }

    [Fact]
    public void Session612_EveryOperation()
    {
        var (client, responder, transport) = Connect("6.12");
        using (client)
        {
            Assert.Equal(0x13, client.FamilyId);
            Assert.Equal(37u, client.Family.MaxAttr);

            IReadOnlyList<VdpaManagementDevice> mgmt = client.ListManagementDevices();
            Assert.Equal(["vdpasim_net", "vdpasim_blk", "vduse"], mgmt.Select(m => m.Handle.ToString()));
            Assert.Equal(3u, client.GetManagementDevice("vdpasim_net").MaxSupportedVqs);

            Assert.Null(client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("00:11:22:33:44:55"), mtu: 9000));
            Assert.Null(client.AddDevice("blk0", "vdpasim_blk"));

            Assert.Equal(["net0", "blk0"], client.ListDevices().Select(d => d.Name));
            VdpaDeviceInfo net0 = client.GetDevice("net0");
            Assert.Equal(3u, net0.MaxVqs);
            Assert.Equal((ushort)9000, client.GetConfig("net0").Mtu);
            Assert.Equal(0x40000ul, client.GetConfig("blk0").BlkCapacity);
            Assert.Equal(4, client.GetVendorStats("net0", 1).Values.Count);

            var e1 = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("x", "vdpasim_net", maxVqPairs: 2));
            Assert.Equal(Errno.EOPNOTSUPP, e1.Errno);
            Assert.Equal("vdpa: Some provided attributes are not supported: 0x1000", e1.ExtackMessage);

            var e2 = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("x", "vdpasim_net", mtu: 60));
            Assert.Equal(Errno.ERANGE, e2.Errno);
            Assert.Equal("integer out of range", e2.ExtackMessage);
            Assert.Equal(44u, e2.ExtendedAck!.Offset);

            var e3 = Assert.Throws<VdpaNetlinkException>(() => client.DeleteDevice("nosuch"));
            Assert.Equal(Errno.ENODEV, e3.Errno);
            Assert.Equal("vdpa: device not found", e3.ExtackMessage);
            Assert.Equal("ENODEV", e3.ErrnoName);

            var e4 = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("net0", "vdpasim_net"));
            Assert.Equal(Errno.EEXIST, e4.Errno);
            Assert.Null(e4.ExtackMessage);
            Assert.Equal("File exists", e4.Message);

            Assert.Null(client.DeleteDevice("net0"));
            Assert.Null(client.DeleteDevice("blk0"));
        }
        Assert.Empty(responder.Unmatched);
        Assert.True(transport.Disposed);
        Assert.All(transport.Sent, s => Assert.Equal(1234u, NlMsgHeader.Read(s).Sequence));
    }

    [Fact]
    public void Session61_ConfigOfBlockAndVstatsAreUnsupported()
    {
        var (client, responder, _) = Connect("6.1");
        using (client)
        {
            Assert.Equal(22u, client.Family.MaxAttr);
            Assert.Null(client.Family.GetOperationFlags((uint)VdpaCommand.DevAttrSet));
            VdpaDeviceConfig net0 = client.GetConfig("net0");
            Assert.True(net0.DeviceFeaturesFromLegacyAttribute);
            Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<VdpaNetlinkException>(() => client.GetConfig("blk0")).Errno);
            Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<VdpaNetlinkException>(() => client.GetVendorStats("net0", 1)).Errno);
            var e = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("x", "vdpasim_net", maxVqPairs: 2));
            Assert.Equal("vdpa: All provided attributes are not supported", e.ExtackMessage);
        }
        Assert.Empty(responder.Unmatched);
    }

    [Fact]
    public void RawRequest_ReturnsReplyMessagesAndDatagrams()
    {
        var (client, _, _) = Connect("6.12");
        using (client)
        {
            NetlinkReply reply = client.Request(VdpaCommand.DevGet, VdpaClient.DumpFlags, VdpaRequestAttributes.None);
            Assert.Equal(2, reply.Messages.Count);
            Assert.Equal(2, reply.Datagrams.Count); // the two MULTI parts in one datagram, then NLMSG_DONE
            Assert.All(reply.Messages, m => Assert.Equal(NetlinkMessageFlags.Multi, m.Header.Flags));
            Assert.Equal((byte)VdpaCommand.DevNew, reply.Messages[0].Genl.Command);
            Assert.Equal(new ushort[] { 2, 4, 5, 6, 7, 8, 9 }, reply.Messages[0].Attributes.Select(a => a.Type));
            Assert.Null(reply.Warning);

            NetlinkReply viaCallback = client.Request((byte)VdpaCommand.DevGet, VdpaClient.DoFlags,
                (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0"));
            Assert.Single(viaCallback.Messages);
        }
    }

    [Fact]
    public void AckWarning_IsReturned()
    {
        var transport = new FakeTransport(req =>
        {
            NlMsgHeader h = NlMsgHeader.Read(req);
            var w = new NetlinkWriter(new byte[512]);
            if (h.Type == Netlink.GenlIdCtrl)
            {
                GenlCtrl.WriteFamilyReply(ref w, VdpaFamily.Describe(0x20), h.Sequence, 9);
                byte[] family = w.ToArray();
                w.Rewind(0);
                NetlinkAckWriter.WriteAck(ref w, req, 9, 0, NetlinkAckOptions.Iproute2);
                return [family, w.ToArray()];
            }
            NetlinkAckWriter.WriteAck(ref w, req, 9, 0, NetlinkAckOptions.Iproute2, new NetlinkExtAckInfo { Message = "vdpa: blk0 device not supported" });
            return [w.ToArray()];
        });
        using VdpaClient client = VdpaClient.Connect(transport);
        Assert.Equal(0x20, client.FamilyId);
        Assert.Equal("vdpa: blk0 device not supported", client.SetDevice("blk0", PhysicalAddress.Parse("02:00:00:00:00:09")));
        byte[] sent = transport.Sent[^1];
        Assert.Equal((byte)VdpaCommand.DevAttrSet, sent[16]);
        Assert.Equal(0, sent[17]); // genl version 0, like iproute2
    }

    [Fact]
    public void MissingFamily_IsFailedToConnect()
    {
        var transport = new FakeTransport(req =>
        {
            var w = new NetlinkWriter(new byte[128]);
            NetlinkAckWriter.WriteAck(ref w, req, 9, Errno.ENOENT, NetlinkAckOptions.Iproute2);
            return [w.ToArray()];
        });
        var e = Assert.Throws<VdpaFamilyNotFoundException>(() => VdpaClient.Connect(transport));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("Failed to connect to vdpa Netlink", e.Message);
        Assert.True(transport.Disposed);
    }

    [Fact]
    public void DumpError_InDone_IsThrown()
    {
        var transport = new FakeTransport(req =>
        {
            NlMsgHeader h = NlMsgHeader.Read(req);
            var w = new NetlinkWriter(new byte[512]);
            if (h.Type == Netlink.GenlIdCtrl)
            {
                GenlCtrl.WriteFamilyReply(ref w, VdpaFamily.Describe(0x13), h.Sequence, 9);
                NetlinkAckWriter.WriteAck(ref w, req, 9, 0, NetlinkAckOptions.Iproute2); // same datagram: also fine
                return [w.ToArray()];
            }
            NetlinkAckWriter.WriteDone(ref w, h.Sequence, 9, Errno.EMSGSIZE, NetlinkAckOptions.Iproute2, "dump failed");
            return [w.ToArray()];
        });
        using VdpaClient client = VdpaClient.Connect(transport, new VdpaClientOptions { SequenceSource = () => 1 });
        var e = Assert.Throws<VdpaNetlinkException>(() => client.ListDevices());
        Assert.Equal(Errno.EMSGSIZE, e.Errno);
        Assert.Equal("dump failed", e.ExtackMessage);
    }
}
