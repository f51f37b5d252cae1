using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Virtio.Memory;

/// <summary>
/// An immutable, pinned snapshot of a device's DMA address space: the IOTLB composed with the guest memory, flattened
/// to IOVA ranges over process memory. Every access is bounds-, overflow- and permission-checked; failures return
/// false and never throw. Obtain one with <see cref="DmaSpace.Acquire"/>; the pages it refers to stay mapped until
/// the lease is released, so mappings can change while a worker runs.
/// </summary>
public sealed unsafe class DmaView
{
    private readonly Segment[] _segments;
    private readonly MemoryMapping[] _pinned;
    private int _refs = 1; // the owning DmaSpace's reference

    internal readonly struct Segment(ulong first, ulong last, nint host, AccessPermission permission)
    {
        public readonly ulong First = first;
        public readonly ulong Last = last;
        public readonly nint Host = host;
        public readonly AccessPermission Permission = permission;
    }

    internal DmaView(Segment[] segments, MemoryMapping[] pinned)
    {
        _segments = segments;
        _pinned = pinned;
        int pinnedCount = 0;
        try
        {
            foreach (var m in pinned)
            {
                bool ok = false;
                m.DangerousAddRef(ref ok);
                pinnedCount++;
            }
        }
        catch
        {
            for (int i = 0; i < pinnedCount; i++) pinned[i].DangerousRelease();
            throw;
        }
    }

    /// <summary>Number of flattened segments (for tests and diagnostics).</summary>
    public int SegmentCount => _segments.Length;

    internal bool TryEnter()
    {
        int r = Volatile.Read(ref _refs);
        while (r > 0)
        {
            int seen = Interlocked.CompareExchange(ref _refs, r + 1, r);
            if (seen == r) return true;
            r = seen;
        }
        return false;
    }

    internal void Exit()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
        {
            foreach (var m in _pinned) m.DangerousRelease();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(ulong address)
    {
        var segs = _segments;
        int lo = 0, hi = segs.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (address < segs[mid].First) hi = mid - 1;
            else if (address > segs[mid].Last) lo = mid + 1;
            else return mid;
        }
        return -1;
    }

    /// <summary>
    /// Resolves [address, address+length) to one contiguous piece of process memory with <paramref name="need"/> rights.
    /// Returns the host pointer, or 0 when unmapped, not permitted, wrapping, or split across segments.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint Resolve(ulong address, ulong length, AccessPermission need)
    {
        if (length == 0 || address + (length - 1) < address) return 0;
        int i = Find(address);
        if (i < 0) return 0;
        ref readonly var s = ref _segments[i];
        if ((s.Permission & need) != need || address + (length - 1) > s.Last) return 0;
        return s.Host + (nint)(address - s.First);
    }

    /// <summary>True when every byte of [address, +length) is mapped with <paramref name="need"/> rights (possibly across segments).</summary>
    public bool IsAccessible(Iova address, ulong length, AccessPermission need)
    {
        if (length == 0) return true;
        ulong a = address.Value;
        if (a + (length - 1) < a) return false;
        ulong end = a + (length - 1);
        while (true)
        {
            int i = Find(a);
            if (i < 0) return false;
            ref readonly var s = ref _segments[i];
            if ((s.Permission & need) != need) return false;
            if (end <= s.Last) return true;
            a = s.Last + 1;
        }
    }

    /// <summary>Copies guest memory at <paramref name="address"/> into <paramref name="destination"/>; the range may cross segments.</summary>
    public bool TryRead(Iova address, Span<byte> destination)
    {
        ulong a = address.Value;
        if (destination.Length == 0) return true;
        if (a + (ulong)(destination.Length - 1) < a) return false;
        while (destination.Length > 0)
        {
            int i = Find(a);
            if (i < 0) return false;
            ref readonly var s = ref _segments[i];
            if ((s.Permission & AccessPermission.Read) == 0) return false;
            ulong avail = s.Last - a + 1; // >= 1; 0 only if the segment is the whole 2^64 space
            int n = avail == 0 || avail >= (ulong)destination.Length ? destination.Length : (int)avail;
            // SAFETY: [a, a+n) lies inside segment s, which maps pinned, live process memory at s.Host.
            new ReadOnlySpan<byte>((void*)(s.Host + (nint)(a - s.First)), n).CopyTo(destination);
            destination = destination[n..];
            a += (ulong)n;
        }
        return true;
    }

    /// <summary>Copies <paramref name="source"/> into guest memory at <paramref name="address"/>; needs write permission.</summary>
    public bool TryWrite(Iova address, ReadOnlySpan<byte> source)
    {
        ulong a = address.Value;
        if (source.Length == 0) return true;
        if (a + (ulong)(source.Length - 1) < a) return false;
        // Check the whole range first so a failed write leaves memory untouched.
        if (!IsAccessible(address, (ulong)source.Length, AccessPermission.Write)) return false;
        while (source.Length > 0)
        {
            int i = Find(a);
            ref readonly var s = ref _segments[i];
            ulong avail = s.Last - a + 1;
            int n = avail == 0 || avail >= (ulong)source.Length ? source.Length : (int)avail;
            // SAFETY: IsAccessible proved [a, a+n) is inside writable segment s over pinned process memory.
            source[..n].CopyTo(new Span<byte>((void*)(s.Host + (nint)(a - s.First)), n));
            source = source[n..];
            a += (ulong)n;
        }
        return true;
    }

