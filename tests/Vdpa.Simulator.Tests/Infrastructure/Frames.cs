using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator.Tests.Infrastructure;

internal static class Frames
{
    public static readonly byte[] OwnMac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    public static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    public static readonly byte[] Multicast = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
    public static readonly byte[] Foreign = [0x02, 0x99, 0x88, 0x77, 0x66, 0x55];

    /// <summary>A frame: <paramref name="hdrLen"/>-byte virtio-net header (recognisable bytes), destination MAC, then a patterned payload up to <paramref name="length"/>.</summary>
    public static byte[] Make(ReadOnlySpan<byte> dest, int length, int hdrLen = VirtioNetHdrV1.Size, byte seed = 1)
    {
        var f = new byte[length];
        for (int i = 0; i < f.Length; i++) f[i] = (byte)(seed + i * 7);
        for (int i = 0; i < Math.Min(hdrLen, length); i++) f[i] = (byte)(0xA0 + i);
        if (length >= hdrLen + 6) dest.CopyTo(f.AsSpan(hdrLen));
        return f;
    }

    public static DescriptorSegment Readable(Iova at, int len) => new(at, (uint)len, false);
    public static DescriptorSegment Writable(Iova at, int len) => new(at, (uint)len, true);

    /// <summary>Queues a TX frame on vq 1.</summary>
    public static void Transmit(SimHarness h, byte[] frame, int token, bool kick = true)
    {
        var at = h.Guest.Put(frame);
        h.Add(1, [Readable(at, frame.Length)], token, kick);
    }

    /// <summary>Posts an RX buffer on vq 0; returns its address.</summary>
    public static Iova PostRx(SimHarness h, int size, int token, bool kick = true)
    {
        var at = h.Guest.Alloc(size);
        h.Add(0, [Writable(at, size)], token, kick);
        return at;
    }

    public static ulong NetDriverFeatures =>
        SimHarness.Bit(VirtioFeatures.Version1) | SimHarness.Bit(Virtio.Abi.NetFeatures.Mac) | SimHarness.Bit(Virtio.Abi.NetFeatures.Mtu)
        | SimHarness.Bit(Virtio.Abi.NetFeatures.Status) | SimHarness.Bit(Virtio.Abi.NetFeatures.CtrlVq) | SimHarness.Bit(Virtio.Abi.NetFeatures.CtrlMacAddr);
}
