using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>Position inside a run of chain segments: the state <see cref="ChainReader"/> and <see cref="ChainWriter"/> share.</summary>
internal struct SegmentCursor
{
    private readonly DescriptorChain? _chain;
    private int _index;     // current segment
    private uint _offset;   // bytes consumed in the current segment

    public SegmentCursor(DescriptorChain chain, int firstSegment, ulong length)
    {
        _chain = chain;
        _index = firstSegment;
        _offset = 0;
        Remaining = length;
    }

    /// <summary>Bytes not yet consumed.</summary>
    public ulong Remaining { readonly get; private set; }

    /// <summary>
    /// The address of the cursor and how many bytes (at most <paramref name="max"/>) are contiguous there.
    /// Call only while <see cref="Remaining"/> is non-zero.
    /// </summary>
    public uint Next(ulong max, out Iova address)
    {
        while (true)
        {
            var seg = _chain!.SegmentAt(_index);
            uint left = seg.Length - _offset;
            if (left == 0) { _index++; _offset = 0; continue; }
            // Address + length was checked not to wrap when the chain was popped.
            address = new Iova(seg.Address.Value + _offset);
            return left >= max ? (uint)max : left;
        }
    }

    /// <summary>
    /// Without moving: the address at the cursor, the bytes of the current segment there (<paramref name="first"/>),
    /// and the length of the run (<paramref name="total"/>, at most <paramref name="max"/>) that later segments
    /// continue contiguously in the device's address space (a driver splitting one buffer at size_max gives adjacent
    /// descriptors). Call only while <see cref="Remaining"/> is non-zero.
    /// </summary>
    public readonly Iova PeekContiguous(ulong max, out uint first, out ulong total)
    {
        var cursor = this;
        first = cursor.Next(max, out var address);
        total = first;
        cursor.Advance(first);
        while (total < max && cursor.Remaining > 0)
        {
            uint m = cursor.Next(max - total, out var next);
            if (next.Value != address.Value + total) break;
            cursor.Advance(m);
            total += m;
        }
        return address;
    }

    /// <summary>Moves forward by <paramref name="n"/> bytes, at most what <see cref="Next"/> returned.</summary>
    public void Advance(uint n)
    {
        _offset += n;
        Remaining -= n;
    }

    /// <summary>Skips <paramref name="count"/> bytes; false (and no movement) when fewer remain.</summary>
    public bool Skip(ulong count)
    {
        if (count > Remaining) return false;
        while (count > 0)
        {
            uint n = Next(count, out _);
            Advance(n);
            count -= n;
        }
        return true;
    }
}
