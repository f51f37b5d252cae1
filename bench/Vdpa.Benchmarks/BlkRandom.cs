using BenchmarkDotNet.Attributes;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Benchmarks;

/// <summary>4 KiB random reads or writes on the memory-backed vdpasim_blk at queue depth 1 or 32. One operation = one request.</summary>
[MemoryDiagnoser, MinColumn, MedianColumn, MaxColumn]
public class BlkRandom
{
    private const int Requests = 4096;
    private Rig _rig = null!;
    private VirtioBlkDevice _blk = null!;
    private byte[][] _buffers = null!;
    private ulong[] _sectors = null!;

    [Params(1, 32)]
    public int QueueDepth { get; set; }

    [Params(false, true)]
    public bool Write { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rig = new Rig(QueueDepth);
        _blk = _rig.AddBlk();
        _buffers = Enumerable.Range(0, QueueDepth).Select(i => Enumerable.Repeat((byte)i, 4096).ToArray()).ToArray();
        var rnd = new Random(42);
        ulong blocks = _blk.Capacity / 8;
        _sectors = Enumerable.Range(0, Requests).Select(_ => (ulong)rnd.NextInt64((long)blocks) * 8).ToArray();
        // Touch every block once so reads do not measure the sparse store's zero path only.
        var fill = new byte[128 * 1024];
        for (ulong s = 0; s < _blk.Capacity; s += 256) _blk.WriteAsync(s, fill).AsTask().Wait();
    }

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task Random4K() => Run(_blk, _buffers, _sectors, _sectors.Length, Write);

    public static async Task Run(VirtioBlkDevice blk, byte[][] buffers, ulong[] sectors, int count, bool write)
    {
        int depth = buffers.Length;
        var workers = new Task[depth];
        int next = -1;
        for (int w = 0; w < depth; w++)
        {
            var buf = buffers[w];
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    if (write) await blk.WriteAsync(sectors[i], buf).ConfigureAwait(false);
                    else await blk.ReadAsync(sectors[i], buf).ConfigureAwait(false);
                }
            });
        }
        await Task.WhenAll(workers).ConfigureAwait(false);
    }
}
