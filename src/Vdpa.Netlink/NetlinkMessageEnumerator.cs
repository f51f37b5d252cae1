namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// Walks the messages in one datagram (nlmsg_for_each_msg with nlmsg_ok's checks). Throws
/// <see cref="NetlinkFormatException"/> on a truncated header, nlmsg_len &lt; 16 or nlmsg_len past the end;
/// every step advances at least 16 bytes.
/// </summary>
public ref struct NetlinkMessageEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _next;
    private NetlinkMessage _current;

    /// <summary>Enumerates the messages in <paramref name="datagram"/>.</summary>
    public NetlinkMessageEnumerator(ReadOnlySpan<byte> datagram)
    {
        _buffer = datagram;
        _next = 0;
        _current = default;
    }

    /// <summary>The current message.</summary>
    public readonly NetlinkMessage Current => _current;

    /// <summary>Returns this enumerator (for foreach).</summary>
    public readonly NetlinkMessageEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next message.</summary>
    public bool MoveNext()
    {
        if (!TryMoveNext(out bool moved, out string? error)) throw new NetlinkFormatException(error!, _next);
        return moved;
    }

    /// <summary>Advances without throwing: false (with <paramref name="error"/>) on malformed input; otherwise <paramref name="moved"/> says whether there was another message.</summary>
    public bool TryMoveNext(out bool moved, out string? error)
    {
        moved = false;
        error = null;
        if (_next >= _buffer.Length) return true;
        if (!NetlinkMessage.TryRead(_buffer[_next..], out NetlinkMessage m, out int consumed, out error)) return false;
        _current = new NetlinkMessage(m.Header, m.Raw, _next);
        _next += consumed;
        moved = true;
        return true;
    }
}
