using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Reusable holder for one popped descriptor chain, so popping allocates nothing. Device-readable segments come first,
/// then device-writable ones (the walker rejects any other order). Filled only by a device queue's TryPop.
/// </summary>
public sealed class DescriptorChain
{
    private readonly DescriptorSegment[] _segments;

    /// <summary>Creates a holder for up to <paramref name="capacity"/> segments (use the queue's maximum size).</summary>
    public DescriptorChain(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 65536);
        _segments = new DescriptorSegment[capacity];
    }

    /// <summary>Maximum number of segments this holder can take.</summary>
    public int Capacity => _segments.Length;

    /// <summary>Head descriptor index: the id to return in the used ring.</summary>
    public ushort Head { get; private set; }

    /// <summary>Number of segments (indirect table descriptors themselves are not segments).</summary>
    public int Count { get; private set; }

    /// <summary>Number of device-readable segments (they are <c>[0, ReadableCount)</c>).</summary>
    public int ReadableCount { get; private set; }

    /// <summary>Sum of the readable segments' lengths.</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>Sum of the writable segments' lengths.</summary>
    public ulong WritableLength { get; private set; }

    /// <summary>Segment <paramref name="index"/>.</summary>
    public DescriptorSegment this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            return _segments[index];
        }
    }

    /// <summary>All segments, readable first.</summary>
    public ReadOnlySpan<DescriptorSegment> Segments => _segments.AsSpan(0, Count);

    /// <summary>The readable segments.</summary>
    public ReadOnlySpan<DescriptorSegment> ReadableSegments => _segments.AsSpan(0, ReadableCount);

    /// <summary>The writable segments.</summary>
    public ReadOnlySpan<DescriptorSegment> WritableSegments => _segments.AsSpan(ReadableCount, Count - ReadableCount);

    /// <summary>A cursor over the readable part.</summary>
    public ChainReader CreateReader() => new(this);

    /// <summary>A cursor over the writable part.</summary>
    public ChainWriter CreateWriter() => new(this);

    internal DescriptorSegment SegmentAt(int index) => _segments[index];

    internal void Clear(ushort head)
    {
        Head = head;
        Count = 0;
        ReadableCount = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    /// <summary>Appends a segment; the caller has checked capacity, ordering and the length sum.</summary>
    internal void Add(Iova address, uint length, bool writable)
    {
        _segments[Count++] = new DescriptorSegment(address, length, writable);
        if (writable)
        {
            WritableLength += length;
        }
        else
        {
            ReadableCount++;
            ReadableLength += length;
        }
    }
}
