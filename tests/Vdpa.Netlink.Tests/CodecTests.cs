using System.Runtime.CompilerServices;
using CsCheck;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

public sealed class CodecTests
{
    [Fact]
    public void WireStructs_HaveTheKernelLayout()
    {
        Assert.Equal(16, Unsafe.SizeOf<NlMsgHeader>());
        Assert.Equal(4, Unsafe.SizeOf<GenlMsgHeader>());
        var b = new byte[16];
        new NlMsgHeader(0x11223344, 0x5566, (NetlinkMessageFlags)0x7788, 0x99aabbcc, 0xddeeff00).Write(b);
        Assert.Equal("4433221166558877ccbbaa9900ffeedd", TestUtil.Hex(b));
        new GenlMsgHeader(3, 1, 0x0201).Write(b);
        Assert.Equal("03010102", TestUtil.Hex(b.AsSpan(0, 4)));
    }

    [Fact]
    public void FlagValues_AreTheUapiOnes()
    {
        Assert.Equal(0x300, (int)NetlinkMessageFlags.Dump);
        Assert.Equal(0x100, (int)NetlinkMessageFlags.Capped);
        Assert.Equal(0x200, (int)NetlinkMessageFlags.AckTlvs);
        Assert.Equal(0x10, (int)NetlinkMessageFlags.DumpInterrupted);
        Assert.Equal(0x20, (int)NetlinkMessageFlags.DumpFiltered);
        Assert.Equal(0x3fff, Netlink.AttributeTypeMask);
        Assert.Equal(21, (int)VdpaAttr.DevBlkCfgCapacity);
        Assert.Equal(36, (int)VdpaAttr.DevBlkFlush);
        Assert.Equal(8, (int)VdpaCommand.DevAttrSet);
    }

    [Fact]
    public void Writer_PadsAndNests()
    {
        var w = new NetlinkWriter(new byte[128]);
        NetlinkMessageToken m = w.BeginMessage(0x13, VdpaClient.DoFlags, 7, 0);
        w.PutGenlHeader(5, 0);
        w.PutU8(1, 0xab);
        w.PutU16(2, 0x1234);
        w.PutString(4, "net0");
        NetlinkNestToken n = w.BeginNested(6);
        w.PutU32(1, 9);
        w.PutFlag(3);
        Assert.True(w.EndNested(n));
        w.PutU64(20, 0x0102030405060708);
        Assert.True(w.EndMessage(m));
        Assert.Equal(
            "4c000000130005000700000000000000" + "05000000" +
            "05000100ab000000" + "060002003412" + "0000" + "090004006e65743000000000" +
            "1000068008000100090000000400" + "0300" + "0c0014000807060504030201",
            TestUtil.Hex(w.WrittenSpan));

        NetlinkMessageEnumerator e = NetlinkParser.Messages(w.WrittenSpan);
        Assert.True(e.MoveNext());
        NetlinkAttributeEnumerator a = e.Current.GenlAttributes();
        Assert.True(a.MoveNext()); Assert.Equal(0xab, a.Current.GetU8());
        Assert.True(a.MoveNext()); Assert.Equal(0x1234, a.Current.GetU16());
        Assert.True(a.MoveNext()); Assert.Equal("net0", a.Current.GetString()); Assert.True(a.Current.IsNulTerminatedString);
        Assert.True(a.MoveNext());
        Assert.Equal(6, a.Current.Type);
        Assert.True(a.Current.IsNestedFlagSet);
        NetlinkAttributeEnumerator inner = a.Current.GetNested();
        Assert.True(inner.MoveNext()); Assert.Equal(9u, inner.Current.GetU32());
        Assert.True(inner.MoveNext()); Assert.Equal(3, inner.Current.Type); Assert.Equal(0, inner.Current.Payload.Length);
        Assert.False(inner.MoveNext());
        Assert.True(a.MoveNext()); Assert.Equal(0x0102030405060708ul, a.Current.GetU64());
        Assert.False(a.MoveNext());
    }

    [Fact]
    public void NetByteOrderFlag_IsMaskedAndHonoured()
    {
        var w = new NetlinkWriter(new byte[16]);
        w.PutBinary(7 | Netlink.AttributeNetByteOrder, [0x12, 0x34]);
        NetlinkAttributeEnumerator a = NetlinkParser.Attributes(w.WrittenSpan);
        Assert.True(a.MoveNext());
        Assert.Equal(7, a.Current.Type);
        Assert.True(a.Current.IsNetByteOrder);
        Assert.Equal(0x1234, a.Current.GetU16());
    }

