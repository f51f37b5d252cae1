using System.Buffers.Binary;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests.Infrastructure;

/// <summary>virtio-blk requests as virtio_blk builds them: out header, data, status byte.</summary>
internal static class BlkRequests
{
    public static ulong DriverFeatures =>
        SimHarness.Bit(VirtioFeatures.Version1) | SimHarness.Bit(BlkFeatures.Flush) | SimHarness.Bit(BlkFeatures.Discard)
        | SimHarness.Bit(BlkFeatures.WriteZeroes) | SimHarness.Bit(BlkFeatures.BlkSize) | SimHarness.Bit(BlkFeatures.SegMax);

    public static byte[] Header(BlkRequestType type, ulong sector)
    {
        var h = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)type);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(8), sector);
        return h;
    }

    public static byte[] Range(ulong sector, uint num, uint flags)
    {
        var r = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(r, sector);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), num);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), flags);
        return r;
    }

    /// <summary>Submits a request and waits for it. Returns (status, used length, data-in buffer address).</summary>
    public static (BlkStatus Status, uint Used, Iova In) Submit(SimHarness h, BlkRequestType type, ulong sector, byte[]? dataOut = null, int dataIn = 0, int token = 1)
    {
        var status = Issue(h, type, sector, dataOut, dataIn, token, out var inAt);
        var (t, len) = h.WaitUsed(0);
        Assert.Equal(token, t);
        return ((BlkStatus)h.Guest.Get(status, 1)[0], len, inAt);
    }

    public static Iova Issue(SimHarness h, BlkRequestType type, ulong sector, byte[]? dataOut, int dataIn, int token, out Iova inAt, bool kick = true)
    {
        var segs = new List<DescriptorSegment> { Readable(h.Guest.Put(Header(type, sector)), 16) };
        if (dataOut is not null) segs.Add(Readable(h.Guest.Put(dataOut), dataOut.Length));
        inAt = default;
        if (dataIn > 0)
        {
            inAt = h.Guest.Alloc(dataIn);
            Assert.True(h.Guest.View.TryFill(inAt, (ulong)dataIn, 0xCC));
            segs.Add(Writable(inAt, dataIn));
        }
        var status = h.Guest.Alloc(1);
        Assert.True(h.Guest.View.TryWrite(status, [0xEE]));
        segs.Add(Writable(status, 1));
        h.Add(0, [.. segs], token, kick);
        return status;
    }

    public static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
