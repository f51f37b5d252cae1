using Uvdpa.Vdpa.Netlink.Tests;
using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management.Tests;

/// <summary>
/// Replays every request iproute2 6.1 sent to Linux 6.12 (kernel-6.12-vdpa-wire.strace.txt) against the service, on a
/// stack set up like the capture VM, and compares every reply datagram byte for byte with the kernel's, after
/// normalising what legitimately differs: nlmsg_pid (the kernel puts the socket's port id, we echo the request's 0)
/// and the dynamic family id (0x13 in the capture).
/// </summary>
public sealed class GoldenReplayTests(ITestOutputHelper output)
{
    private const ushort CapturedVdpaId = 0x13;

    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (string c in StraceCapture.Load("6.12").Select(d => d.Command).Distinct()) data.Add(c);
        return data;
    }

    [Fact]
    public void WholeSessionReplaysByteForByte()
    {
        using var stack = new TestStack();
        int compared = 0;
        var capture = StraceCapture.Load("6.12");
        for (int i = 0; i < capture.Count; i++)
        {
            var d = capture[i];
            if (!d.Sent) continue;
            byte[] request = Normalize(d.Bytes);
            var expected = new List<byte[]>();
            for (int j = i + 1; j < capture.Count && !capture[j].Sent; j++) expected.Add(Normalize(capture[j].Bytes));
            var actual = stack.Raw(request).Select(Normalize).ToList();
            if (d.Command == "vdpa dev config show blk0") PatchBlkNegotiated(expected[0]);
            Assert.True(expected.Count == actual.Count, $"{d}: expected {expected.Count} datagrams, got {actual.Count}");
            for (int k = 0; k < expected.Count; k++)
            {
                if (!expected[k].AsSpan().SequenceEqual(actual[k]))
                {
                    output.WriteLine($"{d} reply #{k}\nkernel: {Convert.ToHexString(expected[k])}\nours:   {Convert.ToHexString(actual[k])}");
                }
                Assert.Equal(Convert.ToHexString(expected[k]), Convert.ToHexString(actual[k]));
                compared++;
            }
        }
        output.WriteLine($"{compared} reply datagrams identical");
        Assert.True(compared >= 40);
    }

    /// <summary>
    /// The in-process virtio_blk driver (Vdpa.VirtioDriver) does not negotiate VIRTIO_BLK_F_MQ (bit 12), Linux's
    /// virtio_blk does; the service reports what was negotiated, so only that bit of DEV_NEGOTIATED_FEATURES differs.
    /// </summary>
    private static void PatchBlkNegotiated(byte[] reply)
    {
        foreach (NetlinkAttribute a in NetlinkParser.Attributes(reply.AsSpan(20, (int)NlMsgHeader.Read(reply).Length - 20)))
        {
            if (a.Type != (ushort)VdpaAttr.DevNegotiatedFeatures) continue;
            ulong v = a.GetU64();
            Assert.NotEqual(0UL, v & (1UL << 12));
            MemoryMarshal.Write(reply.AsSpan(20 + a.Offset + 4), v & ~(1UL << 12));
        }
    }

    /// <summary>pid → 0 in every header (echoed ones too), family 0x13 → ours (type, echoed type, CTRL_ATTR_FAMILY_ID).</summary>
    internal static byte[] Normalize(byte[] datagram)
    {
        byte[] b = (byte[])datagram.Clone();
        int off = 0;
        while (off + 16 <= b.Length)
        {
            var h = NlMsgHeader.Read(b.AsSpan(off));
            FixHeader(b, off);
            if (h.Type == NetlinkMessageType.Error && h.Length >= 36) FixHeader(b, off + 20);
            if (h.Type == NL.GenlIdCtrl && h.Length > 20 && b[off + 16] == 1)
            {
                foreach (NetlinkAttribute a in NetlinkParser.Attributes(b.AsSpan(off + 20, (int)h.Length - 20)))
                {
                    if (a.Type == (ushort)CtrlAttr.FamilyId && a.GetU16() == CapturedVdpaId)
                        MemoryMarshal.Write(b.AsSpan(off + 20 + a.Offset + 4), NetlinkService.VdpaFamilyId);
                }
            }
            if (h.Length < 16) break;
            off += NL.AlignMessage((int)h.Length);
        }
        return b;
    }

    private static void FixHeader(byte[] b, int at)
    {
        ushort type = MemoryMarshal.Read<ushort>(b.AsSpan(at + 4));
        if (type == CapturedVdpaId) MemoryMarshal.Write(b.AsSpan(at + 4), NetlinkService.VdpaFamilyId);
        MemoryMarshal.Write(b.AsSpan(at + 12), 0u);
    }
}
