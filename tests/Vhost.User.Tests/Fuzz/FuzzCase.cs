using System.Buffers.Binary;

namespace Uvdpa.Vhost.User.Tests.Fuzz;

/// <summary>What a fuzzed message carries as SCM_RIGHTS descriptors.</summary>
internal enum FuzzFd : byte
{
    EventFd = 0,
    /// <summary>The 1 MiB guest memfd (also a plausible inflight buffer).</summary>
    Memory = 1,
    /// <summary>A Unix socket (not mappable).</summary>
    Socket = 2,
    /// <summary>A 4 KiB memfd, shorter than most regions naming it.</summary>
    ShortMemory = 3,
}

/// <summary>One fuzzed front-end message: header request and flags (the size is always the payload's), payload, descriptors.</summary>
internal sealed record FuzzMessage(uint Request, uint Flags, byte[] Payload, FuzzFd[] Fds)
{
    public override string ToString() => $"{(FrontendRequest)Request}/0x{Flags:x} {Payload.Length}B {Fds.Length}fd";
}

/// <summary>
/// A fuzz case: a net or blk device and a message sequence. Corpus file format (little-endian): u8 device (0 net,
/// 1 blk), then per message u32 request, u32 flags, u16 payload length, u8 descriptor count, that many
/// <see cref="FuzzFd"/> bytes, the payload. Trailing bytes that do not form a message are ignored.
/// </summary>
internal sealed record FuzzCase(bool Blk, FuzzMessage[] Messages)
{
    public override string ToString() => (Blk ? "blk: " : "net: ") + string.Join(", ", Messages.Select(m => m.ToString()));

    public byte[] Encode()
    {
        var b = new List<byte> { Blk ? (byte)1 : (byte)0 };
        Span<byte> h = stackalloc byte[11];
        foreach (var m in Messages)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(h, m.Request);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], m.Flags);
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], (ushort)m.Payload.Length);
            h[10] = (byte)m.Fds.Length;
            b.AddRange(h.ToArray());
            b.AddRange(m.Fds.Select(x => (byte)x));
            b.AddRange(m.Payload);
        }
        return [.. b];
    }

    /// <summary>Decodes any byte string (a corpus file or raw fuzzer input) into a case; never throws.</summary>
    public static FuzzCase Decode(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return new FuzzCase(false, []);
        bool blk = (data[0] & 1) != 0;
        var messages = new List<FuzzMessage>();
        int at = 1;
        while (at + 11 <= data.Length && messages.Count < 256)
        {
            uint request = BinaryPrimitives.ReadUInt32LittleEndian(data[at..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 4)..]);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(data[(at + 8)..]);
            int nfds = Math.Min((int)data[at + 10], 8);
            at += 11;
            if (at + nfds + length > data.Length) break;
            var fds = data.Slice(at, nfds).ToArray().Select(x => (FuzzFd)(x & 3)).ToArray();
            at += nfds;
            messages.Add(new FuzzMessage(request, flags, data.Slice(at, length).ToArray(), fds));
            at += length;
        }
        return new FuzzCase(blk, [.. messages]);
    }
}
