using System.Buffers.Binary;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// <c>struct nbd_request</c> (include/uapi/linux/nbd.h; NBD protocol "Simple request"): 28 bytes, big endian —
/// magic 0x25609513, flags (16), type (16), handle (64, opaque, echoed in the reply), offset (64), length (32).
/// </summary>
public readonly record struct NbdRequestHeader(NbdCommandFlags Flags, NbdCommand Command, ulong Handle, ulong Offset, uint Length)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Size = 28;

    /// <summary>NBD_REQUEST_MAGIC.</summary>
    public const uint Magic = 0x25609513;

    /// <summary>Parses <paramref name="source"/> (at least 28 bytes); false when the magic is wrong.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdRequestHeader header)
    {
        if (source.Length < Size || BinaryPrimitives.ReadUInt32BigEndian(source) != Magic)
        {
            header = default;
            return false;
        }
        header = new NbdRequestHeader(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(source[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[24..]));
        return true;
    }

    /// <summary>Writes the 28 bytes (what a client sends).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException($"needs {Size} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], Length);
    }
}
