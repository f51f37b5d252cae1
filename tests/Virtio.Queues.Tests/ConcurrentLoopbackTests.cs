using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>
/// Driver on the test thread, device on its own thread, over the same memory, synchronised only by the rings plus
/// kick/interrupt semaphores (eventfd stand-ins). A lost notification (a barrier or suppression bug) makes one side
/// wait forever, which the bounded waits turn into a failure instead of a hang.
/// </summary>
public sealed class ConcurrentLoopbackTests
{
    private const ulong Gpa = 0x8000_0000;
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void DeviceOnAnotherThread_100kBuffers(bool indirect, bool eventIndex)
    {
        const int total = 100_000;
        const int size = 128;
        using var mem = TestSpace.Single(Gpa, 8 << 20);
        var layout = SplitDriverQueue.Layout(size, indirect, 4);
        ulong b = Gpa;
        var desc = new Iova(b + (ulong)layout.DescriptorTableOffset);
        var avail = new Iova(b + (ulong)layout.AvailOffset);
        var used = new Iova(b + (ulong)layout.UsedOffset);
        var driver = new SplitDriverQueue(size, desc, avail, used, eventIndex,
            indirect ? new Iova(b + (ulong)layout.IndirectPoolOffset) : null, indirect ? 4 : 0);
        driver.Initialize(mem.View);
        var device = new SplitDeviceQueue(size) { EventIndex = eventIndex, IndirectDescriptors = indirect };
        device.SetAddresses(desc, avail, used);
        device.Ready = true;
        var book = new BufferBook(mem.View, new Iova(Gpa + 0x10_0000), 4 << 20, size, 4, seed: 42, maxLen: 256);

        using var kick = new SemaphoreSlim(0);
        using var irq = new SemaphoreSlim(0);
        bool stop = false;
        Exception? deviceFailure = null;
        int served = 0, interrupts = 0, kicks = 0;

        var deviceThread = new Thread(() =>
        {
            try
            {
                var view = mem.View;
                var chain = new DescriptorChain(size);
                var input = new byte[8192];
                var output = new byte[8192];
                while (true)
                {
                    if (!kick.Wait(Stall)) throw new TimeoutException($"device waited {Stall} for a kick (lost kick?) after {served}");
                    if (Volatile.Read(ref stop)) return;
                    while (true)
                    {
                        device.DisableNotifications(view);
                        PopStatus st;
                        int batch = 0;
                        while ((st = device.TryPop(view, chain)) == PopStatus.Chain)
                        {
                            uint w = Workload.Serve(view, chain, input, output);
                            if (!device.TryPushUsed(view, chain.Head, w)) throw new InvalidOperationException("push failed");
                            served++;
                            if (++batch % 16 == 0 && device.ShouldNotifyDriver(view)) { interrupts++; irq.Release(); }
                        }
                        if (st == PopStatus.Broken) throw new InvalidOperationException($"device broken: {device.Error}");
                        if (device.ShouldNotifyDriver(view)) { interrupts++; irq.Release(); }
                        if (!device.EnableNotifications(view)) break;
                    }
                }
            }
            catch (Exception e)
            {
                deviceFailure = e;
                irq.Release();
            }
        }) { IsBackground = true, Name = "virtio-device" };
        deviceThread.Start();

        var dv = mem.View;
        int added = 0, completed = 0;
        driver.DisableCallbacks(dv);
        try
        {
            while (completed < total)
            {
                bool any = false;
                while (added < total && driver.FreeCount > 0 && book.TryTake(out int slot))
                {
                    book.SegmentLimit = driver.FreeCount;
                    if (!driver.TryAdd(dv, book.Prepare(slot), slot)) { book.Release(slot); break; }
                    added++;
                    any = true;
                }
                if (any && driver.KickPrepare(dv)) { kicks++; kick.Release(); }

                bool got = false;
                while (driver.TryGetUsed(dv, out int token, out uint len))
                {
                    book.Verify(token, len);
                    book.Release(token);
                    completed++;
                    got = true;
                }
                Assert.False(driver.IsBroken, $"driver broken: {driver.Error}");
                if (got) continue;
                // Nothing to do: arm the interrupt, re-poll to close the race, then sleep on it.
                if (!driver.EnableCallbacks(dv)) { driver.DisableCallbacks(dv); continue; }
                if (!irq.Wait(Stall)) Assert.Fail($"driver waited {Stall} for an interrupt (lost interrupt?) at {completed}/{added}");
                if (deviceFailure is not null) break;
                driver.DisableCallbacks(dv);
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            kick.Release();
            Assert.True(deviceThread.Join(Stall), "device thread did not stop");
        }
        if (deviceFailure is not null) throw new Xunit.Sdk.XunitException("device thread failed: " + deviceFailure);

        Assert.Equal(total, completed);
        Assert.Equal(total, book.Verified);
        Assert.Equal(total, served);
        Assert.Equal(unchecked((ushort)total), device.UsedIndex);
        Assert.Equal(0, driver.InFlight);
        Assert.True(kicks > 0 && kicks <= total);
        Assert.True(interrupts > 0);
    }
}