    [Fact]
    public void FixedWriter_OverflowsLikeEmsgsize_AndRewinds()
    {
        var w = new NetlinkWriter(new byte[40]);
        NetlinkMessageToken m1 = w.BeginMessage(0x13, 0, 1, 0);
        w.PutU32(1, 1);
        Assert.True(w.EndMessage(m1));
        int mark = w.Position;
        NetlinkMessageToken m2 = w.BeginMessage(0x13, 0, 1, 0);
        w.PutString(2, "this does not fit in the rest");
        Assert.True(w.Overflowed);
        Assert.False(w.EndMessage(m2));
        w.Rewind(mark);
        Assert.False(w.Overflowed);
        Assert.Equal(24, w.WrittenSpan.Length);
        Assert.True(NetlinkParser.TryValidateDatagram(w.WrittenSpan, out int count, out _));
        Assert.Equal(1, count);
    }

    [Fact]
    public void GrowableWriter_Grows()
    {
        var w = NetlinkWriter.CreateGrowable(64);
        NetlinkMessageToken m = w.BeginMessage(0x13, 0, 1, 0);
        for (int i = 0; i < 1000; i++) w.PutU32(1, (uint)i);
        Assert.True(w.EndMessage(m));
        Assert.Equal(16 + 8000, w.Position);
        w.Dispose();
    }

    [Fact]
    public void TruncatedInputs_AreFormatErrors()
    {
        Assert.Throws<NetlinkFormatException>(() => NlMsgHeader.Read(new byte[15]));
        Assert.Throws<NetlinkFormatException>(() => GenlMsgHeader.Read(new byte[3]));
        Assert.Throws<NetlinkFormatException>(() => { var e = NetlinkParser.Messages(FuzzTests.Build(40, 0x13, 0, new byte[8])); while (e.MoveNext()) { } });
        Assert.Throws<NetlinkFormatException>(() => { var e = NetlinkParser.Attributes([8, 0, 1, 0, 1, 2]); while (e.MoveNext()) { } });
        Assert.Throws<NetlinkFormatException>(() => { var e = NetlinkParser.Attributes([4, 0, 1, 0, 1, 2]); while (e.MoveNext()) { } });
        Assert.Throws<NetlinkFormatException>(() => { var e = NetlinkParser.Attributes([5, 0, 1, 0, 1]); e.MoveNext(); e.Current.GetU16(); });
    }

    [Fact]
    public void LastAttributeWithoutPadding_IsAccepted()
    {
        byte[] attrs = [5, 0, 1, 0, 0x2a]; // nla_len 5, no trailing pad
        NetlinkAttributeEnumerator e = NetlinkParser.Attributes(attrs);
        Assert.True(e.MoveNext());
        Assert.Equal(0x2a, e.Current.GetU8());
        Assert.False(e.MoveNext());
    }

    [Fact]
    public void ErrorMessage_UncappedEchoesTheWholeRequest()
    {
        var req = new NetlinkWriter(new byte[64]);
        VdpaRequestWriter.Write(ref req, 0x13, (byte)VdpaCommand.DevDel, VdpaClient.DoFlags, 5, new VdpaRequestAttributes { DeviceName = "nosuch" });
        byte[] request = req.ToArray();
        var w = new NetlinkWriter(new byte[256]);
        Assert.True(NetlinkAckWriter.WriteAck(ref w, request, 42, Errno.ENODEV, new NetlinkAckOptions(CapAck: false, ExtendedAck: true),
            new NetlinkExtAckInfo { Message = "vdpa: device not found", BadAttributeOffset = 20, MissingType = 4 }));
        NetlinkMessageEnumerator e = NetlinkParser.Messages(w.WrittenSpan);
        Assert.True(e.MoveNext());
        Assert.Equal(NetlinkMessageFlags.AckTlvs, e.Current.Flags);
        Assert.True(NetlinkErrorMessage.TryParse(e.Current, out NetlinkErrorMessage err, out _));
        Assert.False(err.IsCapped);
        Assert.Equal(TestUtil.Hex(request.AsSpan(16)), TestUtil.Hex(err.EchoedPayload));
        NetlinkExtendedAck x = err.GetExtendedAck();
        Assert.Equal(new NetlinkExtendedAck("vdpa: device not found", 20, null, null, 4, null), x);
    }

