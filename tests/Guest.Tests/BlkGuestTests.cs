using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// QEMU 7.2 (TCG) <c>vhost-user-blk-pci</c> on a vdpasim_blk device served by vdpad's vhost_vdpa driver: the Debian
/// guest's virtio_blk driver writes known patterns across the disk with O_DIRECT (busybox <c>dd oflag=direct</c>,
/// <c>conv=fsync</c> so FLUSH is sent too), reads all of them back with O_DIRECT after all writes, and the SHA-256 of
/// each read equals the host's. For the file-backed device the image file, read by the host after the guest powered
/// off, equals zeros plus exactly those patterns.
/// </summary>
public sealed class BlkGuestTests(ITestOutputHelper output)
{
    private const int ChunkBytes = 256 * 1024;

    [GuestFact]
    public async Task Guest_WritesAndReadsPatternsWithODirect_OnVdpasimBlk()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        await bed.VdpaAsync("dev", "add", "name", "b0", "mgmtdev", "vdpasim_blk");
        long capacity = 128L << 20; // vdpasim_blk's fixed 128 MiB (vdpa_sim_blk.c VDPASIM_BLK_CAPACITY 0x40000 sectors)
        var chunks = PlanChunks(capacity, seed: 1);
        await RunPatternGuestAsync(bed, "b0", capacity, chunks);
    }

    [GuestFact]
    public async Task Guest_WritesAndReadsPatternsWithODirect_OnFileBackedBlk_AndTheImageHoldsThem()
    {
        using var bed = await GuestTestBed.StartAsync(output);
        long capacity = 64L << 20;
        string image = Path.Combine(bed.Directory, "disk.raw");
        await using (var f = File.Create(image)) f.SetLength(capacity);
        await bed.VdpaAsync("uvdpa", "dev", "add", "name", "f0", "mgmtdev", "vdpasim_blk", "opt", "file=" + image);
        var chunks = PlanChunks(capacity, seed: 2);
        await RunPatternGuestAsync(bed, "f0", capacity, chunks);

        // The guest powered off and QEMU exited; the host reads the image directly.
        byte[] expected = new byte[capacity];
        foreach (var c in chunks) c.Data.CopyTo(expected, c.Offset);
        byte[] actual = await File.ReadAllBytesAsync(image);
        Assert.Equal(capacity, actual.LongLength);
        foreach (var c in chunks)
        {
            if (!actual.AsSpan((int)c.Offset, c.Data.Length).SequenceEqual(c.Data))
                Assert.Fail($"image bytes at 0x{c.Offset:x} (chunk {c.Index}) differ from the pattern the guest wrote\n{bed.LastReport()}");
        }
        int firstDiff = actual.AsSpan().CommonPrefixLength(expected);
        if (firstDiff != expected.Length)
            Assert.Fail($"image differs from zeros + patterns at byte 0x{firstDiff:x} (outside the written chunks)\n{bed.LastReport()}");
    }

    /// <summary>One pattern: where it goes, how dd writes it (block size), and its bytes.</summary>
    private sealed record Chunk(int Index, long Offset, int BlockSize, byte[] Data)
    {
        public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Data));
    }

    /// <summary>
    /// Eight chunks spread over the disk, the first at 0 and the last ending at the last byte; offsets 4 KiB aligned
    /// (O_DIRECT), alternating 4 KiB and 64 KiB dd block sizes so the driver sends small and multi-segment requests.
    /// </summary>
    private static List<Chunk> PlanChunks(long capacity, int seed)
    {
        const int n = 8;
        var chunks = new List<Chunk>();
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
            chunks.Add(new Chunk(i, offset, i % 2 == 0 ? 4096 : 65536, data));
        }
        for (int i = 1; i < n; i++) Assert.True(chunks[i].Offset >= chunks[i - 1].Offset + ChunkBytes, "chunks overlap: the plan is wrong");
        return chunks;
    }

    private async Task RunPatternGuestAsync(GuestTestBed bed, string device, long capacity, List<Chunk> chunks)
    {
        string socket = bed.SocketOf(device);
        var initramfs = new GuestInitramfs(bed.Kernel);
        foreach (var c in chunks) initramfs.AddFile($"patterns/p{c.Index}", c.Data);

        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"""
            R={GuestConsole.ResultPrefix}
            if [ -b /dev/vda ]; then echo "$R disk sectors=$(cat /sys/block/vda/size)"; else echo "$R no-disk"; ls /sys/block; dmesg | tail -20; fi

            """);
        // All writes first, then all reads: a misplaced write would overwrite another chunk and show up in its read.
        foreach (var c in chunks)
        {
            script.Append(CultureInfo.InvariantCulture, $$"""
                dd if=/patterns/p{{c.Index}} of=/dev/vda bs={{c.BlockSize}} count={{ChunkBytes / c.BlockSize}} seek={{c.Offset}} oflag=direct,seek_bytes conv=notrunc,fsync 2>/tmp/err || { echo "$R dd-failed chunk={{c.Index}} op=write"; cat /tmp/err; }

                """);
        }
        foreach (var c in chunks)
        {
            script.Append(CultureInfo.InvariantCulture, $$"""
                rm -f /tmp/back
                dd if=/dev/vda of=/tmp/back bs={{c.BlockSize}} count={{ChunkBytes / c.BlockSize}} skip={{c.Offset}} iflag=direct,skip_bytes 2>/tmp/err || { echo "$R dd-failed chunk={{c.Index}} op=read"; cat /tmp/err; }
                echo "$R chunk index={{c.Index}} offset={{c.Offset}} wrote=$(sha256sum < /patterns/p{{c.Index}} | cut -d' ' -f1) read=$(sha256sum < /tmp/back | cut -d' ' -f1)"

                """);
        }
        script.Append("sync\n");

        GuestConsole console = await bed.BootAsync(initramfs, script.ToString(),
        [
            "-chardev", $"socket,id=vu0,path={socket}",
            // num-queues=1: vdpasim_blk has one queue; QEMU 7.2 would otherwise ask for one per vCPU.
            "-device", "vhost-user-blk-pci,chardev=vu0,num-queues=1",
        ]);

        string report = bed.LastReport();
        Assert.True(console.OfKind("no-disk").FirstOrDefault() is null, "the guest found no /dev/vda\n" + report);
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

        // O_DIRECT means every byte crossed the device: its counters saw at least the patterns, and no request failed.
        var q = (await bed.CountersAsync(device))[0];
        long patterns = (long)chunks.Count * ChunkBytes;
        Assert.True(q["written bytes"] >= patterns && q["read bytes"] >= patterns && q["errors"] == 0,
            $"device counters {string.Join(", ", q)} do not show {patterns} bytes written and read without errors\n{report}");
    }
}
