using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Mutable cursor over the device-readable part of a <see cref="DescriptorChain"/> (vringh_iov_pull). Copies out of
/// guest memory; never throws for guest faults. A copy of the struct is an independent cursor.
/// </summary>
public struct ChainReader
{
    private readonly DescriptorChain? _chain;
    private int _index;     // current segment
    private uint _offset;   // bytes consumed in the current segment
    private ulong _remaining;

    internal ChainReader(DescriptorChain chain)
    {
        _chain = chain;
        _index = 0;
        _offset = 0;
        _remaining = chain.ReadableLength;
    }

    /// <summary>Readable bytes not yet consumed.</summary>
    public readonly ulong Remaining => _remaining;

    /// <summary>
    /// Copies up to <paramref name="destination"/>.Length bytes and advances. Returns the number of bytes read (less
    /// than the span only at the end of the chain), or -1 when guest memory could not be read (the cursor then stands
    /// at the faulting segment).
    /// </summary>
    public int Read(DmaView memory, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int total = 0;
        while (destination.Length > 0 && _remaining > 0)
        {
            var seg = _chain!.SegmentAt(_index);
            uint left = seg.Length - _offset;
            if (left == 0) { _index++; _offset = 0; continue; }
            int n = left >= (uint)destination.Length ? destination.Length : (int)left;
            // Address + length was checked not to wrap when the chain was popped.
            if (!memory.TryRead(new Iova(seg.Address.Value + _offset), destination[..n])) return -1;
            Advance(n);
            destination = destination[n..];
            total += n;
        }
        return total;
    }

    /// <summary>Skips <paramref name="count"/> bytes; false (and no movement) when fewer remain.</summary>
    public bool Skip(ulong count)
    {
        if (count > _remaining) return false;
        while (count > 0)
        {
            var seg = _chain!.SegmentAt(_index);
            uint left = seg.Length - _offset;
            if (left == 0) { _index++; _offset = 0; continue; }
            uint n = left >= count ? (uint)count : left;
            Advance(n);
            count -= n;
        }
        return true;
    }

    private void Advance(long n)
    {
        _offset += (uint)n;
        _remaining -= (ulong)n;
    }
}
