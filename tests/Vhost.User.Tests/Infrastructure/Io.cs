using System.Buffers.Binary;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vhost.User.Tests.Infrastructure;

/// <summary>Driver-side I/O used by the back-end tests: net loopback frames and virtio-blk requests.</summary>
internal static class Io
{
    public static byte[] Frame(int length, byte seed)
    {
        var f = new byte[length];
        for (int i = 0; i < f.Length; i++) f[i] = (byte)(seed + i * 7);
        f.AsSpan(0, 12).Clear();                          // virtio_net_hdr_v1
        DeviceFixture.Mac.CopyTo(f.AsSpan(12));           // destination = the device's MAC
        return f;
    }

    /// <summary>One frame out on TX (vring 1) comes back byte for byte on RX (vring 0).</summary>
    public static void NetLoopback(TestFrontend fe, byte seed, int token)
    {
        var rx = fe.Alloc(2048);
        fe.Add(0, [new DescriptorSegment(rx, 2048, true)], token);
        var frame = Frame(200, seed);
        fe.Add(1, [new DescriptorSegment(fe.Put(frame), (uint)frame.Length, false)], token + 1);
        Assert.Equal((token, (uint)frame.Length), fe.WaitUsed(0));
        Assert.Equal((token + 1, 0u), fe.WaitUsed(1));
        Assert.Equal(frame, fe.Get(rx, frame.Length));
    }

    /// <summary>Makes a virtio-blk request available on vring <paramref name="vq"/>; returns where the status and data-in land.</summary>
    public static (Iova Status, Iova DataIn) AddBlk(TestFrontend fe, int vq, BlkRequestType type, ulong sector, byte[]? dataOut, int dataIn, int token)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)type);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), sector);
        var segs = new List<DescriptorSegment> { new(fe.Put(header), 16, false) };
        if (dataOut is not null) segs.Add(new(fe.Put(dataOut), (uint)dataOut.Length, false));
        Iova inAt = default;
        if (dataIn > 0)
        {
            inAt = fe.Alloc(dataIn);
            segs.Add(new(inAt, (uint)dataIn, true));
        }
        var st = fe.Put([0xEE]);
        segs.Add(new(st, 1, true));
        fe.Add(vq, [.. segs], token);
        return (st, inAt);
    }

    /// <summary>One synchronous virtio-blk request on vring 0.</summary>
    public static (byte Status, byte[] Data) Blk(TestFrontend fe, BlkRequestType type, ulong sector, byte[]? dataOut, int dataIn, int token)
    {
        var (st, inAt) = AddBlk(fe, 0, type, sector, dataOut, dataIn, token);
        Assert.Equal(token, fe.WaitUsed(0).Token);
        return (fe.Get(st, 1)[0], dataIn > 0 ? fe.Get(inAt, dataIn) : []);
    }
}
