using System.Collections;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>One attribute kept after the receive buffer is gone (its payload is a slice of the copied message).</summary>
/// <param name="RawType">nla_type with flag bits.</param>
/// <param name="Payload">The payload bytes.</param>
/// <param name="Offset">Offset of the nlattr within the attribute area it was parsed from.</param>
public readonly record struct NetlinkAttributeValue(ushort RawType, ReadOnlyMemory<byte> Payload, int Offset)
{
    /// <summary>The type without NLA_F_NESTED / NLA_F_NET_BYTEORDER.</summary>
    public ushort Type => (ushort)(RawType & Netlink.AttributeTypeMask);

    /// <summary>A span view with the typed getters of <see cref="NetlinkAttribute"/>.</summary>
    public NetlinkAttribute View => new(RawType, Payload.Span, Offset);
}

/// <summary>The attributes of a message in wire order, duplicates and unknown types included (what a printer needs to reproduce iproute2).</summary>
public sealed class NetlinkAttributeList : IReadOnlyList<NetlinkAttributeValue>
{
    private readonly NetlinkAttributeValue[] _items;

    private NetlinkAttributeList(NetlinkAttributeValue[] items) => _items = items;

    /// <summary>No attributes.</summary>
    public static NetlinkAttributeList Empty { get; } = new([]);

    /// <summary>Parses the attribute area <paramref name="payload"/> (validated; <see cref="NetlinkFormatException"/> if malformed).</summary>
    public static NetlinkAttributeList Parse(ReadOnlyMemory<byte> payload)
    {
        var items = new List<NetlinkAttributeValue>();
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(payload.Span))
            items.Add(new NetlinkAttributeValue(a.RawType, payload.Slice(a.Offset + Netlink.AttributeHeaderSize, a.Payload.Length), a.Offset));
        return new NetlinkAttributeList([.. items]);
    }

    /// <inheritdoc />
    public NetlinkAttributeValue this[int index] => _items[index];

    /// <inheritdoc />
    public int Count => _items.Length;

    /// <summary>The first attribute of <paramref name="type"/> (flags masked), if any.</summary>
    public bool TryGet(ushort type, out NetlinkAttributeValue value)
    {
        foreach (NetlinkAttributeValue v in _items)
        {
            if (v.Type == type)
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>True if an attribute of <paramref name="type"/> is present.</summary>
    public bool Contains(ushort type) => TryGet(type, out _);

    /// <summary>The first string attribute of <paramref name="type"/>, or null.</summary>
    public string? GetString(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetString() : null;

    /// <summary>The first u8 attribute of <paramref name="type"/>, or null.</summary>
    public byte? GetU8(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetU8() : null;

    /// <summary>The first u16 attribute of <paramref name="type"/>, or null.</summary>
    public ushort? GetU16(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetU16() : null;

    /// <summary>The first u32 attribute of <paramref name="type"/>, or null.</summary>
    public uint? GetU32(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetU32() : null;

    /// <summary>The first u64 attribute of <paramref name="type"/>, or null.</summary>
    public ulong? GetU64(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetU64() : null;

    /// <summary>The first attribute of <paramref name="type"/> read as a 1/2/4/8-byte unsigned integer, or null.</summary>
    public ulong? GetUInt(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.View.GetUInt() : null;

    /// <summary>The first binary attribute of <paramref name="type"/>, or null.</summary>
    public byte[]? GetBinary(ushort type) => TryGet(type, out NetlinkAttributeValue v) ? v.Payload.ToArray() : null;

    /// <inheritdoc />
    public IEnumerator<NetlinkAttributeValue> GetEnumerator() => ((IEnumerable<NetlinkAttributeValue>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