    /// <summary>Writes <paramref name="length"/> copies of <paramref name="value"/> at <paramref name="address"/>.</summary>
    public bool TryFill(Iova address, ulong length, byte value)
    {
        if (length == 0) return true;
        if (!IsAccessible(address, length, AccessPermission.Write)) return false;
        ulong a = address.Value;
        while (length > 0)
        {
            int i = Find(a);
            ref readonly var s = ref _segments[i];
            ulong avail = s.Last - a + 1;
            ulong n = avail == 0 || avail >= length ? length : avail;
            n = Math.Min(n, int.MaxValue);
            // SAFETY: IsAccessible proved the range is inside writable pinned segments.
            new Span<byte>((void*)(s.Host + (nint)(a - s.First)), (int)n).Fill(value);
            length -= n;
            a += n;
        }
        return true;
    }

    /// <summary>Reads a little-endian u16 with acquire semantics (ring index fields). Fails when unaligned.</summary>
    public bool TryReadUInt16Acquire(Iova address, out ushort value)
    {
        nint p = Resolve(address.Value, 2, AccessPermission.Read);
        if (p == 0 || (p & 1) != 0) { value = 0; return false; }
        // SAFETY: p is a 2-byte aligned pointer inside a pinned readable segment.
        value = LittleEndian(Volatile.Read(ref *(ushort*)p));
        return true;
    }

    /// <summary>Writes a little-endian u16 with release semantics (ring index fields). Fails when unaligned.</summary>
    public bool TryWriteUInt16Release(Iova address, ushort value)
    {
        nint p = Resolve(address.Value, 2, AccessPermission.Write);
        if (p == 0 || (p & 1) != 0) return false;
        // SAFETY: p is a 2-byte aligned pointer inside a pinned writable segment.
        Volatile.Write(ref *(ushort*)p, LittleEndian(value));
        return true;
    }

    /// <summary>Reads a little-endian u16 (plain load).</summary>
    public bool TryReadUInt16(Iova address, out ushort value)
    {
        nint p = Resolve(address.Value, 2, AccessPermission.Read);
        if (p == 0) { value = 0; return false; }
        // SAFETY: [p, p+2) is inside a pinned readable segment.
        value = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>((void*)p, 2));
        return true;
    }

    /// <summary>Writes a little-endian u16 (plain store).</summary>
    public bool TryWriteUInt16(Iova address, ushort value)
    {
        nint p = Resolve(address.Value, 2, AccessPermission.Write);
        if (p == 0) return false;
        // SAFETY: [p, p+2) is inside a pinned writable segment.
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>((void*)p, 2), value);
        return true;
    }

    /// <summary>Reads a little-endian u32 (plain load).</summary>
    public bool TryReadUInt32(Iova address, out uint value)
    {
        nint p = Resolve(address.Value, 4, AccessPermission.Read);
        if (p == 0) { value = 0; return false; }
        // SAFETY: [p, p+4) is inside a pinned readable segment.
        value = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>((void*)p, 4));
        return true;
    }

    /// <summary>Writes a little-endian u32 (plain store).</summary>
    public bool TryWriteUInt32(Iova address, uint value)
    {
        nint p = Resolve(address.Value, 4, AccessPermission.Write);
        if (p == 0) return false;
        // SAFETY: [p, p+4) is inside a pinned writable segment.
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>((void*)p, 4), value);
        return true;
    }

    /// <summary>Writes a little-endian u64 (plain store).</summary>
    public bool TryWriteUInt64(Iova address, ulong value)
    {
        nint p = Resolve(address.Value, 8, AccessPermission.Write);
        if (p == 0) return false;
        // SAFETY: [p, p+8) is inside a pinned writable segment.
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>((void*)p, 8), value);
        return true;
    }

    /// <summary>Reads an unmanaged wire struct (little-endian host assumed; the project targets x86-64/arm64 LE).</summary>
    public bool TryRead<T>(Iova address, out T value) where T : unmanaged
    {
        nint p = Resolve(address.Value, (ulong)sizeof(T), AccessPermission.Read);
        if (p == 0)
        {
            // Crossing a segment boundary is legal for data; fall back to the copying path.
            T tmp = default;
            bool ok = TryRead(address, new Span<byte>(&tmp, sizeof(T)));
            value = ok ? tmp : default;
            return ok;
        }
        // SAFETY: [p, p+sizeof(T)) is inside a pinned readable segment; unaligned read is fine on supported CPUs.
        value = Unsafe.ReadUnaligned<T>((void*)p);
        return true;
    }

    /// <summary>Writes an unmanaged wire struct.</summary>
    public bool TryWrite<T>(Iova address, in T value) where T : unmanaged
    {
        nint p = Resolve(address.Value, (ulong)sizeof(T), AccessPermission.Write);
        if (p == 0)
        {
            T tmp = value;
            return TryWrite(address, new ReadOnlySpan<byte>(&tmp, sizeof(T)));
        }
        // SAFETY: [p, p+sizeof(T)) is inside a pinned writable segment.
        Unsafe.WriteUnaligned((void*)p, value);
        return true;
    }

    /// <summary>
    /// Dangerous: returns a span over guest memory at [address, +length) when it is one contiguous segment with
    /// <paramref name="need"/> rights. The span is valid only while this view's lease is held; the guest may change
    /// the bytes at any time (read each byte once).
    /// </summary>
    public bool DangerousTryGetSpan(Iova address, int length, AccessPermission need, out Span<byte> span)
    {
        nint p = length <= 0 ? 0 : Resolve(address.Value, (ulong)length, need);
        if (p == 0) { span = default; return false; }
        // SAFETY: [p, p+length) is inside a pinned segment with the requested rights; lifetime is the caller's lease.
        span = new Span<byte>((void*)p, length);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort LittleEndian(ushort v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
}
