using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Mutable cursor over the device-readable part of a <see cref="DescriptorChain"/> (vringh_iov_pull). Copies out of
/// guest memory; never throws for guest faults. A copy of the struct is an independent cursor.
/// </summary>
public struct ChainReader
{
    private SegmentCursor _cursor;

    internal ChainReader(DescriptorChain chain) => _cursor = new SegmentCursor(chain, 0, chain.ReadableLength);

    /// <summary>Readable bytes not yet consumed.</summary>
    public readonly ulong Remaining => _cursor.Remaining;

    /// <summary>
    /// Copies up to <paramref name="destination"/>.Length bytes and advances. Returns the number of bytes read (less
    /// than the span only at the end of the chain), or -1 when guest memory could not be read (the cursor then stands
    /// at the faulting segment).
    /// </summary>
    public int Read(DmaView memory, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int total = 0;
        while (destination.Length > 0 && _cursor.Remaining > 0)
        {
            uint n = _cursor.Next((ulong)destination.Length, out var address);
            if (!memory.TryRead(address, destination[..(int)n])) return -1;
            _cursor.Advance(n);
            destination = destination[(int)n..];
            total += (int)n;
        }
        return total;
    }

    /// <summary>
    /// Dangerous: the guest memory at the cursor as a span of at most <paramref name="max"/> contiguous bytes (one
    /// segment, or a run of segments adjacent in the device's address space and in one mapping), so a device can
    /// consume it in place (e.g. pwrite straight from the buffer; the guest may change the bytes meanwhile, so never
    /// interpret them). Does not advance: call <see cref="Skip"/> with the bytes consumed.
    /// False when nothing remains or the memory is not readable. Valid only while the caller's lease is held.
    /// </summary>
    public readonly bool DangerousTryGetSpan(DmaView memory, int max, out ReadOnlySpan<byte> span)
    {
        ArgumentNullException.ThrowIfNull(memory);
        span = default;
        if (max <= 0 || _cursor.Remaining == 0) return false;
        // One backend call can cover a run of segments adjacent in the device's address space, if one mapping holds it.
        var address = _cursor.PeekContiguous((ulong)max, out uint first, out ulong total);
        if ((total > first && memory.DangerousTryGetSpan(address, (int)total, AccessPermission.Read, out var run))
            || memory.DangerousTryGetSpan(address, (int)first, AccessPermission.Read, out run))
        {
            span = run;
            return true;
        }
        return false;
    }

    /// <summary>Skips <paramref name="count"/> bytes; false (and no movement) when fewer remain.</summary>
    public bool Skip(ulong count) => _cursor.Skip(count);
}
