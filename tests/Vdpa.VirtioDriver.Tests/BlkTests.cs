using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>virtio_blk driver against vdpasim_blk (128 MiB RAM disk).</summary>
public sealed class BlkTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void DevAdd_ExposesABlockDevice_WithTheSimulatorGeometry()
    {
        using var sim = new SimulatorBus();
        var (dev, blk) = sim.AddBlk();
        var exposure = Assert.Single(dev.Exposures);
        Assert.Equal(("virtio", "blk"), (exposure.Kind, exposure.Location));
        Assert.Same(blk, exposure.Handle);
        Assert.Equal(0x40000UL, blk.Capacity);
        Assert.Equal(512, blk.BlockSize);
        Assert.Equal(4096u, blk.SizeMax);
        Assert.Equal(32u, blk.SegMax);
        Assert.Equal(128 * 1024, blk.MaxRequestBytes);
        Assert.True(blk.SupportsFlush);
        Assert.True(blk.SupportsDiscard);
        Assert.True(blk.SupportsWriteZeroes);
        Assert.False(blk.IsReadOnly);
        Assert.Equal(128, blk.QueueDepth); // virtblk: the 256-entry ring, halved without indirect descriptors
    }

    [Fact]
    public async Task WriteRead_RoundTrips_SmallAndLarge()
    {
        using var sim = new SimulatorBus();
        var (_, blk) = sim.AddBlk();
        foreach (var (sector, length) in new[] { (0UL, 512), (7UL, 4096), (100UL, 128 * 1024), (1000UL, 1 << 20), (0x40000UL - 8, 4096), (3UL, 3 * 512 + 128 * 1024) })
        {
            var data = Pattern(length, (int)sector);
            await blk.WriteAsync(sector, data).AsTask().WaitAsync(Timeout);
            var back = new byte[length];
            await blk.ReadAsync(sector, back).AsTask().WaitAsync(Timeout);
            Assert.True(data.AsSpan().SequenceEqual(back), $"{length} bytes at sector {sector} differ");
        }
    }

    [Fact]
    public async Task FlushDiscardWriteZeroesAndGetId()
    {
        using var sim = new SimulatorBus();
        var (_, blk) = sim.AddBlk();
        await blk.WriteAsync(64, Pattern(8192, 1)).AsTask().WaitAsync(Timeout);
        await blk.FlushAsync().AsTask().WaitAsync(Timeout);
        await blk.WriteZeroesAsync(66, 4).AsTask().WaitAsync(Timeout);
        var back = new byte[8192];
        await blk.ReadAsync(64, back);
        var expected = Pattern(8192, 1);
        expected.AsSpan(2 * 512, 4 * 512).Clear();
        Assert.Equal(expected, back);
        await blk.WriteZeroesAsync(70, 2, unmap: true).AsTask().WaitAsync(Timeout);
        await blk.DiscardAsync(0, 1024).AsTask().WaitAsync(Timeout);
        Assert.Equal("vdpa_blk_sim", await blk.GetIdAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task OutOfRangeAndMisaligned_AreRejectedBeforeTheDevice()
    {
        using var sim = new SimulatorBus();
        var (_, blk) = sim.AddBlk();
        Assert.Throws<ArgumentOutOfRangeException>(() => blk.ReadAsync(0x40000, new byte[512]));
        Assert.Throws<ArgumentOutOfRangeException>(() => blk.WriteAsync(0x40000 - 1, new byte[1024]));
        Assert.Throws<ArgumentException>(() => blk.ReadAsync(0, new byte[100]));
        Assert.Throws<ArgumentOutOfRangeException>(() => blk.DiscardAsync(0x40000, 1));
        await blk.ReadAsync(0, Memory<byte>.Empty); // zero length completes at once
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public async Task ConcurrentIo_AtQueueDepth(int depth)
    {
        using var sim = new SimulatorBus();
        var (_, blk) = sim.AddBlk(options: new BindOptions([new("queue-depth", depth.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
        Assert.Equal(depth, blk.QueueDepth);
        const int Jobs = 64;
        var writes = Enumerable.Range(0, Jobs).Select(i => blk.WriteAsync((ulong)i * 64, Pattern(16 * 1024, i)).AsTask());
        await Task.WhenAll(writes).WaitAsync(Timeout);
        var reads = Enumerable.Range(0, Jobs).Select(async i =>
        {
            var b = new byte[16 * 1024];
            await blk.ReadAsync((ulong)i * 64, b);
            return (i, b);
        });
        foreach (var (i, b) in await Task.WhenAll(reads).WaitAsync(Timeout))
            Assert.True(Pattern(16 * 1024, i).AsSpan().SequenceEqual(b), $"job {i} differs");
    }

    [Fact]
    public async Task Removal_WhileIoIsOutstanding_CompletesEverythingWithTheRemovedError()
    {
        using var sim = new SimulatorBus();
        var (_, blk) = sim.AddBlk();
        var data = Pattern(128 * 1024, 5);
        var jobs = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            for (int k = 0; k < 20; k++) await blk.WriteAsync((ulong)(i * 256), data);
        })).ToArray();
        await Task.Delay(5);
        sim.Bus.DeleteDevice("blk0");
        foreach (var j in jobs)
        {
            try
            {
                await j.WaitAsync(Timeout);
            }
            catch (ObjectDisposedException e)
            {
                Assert.IsType<VirtioDeviceRemovedException>(e);
                Assert.Equal("device blk0 was removed", e.Message);
            }
        }
        Assert.True(jobs.Count(j => j.IsFaulted) > 0, "nothing was outstanding when the device went away");
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await blk.ReadAsync(0, new byte[512]));
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await blk.FlushAsync());
    }
}

/// <summary>virtio_blk request layout and status handling against the recording parent (which serves the ring).</summary>
public sealed class BlkRequestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static (TestBus Bus, VirtioBlkDevice Blk) Create(Func<int, Uvdpa.Virtio.Queues.DescriptorChain, Uvdpa.Virtio.Memory.DmaView, uint?> handler, BindOptions? options = null, ulong extraFeatures = 0)
    {
        var ops = RecordingVdpaOps.Blk(InitSequenceTests.SimBlkFeatures | extraFeatures);
        ops.RequestHandler = handler;
        var t = new TestBus(ops, options);
        return (t, t.Blk);
    }

    /// <summary>Writes <paramref name="status"/> into the last writable byte and reports all writable bytes as used.</summary>
    private static uint? Answer(Uvdpa.Virtio.Queues.DescriptorChain chain, Uvdpa.Virtio.Memory.DmaView view, BlkStatus status)
    {
        var w = chain.CreateWriter();
        w.Skip(chain.WritableLength - 1);
        w.Write(view, [(byte)status]);
        return (uint)chain.WritableLength;
    }

    private static (uint Type, ulong Sector) Header(Uvdpa.Virtio.Queues.DescriptorChain chain, Uvdpa.Virtio.Memory.DmaView view)
    {
        var r = chain.CreateReader();
        Span<byte> h = stackalloc byte[16];
        r.Read(view, h);
        return (BitConverter.ToUInt32(h), BitConverter.ToUInt64(h[8..]));
    }

    [Fact]
    public async Task ReadRequest_IsHeaderPlusSizeMaxSegmentsPlusStatus()
    {
        var headers = new List<(uint, ulong)>();
        var (t, blk) = Create((_, c, v) => { lock (headers) headers.Add(Header(c, v)); return Answer(c, v, BlkStatus.Ok); });
        await blk.ReadAsync(8, new byte[256 * 1024]).AsTask().WaitAsync(Timeout); // two requests of 128 KiB
        Assert.Equal(2, t.Ops.Requests.Count);
        var segs = t.Ops.Requests[0].Segments;
        Assert.Equal(34, segs.Length);
        Assert.Equal((16u, false), (segs[0].Length, segs[0].DeviceWritable));
        Assert.All(segs[1..33], s => Assert.Equal((4096u, true), (s.Length, s.DeviceWritable)));
        Assert.Equal((1u, true), (segs[33].Length, segs[33].DeviceWritable));
        Assert.Equal([(0u, 8UL), (0u, 8UL + 256)], headers);
    }

    [Fact]
    public async Task WriteRequest_HasReadableData()
    {
        var (t, blk) = Create((_, c, v) => Answer(c, v, BlkStatus.Ok));
        await blk.WriteAsync(1, new byte[4096 + 512]).AsTask().WaitAsync(Timeout);
        var segs = t.Ops.Requests.Single().Segments;
        Assert.Equal([16u, 4096u, 512u, 1u], segs.Select(s => s.Length));
        Assert.Equal([false, false, false, true], segs.Select(s => s.DeviceWritable));
    }

    [Fact]
    public async Task DiscardAndWriteZeroes_CarryTheRangeInThePayload_AndSectorZeroInTheHeader()
    {
        var payloads = new List<(uint Type, ulong HdrSector, ulong Sector, uint Count, uint Flags)>();
        var (_, blk) = Create((_, c, v) =>
        {
            var r = c.CreateReader();
            var b = new byte[32];
            r.Read(v, b);
            lock (payloads) payloads.Add((BitConverter.ToUInt32(b), BitConverter.ToUInt64(b.AsSpan(8)), BitConverter.ToUInt64(b.AsSpan(16)), BitConverter.ToUInt32(b.AsSpan(24)), BitConverter.ToUInt32(b.AsSpan(28))));
            return Answer(c, v, BlkStatus.Ok);
        });
        await blk.DiscardAsync(10, 20).AsTask().WaitAsync(Timeout);
        await blk.WriteZeroesAsync(30, 5, unmap: true).AsTask().WaitAsync(Timeout);
        Assert.Equal([((uint)BlkRequestType.Discard, 0UL, 10UL, 20u, 0u), ((uint)BlkRequestType.WriteZeroes, 0UL, 30UL, 5u, 1u)], payloads);
    }

    [Theory]
    [InlineData(BlkStatus.IoErr)]
    [InlineData(BlkStatus.Unsupp)]
    public async Task ErrorStatus_BecomesVirtioBlkException(BlkStatus status)
    {
        var (_, blk) = Create((_, c, v) => Answer(c, v, status));
        var e = await Assert.ThrowsAsync<VirtioBlkException>(async () => await blk.ReadAsync(5, new byte[512]));
        Assert.Equal(status, e.Status);
        Assert.Equal(BlkRequestType.In, e.RequestType);
        Assert.Equal(5UL, e.Sector);
        var f = await Assert.ThrowsAsync<VirtioBlkException>(async () => await blk.FlushAsync());
        Assert.Equal(BlkRequestType.Flush, f.RequestType);
        // The device stays usable.
        Assert.Equal(status, (await Assert.ThrowsAsync<VirtioBlkException>(async () => await blk.WriteAsync(0, new byte[512]))).Status);
    }

    [Fact]
    public async Task QueueDepth_LimitsRequestsInFlight()
    {
        var held = new List<ushort>();
        var (t, blk) = Create((_, c, _) => { lock (held) held.Add(c.Head); return null; }, new BindOptions([new("queue-depth", "2")]));
        var jobs = Enumerable.Range(0, 5).Select(i => blk.ReadAsync((ulong)i, new byte[512]).AsTask()).ToArray();
        await WaitUntil(() => { lock (held) return held.Count == 2; });
        await Task.Delay(50);
        lock (held) Assert.Equal(2, held.Count); // the other three wait for a slot
        Assert.All(jobs, j => Assert.False(j.IsCompleted));
        // Complete them one at a time; each completion lets one more in.
        for (int done = 0; done < 5; done++)
        {
            ushort head;
            lock (held) { head = held[0]; held.RemoveAt(0); }
            t.Ops.CompleteLater(0, head, 513); // the status byte is left as the driver initialised it (0xff)
            await WaitUntil(() => jobs.Count(j => j.IsCompleted) > done);
            if (done < 3) await WaitUntil(() => { lock (held) return held.Count == 2; });
        }
        // The fake left the status byte as the driver initialised it (0xff), so each request fails with that status.
        Assert.All(jobs, j => Assert.IsType<VirtioBlkException>(j.Exception!.InnerException));
    }

    [Fact]
    public async Task Removal_CompletesRequestsTheDeviceNeverAnswered()
    {
        var (t, blk) = Create((_, _, _) => null);
        var read = blk.ReadAsync(0, new byte[4096]).AsTask();
        var flush = blk.FlushAsync().AsTask();
        var id = blk.GetIdAsync();
        await WaitUntil(() => t.Ops.Requests.Count == 3);
        Assert.False(read.IsCompleted || flush.IsCompleted || id.IsCompleted);
        t.Bus.Unbind("vdpa0");
        foreach (var task in new Task[] { read, flush, id })
        {
            var e = await Assert.ThrowsAsync<VirtioDeviceRemovedException>(() => task.WaitAsync(Timeout));
            Assert.Equal("device vdpa0 was removed", e.Message);
        }
        Assert.Throws<VirtioDeviceRemovedException>(() => blk.ReadAsync(0, new byte[512]));
    }

    [Fact]
    public async Task WithIndirectDescriptors_EachRequestTakesOneRingDescriptor()
    {
        var (t, blk) = Create((_, c, v) => Answer(c, v, BlkStatus.Ok), extraFeatures: 1UL << VirtioFeatures.RingIndirectDesc);
        Assert.Equal(256, blk.QueueDepth); // virtblk: with indirect descriptors the whole ring
        await blk.WriteAsync(0, new byte[128 * 1024]).AsTask().WaitAsync(Timeout);
        Assert.Equal(34, t.Ops.Requests.Single().Segments.Length); // the device walked the indirect table
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(2);
        }
    }
}
