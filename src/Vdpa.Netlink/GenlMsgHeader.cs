using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>struct genlmsghdr (include/uapi/linux/genetlink.h): cmd, version, reserved; 4 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = Netlink.GenlHeaderSize)]
public struct GenlMsgHeader : IEquatable<GenlMsgHeader>
{
    /// <summary>cmd: the family's command number.</summary>
    public byte Command;

    /// <summary>version: the family version (the kernel ignores it in requests; iproute2 sends 0 for vdpa).</summary>
    public byte Version;

    /// <summary>reserved: must be 0 for strictly validated commands.</summary>
    public ushort Reserved;

    /// <summary>Creates a header.</summary>
    public GenlMsgHeader(byte command, byte version, ushort reserved = 0)
    {
        Command = command;
        Version = version;
        Reserved = reserved;
    }

    /// <summary>Reads a header from the first 4 bytes of <paramref name="source"/>.</summary>
    /// <exception cref="NetlinkFormatException">Fewer than 4 bytes.</exception>
    public static GenlMsgHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Netlink.GenlHeaderSize)
            throw new NetlinkFormatException($"genlmsghdr truncated: {source.Length} of {Netlink.GenlHeaderSize} bytes");
        return MemoryMarshal.Read<GenlMsgHeader>(source);
    }

    /// <summary>Writes the header to the first 4 bytes of <paramref name="destination"/>.</summary>
    public readonly void Write(Span<byte> destination) => MemoryMarshal.Write(destination, in this);

    /// <inheritdoc />
    public readonly bool Equals(GenlMsgHeader other) => Command == other.Command && Version == other.Version && Reserved == other.Reserved;

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is GenlMsgHeader h && Equals(h);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Command, Version, Reserved);

    /// <summary>Field-wise equality.</summary>
    public static bool operator ==(GenlMsgHeader left, GenlMsgHeader right) => left.Equals(right);

    /// <summary>Field-wise inequality.</summary>
    public static bool operator !=(GenlMsgHeader left, GenlMsgHeader right) => !left.Equals(right);

    /// <inheritdoc />
    public override readonly string ToString() => $"{{cmd={Command}, version={Version}, reserved={Reserved}}}";
}
