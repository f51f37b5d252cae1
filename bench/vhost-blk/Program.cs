using System.Diagnostics;
using System.Globalization;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Vhost.User.Frontend;

// vhost-user-blk benchmark client: our virtio_blk driver on the vhost-user front-end parent, against any vhost-user
// blk back-end socket (qemu-storage-daemon, our vdpad's vhost_vdpa socket). One line per workload on stdout:
//   RESULT <label> <workload> <value> <unit> <ops> <bytes-allocated-per-op>
// Usage: VhostBlkBench --socket PATH [--label NAME] [--seconds 3] [--warmup 1] [--workloads a,b,...]
// Workloads: randread4k-qd1 randwrite4k-qd1 randread4k-qd32 randwrite4k-qd32 seqread128k-qd32 seqwrite128k-qd32

string? socket = null;
string label = "backend";
double seconds = 3, warmup = 1;
string[] workloads = ["randread4k-qd1", "randwrite4k-qd1", "randread4k-qd32", "randwrite4k-qd32", "seqread128k-qd32", "seqwrite128k-qd32"];
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--socket": socket = Next(); break;
        case "--label": label = Next(); break;
        case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--warmup": warmup = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--workloads": workloads = Next().Split(',', StringSplitOptions.RemoveEmptyEntries); break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}
if (socket is null)
{
    Console.Error.WriteLine("usage: VhostBlkBench --socket PATH [--label NAME] [--seconds S] [--warmup S] [--workloads LIST]");
    return 2;
}

var bus = new VdpaBus();
var mgmt = new VhostUserFrontendManagementDevice();
bus.RegisterManagementDevice(mgmt);
bus.RegisterDriver(new VirtioVdpaDriver());
var device = bus.AddDevice(mgmt, "bench0", new DeviceConfigRequest
{
    Options = new Dictionary<string, string> { [VhostUserFrontendOptions.SocketKey] = Path.GetFullPath(socket) },
});
var blk = VirtioVdpaDriver.GetBlkDevice(device)
    ?? throw new InvalidOperationException($"not bound as blk: {device.LastProbeError?.Message}; {((VhostUserFrontendDevice)device.Ops).LastError}");
Console.Error.WriteLine($"{label}: {blk.Capacity} sectors, queue depth {blk.QueueDepth}, max request {blk.MaxRequestBytes} B, features 0x{blk.Device.NegotiatedFeatures:x}");

try
{
    foreach (var w in workloads)
    {
        var spec = Workload.Parse(w);
        await spec.RunAsync(blk, TimeSpan.FromSeconds(warmup)); // warm-up (JIT, page cache, tiering)
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        long ops = await spec.RunAsync(blk, TimeSpan.FromSeconds(seconds));
        double elapsed = sw.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        double value = spec.Sequential ? ops * (double)spec.BlockBytes / elapsed / 1e6 : ops / elapsed;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT {label} {w} {value:F1} {(spec.Sequential ? "MB/s" : "IOPS")} {ops} {(double)allocated / Math.Max(1, ops):F1}"));
    }
}
finally
{
    bus.DeleteDevice("bench0"); // clean disconnect: GET_VRING_BASE, then close
}
return 0;

/// <summary>One workload: random or sequential, read or write, block size, queue depth.</summary>
internal sealed record Workload(bool Write, bool Sequential, int BlockBytes, int Depth)
{
    public static Workload Parse(string name)
    {
        // e.g. randread4k-qd1, seqwrite128k-qd32
        var parts = name.Split("-qd");
        if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int depth) || depth < 1)
            throw new ArgumentException($"bad workload '{name}'");
        string kind = parts[0];
        bool seq = kind.StartsWith("seq", StringComparison.Ordinal);
        kind = kind[(seq ? 3 : 4)..];
        bool write = kind.StartsWith("write", StringComparison.Ordinal);
        kind = kind[(write ? 5 : 4)..];
        if (!kind.EndsWith('k') || !int.TryParse(kind[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int kib))
            throw new ArgumentException($"bad block size in '{name}'");
        return new Workload(write, seq, kib * 1024, depth);
    }

    /// <summary>Runs until <paramref name="duration"/> elapsed; returns completed requests.</summary>
    public async Task<long> RunAsync(VirtioBlkDevice blk, TimeSpan duration)
    {
        ulong blocks = blk.Capacity * 512 / (ulong)BlockBytes;
        ulong sectorsPerBlock = (ulong)BlockBytes / 512;
        long deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long next = -1; // sequential cursor (blocks)
        var counts = new long[Depth];
        var workers = new Task[Depth];
        for (int w = 0; w < Depth; w++)
        {
            int id = w;
            var buffer = new byte[BlockBytes];
            Array.Fill(buffer, (byte)(0x5a ^ id));
            workers[w] = Task.Run(async () =>
            {
                ulong state = 0x9E3779B97F4A7C15UL * (ulong)(id + 1);
                long n = 0;
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    ulong block;
                    if (Sequential) block = (ulong)Interlocked.Increment(ref next) % blocks;
                    else
                    {
                        state ^= state << 13; state ^= state >> 7; state ^= state << 17; // xorshift64
                        block = state % blocks;
                    }
                    if (Write) await blk.WriteAsync(block * sectorsPerBlock, buffer).ConfigureAwait(false);
                    else await blk.ReadAsync(block * sectorsPerBlock, buffer).ConfigureAwait(false);
                    n++;
                }
                counts[id] = n;
            });
        }
        await Task.WhenAll(workers).ConfigureAwait(false);
        return counts.Sum();
    }
}
