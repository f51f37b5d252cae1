using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;

/// <summary>Deterministic data patterns that differ per sector and per seed, and a write/read/verify workload.</summary>
internal static class Patterns
{
    public static byte[] Make(ulong sector, int length, int seed)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            ulong s = sector + (ulong)(i / 512);
            b[i] = (byte)((s * 31) ^ (ulong)(i % 512) ^ (ulong)(seed * 97));
        }
        return b;
    }

    /// <summary>
    /// Writes <paramref name="count"/> chunks (sizes 512 B..128 KiB, random sectors, <paramref name="depth"/> in
    /// flight), flushes, then reads each back and compares. Chunks do not overlap. Returns the (sector, length) list.
    /// </summary>
    public static async Task<List<(ulong Sector, int Length)>> WriteVerifyAsync(VirtioBlkDevice blk, int seed, int count = 64, int depth = 8)
    {
        var rnd = new Random(seed);
        int[] sizes = [512, 4096, 8192, 65536, 128 * 1024];
        var chunks = new List<(ulong, int)>();
        ulong slot = blk.Capacity / (ulong)count; // one chunk per slot: no overlaps
        Assert.True(slot >= 256, "disk too small for the workload");
        for (int i = 0; i < count; i++)
        {
            int len = sizes[rnd.Next(sizes.Length)];
            ulong start = (ulong)i * slot + (ulong)rnd.NextInt64((long)(slot - (ulong)(len / 512)));
            chunks.Add((start, len));
        }
        await ForEachAsync(chunks, depth, c => blk.WriteAsync(c.Item1, Make(c.Item1, c.Item2, seed)));
        await blk.FlushAsync();
        await ForEachAsync(chunks, depth, async c =>
        {
            var back = new byte[c.Item2];
            await blk.ReadAsync(c.Item1, back);
            Assert.True(back.AsSpan().SequenceEqual(Make(c.Item1, c.Item2, seed)), $"data at sector {c.Item1} (+{c.Item2} bytes) differs");
        });
        return chunks;
    }

    public static async Task VerifyAsync(VirtioBlkDevice blk, List<(ulong Sector, int Length)> chunks, int seed)
    {
        await ForEachAsync(chunks, 8, async c =>
        {
            var back = new byte[c.Length];
            await blk.ReadAsync(c.Sector, back);
            Assert.True(back.AsSpan().SequenceEqual(Make(c.Sector, c.Length, seed)), $"data at sector {c.Sector} (+{c.Length} bytes) differs");
        });
    }

    public static void VerifyFile(string path, List<(ulong Sector, int Length)> chunks, int seed)
    {
        using var f = File.OpenRead(path);
        foreach (var (sector, length) in chunks)
        {
            var back = new byte[length];
            f.Position = (long)sector * 512;
            f.ReadExactly(back);
            Assert.True(back.AsSpan().SequenceEqual(Make(sector, length, seed)), $"image {path}: data at sector {sector} (+{length} bytes) differs");
        }
    }

    private static async Task ForEachAsync<T>(IReadOnlyList<T> items, int depth, Func<T, ValueTask> body)
    {
        int next = -1;
        var workers = Enumerable.Range(0, depth).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < items.Count) await body(items[i]);
        }));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
    }
}
