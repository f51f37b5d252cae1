using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// Walks the attributes in a payload (nla_for_each_attr with nla_ok's checks). Throws
/// <see cref="NetlinkFormatException"/> on a truncated header, nla_len &lt; 4 (so nla_len 0 can never loop) or
/// nla_len past the end. Every step advances by at least 4 bytes, so the walk always terminates. Trailing
/// padding of the last attribute may be missing.
/// </summary>
public ref struct NetlinkAttributeEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _next;
    private NetlinkAttribute _current;

    /// <summary>Enumerates the attributes in <paramref name="buffer"/>.</summary>
    public NetlinkAttributeEnumerator(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _next = 0;
        _current = default;
    }

    /// <summary>The current attribute.</summary>
    public readonly NetlinkAttribute Current => _current;

    /// <summary>Returns this enumerator (for foreach).</summary>
    public readonly NetlinkAttributeEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next attribute.</summary>
    public bool MoveNext()
    {
        if (!TryMoveNext(out bool moved, out string? error)) throw new NetlinkFormatException(error!, _next);
        return moved;
    }

    /// <summary>Advances without throwing: false (with <paramref name="error"/>) on malformed input; otherwise <paramref name="moved"/> says whether there was another attribute.</summary>
    public bool TryMoveNext(out bool moved, out string? error)
    {
        moved = false;
        error = null;
        int remaining = _buffer.Length - _next;
        if (remaining <= 0) return true;
        if (remaining < Netlink.AttributeHeaderSize)
        {
            error = $"attribute header truncated: {remaining} bytes left";
            return false;
        }
        ReadOnlySpan<byte> at = _buffer[_next..];
        ushort len = MemoryMarshal.Read<ushort>(at);
        ushort type = MemoryMarshal.Read<ushort>(at[2..]);
        if (len < Netlink.AttributeHeaderSize)
        {
            error = $"nla_len {len} is smaller than the attribute header";
            return false;
        }
        if (len > remaining)
        {
            error = $"nla_len {len} exceeds the {remaining} bytes left";
            return false;
        }
        _current = new NetlinkAttribute(type, at[Netlink.AttributeHeaderSize..len], _next);
        _next += Math.Min(Netlink.AlignAttribute(len), remaining);
        moved = true;
        return true;
    }
}
