using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// Builds netlink messages into a caller buffer (fixed) or a pooled growable buffer, without allocating.
/// Padding is always zeroed (as the kernel's nla_put does; iproute2 leaves stale bytes).
/// <para>
/// A fixed buffer that runs out of room sets <see cref="Overflowed"/> and ignores later writes, like the
/// kernel's -EMSGSIZE; a server building a dump batch can <see cref="Rewind"/> to the start of the message that
/// did not fit and send what it has. A growable writer only overflows past <see cref="MaxCapacity"/>.
/// Dispose a growable writer to return its buffer to the pool.
/// </para>
/// </summary>
public ref struct NetlinkWriter
{
    /// <summary>Largest buffer a growable writer will use (nlmsg_len is 32-bit, but nothing we send comes close).</summary>
    public const int MaxCapacity = 1 << 24;

    private Span<byte> _buffer;
    private byte[]? _rented;
    private int _position;
    private bool _overflowed;

    /// <summary>A writer over a fixed caller buffer.</summary>
    public NetlinkWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _rented = null;
        _position = 0;
        _overflowed = false;
    }

    /// <summary>A writer over a pooled buffer that grows on demand; dispose it when done.</summary>
    public static NetlinkWriter CreateGrowable(int initialCapacity = 256)
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(Math.Clamp(initialCapacity, 64, MaxCapacity));
        return new NetlinkWriter(array) { _rented = array };
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Position => _position;

    /// <summary>A write did not fit; all writes since were dropped.</summary>
    public readonly bool Overflowed => _overflowed;

    /// <summary>The bytes written so far.</summary>
    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer[.._position];

    /// <summary>Copies the written bytes to a new array.</summary>
    public readonly byte[] ToArray() => WrittenSpan.ToArray();

    /// <summary>Appends the written bytes to <paramref name="output"/> (e.g. an ArrayBufferWriter).</summary>
    public readonly void CopyTo(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(WrittenSpan);
    }

    /// <summary>Drops everything after <paramref name="position"/> (a message or nest start) and clears <see cref="Overflowed"/>.</summary>
    public void Rewind(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, _position);
        _position = position;
        _overflowed = false;
    }

    /// <summary>Starts a message (nlmsg_put); finish it with <see cref="EndMessage"/>, which fills in nlmsg_len.</summary>
    public NetlinkMessageToken BeginMessage(ushort type, NetlinkMessageFlags flags, uint sequence, uint portId)
    {
        int start = Netlink.AlignMessage(_position);
        if (start != _position) TryReserve(start - _position, out _);
        if (!TryReserve(Netlink.MessageHeaderSize, out Span<byte> h)) return new NetlinkMessageToken(-1);
        new NlMsgHeader(0, type, flags, sequence, portId).Write(h);
        return new NetlinkMessageToken(_position - Netlink.MessageHeaderSize);
    }

    /// <summary>Writes a genlmsghdr (genlmsg_put after <see cref="BeginMessage"/>).</summary>
    public void PutGenlHeader(byte command, byte version, ushort reserved = 0)
    {
        if (TryReserve(Netlink.GenlHeaderSize, out Span<byte> g)) new GenlMsgHeader(command, version, reserved).Write(g);
    }

    /// <summary>Finishes a message: sets nlmsg_len to the bytes written since its start. Returns false if anything overflowed.</summary>
    public bool EndMessage(NetlinkMessageToken message)
    {
        if (_overflowed || message.Offset < 0) return false;
        if (message.Offset + Netlink.MessageHeaderSize > _position)
            throw new InvalidOperationException("The message token does not belong to the current buffer contents.");
        MemoryMarshal.Write(_buffer[message.Offset..], (uint)(_position - message.Offset));
        return true;
    }

    /// <summary>Raw bytes (no attribute header), padded to 4.</summary>
    public void PutBytes(scoped ReadOnlySpan<byte> bytes)
    {
        if (TryReserve(Netlink.AlignMessage(bytes.Length), out Span<byte> s)) bytes.CopyTo(s);
    }

    /// <summary>u8 attribute (nla_put_u8).</summary>
    public void PutU8(ushort type, byte value)
    {
        if (TryReserveAttribute(type, 1, out Span<byte> p)) p[0] = value;
    }

    /// <summary>u16 attribute (nla_put_u16), host order.</summary>
    public void PutU16(ushort type, ushort value)
    {
        if (TryReserveAttribute(type, 2, out Span<byte> p)) MemoryMarshal.Write(p, in value);
    }

    /// <summary>u32 attribute (nla_put_u32), host order.</summary>
    public void PutU32(ushort type, uint value)
    {
        if (TryReserveAttribute(type, 4, out Span<byte> p)) MemoryMarshal.Write(p, in value);
    }

    /// <summary>s32 attribute (nla_put_s32), host order.</summary>
    public void PutS32(ushort type, int value) => PutU32(type, unchecked((uint)value));

    /// <summary>u64 attribute (nla_put_u64_64bit without a pad attribute, as on x86-64 and arm64), host order.</summary>
    public void PutU64(ushort type, ulong value)
    {
        if (TryReserveAttribute(type, 8, out Span<byte> p)) MemoryMarshal.Write(p, in value);
    }

    /// <summary>NUL-terminated UTF-8 string attribute (nla_put_string).</summary>
    public void PutString(ushort type, scoped ReadOnlySpan<char> value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        if (TryReserveAttribute(type, n + 1, out Span<byte> p))
        {
            Encoding.UTF8.GetBytes(value, p);
            p[n] = 0;
        }
    }

    /// <summary>NUL-terminated string attribute from bytes (the NUL is added).</summary>
    public void PutStringUtf8(ushort type, scoped ReadOnlySpan<byte> value)
    {
        if (TryReserveAttribute(type, value.Length + 1, out Span<byte> p))
        {
            value.CopyTo(p);
            p[value.Length] = 0;
        }
    }

    /// <summary>Binary attribute (nla_put).</summary>
    public void PutBinary(ushort type, scoped ReadOnlySpan<byte> value)
    {
        if (TryReserveAttribute(type, value.Length, out Span<byte> p)) value.CopyTo(p);
    }

    /// <summary>Flag attribute: no payload (nla_put_flag).</summary>
    public void PutFlag(ushort type) => TryReserveAttribute(type, 0, out _);

    /// <summary>
    /// Starts a nested attribute. <paramref name="setNestedFlag"/> ORs NLA_F_NESTED into the type, as
    /// nla_nest_start does; the kernel's nlctrl replies use nla_nest_start_noflag (no flag).
    /// </summary>
    public NetlinkNestToken BeginNested(ushort type, bool setNestedFlag = true)
    {
        ushort t = setNestedFlag ? (ushort)(type | Netlink.AttributeNested) : type;
        return TryReserveAttribute(t, 0, out _) ? new NetlinkNestToken(_position - Netlink.AttributeHeaderSize) : new NetlinkNestToken(-1);
    }

    /// <summary>Finishes a nested attribute (nla_nest_end). Returns false if anything overflowed or the nest exceeds 65535 bytes.</summary>
    public bool EndNested(NetlinkNestToken nest)
    {
        if (_overflowed || nest.Offset < 0) return false;
        if (nest.Offset + Netlink.AttributeHeaderSize > _position)
            throw new InvalidOperationException("The nest token does not belong to the current buffer contents.");
        int len = _position - nest.Offset;
        if (len > ushort.MaxValue)
        {
            _overflowed = true;
            return false;
        }
        MemoryMarshal.Write(_buffer[nest.Offset..], (ushort)len);
        return true;
    }

    /// <summary>Returns a pooled buffer (growable writers); the writer must not be used afterwards.</summary>
    public void Dispose()
    {
        byte[]? rented = _rented;
        _rented = null;
        _buffer = default;
        _position = 0;
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    private bool TryReserveAttribute(ushort type, int payloadLength, out Span<byte> payload)
    {
        int len = Netlink.AttributeHeaderSize + payloadLength;
        if (len > ushort.MaxValue)
        {
            _overflowed = true;
            payload = default;
            return false;
        }
        if (!TryReserve(Netlink.AlignAttribute(len), out Span<byte> a))
        {
            payload = default;
            return false;
        }
        MemoryMarshal.Write(a, (ushort)len);
        MemoryMarshal.Write(a[2..], type);
        payload = a.Slice(Netlink.AttributeHeaderSize, payloadLength);
        return true;
    }

    // Reserves and zeroes `size` bytes; zeroing covers the padding the caller does not overwrite.
    private bool TryReserve(int size, out Span<byte> span)
    {
        if (_overflowed || (_position + size > _buffer.Length && !TryGrow(_position + size)))
        {
            _overflowed = true;
            span = default;
            return false;
        }
        span = _buffer.Slice(_position, size);
        span.Clear();
        _position += size;
        return true;
    }

    private bool TryGrow(int needed)
    {
        if (_rented is null || needed > MaxCapacity) return false;
        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(needed, _buffer.Length * 2), MaxCapacity));
        _buffer[.._position].CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_rented);
        _rented = bigger;
        _buffer = bigger;
        return true;
    }
}

/// <summary>The start of a message being written; pass it to <see cref="NetlinkWriter.EndMessage"/>.</summary>
/// <param name="Offset">Offset of the nlmsghdr in the writer's buffer (−1 if it did not fit).</param>
public readonly record struct NetlinkMessageToken(int Offset);

/// <summary>The start of a nested attribute being written; pass it to <see cref="NetlinkWriter.EndNested"/>.</summary>
/// <param name="Offset">Offset of the nlattr in the writer's buffer (−1 if it did not fit).</param>
public readonly record struct NetlinkNestToken(int Offset);
