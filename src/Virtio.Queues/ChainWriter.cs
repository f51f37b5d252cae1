using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Mutable cursor over the device-writable part of a <see cref="DescriptorChain"/> (vringh_iov_push). Never throws for
/// guest faults. <see cref="Written"/> is the cursor position (bytes written, filled or skipped): the usual used length.
/// </summary>
public struct ChainWriter
{
    private SegmentCursor _cursor;
    private readonly ulong _length;

    internal ChainWriter(DescriptorChain chain)
    {
        _length = chain.WritableLength;
        _cursor = new SegmentCursor(chain, chain.ReadableCount, _length);
    }

    /// <summary>Writable bytes left.</summary>
    public readonly ulong Remaining => _cursor.Remaining;

    /// <summary>Bytes the cursor has advanced over (written, filled or skipped).</summary>
    public readonly ulong Written => _length - _cursor.Remaining;

    /// <summary>
    /// Copies <paramref name="source"/> into the chain and advances. Returns the bytes written (less than the span when
    /// the chain is full), or -1 when guest memory could not be written (the cursor then stands at the faulting segment).
    /// </summary>
    public int Write(DmaView memory, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int total = 0;
        while (source.Length > 0 && _cursor.Remaining > 0)
        {
            uint n = _cursor.Next((ulong)source.Length, out var address);
            if (!memory.TryWrite(address, source[..(int)n])) return -1;
            _cursor.Advance(n);
            source = source[(int)n..];
            total += (int)n;
        }
        return total;
    }

    /// <summary>
    /// Dangerous: the guest memory at the cursor as a span of at most <paramref name="max"/> contiguous bytes (one
    /// segment, or a run of segments adjacent in the device's address space and in one mapping), so a device can
    /// fill it in place (e.g. pread straight into the buffer). Does not advance: call
    /// <see cref="Skip"/> with the bytes actually produced. False when nothing remains or the memory is not writable.
    /// The span is valid only while the caller's lease on <paramref name="memory"/> is held.
    /// </summary>
    public readonly bool DangerousTryGetSpan(DmaView memory, int max, out Span<byte> span)
    {
        ArgumentNullException.ThrowIfNull(memory);
        span = default;
        if (max <= 0 || _cursor.Remaining == 0) return false;
        // One backend call can cover a run of segments adjacent in the device's address space, if one mapping holds it.
        var address = _cursor.PeekContiguous((ulong)max, out uint first, out ulong total);
        if (total > first && memory.DangerousTryGetSpan(address, (int)total, AccessPermission.Write, out span)) return true;
        return memory.DangerousTryGetSpan(address, (int)first, AccessPermission.Write, out span);
    }

    /// <summary>Skips <paramref name="count"/> bytes (leaving them as they are); false and no movement when fewer remain.</summary>
    public bool Skip(ulong count) => _cursor.Skip(count);

    /// <summary>Writes <paramref name="count"/> copies of <paramref name="value"/>; false when fewer bytes remain (no movement) or on a memory fault.</summary>
    public bool Fill(DmaView memory, ulong count, byte value)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (count > _cursor.Remaining) return false;
        while (count > 0)
        {
            uint n = _cursor.Next(count, out var address);
            if (!memory.TryFill(address, n, value)) return false;
            _cursor.Advance(n);
            count -= n;
        }
        return true;
    }
}
