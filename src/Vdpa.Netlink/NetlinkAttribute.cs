using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// One struct nlattr and its payload, as found by <see cref="NetlinkAttributeEnumerator"/>. The getters check the
/// payload length first: a payload shorter than the type needs gives <see cref="NetlinkFormatException"/> (the
/// kernel's legacy policy check, which accepts longer payloads and reads their first bytes) or false from the
/// Try form.
/// </summary>
public readonly ref struct NetlinkAttribute
{
    /// <summary>Creates an attribute view.</summary>
    public NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> payload, int offset)
    {
        RawType = rawType;
        Payload = payload;
        Offset = offset;
    }

    /// <summary>nla_type as on the wire, flag bits included.</summary>
    public ushort RawType { get; }

    /// <summary>The attribute type with NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off.</summary>
    public ushort Type => (ushort)(RawType & Netlink.AttributeTypeMask);

    /// <summary>NLA_F_NESTED is set.</summary>
    public bool IsNestedFlagSet => (RawType & Netlink.AttributeNested) != 0;

    /// <summary>NLA_F_NET_BYTEORDER is set: numeric getters read big-endian.</summary>
    public bool IsNetByteOrder => (RawType & Netlink.AttributeNetByteOrder) != 0;

    /// <summary>The payload (nla_len − 4 bytes, padding excluded).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>nla_len: header plus payload.</summary>
    public int Length => Payload.Length + Netlink.AttributeHeaderSize;

    /// <summary>Offset of the attribute header within the span that was enumerated.</summary>
    public int Offset { get; }

    /// <summary>u8 payload.</summary>
    public byte GetU8() => TryGetU8(out byte v) ? v : throw TooShort(1);

    /// <summary>u16 payload (host order, or big-endian with NLA_F_NET_BYTEORDER).</summary>
    public ushort GetU16() => TryGetU16(out ushort v) ? v : throw TooShort(2);

    /// <summary>u32 payload.</summary>
    public uint GetU32() => TryGetU32(out uint v) ? v : throw TooShort(4);

    /// <summary>u64 payload.</summary>
    public ulong GetU64() => TryGetU64(out ulong v) ? v : throw TooShort(8);

    /// <summary>s32 payload.</summary>
    public int GetS32() => unchecked((int)GetU32());

    /// <summary>
    /// An unsigned integer of whatever width the payload has (1, 2, 4 or 8 bytes), like the kernel's NLA_UINT.
    /// Useful for attributes whose documented and actual widths differ (VDPA_ATTR_DEV_NET_STATUS: u8 in uapi, u16 on the wire).
    /// </summary>
    public ulong GetUInt() => TryGetUInt(out ulong v) ? v : throw new NetlinkFormatException($"attribute {Type}: payload of {Payload.Length} bytes is not an integer width", Offset);

    /// <summary>Reads a u8 if the payload has at least 1 byte.</summary>
    public bool TryGetU8(out byte value)
    {
        if (Payload.Length < 1) { value = 0; return false; }
        value = Payload[0];
        return true;
    }

    /// <summary>Reads a u16 if the payload has at least 2 bytes.</summary>
    public bool TryGetU16(out ushort value)
    {
        if (Payload.Length < 2) { value = 0; return false; }
        value = IsNetByteOrder ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : MemoryMarshal.Read<ushort>(Payload);
        return true;
    }

    /// <summary>Reads a u32 if the payload has at least 4 bytes.</summary>
    public bool TryGetU32(out uint value)
    {
        if (Payload.Length < 4) { value = 0; return false; }
        value = IsNetByteOrder ? BinaryPrimitives.ReadUInt32BigEndian(Payload) : MemoryMarshal.Read<uint>(Payload);
        return true;
    }

    /// <summary>Reads a u64 if the payload has at least 8 bytes.</summary>
    public bool TryGetU64(out ulong value)
    {
        if (Payload.Length < 8) { value = 0; return false; }
        value = IsNetByteOrder ? BinaryPrimitives.ReadUInt64BigEndian(Payload) : MemoryMarshal.Read<ulong>(Payload);
        return true;
    }

    /// <summary>Reads an integer of exactly 1, 2, 4 or 8 bytes.</summary>
    public bool TryGetUInt(out ulong value)
    {
        switch (Payload.Length)
        {
            case 1: value = Payload[0]; return true;
            case 2: TryGetU16(out ushort s); value = s; return true;
            case 4: TryGetU32(out uint i); value = i; return true;
            case 8: return TryGetU64(out value);
            default: value = 0; return false;
        }
    }

    /// <summary>The string bytes: the payload up to (not including) the first NUL, or all of it when there is no NUL (NLA_STRING).</summary>
    public ReadOnlySpan<byte> GetStringBytes()
    {
        int nul = Payload.IndexOf((byte)0);
        return nul < 0 ? Payload : Payload[..nul];
    }

    /// <summary>The payload decoded as UTF-8 up to the first NUL (lenient, like NLA_STRING).</summary>
    public string GetString() => Encoding.UTF8.GetString(GetStringBytes());

    /// <summary>True if the payload is a NUL-terminated string (NLA_NUL_STRING / libmnl MNL_TYPE_NUL_STRING).</summary>
    public bool IsNulTerminatedString => Payload.Length > 0 && Payload.IndexOf((byte)0) >= 0;

    /// <summary>The nested attributes carried in the payload (whether or not NLA_F_NESTED is set).</summary>
    public NetlinkAttributeEnumerator GetNested() => new(Payload);

    private NetlinkFormatException TooShort(int need) =>
        new($"attribute {Type}: payload of {Payload.Length} bytes is shorter than {need}", Offset);
}
