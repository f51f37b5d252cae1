using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary>Real kernel bytes (strace captures of iproute2 6.1 against Linux 6.12 and 6.1) through our reader and writer.</summary>
public sealed class GoldenWireTests
{
    public static TheoryData<string> Kernels => new() { "6.12", "6.1" };

    [Fact]
    public void Captures_AreLoadedCompletely()
    {
        Assert.Equal(15, StraceCapture.Load("6.12").Select(d => d.Command).Distinct().Count());
        Assert.Equal(15, StraceCapture.Load("6.1").Select(d => d.Command).Distinct().Count());
        Assert.True(StraceCapture.All().Count() > 100);
    }

    [Fact]
    public void EveryCapturedDatagram_ParsesCleanly()
    {
        foreach (CapturedDatagram d in StraceCapture.All())
        {
            Assert.True(NetlinkParser.TryValidateDatagram(d.Bytes, out int count, out string? error), $"{d}: {error}");
            Assert.True(count >= 1);
            foreach (NetlinkMessage m in NetlinkParser.Messages(d.Bytes))
            {
                if (m.Type >= NetlinkMessageType.MinType)
                {
                    Assert.True(m.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
                    Assert.True(NetlinkParser.TryValidateAttributes(attrs, descendIntoNested: true, out error), $"{d}: {error}");
                }
                else if (m.Type == NetlinkMessageType.Error)
                {
                    Assert.True(NetlinkErrorMessage.TryParse(m, out NetlinkErrorMessage e, out error), $"{d}: {error}");
                    Assert.True(e.IsCapped); // iproute2 sets NETLINK_CAP_ACK
                    e.GetExtendedAck();
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void GetFamilyRequest_IsBuiltByteForByte(string kernel)
    {
        foreach (CapturedDatagram d in StraceCapture.Load(kernel).Where(d => d.Sent && TestUtil.Header(d.Bytes).Type == Netlink.GenlIdCtrl))
        {
            var w = new NetlinkWriter(new byte[64]);
            Assert.True(GenlCtrl.WriteGetFamilyRequest(ref w, "vdpa", TestUtil.Header(d.Bytes).Sequence));
            Assert.Equal(TestUtil.Hex(TestUtil.MaskPadding(d.Bytes)), TestUtil.Hex(w.WrittenSpan));
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void FamilyReply_ParsesToTheKernelsDescription(string kernel)
    {
        CapturedDatagram reply = StraceCapture.ForCommand(kernel, "vdpa mgmtdev show")[1]; // [0] GETFAMILY, [1] its reply, [2] ACK
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        NetlinkMessage m = e.Current;
        Assert.Equal(Netlink.GenlIdCtrl, m.Type);
        Assert.Equal(NetlinkMessageFlags.None, m.Flags);
        Assert.True(m.TryGetGenl(out GenlMsgHeader genl, out ReadOnlySpan<byte> attrs));
        Assert.Equal(new GenlMsgHeader((byte)CtrlCommand.NewFamily, GenlCtrl.Version), genl);
        GenlFamilyInfo f = GenlCtrl.ParseFamily(attrs);
        VdpaUapiVersion v = kernel == "6.12" ? VdpaUapiVersion.Linux6_12 : VdpaUapiVersion.Linux6_1;
        Assert.Equal(0x13, f.Id);
        Assert.Equal("vdpa", f.Name);
        Assert.Equal(1u, f.Version);
        Assert.Equal(0u, f.HeaderSize);
        Assert.Equal(kernel == "6.12" ? 37u : 22u, f.MaxAttr);
        Assert.Empty(f.MulticastGroups);
        Assert.Equal(VdpaFamily.Describe(0x13, v).Operations, f.Operations);
        Assert.Equal(GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy, f.GetOperationFlags((uint)VdpaCommand.DevNew));
        Assert.Equal((GenlOpFlags)0x0e, f.GetOperationFlags((uint)VdpaCommand.DevConfigGet));
        Assert.Equal(kernel == "6.12", f.GetOperationFlags((uint)VdpaCommand.DevAttrSet) is not null);
        Assert.False(e.MoveNext());
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void FamilyReply_IsRebuiltExactlyLikeTheKernel(string kernel)
    {
        VdpaUapiVersion v = kernel == "6.12" ? VdpaUapiVersion.Linux6_12 : VdpaUapiVersion.Linux6_1;
        foreach (CapturedDatagram d in StraceCapture.Load(kernel).Where(d => !d.Sent && TestUtil.Header(d.Bytes).Type == Netlink.GenlIdCtrl))
        {
            NlMsgHeader h = TestUtil.Header(d.Bytes);
            var w = new NetlinkWriter(new byte[512]);
            Assert.True(GenlCtrl.WriteFamilyReply(ref w, VdpaFamily.Describe(0x13, v), h.Sequence, h.PortId));
            Assert.Equal(TestUtil.Hex(d.Bytes), TestUtil.Hex(w.WrittenSpan));
        }
    }

    [Fact]
    public void EveryCapturedAck_IsRebuiltExactlyByNetlinkAckWriter()
    {
        int checkedAcks = 0;
        foreach (string kernel in new[] { "6.12", "6.1" })
        {
            IReadOnlyList<CapturedDatagram> all = StraceCapture.Load(kernel);
            for (int i = 0; i < all.Count; i++)
            {
                CapturedDatagram d = all[i];
                if (d.Sent || TestUtil.Header(d.Bytes).Type != NetlinkMessageType.Error) continue;
                CapturedDatagram request = all.Take(i).Last(x => x.Sent);
                NetlinkMessageEnumerator e = NetlinkParser.Messages(d.Bytes);
                Assert.True(e.MoveNext());
                Assert.True(NetlinkErrorMessage.TryParse(e.Current, out NetlinkErrorMessage err, out _));
                NetlinkExtendedAck ext = err.GetExtendedAck();
                Assert.Equal(TestUtil.Header(request.Bytes), err.Request);
                var info = new NetlinkExtAckInfo
                {
                    Message = ext.Message,
                    BadAttributeOffset = (int?)ext.Offset,
                    Policy = ext.Policy,
                };
                var w = new NetlinkWriter(new byte[256]);
                Assert.True(NetlinkAckWriter.WriteAck(ref w, request.Bytes, TestUtil.Header(d.Bytes).PortId, err.Errno, NetlinkAckOptions.Iproute2, info));
                Assert.Equal(TestUtil.Hex(d.Bytes), TestUtil.Hex(w.WrittenSpan));
                checkedAcks++;
            }
        }
        Assert.True(checkedAcks >= 50, $"only {checkedAcks} ACKs");
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void DumpDone_IsRebuiltExactly(string kernel)
    {
        foreach (CapturedDatagram d in StraceCapture.Load(kernel).Where(d => !d.Sent && TestUtil.Header(d.Bytes).Type == NetlinkMessageType.Done))
        {
            NlMsgHeader h = TestUtil.Header(d.Bytes);
            Assert.Equal(NetlinkMessageFlags.Multi, h.Flags);
            var w = new NetlinkWriter(new byte[64]);
            Assert.True(NetlinkAckWriter.WriteDone(ref w, h.Sequence, h.PortId, 0, NetlinkAckOptions.Iproute2));
            Assert.Equal(TestUtil.Hex(d.Bytes), TestUtil.Hex(w.WrittenSpan));
        }
    }

    [Fact]
    public void ErangeError_CarriesMessageOffsetAndPolicy_AndIsRebuiltFromSemantics()
    {
        IReadOnlyList<CapturedDatagram> c = StraceCapture.ForCommand("6.12", "vdpa dev add name x mgmtdev vdpasim_net mtu 60");
        CapturedDatagram request = c[3], reply = c[4];
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        Assert.Equal(NetlinkMessageFlags.Capped | NetlinkMessageFlags.AckTlvs, e.Current.Flags);
        Assert.True(NetlinkErrorMessage.TryParse(e.Current, out NetlinkErrorMessage err, out _));
        Assert.Equal(Errno.ERANGE, err.Errno);
        Assert.True(err.EchoedPayload.IsEmpty);
        NetlinkExtendedAck ext = err.GetExtendedAck();
        Assert.Equal("integer out of range", ext.Message);
        Assert.Equal(44u, ext.Offset); // 16 nlmsghdr + 4 genl + 16 MGMTDEV_DEV_NAME + 8 DEV_NAME "x"
        Assert.Equal((ushort)VdpaAttr.DevNetCfgMtu, System.Runtime.InteropServices.MemoryMarshal.Read<ushort>(request.Bytes.AsSpan(44 + 2)));
        byte[] policy = NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U16, 68, 0xffff);
        Assert.Equal(TestUtil.Hex(policy), TestUtil.Hex(ext.Policy));

        var w = new NetlinkWriter(new byte[256]);
        NetlinkAckWriter.WriteAck(ref w, request.Bytes, TestUtil.Header(reply.Bytes).PortId, Errno.ERANGE, NetlinkAckOptions.Iproute2,
            new NetlinkExtAckInfo { Message = "integer out of range", BadAttributeOffset = 44, Policy = policy });
        Assert.Equal(TestUtil.Hex(reply.Bytes), TestUtil.Hex(w.WrittenSpan));
    }

    [Theory]
    [InlineData("6.12", "vdpa: Some provided attributes are not supported: 0x1000")]
    [InlineData("6.1", "vdpa: All provided attributes are not supported")]
    public void MaxVqpOnSimulator_IsEopnotsuppWithVersionSpecificText(string kernel, string text)
    {
        CapturedDatagram reply = StraceCapture.ForCommand(kernel, "vdpa dev add name x mgmtdev vdpasim_net max_vqp 2")[4];
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        Assert.True(NetlinkErrorMessage.TryParse(e.Current, out NetlinkErrorMessage err, out _));
        Assert.Equal(Errno.EOPNOTSUPP, err.Errno);
        Assert.Equal(text, err.GetExtendedAck().Message);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void VdpaRequests_AreBuiltByteForByteLikeIproute2(string kernel)
    {
        (string cmd, VdpaCommand c, NetlinkMessageFlags f, VdpaRequestAttributes a)[] cases =
        [
            ("vdpa mgmtdev show", VdpaCommand.MgmtdevGet, VdpaClient.DumpFlags, VdpaRequestAttributes.None),
            ("vdpa mgmtdev show vdpasim_net", VdpaCommand.MgmtdevGet, VdpaClient.DoFlags, new() { ManagementDeviceName = "vdpasim_net" }),
            ("vdpa dev add name net0 mgmtdev vdpasim_net mac 00:11:22:33:44:55 mtu 9000", VdpaCommand.DevNew, VdpaClient.DoFlags,
                new() { ManagementDeviceName = "vdpasim_net", DeviceName = "net0", MacAddress = new byte[] { 0, 0x11, 0x22, 0x33, 0x44, 0x55 }, Mtu = 9000 }),
            ("vdpa dev add name blk0 mgmtdev vdpasim_blk", VdpaCommand.DevNew, VdpaClient.DoFlags, new() { ManagementDeviceName = "vdpasim_blk", DeviceName = "blk0" }),
            ("vdpa dev show", VdpaCommand.DevGet, VdpaClient.DumpFlags, VdpaRequestAttributes.None),
            ("vdpa dev show net0", VdpaCommand.DevGet, VdpaClient.DoFlags, new() { DeviceName = "net0" }),
            ("vdpa dev config show net0", VdpaCommand.DevConfigGet, VdpaClient.DoFlags, new() { DeviceName = "net0" }),
            ("vdpa dev config show blk0", VdpaCommand.DevConfigGet, VdpaClient.DoFlags, new() { DeviceName = "blk0" }),
            ("vdpa dev vstats show net0 qidx 1", VdpaCommand.DevVstatsGet, VdpaClient.DoFlags, new() { DeviceName = "net0", QueueIndex = 1 }),
            ("vdpa dev add name x mgmtdev vdpasim_net max_vqp 2", VdpaCommand.DevNew, VdpaClient.DoFlags, new() { ManagementDeviceName = "vdpasim_net", DeviceName = "x", MaxVqPairs = 2 }),
            ("vdpa dev add name x mgmtdev vdpasim_net mtu 60", VdpaCommand.DevNew, VdpaClient.DoFlags, new() { ManagementDeviceName = "vdpasim_net", DeviceName = "x", Mtu = 60 }),
            ("vdpa dev del nosuch", VdpaCommand.DevDel, VdpaClient.DoFlags, new() { DeviceName = "nosuch" }),
            ("vdpa dev del net0", VdpaCommand.DevDel, VdpaClient.DoFlags, new() { DeviceName = "net0" }),
        ];
        foreach (var (cmd, c, f, a) in cases)
        {
            CapturedDatagram sent = StraceCapture.ForCommand(kernel, cmd).Last(d => d.Sent);
            var w = NetlinkWriter.CreateGrowable();
            Assert.True(VdpaRequestWriter.Write(ref w, 0x13, (byte)c, f, TestUtil.Header(sent.Bytes).Sequence, a));
            Assert.Equal(TestUtil.Hex(TestUtil.MaskPadding(sent.Bytes)), TestUtil.Hex(w.WrittenSpan));
            w.Dispose();
        }
    }

    [Fact]
    public void Iproute2LeavesStalePadding_WhichWeZero()
    {
        CapturedDatagram sent = StraceCapture.ForCommand("6.12", "vdpa dev show net0").Last(d => d.Sent);
        Assert.Equal("6e657430004f066b", TestUtil.Hex(sent.Bytes.AsSpan(24, 8))); // "net0\0" + stale 4f 06 6b
        Assert.Equal("6e65743000000000", TestUtil.Hex(TestUtil.MaskPadding(sent.Bytes).AsSpan(24, 8)));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void MgmtdevDump_ParsesEveryField(string kernel)
    {
        IReadOnlyList<CapturedDatagram> c = StraceCapture.ForCommand(kernel, "vdpa mgmtdev show");
        var devices = new List<VdpaManagementDevice>();
        foreach (NetlinkMessage m in NetlinkParser.Messages(c[4].Bytes))
        {
            Assert.Equal(NetlinkMessageFlags.Multi, m.Flags);
            Assert.Equal(new GenlMsgHeader((byte)VdpaCommand.MgmtdevNew, 1), m.GenlHeader);
            Assert.True(m.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
            devices.Add(VdpaManagementDevice.FromAttributes(NetlinkAttributeList.Parse(attrs.ToArray())));
        }
        Assert.Equal(["vdpasim_net", "vdpasim_blk", "vduse"], devices.Select(d => d.Name));
        Assert.All(devices, d => Assert.Null(d.BusName));
        Assert.Equal(1ul << 1, devices[0].SupportedClasses);
        Assert.Equal(1ul << 2, devices[1].SupportedClasses);
        // 6.12's vduse supports net and block; 6.1's only block.
        Assert.Equal(kernel == "6.12" ? (1ul << 1) | (1ul << 2) : 1ul << 2, devices[2].SupportedClasses);
        Assert.Equal(3u, devices[0].MaxSupportedVqs);
        Assert.Equal(kernel == "6.12" ? 0x3_0883_0028ul : 0x3_0882_0028ul, devices[0].SupportedFeatures);
        Assert.Equal(0ul, devices[1].SupportedFeatures);

        NetlinkMessageEnumerator done = NetlinkParser.Messages(c[5].Bytes);
        Assert.True(done.MoveNext());
        Assert.True(NetlinkDoneMessage.TryParse(done.Current, out NetlinkDoneMessage d0));
        Assert.Equal(0, d0.Error);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void DevGetReply_ParsesEveryField(string kernel)
    {
        CapturedDatagram reply = StraceCapture.ForCommand(kernel, "vdpa dev show net0")[4];
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        Assert.Equal(new GenlMsgHeader((byte)VdpaCommand.DevNew, 1), e.Current.GenlHeader);
        Assert.True(e.Current.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
        var order = new List<ushort>();
        foreach (NetlinkAttribute a in NetlinkParser.Attributes(attrs)) order.Add(a.Type);
        Assert.Equal(new ushort[] { 2, 4, 5, 6, 7, 8, 9 }, order);
        VdpaDeviceInfo d = VdpaDeviceInfo.FromAttributes(NetlinkAttributeList.Parse(attrs.ToArray()));
        Assert.Equal(new VdpaDeviceInfo("net0", new VdpaManagementDeviceHandle(null, "vdpasim_net"), 1, 0, 3, 256, 1, d.Attributes), d);
        Assert.False(e.MoveNext());
    }

    [Fact]
    public void ConfigNet_612_ParsesEveryField()
    {
        VdpaDeviceConfig c = ParseConfig("6.12", "vdpa dev config show net0");
        Assert.Equal("net0", c.Name);
        Assert.Equal(1u, c.DeviceId);
        Assert.Equal(0x3_0083_0028ul, c.NegotiatedFeatures);
        Assert.Equal(0x3_0883_0028ul, c.DeviceFeatures);
        Assert.False(c.DeviceFeaturesFromLegacyAttribute);
        Assert.Equal((ushort)9000, c.Mtu);
        Assert.Equal(PhysicalAddress.Parse("00-11-22-33-44-55"), c.MacAddress);
        Assert.Equal((ushort)1, c.NetStatus);
        Assert.Null(c.MaxVqPairs);
        Assert.Null(c.BlkCapacity);
        Assert.Equal(new ushort[] { 4, 5, 14, 20, 13, 10, 11 }, c.Attributes.Select(a => a.Type));
    }

    [Fact]
    public void ConfigNet_61_UsesAttribute21ForDeviceFeatures()
    {
        VdpaDeviceConfig c = ParseConfig("6.1", "vdpa dev config show net0");
        Assert.Equal(0x3_0882_0028ul, c.DeviceFeatures);
        Assert.True(c.DeviceFeaturesFromLegacyAttribute);
        Assert.Null(c.BlkCapacity);
        Assert.Equal((ushort)1, c.NetStatus);
        Assert.Equal(new ushort[] { 4, 5, 14, 11, 21, 13, 10 }, c.Attributes.Select(a => a.Type));
    }

    [Fact]
    public void ConfigBlk_612_ParsesEveryField()
    {
        VdpaDeviceConfig c = ParseConfig("6.12", "vdpa dev config show blk0");
        Assert.Equal(2u, c.DeviceId);
        Assert.Equal(0x7646ul | (3ul << 32), c.NegotiatedFeatures);
        Assert.Equal(0x0800_7646ul | (3ul << 32), c.DeviceFeatures);
        Assert.Equal(0x40000ul, c.BlkCapacity);
        Assert.Equal(4096u, c.BlkSizeMax);
        Assert.Equal(512u, c.BlkBlockSize);
        Assert.Equal(32u, c.BlkSegMax);
        Assert.Equal((ushort)1, c.BlkNumQueues);
        Assert.Equal((byte)0, c.BlkPhysicalBlockExp);
        Assert.Equal((byte)0, c.BlkAlignmentOffset);
        Assert.Equal((ushort)1, c.BlkMinIoSize);
        Assert.Equal(1u, c.BlkOptIoSize);
        Assert.Equal(uint.MaxValue, c.BlkMaxDiscardSectors);
        Assert.Equal(1u, c.BlkMaxDiscardSegments);
        Assert.Equal(512u, c.BlkDiscardSectorAlignment);
        Assert.Equal(uint.MaxValue, c.BlkMaxWriteZeroesSectors);
        Assert.Equal(1u, c.BlkMaxWriteZeroesSegments);
        Assert.False(c.BlkReadOnly);
        Assert.True(c.BlkFlush);
        Assert.Null(c.Mtu);
    }

    [Fact]
    public void Vstats_612_ParsesEveryField()
    {
        CapturedDatagram reply = StraceCapture.ForCommand("6.12", "vdpa dev vstats show net0 qidx 1")[4];
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        Assert.Equal(new GenlMsgHeader((byte)VdpaCommand.DevVstatsGet, 1), e.Current.GenlHeader);
        Assert.True(e.Current.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
        VdpaVendorStats s = VdpaVendorStats.FromAttributes(NetlinkAttributeList.Parse(attrs.ToArray()));
        Assert.Equal("net0", s.Name);
        Assert.Equal(1u, s.DeviceId);
        Assert.Equal(0x3_0083_0028ul, s.NegotiatedFeatures);
        Assert.Null(s.MaxVqPairs);
        Assert.Equal(1u, s.QueueIndex);
        Assert.Equal(["tx packets", "tx bytes", "tx errors", "tx drops"], s.Values.Select(v => v.Key));
        Assert.All(s.Values, v => Assert.Equal(0ul, v.Value));
    }

    [Fact]
    public void FamilyMessages_RoundTripThroughTheWriter()
    {
        int n = 0;
        foreach (CapturedDatagram d in StraceCapture.All().Where(d => !d.Sent))
        {
            var w = NetlinkWriter.CreateGrowable();
            foreach (NetlinkMessage m in NetlinkParser.Messages(d.Bytes))
            {
                if (m.Type < NetlinkMessageType.MinType || m.Type == Netlink.GenlIdCtrl)
                {
                    w.PutBytes(m.Raw);
                    continue;
                }
                NetlinkMessageToken t = w.BeginMessage(m.Type, m.Flags, m.Header.Sequence, m.Header.PortId);
                GenlMsgHeader g = m.GenlHeader;
                w.PutGenlHeader(g.Command, g.Version, g.Reserved);
                foreach (NetlinkAttribute a in m.GenlAttributes()) w.PutBinary(a.RawType, a.Payload);
                Assert.True(w.EndMessage(t), $"{d}: overflow={w.Overflowed} pos={w.Position}");
                n++;
            }
            Assert.Equal(TestUtil.Hex(d.Bytes), TestUtil.Hex(w.WrittenSpan));
            w.Dispose();
        }
        Assert.True(n >= 15, $"only {n} family messages");
    }

    private static VdpaDeviceConfig ParseConfig(string kernel, string command)
    {
        CapturedDatagram reply = StraceCapture.ForCommand(kernel, command).First(d => !d.Sent && TestUtil.Header(d.Bytes).Type == 0x13);
        NetlinkMessageEnumerator e = NetlinkParser.Messages(reply.Bytes);
        Assert.True(e.MoveNext());
        Assert.Equal(new GenlMsgHeader((byte)VdpaCommand.DevConfigGet, 1), e.Current.GenlHeader);
        Assert.True(e.Current.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
        return VdpaDeviceConfig.FromAttributes(NetlinkAttributeList.Parse(attrs.ToArray()));
    }
}
