using System.Buffers.Binary;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// <c>struct nbd_reply</c> (NBD protocol "Simple reply"): 16 bytes, big endian — magic 0x67446698, error (32),
/// handle (64). A successful READ reply is followed by the data.
/// </summary>
public readonly record struct NbdSimpleReply(NbdError Error, ulong Handle)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Size = 16;

    /// <summary>NBD_SIMPLE_REPLY_MAGIC.</summary>
    public const uint Magic = 0x67446698;

    /// <summary>Writes the 16 bytes.</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException($"needs {Size} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)Error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
    }

    /// <summary>Parses a reply (what a client reads); false when the magic is wrong or it is short.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdSimpleReply reply)
    {
        if (source.Length < Size || BinaryPrimitives.ReadUInt32BigEndian(source) != Magic)
        {
            reply = default;
            return false;
        }
        reply = new NbdSimpleReply((NbdError)BinaryPrimitives.ReadUInt32BigEndian(source[4..]), BinaryPrimitives.ReadUInt64BigEndian(source[8..]));
        return true;
    }
}
