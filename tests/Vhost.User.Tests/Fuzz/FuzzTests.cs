using System.Runtime.InteropServices;
using CsCheck;

namespace Uvdpa.Vhost.User.Tests.Fuzz;

/// <summary>
/// Fuzzing the back-end: CsCheck generates message sequences (valid prefixes, then valid, mutated and random
/// messages with descriptors, sizes and indices), <see cref="BackendFuzzTarget"/> runs them; the committed corpus
/// (corpus/*.bin, written by <see cref="WriteCorpus"/>) is replayed on every run.
/// </summary>
[Collection(nameof(DescriptorLeakTests))] // alone: sessions on the shared devices must not interleave with fd counting
public sealed class FuzzTests
{
    private const ulong FrontendBase = 0x7f00_0000_0000, GuestBase = 0x4000_0000;

    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    private static byte[] Bytes<T>(T v) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in v)).ToArray();

    private static readonly Gen<uint> Index = Gen.FrequencyConst((8, 0u), (6, 1u), (1, 2u), (1, 255u), (1, 256u), (1, 0x10000u), (1, uint.MaxValue));
    // Version 1, with NEED_REPLY, with REPLY (wrong on a request), version 0, a reserved bit.
    private static readonly Gen<uint> Flags = Gen.FrequencyConst((10, 1u), (6, 9u), (1, 5u), (1, 0u), (1, 0x11u));
    private static readonly Gen<ulong> RingAddress = Gen.FrequencyConst((4, FrontendBase), (4, FrontendBase + 0x1000), (4, FrontendBase + 0x2000), (2, FrontendBase + 0xff000),
        (1, FrontendBase + 0x1001), (1, 0UL), (1, ulong.MaxValue - 8));
    private static readonly Gen<uint> VringNum = Gen.FrequencyConst((6, 256u), (2, 128u), (1, 0u), (1, 1u), (1, 3u), (1, 32768u), (1, 65535u));
    private static readonly Gen<FuzzFd> AnyFd = Gen.FrequencyConst((6, FuzzFd.EventFd), (3, FuzzFd.Memory), (1, FuzzFd.Socket), (1, FuzzFd.ShortMemory));

    private static FuzzMessage M(FrontendRequest r, uint flags, byte[] payload, params FuzzFd[] fds) => new((uint)r, flags, payload, fds);

    private static Gen<FuzzMessage> State(FrontendRequest r, Gen<uint> num)
        => Gen.Select(Flags, Index, num, (f, i, n) => M(r, f, Bytes(new VhostVringState { Index = i, Num = n })));

    private static readonly Gen<FuzzMessage> MemTable =
        from f in Flags
        from n in Gen.FrequencyConst((8, 1), (2, 2), (1, 0), (1, 9))
        from gpa in Gen.FrequencyConst((6, GuestBase), (1, 0UL), (1, ulong.MaxValue - 0xfff))
        from size in Gen.FrequencyConst((6, 1UL << 20), (2, 4096UL), (1, 0UL), (1, 2UL << 20))
        from offset in Gen.FrequencyConst((8, 0UL), (1, 4096UL), (1, 8UL), (1, 1UL << 20))
        from padding in Gen.FrequencyConst((10, 0u), (1, 1u))
        from fd in Gen.FrequencyConst((8, FuzzFd.Memory), (1, FuzzFd.Socket), (1, FuzzFd.ShortMemory), (1, FuzzFd.EventFd))
        from fdCount in Gen.FrequencyConst((10, 0), (1, -1), (1, 1))
        select Table(f, n, gpa, size, offset, padding, fd, fdCount);

    private static FuzzMessage Table(uint flags, int n, ulong gpa, ulong size, ulong offset, uint padding, FuzzFd fd, int fdDelta)
    {
        int regions = Math.Clamp(n, 0, 8);
        var p = new byte[8 + 32 * regions];
        MemoryMarshal.Write(p, (uint)n);
        MemoryMarshal.Write(p.AsSpan(4), padding);
        for (int i = 0; i < regions; i++)
        {
            MemoryMarshal.Write(p.AsSpan(8 + 32 * i), new VhostUserMemoryRegion
            {
                GuestPhysAddr = gpa + (ulong)i * (4UL << 20), MemorySize = size, UserspaceAddr = FrontendBase + (ulong)i * (4UL << 20), MmapOffset = offset,
            });
        }
        return M(FrontendRequest.SetMemTable, flags, p, Enumerable.Repeat(fd, Math.Clamp(regions + fdDelta, 0, 8)).ToArray());
    }

    private static readonly Gen<FuzzMessage> VringFd =
        from r in Gen.OneOfConst(FrontendRequest.SetVringKick, FrontendRequest.SetVringCall, FrontendRequest.SetVringErr)
        from f in Flags
        from i in Index
        from nofd in Gen.Frequency((1, Gen.Const(true)), (4, Gen.Const(false)))
        from extra in Gen.FrequencyConst((10, 0), (1, 1))
        from reserved in Gen.FrequencyConst((20, 0UL), (1, 0x200UL))
        select M(r, f, U64((i & 0xff) | (nofd ? 0x100UL : 0) | reserved), Enumerable.Repeat(FuzzFd.EventFd, (nofd ? 0 : 1) + extra).ToArray());

    private static readonly Gen<FuzzMessage> Config =
        from r in Gen.OneOfConst(FrontendRequest.GetConfig, FrontendRequest.SetConfig)
        from f in Flags
        from offset in Gen.FrequencyConst((6, 0u), (2, 32u), (1, 250u), (1, uint.MaxValue - 4))
        from size in Gen.FrequencyConst((4, 8u), (3, 60u), (1, 1u), (1, 0u), (1, 256u), (1, 257u))
        from cfgFlags in Gen.FrequencyConst((8, 0u), (2, 1u), (1, 2u))
        from shift in Gen.FrequencyConst((10, 0), (1, -4), (1, 4))
        select M(r, f, [.. Bytes(new VhostUserConfigHeader { Offset = offset, ConfigSize = size, Flags = cfgFlags }), .. new byte[Math.Clamp((int)Math.Min(size, 300u) + shift, 0, 300)]]);

    private static readonly Gen<FuzzMessage> Inflight =
        from r in Gen.OneOfConst(FrontendRequest.GetInflightFd, FrontendRequest.SetInflightFd)
        from f in Flags
        from queues in Gen.FrequencyConst((8, (ushort)1), (1, (ushort)0), (1, (ushort)2))
        from qsize in Gen.FrequencyConst((6, (ushort)256), (2, (ushort)128), (1, (ushort)0), (1, (ushort)3))
        from mmap in Gen.FrequencyConst((4, 4160UL), (2, 1UL << 20), (1, 0UL), (1, 64UL))
        from offset in Gen.FrequencyConst((8, 0UL), (1, 4096UL), (1, 12UL))
        from fd in AnyFd
        select M(r, f, Bytes(new VhostUserInflight { MmapSize = mmap, MmapOffset = offset, NumQueues = queues, QueueSize = qsize }),
            r == FrontendRequest.SetInflightFd ? [fd] : []);

    private static readonly Gen<FuzzMessage> Random =
        from request in Gen.FrequencyConst((4, 0u), (1, 19u), (1, 20u), (1, 21u), (1, 22u), (1, 35u), (1, 36u), (1, 37u), (1, 38u), (1, 44u), (1, 1000u))
            .Select(Gen.UInt[0, 45], Gen.Bool, (a, b, pick) => pick ? a : b)
        from f in Gen.FrequencyConst((6, 1u), (1, 0u), (1, 2u), (1, 5u), (1, 0x11u), (1, 0xffffffffu))
        from payload in Gen.Byte.Array[0, 64]
        from fds in AnyFd.Array[0, 3]
        select new FuzzMessage(request, f, payload, fds);

    private static readonly Gen<FuzzMessage> Message = Gen.Frequency(
        (2, Gen.Select(Flags, f => M(FrontendRequest.GetFeatures, f, []))),
        (3, Gen.Select(Flags, Gen.FrequencyConst((4, (1UL << 32) | (1UL << 30)), (2, (1UL << 32) | (1UL << 30) | (1UL << 5)), (1, 1UL << 33), (1, ulong.MaxValue)),
            (f, v) => M(FrontendRequest.SetFeatures, f, U64(v)))),
        (1, Gen.Select(Flags, Gen.OneOfConst(FrontendRequest.SetOwner, FrontendRequest.ResetOwner, FrontendRequest.GetProtocolFeatures, FrontendRequest.GetQueueNum, FrontendRequest.GetStatus),
            (f, r) => M(r, f, []))),
        (2, Gen.Select(Flags, Gen.ULong[0, 0x1ffff], (f, v) => M(FrontendRequest.SetProtocolFeatures, f, U64(v)))),
        (3, MemTable),
        (3, State(FrontendRequest.SetVringNum, VringNum)),
        (2, State(FrontendRequest.SetVringBase, Gen.FrequencyConst((6, 0u), (2, 5u), (1, 0x10000u), (1, 0x8000u)))),
        (3, Gen.Select(Flags, Index, RingAddress, Gen.FrequencyConst((10, 0u), (1, 1u), (1, 2u)),
            (f, i, d, fl) => M(FrontendRequest.SetVringAddr, f, Bytes(new VhostVringAddr { Index = i, Flags = fl, DescUserAddr = d, AvailUserAddr = d + 0x1000, UsedUserAddr = d + 0x2000 })))),
        (2, State(FrontendRequest.GetVringBase, Gen.Const(0u))),
        (3, VringFd),
        (2, State(FrontendRequest.SetVringEnable, Gen.FrequencyConst((6, 1u), (3, 0u), (1, 2u)))),
        (2, Gen.Select(Flags, Gen.FrequencyConst((3, 0UL), (1, 1UL), (1, 3UL), (2, 0xbUL), (3, 0xfUL), (1, 0x4fUL), (1, 0x100UL)),
            (f, s) => M(FrontendRequest.SetStatus, f, U64(s)))),
        (2, Config),
        (2, Inflight),
        (3, Random));

    /// <summary>What QEMU does first (so generated tails reach running rings): negotiation, memory, ring 0 started, DRIVER_OK.</summary>
    private static FuzzMessage[] Prefix(bool blk) =>
    [
        M(FrontendRequest.GetFeatures, 1, []),
        M(FrontendRequest.SetProtocolFeatures, 1, U64(0x1 | 0x8 | 0x200 | 0x10000 | (blk ? 0x1000UL : 0))),
        M(FrontendRequest.SetFeatures, 9, U64((1UL << 32) | (1UL << 30))),
        Table(9, 1, GuestBase, 1 << 20, 0, 0, FuzzFd.Memory, 0),
        M(FrontendRequest.SetVringNum, 9, Bytes(new VhostVringState { Index = 0, Num = 256 })),
        M(FrontendRequest.SetVringAddr, 9, Bytes(new VhostVringAddr { Index = 0, DescUserAddr = FrontendBase, AvailUserAddr = FrontendBase + 0x1000, UsedUserAddr = FrontendBase + 0x2000 })),
        M(FrontendRequest.SetVringKick, 9, U64(0), FuzzFd.EventFd),
        M(FrontendRequest.SetVringEnable, 9, Bytes(new VhostVringState { Index = 0, Num = 1 })),
        M(FrontendRequest.SetStatus, 9, U64(0xf)),
    ];

    private static readonly Gen<FuzzCase> Case =
        from blk in Gen.Bool
        from prefix in Gen.Frequency((2, Gen.Const(true)), (1, Gen.Const(false)))
        from cut in Gen.Int[0, 9]
        from tail in Message.Array[0, 20]
        select new FuzzCase(blk, prefix ? [.. Prefix(blk).Take(cut), .. tail] : tail);

    [Fact]
    public void RandomSessions_EndThroughTheErrorPath_AndLeaveTheDeviceResettable()
    {
        using var target = new BackendFuzzTarget();
        Case.Sample(c => target.Run(c), iter: 1500, threads: 1, print: c => c.ToString());
        target.AssertServesACleanSession(blk: false);
        target.AssertServesACleanSession(blk: true);
    }

    [Fact]
    public void RandomBytes_DecodedAsSessions_EndThroughTheErrorPath()
    {
        using var target = new BackendFuzzTarget();
        Gen.Byte.Array[0, 400].Sample(b => target.Run(FuzzCase.Decode(b)), iter: 300, threads: 1);
        target.AssertServesACleanSession(blk: true);
    }

    [Fact]
    public void Corpus_Replays()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "corpus");
        string[] files = Directory.GetFiles(dir, "*.bin");
        Assert.True(files.Length >= 200, $"corpus has {files.Length} files");
        using var target = new BackendFuzzTarget();
        foreach (string f in files)
        {
            try
            {
                target.Run(FuzzCase.Decode(File.ReadAllBytes(f)));
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"corpus file {Path.GetFileName(f)} failed: {e.Message}", e);
            }
        }
        target.AssertServesACleanSession(blk: false);
        target.AssertServesACleanSession(blk: true);
    }

    /// <summary>
    /// Regenerates the corpus: UVDPA_WRITE_VHOST_CORPUS=/abs/path/tests/Vhost.User.Tests/corpus dotnet test --filter WriteCorpus.
    /// Keeps the first few cases of every distinct outcome (how the session ended, NACKs, a ring started) plus a sample.
    /// </summary>
    [Fact]
    public void WriteCorpus()
    {
        string? dir = Environment.GetEnvironmentVariable("UVDPA_WRITE_VHOST_CORPUS");
        if (string.IsNullOrEmpty(dir)) return;
        Directory.CreateDirectory(dir);
        using var target = new BackendFuzzTarget();
        var perOutcome = new Dictionary<string, int>();
        int written = 0, seen = 0;
        Case.Sample(c =>
        {
            var o = target.Run(c);
            string key = $"{(c.Blk ? "blk" : "net")}-{o.Ending}-r{Math.Min(o.Replies, 9)}-n{Math.Min(o.Nacks, 3)}{(o.RingStarted ? "-ring" : "")}";
            perOutcome.TryGetValue(key, out int n);
            bool keep = n < 4 || seen++ % 40 == 0;
            if (!keep || written >= 320) return;
            perOutcome[key] = n + 1;
            File.WriteAllBytes(Path.Combine(dir, $"{written++:D3}-{key}.bin"), c.Encode());
        }, iter: 6000, threads: 1);
        foreach (var (name, bytes) in Handmade()) File.WriteAllBytes(Path.Combine(dir, $"hand-{name}.bin"), new FuzzCase(name.StartsWith("blk", StringComparison.Ordinal), bytes).Encode());
    }

    /// <summary>Hand-written entries for paths random search reaches rarely.</summary>
    private static IEnumerable<(string Name, FuzzMessage[] Messages)> Handmade()
    {
        yield return ("blk-status-zero-before-get-vring-base", [.. Prefix(true), M(FrontendRequest.SetStatus, 9, U64(0)), M(FrontendRequest.GetVringBase, 1, Bytes(new VhostVringState()))]);
        yield return ("blk-inflight-get-set-restart", [.. Prefix(true).Take(4), M(FrontendRequest.GetInflightFd, 1, Bytes(new VhostUserInflight { NumQueues = 1, QueueSize = 256 })),
            M(FrontendRequest.SetInflightFd, 9, Bytes(new VhostUserInflight { MmapSize = 1 << 20, NumQueues = 1, QueueSize = 256 }), FuzzFd.Memory), .. Prefix(true).Skip(4)]);
        yield return ("net-memtable-replaced-while-running", [.. Prefix(false), Table(9, 1, GuestBase, 1 << 20, 0, 0, FuzzFd.Memory, 0), Table(9, 1, GuestBase, 4096, 0, 0, FuzzFd.Memory, 0)]);
        yield return ("net-nine-fds", [M(FrontendRequest.SetMemTable, 1, new byte[8 + 256], FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory, FuzzFd.Memory)]);
        yield return ("blk-short-memfd-region", [.. Prefix(true).Take(3), Table(9, 1, GuestBase, 1 << 20, 0, 0, FuzzFd.ShortMemory, 0)]);
        // The fuzzer's first finding: SET_CONFIG rewrote vdpasim_net's MAC, which outlived the session.
        yield return ("net-set-config-mac", [.. Prefix(false), M(FrontendRequest.SetConfig, 9, [.. Bytes(new VhostUserConfigHeader { Offset = 0, ConfigSize = 6 }), 2, 0, 0, 0, 0, 1])]);
        yield return ("net-kick-nofd-polling", [.. Prefix(false).Take(6), M(FrontendRequest.SetVringKick, 9, U64(0x100)), M(FrontendRequest.SetVringEnable, 9, Bytes(new VhostVringState { Index = 0, Num = 1 }))]);
    }
}
