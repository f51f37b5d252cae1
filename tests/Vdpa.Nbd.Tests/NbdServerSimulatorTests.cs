using System.Security.Cryptography;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>An in-test NBD client against the server over a socketpair, served by vdpasim_blk through our virtio_blk driver.</summary>
public sealed class NbdServerSimulatorTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task RamDisk_ExportGeometryAndFlags_FollowTheDevice()
    {
        using var rig = new SimBlkRig();
        var blk = rig.AddRam();
        var (server, client) = SimBlkRig.Serve(blk);
        using (client)
        {
            Assert.Equal(128L << 20, server.SizeBytes); // VDPASIM_BLK_CAPACITY: 0x40000 sectors
            Assert.Equal(512, server.BlockSize);
            Assert.Equal(NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
                | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes, server.TransmissionFlags);
        }
        Assert.Equal("the peer closed the connection", await server.Completion.WaitAsync(NbdTestClient.Deadline));
    }

    [Fact]
    public async Task DeviceWithoutFlushDiscardOrWriteZeroes_AdvertisesNone_AndRefusesTrim()
    {
        using var rig = new SimBlkRig();
        // VDPASIM_BLK_FEATURES (0x308007646) without FLUSH, DISCARD and WRITE_ZEROES.
        ulong features = 0x308007646UL & ~((1UL << BlkFeatures.Flush) | (1UL << BlkFeatures.Discard) | (1UL << BlkFeatures.WriteZeroes));
        var blk = rig.AddRam("plain", features);
        var (server, client) = SimBlkRig.Serve(blk);
        using (client)
        {
            Assert.Equal(NbdTransmissionFlags.HasFlags, server.TransmissionFlags);
            ulong trim = client.Send(NbdCommand.Trim, 0, 4096);
            ulong wz = client.Send(NbdCommand.WriteZeroes, 0, 4096);
            // FLUSH on a write-through device succeeds at once (nothing volatile to flush).
            ulong flush = client.Send(NbdCommand.Flush, 0, 0);
            var r = await client.ReceiveAllAsync([trim, wz, flush]);
            Assert.Equal(NbdError.Invalid, r[trim].Reply.Error);
            Assert.Equal(NbdError.Invalid, r[wz].Reply.Error);
            Assert.Equal(NbdError.None, r[flush].Reply.Error);
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task RamDisk_PipelinedWritesThenReads_ReturnWhatWasWritten()
    {
        using var rig = new SimBlkRig();
        var blk = rig.AddRam();
        var (server, client) = SimBlkRig.Serve(blk);
        using (client)
        {
            // 48 writes of varied sizes (up to 1 MiB, above the driver's 128 KiB per request) sent without waiting.
            var writes = new Dictionary<ulong, (ulong Offset, byte[] Data)>();
            ulong offset = 4096;
            for (int i = 0; i < 48; i++)
            {
                int len = 512 * (1 + (i * 37) % 2048);
                var data = Pattern(len, i);
                writes[client.Write(offset, data, i % 5 == 0 ? NbdCommandFlags.Fua : NbdCommandFlags.None)] = (offset, data);
                offset += (ulong)len + 512 * (ulong)(i % 3);
            }
            var wr = await client.ReceiveAllAsync(writes.Keys);
            Assert.All(wr.Values, r => Assert.Equal(NbdError.None, r.Reply.Error));

            var reads = writes.Values.ToDictionary(w => client.Read(w.Offset, w.Data.Length), w => w.Data);
            var rr = await client.ReceiveAllAsync(reads.Keys);
            foreach (var (h, expected) in reads)
            {
                Assert.Equal(NbdError.None, rr[h].Reply.Error);
                Assert.True(expected.AsSpan().SequenceEqual(rr[h].Data), $"read 0x{h:x} differs from what was written");
            }
            Assert.Equal(writes.Values.Sum(w => (long)w.Data.Length), server.BytesWritten);
            Assert.Equal(0, server.Errors);
        }
        await server.Completion.WaitAsync(NbdTestClient.Deadline);
    }

    [Fact]
    public async Task FileBacked_WriteFlushTrimWriteZeroes_LandInTheImage()
    {
        using var rig = new SimBlkRig();
        var (blk, path) = rig.AddFile("img0", 8 << 20);
        var (server, client) = SimBlkRig.Serve(blk);
        byte[] a = Pattern(64 << 10, 1), b = Pattern(8 << 10, 2), c = Pattern(8 << 10, 3);
        using (client)
        {
            Assert.Equal(8L << 20, server.SizeBytes);
            var h = new List<ulong>
            {
                client.Write(0, a),
                client.Write(1 << 20, b, NbdCommandFlags.Fua),
                client.Write(2 << 20, c),
            };
            var r1 = await client.ReceiveAllAsync(h);
            Assert.All(r1.Values, r => Assert.Equal(NbdError.None, r.Reply.Error));
            // Trim the middle 16 KiB of a (the file backend punches a hole: zeros), zero the first 4 KiB of c.
            var h2 = new List<ulong>
            {
                client.Send(NbdCommand.Trim, 16 << 10, 16 << 10),
                client.Send(NbdCommand.WriteZeroes, 2 << 20, 4096, flags: NbdCommandFlags.NoHole | NbdCommandFlags.Fua),
                client.Send(NbdCommand.Flush, 0, 0),
            };
            var r2 = await client.ReceiveAllAsync(h2);
            Assert.All(r2.Values, r => Assert.Equal(NbdError.None, r.Reply.Error));
            ulong disc = client.Send(NbdCommand.Disconnect, 0, 0);
            _ = disc;
            await client.ExpectClosedAsync();
        }
        Assert.Equal("NBD_CMD_DISC", await server.Completion.WaitAsync(NbdTestClient.Deadline));
        rig.Bus.DeleteDevice("img0");

        byte[] image = await File.ReadAllBytesAsync(path);
        Array.Clear(a, 16 << 10, 16 << 10);
        Array.Clear(c, 0, 4096);
        Assert.True(image.AsSpan(0, a.Length).SequenceEqual(a), "image bytes 0..64K differ");
        Assert.True(image.AsSpan(1 << 20, b.Length).SequenceEqual(b), "image bytes at 1M differ");
        Assert.True(image.AsSpan(2 << 20, c.Length).SequenceEqual(c), "image bytes at 2M differ");
        Assert.Equal(SHA256.HashData(new byte[64 << 10]), SHA256.HashData(image.AsSpan(4 << 20, 64 << 10)));
    }

    [Fact]
    public async Task DeviceRemovedUnderTheServer_AnswersEshutdown_AndCloses()
    {
        using var rig = new SimBlkRig();
        var blk = rig.AddRam("gone");
        var (server, client) = SimBlkRig.Serve(blk);
        using (client)
        {
            ulong ok = client.Write(0, Pattern(4096, 7));
            Assert.Equal(NbdError.None, (await client.ReceiveAsync()).Reply.Error);
            _ = ok;
            rig.Bus.DeleteDevice("gone");
            ulong after = client.Read(0, 4096);
            var r = await client.ReceiveAsync();
            Assert.Equal(after, r.Reply.Handle);
            Assert.Equal(NbdError.Shutdown, r.Reply.Error);
            await client.ExpectClosedAsync();
        }
        Assert.StartsWith("the device went away", await server.Completion.WaitAsync(NbdTestClient.Deadline));
    }
}
