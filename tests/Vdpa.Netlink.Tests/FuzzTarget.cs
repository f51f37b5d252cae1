using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary>
/// Runs every reader entry point over arbitrary bytes. Contract: only <see cref="NetlinkFormatException"/> may
/// escape, and the walk is bounded (a message takes ≥ 16 bytes, an attribute ≥ 4).
/// </summary>
internal static class FuzzTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        // Non-throwing validation must agree with the throwing enumerator.
        bool valid = NetlinkParser.TryValidateDatagram(data, out int count, out string? error);
        Assert.True(count <= data.Length / Netlink.MessageHeaderSize + 1);
        Assert.Equal(valid, error is null);
        int seen = 0;
        try
        {
            foreach (NetlinkMessage m in NetlinkParser.Messages(data))
            {
                seen++;
                Assert.True(seen <= data.Length / Netlink.MessageHeaderSize);
                Message(m);
            }
            Assert.True(valid);
        }
        catch (NetlinkFormatException)
        {
        }
        Attributes(data, 0);
    }

    private static void Message(NetlinkMessage m)
    {
        if (NetlinkErrorMessage.TryParse(m, out NetlinkErrorMessage e, out _))
        {
            _ = e.Errno + e.EchoedPayload.Length + e.Tlvs.Length;
            try { e.GetExtendedAck(); } catch (NetlinkFormatException) { }
        }
        if (NetlinkDoneMessage.TryParse(m, out NetlinkDoneMessage d))
        {
            try { d.GetExtendedAck(); } catch (NetlinkFormatException) { }
        }
        if (m.TryGetGenl(out _, out ReadOnlySpan<byte> attrs))
        {
            Attributes(attrs, 0);
            try { GenlCtrl.ParseFamily(attrs); } catch (NetlinkFormatException) { }
            try
            {
                NetlinkAttributeList list = NetlinkAttributeList.Parse(attrs.ToArray());
                try { VdpaManagementDevice.FromAttributes(list); } catch (NetlinkFormatException) { }
                try { VdpaDeviceInfo.FromAttributes(list); } catch (NetlinkFormatException) { }
                try { VdpaDeviceConfig.FromAttributes(list); } catch (NetlinkFormatException) { }
                try { VdpaVendorStats.FromAttributes(list); } catch (NetlinkFormatException) { }
            }
            catch (NetlinkFormatException)
            {
            }
        }
    }

    private static void Attributes(ReadOnlySpan<byte> payload, int depth)
    {
        NetlinkParser.TryValidateAttributes(payload, descendIntoNested: true, out _);
        int seen = 0;
        try
        {
            foreach (NetlinkAttribute a in NetlinkParser.Attributes(payload))
            {
                seen++;
                Assert.True(seen <= payload.Length / Netlink.AttributeHeaderSize);
                a.TryGetU8(out _); a.TryGetU16(out _); a.TryGetU32(out _); a.TryGetU64(out _); a.TryGetUInt(out _);
                _ = a.GetString();
                _ = a.IsNulTerminatedString;
                try { a.GetU64(); } catch (NetlinkFormatException) { }
                if (depth < 4) Attributes(a.Payload, depth + 1);
            }
        }
        catch (NetlinkFormatException)
        {
        }
    }

}
