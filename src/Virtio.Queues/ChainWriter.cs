using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Mutable cursor over the device-writable part of a <see cref="DescriptorChain"/> (vringh_iov_push). Never throws for
/// guest faults. <see cref="Written"/> is the cursor position (bytes written, filled or skipped): the usual used length.
/// </summary>
public struct ChainWriter
{
    private readonly DescriptorChain? _chain;
    private int _index;
    private uint _offset;
    private ulong _remaining;
    private ulong _written;

    internal ChainWriter(DescriptorChain chain)
    {
        _chain = chain;
        _index = chain.ReadableCount;
        _offset = 0;
        _remaining = chain.WritableLength;
        _written = 0;
    }

    /// <summary>Writable bytes left.</summary>
    public readonly ulong Remaining => _remaining;

    /// <summary>Bytes the cursor has advanced over (written, filled or skipped).</summary>
    public readonly ulong Written => _written;

    /// <summary>
    /// Copies <paramref name="source"/> into the chain and advances. Returns the bytes written (less than the span when
    /// the chain is full), or -1 when guest memory could not be written (the cursor then stands at the faulting segment).
    /// </summary>
    public int Write(DmaView memory, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int total = 0;
        while (source.Length > 0 && _remaining > 0)
        {
            var seg = _chain!.SegmentAt(_index);
            uint left = seg.Length - _offset;
            if (left == 0) { _index++; _offset = 0; continue; }
            int n = left >= (uint)source.Length ? source.Length : (int)left;
            if (!memory.TryWrite(new Iova(seg.Address.Value + _offset), source[..n])) return -1;
            Advance(n);
            source = source[n..];
            total += n;
        }
        return total;
    }

    /// <summary>Skips <paramref name="count"/> bytes (leaving them as they are); false and no movement when fewer remain.</summary>
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

    /// <summary>Writes <paramref name="count"/> copies of <paramref name="value"/>; false when fewer bytes remain (no movement) or on a memory fault.</summary>
    public bool Fill(DmaView memory, ulong count, byte value)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (count > _remaining) return false;
        while (count > 0)
        {
            var seg = _chain!.SegmentAt(_index);
            uint left = seg.Length - _offset;
            if (left == 0) { _index++; _offset = 0; continue; }
            uint n = left >= count ? (uint)count : left;
            if (!memory.TryFill(new Iova(seg.Address.Value + _offset), n, value)) return false;
            Advance(n);
            count -= n;
        }
        return true;
    }

    private void Advance(long n)
    {
        _offset += (uint)n;
        _remaining -= (ulong)n;
        _written += (ulong)n;
    }
}
