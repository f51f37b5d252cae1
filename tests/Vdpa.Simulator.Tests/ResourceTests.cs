using System.Diagnostics;
using Xunit.Abstractions;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Memory;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>Process-wide measurements: they run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(ResourceCollection), DisableParallelization = true)]
public sealed class ResourceCollection;

/// <summary>Allocation, thread and memory cost of simulator devices.</summary>
[Collection(nameof(ResourceCollection))]
public sealed class ResourceTests(ITestOutputHelper output)
{
    private static SimHarness Started()
    {
        var h = SimHarness.Net(config: new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(0, h.Start(NetDriverFeatures));
        return h;
    }

    [Fact]
    public void SteadyState_AllocatesNothingPerPacket()
    {
        using var h = Started();
        const int n = 64;
        var rxs = new Iova[n];
        for (int i = 0; i < n; i++) rxs[i] = h.Guest.Alloc(256);
        var frame = h.Guest.Put(Make(OwnMac, 100));
        var q0 = h.Vqs[0].Queue;
        var q1 = h.Vqs[1].Queue;
        var v = h.Guest.View;
        long Round()
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            // No Assert inside the measured part: xunit's Assert.Equal allocates a comparer per call.
            bool added = true;
            for (int i = 0; i < n; i++) added &= q0.TryAdd(v, [Writable(rxs[i], 256)], i);
            for (int i = 0; i < n; i++) added &= q1.TryAdd(v, [Readable(frame, 100)], i);
            q0.KickPrepare(v);
            q1.KickPrepare(v);
            h.Kick(1);
            int got = 0;
            long deadline = Environment.TickCount64 + 10_000;
            while (got < 2 * n && Environment.TickCount64 < deadline)
            {
                if (q0.TryGetUsed(v, out _, out _) || q1.TryGetUsed(v, out _, out _)) got++;
                else Thread.SpinWait(50);
            }
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(added && got == 2 * n);
            return allocated;
        }
        for (int r = 0; r < 10; r++) Round(); // warm-up: lazy buffers, JIT tiers
        var perRound = Enumerable.Range(0, 40).Select(_ => Round()).ToArray();
        // The counter is process-wide, and the runtime allocates now and then on its own (thread-pool threads, tiered
        // JIT); a per-packet allocation would show in every round, so most rounds must be exactly zero.
        int clean = perRound.Count(a => a == 0);
        Assert.True(clean >= 30, $"only {clean}/40 rounds of {n} packets allocated nothing: {string.Join(",", perRound)}");
    }

    [Fact]
    public void TenThousandIdleNetDevices_AddNoThreads()
    {
        var bus = new VdpaBus();
        var m = new VdpaSimNetManagementDevice();
        bus.RegisterManagementDevice(m);
        // Warm the pool up first so a thread it would have started anyway is not blamed on the devices.
        using (var warm = Started()) { }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int before = Process.GetCurrentProcess().Threads.Count;
        long memBefore = GC.GetTotalMemory(forceFullCollection: true);
        var devices = new List<VdpaDevice>();
        for (int i = 0; i < 10_000; i++)
        {
            var d = bus.AddDevice(m, $"n{i}", new DeviceConfigRequest());
            // A probe-like touch: the device is configured and kicked, with nothing to do.
            d.Ops.KickVq(1);
            devices.Add(d);
        }
        Thread.Sleep(200);
        int after = Process.GetCurrentProcess().Threads.Count;
        long perDevice = (GC.GetTotalMemory(forceFullCollection: true) - memBefore) / devices.Count;
        output.WriteLine($"threads {before} -> {after}; {perDevice} managed bytes per idle net device");
        Assert.True(after - before <= 4, $"threads {before} -> {after}");
        Assert.True(perDevice < 16 * 1024, $"{perDevice} bytes of managed memory per idle device");
        bus.UnregisterManagementDevice(m);
        Assert.Empty(bus.Devices);
    }

    [Fact]
    public void ThousandBlkDevices_CommitLittleMemory()
    {
        var bus = new VdpaBus();
        var m = new VdpaSimBlkManagementDevice();
        bus.RegisterManagementDevice(m);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = Process.GetCurrentProcess().WorkingSet64;
        for (int i = 0; i < 1000; i++) bus.AddDevice(m, $"b{i}", new DeviceConfigRequest());
        GC.Collect();
        long growth = Process.GetCurrentProcess().WorkingSet64 - before;
        output.WriteLine($"working set +{growth >> 10} KiB for 1000 blk devices");
        Assert.True(growth < 50L << 20, $"working set grew {growth >> 20} MiB for 1000 x 128 MiB devices");
        bus.UnregisterManagementDevice(m);
    }
}
