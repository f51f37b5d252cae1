using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>Readers holding leases while another thread republishes the space: never a crash, never a torn view.</summary>
public class DmaSpaceConcurrencyTests
{
    [Fact]
    public async Task SetMapAlternating_ReadersAlwaysSeeOneOfTheTwoLayouts()
    {
        using var a = Filled(0x10000, Page, 0xaa);
        using var b = Filled(0x20000, Page, 0xbb);
        using var space = new DmaSpace(GuestMemory.Create(a, b));
        IotlbEntry[] layoutA = [new(Iova(0), Iova(Page - 1), Gpa(0x10000), AccessPermission.Read)];
        IotlbEntry[] layoutB = [new(Iova(0), Iova(Page - 1), Gpa(0x20000), AccessPermission.Read)];
        space.Iotlb.SetMap(layoutA);

        const int updates = 5000;
        int writerDone = 0;
        var writer = Task.Run(() =>
        {
            try
            {
                for (int i = 0; i < updates; i++) Assert.Equal(IotlbResult.Ok, space.Iotlb.SetMap(i % 2 == 0 ? layoutB : layoutA));
            }
            finally
            {
                Volatile.Write(ref writerDone, 1);
            }
        });

        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            var buf = new byte[64];
            int seenA = 0, seenB = 0, reads = 0;
            while (Volatile.Read(ref writerDone) == 0 || reads < 1000)
            {
                using var lease = space.Acquire();
                Assert.True(lease.View.TryRead(Iova(0x40), buf));
                byte first = buf[0];
                Assert.True(first is 0xaa or 0xbb, $"unexpected byte 0x{first:x2}");
                Assert.All(buf, x => Assert.Equal(first, x));
                // The same lease keeps answering from the same layout.
                Assert.True(lease.View.TryRead(Iova(Page - 64), buf));
                Assert.All(buf, x => Assert.Equal(first, x));
                if (first == 0xaa) seenA++; else seenB++;
                reads++;
            }
            return (seenA, seenB);
        })).ToArray();

        await writer.WaitAsync(TimeSpan.FromMinutes(2));
        var results = await Task.WhenAll(readers).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(results, r => Assert.True(r.seenA + r.seenB >= 1000));
    }

    [Fact]
    public async Task SetMemoryWithDisposal_LeasesPinTheRetiredRegions()
    {
        // The writer replaces the memory with a fresh region and disposes the previous one at once; readers that
        // still hold a lease on the old snapshot must keep reading valid (consistent) bytes, never faulting.
        var first = Filled(0x10000, Page, 0);
        using var space = new DmaSpace(GuestMemory.Create(first));
        const int updates = 250;
        int writerDone = 0;
        var writer = Task.Run(() =>
        {
            var previous = first;
            try
            {
                for (int i = 1; i <= updates; i++)
                {
                    var next = Filled(0x10000, Page, (byte)i);
                    space.SetMemory(GuestMemory.Create(next));
                    previous.Dispose();
                    previous = next;
                }
            }
            finally
            {
                Volatile.Write(ref writerDone, 1);
            }
            return previous;
        });

        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            var buf = new byte[256];
            int reads = 0;
            while (Volatile.Read(ref writerDone) == 0 || reads < 100)
            {
                using var lease = space.Acquire();
                Assert.True(lease.View.TryRead(Iova(0x10000), buf));
                Thread.SpinWait(50); // hold the lease across a likely republish
                var again = new byte[256];
                Assert.True(lease.View.TryRead(Iova(0x10f00), again));
                Assert.All(buf, x => Assert.Equal(buf[0], x));
                Assert.All(again, x => Assert.Equal(buf[0], x));
                reads++;
            }
        })).ToArray();

        var last = await writer.WaitAsync(TimeSpan.FromMinutes(2));
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromMinutes(2));
        using (var l = space.Acquire())
        {
            var b = new byte[1];
            Assert.True(l.View.TryRead(Iova(0x10000), b));
            Assert.Equal((byte)updates, b[0]);
        }
        Assert.True(first.Mapping.IsClosed);
        last.Dispose();
    }

    [Fact]
    public async Task AcquireRacingWithDispose_EitherLeasesOrThrowsObjectDisposed()
    {
        for (int round = 0; round < 200; round++)
        {
            var r = Filled(0, Page, 9);
            var space = new DmaSpace(GuestMemory.Create(r));
            r.Dispose();
            using var go = new ManualResetEventSlim();
            var acquirers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                go.Wait();
                for (int i = 0; i < 50; i++)
                {
                    try
                    {
                        using var l = space.Acquire();
                        var b = new byte[1];
                        Assert.True(l.View.TryRead(Iova(0), b));
                        Assert.Equal(9, b[0]);
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                }
            })).ToArray();
            go.Set();
            space.Dispose();
            await Task.WhenAll(acquirers).WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(r.Mapping.IsClosed);
        }
    }
}
