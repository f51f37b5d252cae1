using System.Numerics;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Driver side of a split virtqueue (the role of Linux's drivers/virtio/virtio_ring.c): adds buffers (direct, or through
/// a per-head indirect table), publishes them, decides kicks, and collects used buffers. The device is not trusted: a
/// used id that is out of range or not in flight breaks the queue instead of corrupting it. Free descriptors are chained
/// through a private copy of desc.next (virtio_ring's desc_extra), so nothing the device writes is read back for
/// bookkeeping. Not thread-safe.
/// </summary>
public sealed class SplitDriverQueue
{
    private readonly Iova _desc;
    private readonly Iova _avail;
    private readonly Iova _used;
    private readonly bool _eventIndex;
    private readonly Iova? _indirectPool;
    private readonly int _maxIndirect;
    private readonly ushort[] _next;      // shadow desc.next: free list and chain links
    private readonly ushort[] _chainLen;  // descriptors used by the chain at this head; 0 = not in flight
    private readonly int[] _tokens;
    private ushort _freeHead;
    private int _numFree;
    private ushort _availShadow;
    private int _numAdded;
    private ushort _lastUsed;
    private bool _callbacksDisabled;      // VRING_AVAIL_F_NO_INTERRUPT in avail_flags_shadow
    private int _inFlight;
    private QueueError _error;

    /// <summary>
    /// Creates a driver queue over rings at <paramref name="desc"/>, <paramref name="avail"/> and <paramref name="used"/>
    /// (see <see cref="Layout"/>). With <paramref name="indirectPool"/>, chains of 2..<paramref name="maxIndirectSegments"/>
    /// segments use table <c>head</c> of the pool (<paramref name="maxIndirectSegments"/> × 16 bytes each).
    /// Call <see cref="Initialize"/> before use.
    /// </summary>
    public SplitDriverQueue(int size, Iova desc, Iova avail, Iova used, bool eventIndex,
                            Iova? indirectPool = null, int maxIndirectSegments = 0)
    {
        if (size < 1 || size > SplitRingLayout.MaxQueueSize || !BitOperations.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), "must be a power of two in 1..32768");
        if (indirectPool is not null && (maxIndirectSegments < 2 || maxIndirectSegments > size))
            throw new ArgumentOutOfRangeException(nameof(maxIndirectSegments), "must be in 2..size with an indirect pool");
        Size = size;
        _desc = desc;
        _avail = avail;
        _used = used;
        _eventIndex = eventIndex;
        _indirectPool = indirectPool;
        _maxIndirect = indirectPool is null ? 0 : maxIndirectSegments;
        _next = new ushort[size];
        _chainLen = new ushort[size];
        _tokens = new int[size];
    }

    /// <summary>Queue size.</summary>
    public int Size { get; }

    /// <summary>Free descriptors.</summary>
    public int FreeCount => _numFree;

    /// <summary>Buffers added and not yet returned by the device.</summary>
    public int InFlight => _inFlight;

    /// <summary>True once the device returned something invalid; sticky until <see cref="Initialize"/>.</summary>
    public bool IsBroken => _error != QueueError.None;

    /// <summary>Why the queue is broken, or <see cref="QueueError.None"/>.</summary>
    public QueueError Error => _error;

    /// <summary>
    /// Computes where each part goes in one block (vring_size(), with the used ring aligned to <paramref name="align"/>
    /// as the legacy layout does, plus the indirect pool).
    /// </summary>
    public static SplitRingLayoutInfo Layout(int size, bool indirect, int maxIndirectSegments, int align = 4096)
    {
        if (size < 1 || size > SplitRingLayout.MaxQueueSize || !BitOperations.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), "must be a power of two in 1..32768");
        if (align < SplitRingLayout.UsedAlign || !BitOperations.IsPow2(align))
            throw new ArgumentOutOfRangeException(nameof(align), "must be a power of two >= 4");
        if (indirect && (maxIndirectSegments < 2 || maxIndirectSegments > size))
            throw new ArgumentOutOfRangeException(nameof(maxIndirectSegments), "must be in 2..size when indirect");
        long descBytes = SplitRingLayout.DescTableSize(size);
        long availOff = descBytes; // 16-aligned, so 2-aligned
        long availBytes = SplitRingLayout.AvailSize(size);
        long usedOff = AlignUp(availOff + availBytes, align);
        long usedBytes = SplitRingLayout.UsedSize(size);
        long poolOff = AlignUp(usedOff + usedBytes, SplitRingLayout.DescAlign);
        long poolBytes = indirect ? (long)size * maxIndirectSegments * VirtqDesc.Size : 0;
        long total = indirect ? poolOff + poolBytes : usedOff + usedBytes;
        if (!indirect) poolOff = usedOff + usedBytes;
        return new SplitRingLayoutInfo(0, descBytes, availOff, availBytes, usedOff, usedBytes, poolOff, poolBytes, total);
    }

    /// <summary>
    /// Zeroes the rings, builds the free list and forgets every buffer (vring_init + virtqueue_init). Throws
    /// InvalidOperationException when the ring memory is not writable in <paramref name="memory"/>.
    /// </summary>
    public void Initialize(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (!memory.TryFill(_desc, (ulong)SplitRingLayout.DescTableSize(Size), 0)
            || !memory.TryFill(_avail, (ulong)SplitRingLayout.AvailSize(Size), 0)
            || !memory.TryFill(_used, (ulong)SplitRingLayout.UsedSize(Size), 0))
            throw new InvalidOperationException("ring memory is not writable");
        for (int i = 0; i < Size; i++)
        {
            ushort next = (ushort)(i + 1 == Size ? 0 : i + 1);
            _next[i] = next;
            // Mirror the link in guest memory as virtio_ring.c does; only the shadow is ever read back.
            memory.TryWriteUInt16(new Iova(_desc.Value + (ulong)i * VirtqDesc.Size + 14), next);
        }
        Array.Clear(_chainLen);
        Array.Clear(_tokens);
        _freeHead = 0;
        _numFree = Size;
        _availShadow = 0;
        _numAdded = 0;
        _lastUsed = 0;
        _callbacksDisabled = false;
        _inFlight = 0;
        _error = QueueError.None;
    }

    /// <summary>
    /// Adds one buffer made of <paramref name="segments"/> (device-readable ones first; ArgumentException otherwise) and
    /// remembers <paramref name="token"/> for <see cref="TryGetUsed"/> (virtqueue_add_split). The entry becomes visible
    /// to the device at the next <see cref="KickPrepare"/>. Returns false when there is no room or the queue is broken.
    /// </summary>
    public bool TryAdd(DmaView memory, ReadOnlySpan<DescriptorSegment> segments, int token)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (segments.Length == 0) throw new ArgumentException("a buffer needs at least one segment", nameof(segments));
        bool seenWritable = false;
        foreach (var s in segments)
        {
            if (s.DeviceWritable) seenWritable = true;
            else if (seenWritable) throw new ArgumentException("device-readable segments must come before device-writable ones", nameof(segments));
        }
        if (IsBroken || _numFree == 0) return false;

        ushort head = _freeHead;
        int used;
        if (_indirectPool is { } pool && segments.Length > 1 && segments.Length <= _maxIndirect)
        {
            // Spec: VIRTIO 1.3 §2.7.5.3 — the table lives in table slot `head` of the pool; one ring descriptor points at it.
            ulong table = pool.Value + (ulong)head * (ulong)_maxIndirect * VirtqDesc.Size;
            for (int i = 0; i < segments.Length; i++)
            {
                var d = MakeDesc(segments[i], i + 1 < segments.Length, (ushort)(i + 1));
                if (!memory.TryWrite(new Iova(table + (ulong)i * VirtqDesc.Size), in d)) return FailAdd();
            }
            var ind = new VirtqDesc { Addr = table, Len = (uint)(segments.Length * VirtqDesc.Size), Flags = (ushort)VirtqDescFlags.Indirect, Next = _next[head] };
            if (!memory.TryWrite(DescAddress(head), in ind)) return FailAdd();
            _freeHead = _next[head];
            used = 1;
        }
        else
        {
            if (segments.Length > _numFree) return false;
            ushort i = head, last = head;
            for (int k = 0; k < segments.Length; k++)
            {
                var d = MakeDesc(segments[k], k + 1 < segments.Length, _next[i]);
                if (!memory.TryWrite(DescAddress(i), in d)) return FailAdd();
                last = i;
                i = _next[i];
            }
            _freeHead = _next[last];
            used = segments.Length;
        }
        _numFree -= used;
        _chainLen[head] = (ushort)used;
        _tokens[head] = token;
        _inFlight++;

        // Plain store: the ring entry is published by the release of avail->idx in KickPrepare.
        ulong slot = (ulong)(_availShadow & (Size - 1));
        if (!memory.TryWriteUInt16(new Iova(_avail.Value + SplitRingLayout.AvailRingOffset + 2 * slot), head)) return FailAdd();
        _availShadow++;
        _numAdded++;
        return true;
    }

    /// <summary>
    /// Publishes the added buffers (avail->idx, release) and returns true when the device must be notified
    /// (virtqueue_kick_prepare_split): with EVENT_IDX vring_need_event(avail_event, new, old), otherwise
    /// !(used->flags &amp; VRING_USED_F_NO_NOTIFY). Spec: VIRTIO 1.3 §2.7.13.3-4.
    /// </summary>
    public bool KickPrepare(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken) return false;
        // Release: descriptors and ring entries written above become visible no later than the new index.
        if (!memory.TryWriteUInt16Release(new Iova(_avail.Value + SplitRingLayout.AvailIdxOffset), _availShadow))
            return Fail(QueueError.RingUnmapped);
        // Store-load ordering: the index store must be visible before we read avail_event/flags, pairing with the
        // device's full barrier in EnableNotifications (write avail_event/flags, then re-read avail->idx); otherwise
        // both could miss each other and the buffers would sit unnoticed.
        Interlocked.MemoryBarrier();
        ushort now = _availShadow;
        ushort old = (ushort)(now - _numAdded);
        _numAdded = 0;
        if (_eventIndex)
        {
            if (!memory.TryReadUInt16(new Iova(_used.Value + (ulong)SplitRingLayout.AvailEventOffset(Size)), out ushort availEvent))
                return Fail(QueueError.RingUnmapped);
            return SplitRingLayout.NeedEvent(availEvent, now, old);
        }
        if (!memory.TryReadUInt16(new Iova(_used.Value + SplitRingLayout.UsedFlagsOffset), out ushort flags))
            return Fail(QueueError.RingUnmapped);
        return (flags & SplitRingLayout.UsedFlagNoNotify) == 0;
    }

    /// <summary>
    /// Takes the next used buffer (virtqueue_get_buf): its token and the length the device reports. False when none is
    /// pending or the queue is broken (an invalid used id breaks it with <see cref="QueueError.UsedRingFault"/>).
    /// </summary>
    public bool TryGetUsed(DmaView memory, out int token, out uint length)
    {
        ArgumentNullException.ThrowIfNull(memory);
        token = 0;
        length = 0;
        if (IsBroken) return false;
        // Acquire pairs with the device's release of used->idx: the element below is complete once we see the index.
        if (!memory.TryReadUInt16Acquire(new Iova(_used.Value + SplitRingLayout.UsedIdxOffset), out ushort usedIdx))
            return Fail(QueueError.RingUnmapped);
        ushort pending = (ushort)(usedIdx - _lastUsed);
        if (pending == 0) return false;
        if (pending > _inFlight) return Fail(QueueError.UsedRingFault);

        ulong slot = (ulong)(_lastUsed & (Size - 1));
        if (!memory.TryRead(new Iova(_used.Value + SplitRingLayout.UsedRingOffset + VirtqUsedElem.Size * slot), out VirtqUsedElem elem))
            return Fail(QueueError.RingUnmapped);
        if (elem.Id >= (uint)Size || _chainLen[elem.Id] == 0) return Fail(QueueError.UsedRingFault);

        ushort head = (ushort)elem.Id;
        token = _tokens[head];
        length = elem.Len;
        Detach(head);
        _lastUsed++;

        // With callbacks enabled and EVENT_IDX, ask for an interrupt at the next entry (as virtqueue_get_buf_ctx_split
        // does), then a full barrier so the store is visible before our next read of used->idx.
        if (_eventIndex && !_callbacksDisabled)
        {
            memory.TryWriteUInt16(UsedEventAddress, _lastUsed);
            Interlocked.MemoryBarrier();
        }
        return true;
    }

    /// <summary>
    /// Asks for used-buffer notifications (virtqueue_enable_cb): clears VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX
    /// sets used_event to the next entry. Returns false when used buffers are already pending, so the caller polls
    /// again instead of waiting for an interrupt that may already have been suppressed.
    /// </summary>
    public bool EnableCallbacks(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken) return true;
        _callbacksDisabled = false;
        bool ok = _eventIndex
            ? memory.TryWriteUInt16(UsedEventAddress, _lastUsed)
            : memory.TryWriteUInt16(new Iova(_avail.Value + SplitRingLayout.AvailFlagsOffset), 0);
        if (!ok) { Fail(QueueError.RingUnmapped); return true; }
        return !Poll(memory);
    }

    /// <summary>
    /// Asks the device not to interrupt (virtqueue_disable_cb): sets VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX moves
    /// used_event just behind the last seen entry, so it is reached only after a full 16-bit wrap.
    /// </summary>
    public void DisableCallbacks(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken || _callbacksDisabled) return;
        _callbacksDisabled = true;
        // Spec: VIRTIO 1.3 §2.7.7 — with EVENT_IDX the driver MUST leave flags at 0 and use used_event instead.
        bool ok = _eventIndex
            ? memory.TryWriteUInt16(UsedEventAddress, (ushort)(_lastUsed - 1))
            : memory.TryWriteUInt16(new Iova(_avail.Value + SplitRingLayout.AvailFlagsOffset), SplitRingLayout.AvailFlagNoInterrupt);
        if (!ok) Fail(QueueError.RingUnmapped);
    }

    /// <summary>
    /// Like <see cref="EnableCallbacks"/> but, with EVENT_IDX, asks for the interrupt only after 3/4 of the outstanding
    /// buffers are used (virtqueue_enable_cb_delayed). Returns false when that many are already used.
    /// </summary>
    public bool EnableCallbacksDelayed(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken) return true;
        _callbacksDisabled = false;
        if (!_eventIndex && !memory.TryWriteUInt16(new Iova(_avail.Value + SplitRingLayout.AvailFlagsOffset), 0))
        {
            Fail(QueueError.RingUnmapped);
            return true;
        }
        ushort bufs = (ushort)((ushort)(_availShadow - _lastUsed) * 3 / 4);
        if (!memory.TryWriteUInt16(UsedEventAddress, (ushort)(_lastUsed + bufs)))
        {
            Fail(QueueError.RingUnmapped);
            return true;
        }
        // Store-load ordering between used_event and used->idx, as in EnableCallbacks.
        Interlocked.MemoryBarrier();
        if (!memory.TryReadUInt16Acquire(new Iova(_used.Value + SplitRingLayout.UsedIdxOffset), out ushort usedIdx))
        {
            Fail(QueueError.RingUnmapped);
            return true;
        }
        return (ushort)(usedIdx - _lastUsed) <= bufs;
    }

    /// <summary>
    /// After a device reset: detaches buffers still in flight and returns their tokens (virtqueue_detach_unused_buf),
    /// up to <paramref name="tokens"/>.Length per call; returns how many were written. Call <see cref="Initialize"/>
    /// before using the queue again.
    /// </summary>
    public int DetachUnused(Span<int> tokens)
    {
        int n = 0;
        for (int head = 0; head < Size && n < tokens.Length; head++)
        {
            if (_chainLen[head] == 0) continue;
            tokens[n++] = _tokens[head];
            Detach((ushort)head);
        }
        return n;
    }

    private Iova UsedEventAddress => new(_avail.Value + (ulong)SplitRingLayout.UsedEventOffset(Size));

    private Iova DescAddress(ushort index) => new(_desc.Value + (ulong)index * VirtqDesc.Size);

    private static VirtqDesc MakeDesc(in DescriptorSegment s, bool hasNext, ushort next)
    {
        var flags = VirtqDescFlags.None;
        if (hasNext) flags |= VirtqDescFlags.Next;
        if (s.DeviceWritable) flags |= VirtqDescFlags.Write;
        return new VirtqDesc { Addr = s.Address.Value, Len = s.Length, Flags = (ushort)flags, Next = next };
    }

    private static long AlignUp(long value, long align) => (value + align - 1) & ~(align - 1);

    /// <summary>Full barrier, then: are used buffers pending (virtqueue_poll)?</summary>
    private bool Poll(DmaView memory)
    {
        // Store-load ordering: our used_event/flags store must be visible before we re-read used->idx, pairing with the
        // device's barrier between publishing used->idx and reading used_event/flags (ShouldNotifyDriver).
        Interlocked.MemoryBarrier();
        if (!memory.TryReadUInt16Acquire(new Iova(_used.Value + SplitRingLayout.UsedIdxOffset), out ushort usedIdx))
        {
            Fail(QueueError.RingUnmapped);
            return true;
        }
        return usedIdx != _lastUsed;
    }

    /// <summary>Returns the chain at <paramref name="head"/> to the free list (detach_buf_split), walking only shadow state.</summary>
    private void Detach(ushort head)
    {
        int n = _chainLen[head];
        ushort last = head;
        for (int k = 1; k < n; k++) last = _next[last];
        _next[last] = _freeHead;
        _freeHead = head;
        _numFree += n;
        _chainLen[head] = 0;
        _tokens[head] = 0;
        _inFlight--;
    }

    private bool Fail(QueueError error)
    {
        if (_error == QueueError.None) _error = error;
        return false;
    }

    private bool FailAdd() => Fail(QueueError.RingUnmapped);
}