    [Fact]
    public void AckWithWarning_KeepsOnlyMessageAndCookie()
    {
        byte[] request = FuzzTests.Build(20, 0x13, 5, [8, 0, 0, 0]);
        var w = new NetlinkWriter(new byte[128]);
        NetlinkAckWriter.WriteAck(ref w, request, 1, 0, NetlinkAckOptions.Iproute2,
            new NetlinkExtAckInfo { Message = "vdpa: blk0 device not supported", BadAttributeOffset = 20, Cookie = [1, 2] });
        NetlinkMessageEnumerator e = NetlinkParser.Messages(w.WrittenSpan);
        Assert.True(e.MoveNext());
        Assert.Equal(NetlinkMessageFlags.Capped | NetlinkMessageFlags.AckTlvs, e.Current.Flags);
        Assert.True(NetlinkErrorMessage.TryParse(e.Current, out NetlinkErrorMessage ack, out _));
        Assert.True(ack.IsAck);
        NetlinkExtendedAck x = ack.GetExtendedAck();
        Assert.Equal("vdpa: blk0 device not supported", x.Message);
        Assert.Null(x.Offset);
        Assert.Equal([1, 2], x.Cookie);
    }

    [Fact]
    public void FamilyReply_WithMulticastGroups_RoundTrips()
    {
        var f = new GenlFamilyInfo(0x10, "nlctrl", 2, 0, 0,
            [new GenlOperation(3, (GenlOpFlags)0x0e), new GenlOperation(10, (GenlOpFlags)0x0c)], [new GenlMulticastGroup("notify", 0x10)]);
        var w = new NetlinkWriter(new byte[256]);
        Assert.True(GenlCtrl.WriteFamilyReply(ref w, f, 1, 2));
        NetlinkMessageEnumerator e = NetlinkParser.Messages(w.WrittenSpan);
        Assert.True(e.MoveNext());
        Assert.True(e.Current.TryGetGenl(out _, out ReadOnlySpan<byte> attrs));
        GenlFamilyInfo back = GenlCtrl.ParseFamily(attrs);
        Assert.Equal(f.Operations, back.Operations);
        Assert.Equal(f.MulticastGroups, back.MulticastGroups);
        Assert.Equal(f with { Operations = back.Operations, MulticastGroups = back.MulticastGroups }, back);
    }

    [Fact]
    public void RandomAttributes_RoundTrip()
    {
        Gen.Select(Gen.UShort[1, 0x3fff], Gen.Byte.Array[0, 40]).Array[0, 20].Sample(list =>
        {
            var w = NetlinkWriter.CreateGrowable();
            foreach (var (t, p) in list) w.PutBinary(t, p);
            int i = 0;
            foreach (NetlinkAttribute a in NetlinkParser.Attributes(w.WrittenSpan))
            {
                Assert.Equal(list[i].Item1, a.Type);
                Assert.Equal(list[i].Item2, a.Payload.ToArray());
                i++;
            }
            Assert.Equal(list.Length, i);
            Assert.Equal(0, w.Position % 4);
            w.Dispose();
        }, iter: 2000);
    }

    [Theory]
    [InlineData("vdpasim_net", null, "vdpasim_net")]
    [InlineData("pci/0000:65:00.2", "pci", "0000:65:00.2")]
    [InlineData("auxiliary/mlx5_core.sf.1", "auxiliary", "mlx5_core.sf.1")]
    public void ManagementDeviceHandle_ParsesLikeIproute2(string text, string? bus, string name)
    {
        VdpaManagementDeviceHandle h = VdpaManagementDeviceHandle.Parse(text);
        Assert.Equal(bus, h.BusName);
        Assert.Equal(name, h.DeviceName);
        Assert.Equal(text, h.ToString());
    }

    [Fact]
    public void ManagementDeviceHandle_RejectsTwoSlashes() =>
        Assert.Throws<FormatException>(() => VdpaManagementDeviceHandle.Parse("a/b/c"));

    [Fact]
    public void Errno_TextsMatchGlibc()
    {
        Assert.Equal("No such device", Errno.Describe(Errno.ENODEV));
        Assert.Equal("Operation not supported", Errno.Describe(Errno.EOPNOTSUPP));
        Assert.Equal("Numerical result out of range", Errno.Describe(Errno.ERANGE));
        Assert.Equal("EOPNOTSUPP", Errno.Name(95));
    }
}
