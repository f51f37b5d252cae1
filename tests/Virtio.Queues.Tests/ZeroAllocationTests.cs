using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>The data path allocates nothing in the steady state (driver add/kick/get, device pop/read/write/push/notify).</summary>
public sealed class ZeroAllocationTests
{
    private const ulong Gpa = 0x1_0000_0000;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void SteadyState_AllocatesNothing(bool indirect, bool eventIndex)
    {
        const int size = 64;
        using var mem = TestSpace.Single(Gpa, 2 << 20);
        var v = mem.View;
        var l = SplitDriverQueue.Layout(size, indirect, 4);
        var desc = new Iova(Gpa);
        var avail = new Iova(Gpa + (ulong)l.AvailOffset);
        var used = new Iova(Gpa + (ulong)l.UsedOffset);
        var driver = new SplitDriverQueue(size, desc, avail, used, eventIndex, indirect ? new Iova(Gpa + (ulong)l.IndirectPoolOffset) : null, indirect ? 4 : 0);
        driver.Initialize(v);
        var device = new SplitDeviceQueue(size) { EventIndex = eventIndex, IndirectDescriptors = indirect };
        device.SetAddresses(desc, avail, used);
        device.Ready = true;
        var chain = new DescriptorChain(size);
        var book = new BufferBook(v, new Iova(Gpa + 0x10_0000), 1 << 20, size, 4, seed: 8);
        var input = new byte[16384];
        var output = new byte[16384];

        RunCycles(3_000, v, driver, device, chain, book, input, output); // warm-up: JIT tiers, statics
        long before = GC.GetAllocatedBytesForCurrentThread();
        int done = RunCycles(10_000, v, driver, device, chain, book, input, output);
        long after = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(10_000, done);
        Assert.Equal(0, after - before);
        Assert.False(device.IsBroken);
        Assert.False(driver.IsBroken);
    }

    private static int RunCycles(int cycles, DmaView v, SplitDriverQueue driver, SplitDeviceQueue device, DescriptorChain chain,
                                 BufferBook book, byte[] input, byte[] output)
    {
        int done = 0;
        for (int c = 0; c < cycles; c++)
        {
            // A batch of 1..3 buffers per cycle keeps the rings moving through every slot.
            int batch = 1 + (c % 3);
            for (int i = 0; i < batch; i++)
            {
                if (!book.TryTake(out int slot)) throw new InvalidOperationException("no slot");
                book.SegmentLimit = driver.FreeCount;
                if (!driver.TryAdd(v, book.Prepare(slot), slot)) throw new InvalidOperationException("add failed");
            }
            driver.DisableCallbacks(v);
            driver.KickPrepare(v);
            device.DisableNotifications(v);
            while (device.TryPop(v, chain) == PopStatus.Chain)
            {
                uint w = Workload.Serve(v, chain, input, output);
                if (!device.TryPushUsed(v, chain.Head, w)) throw new InvalidOperationException("push failed");
            }
            device.ShouldNotifyDriver(v);
            device.EnableNotifications(v);
            while (driver.TryGetUsed(v, out int token, out uint len))
            {
                book.Verify(token, len);
                book.Release(token);
            }
            if (!driver.EnableCallbacks(v) || driver.InFlight != 0) throw new InvalidOperationException("buffers left over");
            done++;
        }
        return done;
    }
}
