using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Uvdpa.Guest.Tests;

/// <summary>One pattern: where it goes, how dd moves it (block size), and its bytes.</summary>
internal sealed record BlkChunk(int Index, long Offset, int BlockSize, byte[] Data)
{
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Data));

    public int Blocks => Data.Length / BlockSize;
}

/// <summary>
/// The blk guest scenario's parts: known patterns spread over the disk, busybox sh that writes them with
/// <c>dd oflag=direct</c> (and <c>conv=fsync</c>, so the driver also sends FLUSH) and reads them back with
/// <c>iflag=direct</c>, and the checks of what the guest reported and of the image file on the host.
/// </summary>
internal static class BlkPatterns
{
    public const int ChunkBytes = 256 * 1024;

    /// <summary>
    /// Eight chunks spread over the disk, the first at 0 and the last ending at the last byte; offsets 4 KiB aligned
    /// (O_DIRECT), alternating 4 KiB and 64 KiB dd block sizes so the driver sends small and multi-segment requests.
    /// </summary>
    public static List<BlkChunk> Plan(long capacity, int seed)
    {
        const int n = 8;
        var chunks = new List<BlkChunk>();
        long span = capacity - ChunkBytes;
        for (int i = 0; i < n; i++)
        {
            long offset = i == n - 1 ? span : (span / (n - 1) * i + i * 4096L * 3) / 4096 * 4096;
            var data = new byte[ChunkBytes];
            // xorshift32 per chunk: reproducible and different for every chunk and test.
            uint x = (uint)(seed * 7919 + i * 104729 + 1);
            for (int b = 0; b < data.Length; b += 4)
            {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                BitConverter.TryWriteBytes(data.AsSpan(b), x);
            }
            chunks.Add(new BlkChunk(i, offset, i % 2 == 0 ? 4096 : 65536, data));
        }
        for (int i = 1; i < n; i++)
        {
            if (chunks[i].Offset < chunks[i - 1].Offset + ChunkBytes) throw new InvalidOperationException("chunks overlap: the plan is wrong");
        }
        return chunks;
    }

    /// <summary>The patterns as initramfs files (<c>/patterns/pN</c>).</summary>
    public static GuestInitramfs AddPatterns(this GuestInitramfs initramfs, IEnumerable<BlkChunk> chunks)
    {
        foreach (var c in chunks) initramfs.AddFile($"patterns/p{c.Index}", c.Data);
        return initramfs;
    }

    /// <summary>Reports the disk's size (<c>disk sectors=N</c>) or <c>no-disk</c>.</summary>
    public static string ProbeScript() => $"""
        R={GuestConsole.ResultPrefix}
        if [ -b /dev/vda ]; then echo "$R disk sectors=$(cat /sys/block/vda/size)"; else echo "$R no-disk"; ls /sys/block; dmesg | tail -20; fi

        """;

    public static string WriteScript(IEnumerable<BlkChunk> chunks)
    {
        var s = new StringBuilder();
        foreach (var c in chunks)
        {
            s.Append(CultureInfo.InvariantCulture, $$"""
                dd if=/patterns/p{{c.Index}} of=/dev/vda bs={{c.BlockSize}} count={{c.Blocks}} seek={{c.Offset}} oflag=direct,seek_bytes conv=notrunc,fsync 2>/tmp/err || { echo "$R dd-failed chunk={{c.Index}} op=write"; cat /tmp/err; }

                """);
        }
        return s.ToString();
    }

    /// <summary>Reads each chunk back into the guest's RAM with O_DIRECT and prints both hashes (<c>chunk index= wrote= read=</c>).</summary>
    public static string ReadScript(IEnumerable<BlkChunk> chunks)
    {
        var s = new StringBuilder();
        foreach (var c in chunks)
        {
            s.Append(CultureInfo.InvariantCulture, $$"""
                rm -f /tmp/back
                dd if=/dev/vda of=/tmp/back bs={{c.BlockSize}} count={{c.Blocks}} skip={{c.Offset}} iflag=direct,skip_bytes 2>/tmp/err || { echo "$R dd-failed chunk={{c.Index}} op=read"; cat /tmp/err; }
                echo "$R chunk index={{c.Index}} offset={{c.Offset}} wrote=$(sha256sum < /patterns/p{{c.Index}} | cut -d' ' -f1) read=$(sha256sum < /tmp/back | cut -d' ' -f1)"

                """);
        }
        return s.ToString();
    }

    /// <summary>Checks the guest's report: the capacity, no dd failure, and every chunk read back as written.</summary>
    public static void VerifyConsole(GuestConsole console, long capacity, IReadOnlyList<BlkChunk> chunks, string report)
    {
        Assert.True(!console.OfKind("no-disk").Any(), "the guest found no /dev/vda\n" + report);
        GuestResult disk = console.OfKind("disk").SingleOrDefault() ?? throw new Xunit.Sdk.XunitException("no disk line\n" + report);
        Assert.True(disk.Long("sectors") == capacity / 512, $"guest capacity {disk["sectors"]} sectors, expected {capacity / 512}\n{report}");
        var failed = console.OfKind("dd-failed").ToList();
        Assert.True(failed.Count == 0, $"dd failed in the guest: {string.Join("; ", failed)}\n{report}");
        var seen = console.OfKind("chunk").ToDictionary(r => int.Parse(r["index"], CultureInfo.InvariantCulture));
        foreach (var c in chunks)
        {
            Assert.True(seen.TryGetValue(c.Index, out var r), $"no result for chunk {c.Index}\n{report}");
            Assert.True(r["wrote"] == c.Sha256, $"chunk {c.Index}: the pattern in the initramfs hashes to {r["wrote"]} in the guest, {c.Sha256} on the host\n{report}");
            Assert.True(r["read"] == c.Sha256, $"chunk {c.Index} at 0x{c.Offset:x}: read back {r["read"]}, wrote {c.Sha256}\n{report}");
        }
    }

    /// <summary>The image file equals zeros plus exactly the chunks.</summary>
    public static async Task VerifyImageAsync(string image, long capacity, IReadOnlyList<BlkChunk> chunks, string report)
    {
        byte[] expected = new byte[capacity];
        foreach (var c in chunks) c.Data.CopyTo(expected, c.Offset);
        byte[] actual = await File.ReadAllBytesAsync(image);
        Assert.Equal(capacity, actual.LongLength);
        foreach (var c in chunks)
        {
            if (!actual.AsSpan((int)c.Offset, c.Data.Length).SequenceEqual(c.Data))
                Assert.Fail($"image bytes at 0x{c.Offset:x} (chunk {c.Index}) differ from the pattern the guest wrote\n{report}");
        }
        int firstDiff = actual.AsSpan().CommonPrefixLength(expected);
        if (firstDiff != expected.Length)
            Assert.Fail($"image differs from zeros + patterns at byte 0x{firstDiff:x} (outside the written chunks)\n{report}");
    }

    /// <summary>The device's counters show at least the patterns' bytes written and read (O_DIRECT: every byte crossed it) and no error.</summary>
    public static async Task VerifyDeviceCountersAsync(GuestTestBed bed, string device, IReadOnlyList<BlkChunk> chunks, string report)
    {
        var q = (await bed.CountersAsync(device))[0];
        long patterns = (long)chunks.Count * ChunkBytes;
        Assert.True(q["written bytes"] >= patterns && q["read bytes"] >= patterns && q["errors"] == 0,
            $"device counters {string.Join(", ", q)} do not show {patterns} bytes written and read without errors\n{report}");
    }
}
