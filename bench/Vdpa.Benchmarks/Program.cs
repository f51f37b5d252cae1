using System.Diagnostics;
using BenchmarkDotNet.Running;
using Uvdpa.Benchmarks;

// "alloc": bytes allocated per packet / request in steady state, all threads (GC.GetTotalAllocatedBytes(true)),
// plus a quick throughput figure. Each figure is the slope between a run of N and a run of 2N operations, so the
// harness's own fixed per-run cost (the QD worker tasks) cancels out. Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "alloc")
{
    using var rig = new Rig();
    var net = rig.AddNet();
    foreach (int size in new[] { 64, 1500 })
    {
        var frame = Rig.Frame(size);
        var back = new byte[net.MaxFrameLength];
        // Warm-up for 3 s: tiered compilation (OSR, tier-1 with PGO) and the pools must settle first.
        for (var warm = Stopwatch.StartNew(); warm.Elapsed < TimeSpan.FromSeconds(3);) await NetLoopback.Run(net, frame, back, 500);
        var (perOp, rate) = await Slope(n => NetLoopback.Run(net, frame, back, n / NetLoopback.Burst), 10000 * NetLoopback.Burst);
        Console.WriteLine($"net loopback {size} B: {rate / 1e6:F2} Mpps, {perOp:F4} bytes allocated per frame");
    }
    foreach (int depth in new[] { 1, 32 })
    {
        using var brig = new Rig(depth);
        var blk = brig.AddBlk();
        var buffers = Enumerable.Range(0, depth).Select(_ => new byte[4096]).ToArray();
        var rnd = new Random(1);
        var sectors = Enumerable.Range(0, 200000).Select(_ => (ulong)rnd.NextInt64((long)(blk.Capacity / 8)) * 8).ToArray();
        foreach (bool write in new[] { true, false })
        {
            for (var warm = Stopwatch.StartNew(); warm.Elapsed < TimeSpan.FromSeconds(3);) await BlkRandom.Run(blk, buffers, sectors, 20000, write);
            var (perOp, rate) = await Slope(async n => { await BlkRandom.Run(blk, buffers, sectors, n, write); return n; }, 100000);
            Console.WriteLine($"blk 4 KiB random {(write ? "write" : "read ")} QD{depth}: {rate / 1e3:F1} kIOPS, {perOp:F4} bytes allocated per request");
        }
    }
    return;
}
// "tap [runs] [seconds]": TAP round-trip packet rate on the host (root), uvdpa's TAP bridge next to a bare TAP reflector.
if (args.Length > 0 && args[0] == "tap")
{
    int runs = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
    int seconds = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
    TapRoundTrip.Run(runs, TimeSpan.FromSeconds(seconds));
    return;
}
if (args.Length > 0 && args[0] == "nbd")
{
    // NBD server over a socketpair into vdpasim_blk (RAM): 4 KiB random I/O at QD1 and QD32, same slope method.
    foreach (int depth in new[] { 1, 32 })
    {
        using var brig = new Rig(depth);
        using var nbd = new NbdRandom(brig.AddBlk());
        foreach (bool write in new[] { true, false })
        {
            for (var warm = Stopwatch.StartNew(); warm.Elapsed < TimeSpan.FromSeconds(3);) nbd.Run(20000, depth, write);
            var (perOp, rate) = await Slope(n => Task.FromResult(nbd.Run(n, depth, write)), 100000);
            Console.WriteLine($"nbd 4 KiB random {(write ? "write" : "read ")} QD{depth}: {rate / 1e3:F1} kIOPS, {perOp:F1} bytes allocated per request");
        }
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(NetLoopback).Assembly).Run(args);

// Runs n and 2n operations; returns (bytes allocated per operation from the difference, operations per second of the 2n run).
static async Task<(double PerOp, double Rate)> Slope(Func<int, Task<long>> run, int n)
{
    long a0 = GC.GetTotalAllocatedBytes(true);
    await run(n);
    long a1 = GC.GetTotalAllocatedBytes(true);
    var sw = Stopwatch.StartNew();
    long done = await run(2 * n);
    sw.Stop();
    long a2 = GC.GetTotalAllocatedBytes(true);
    return ((double)((a2 - a1) - (a1 - a0)) / n, done / sw.Elapsed.TotalSeconds);
}
