using System.Numerics;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Device side of a split virtqueue (the role of Linux's vringh, drivers/vhost/vringh.c). Pops descriptor chains from
/// the available ring, publishes used elements, and handles notification suppression (flags or VIRTIO_F_EVENT_IDX).
/// Everything in guest memory is driver-controlled and untrusted: a malformed ring or chain makes the queue broken
/// (sticky until <see cref="Reset"/>, <see cref="Error"/> says why) and never throws or hangs.
/// Not thread-safe: one worker at a time.
/// </summary>
/// <remarks>
/// Walk bounds (chosen to match vringh and rust-vmm virtio-queue, and documented here because the spec leaves them to
/// the device): a chain holds at most <see cref="Size"/> segments counting direct and indirect entries together; zero or
/// more direct descriptors may be followed by one INDIRECT descriptor, which must not also have NEXT; an indirect table
/// is non-empty, a multiple of 16 bytes, at most <see cref="Size"/> entries, readable, and contains no INDIRECT entries;
/// the total buffer length fits in a u32. Spec: VIRTIO 1.3 §2.7.5.3.
/// </remarks>
public sealed class SplitDeviceQueue
{
    private int _size;
    private bool _ready;
    private bool _ringChecked;
    private ushort _lastAvail;
    private ushort _usedIdx;
    private int _unpublishedUsed;    // elements written past _usedIdx by TryAddUsed, not yet exposed by PublishUsed
    private ushort _signalledUsed;   // used idx at the last ShouldNotifyDriver (vringh's last_used_idx)
    private int _completedSinceSignal; // pushes since then (vringh's completed)
    private int _undoable;
    private bool _usedFlagNoNotify;
    private QueueError _error;

    /// <summary>Creates a queue that accepts sizes up to <paramref name="maxSize"/> (a power of two, 1..32768).</summary>
    public SplitDeviceQueue(int maxSize)
    {
        if (!IsValidSize(maxSize, SplitRingLayout.MaxQueueSize)) throw new ArgumentOutOfRangeException(nameof(maxSize), "must be a power of two in 1..32768");
        MaxSize = maxSize;
        _size = maxSize;
    }

    /// <summary>Largest size the device supports (get_vq_num_max).</summary>
    public int MaxSize { get; }

    /// <summary>Queue size (set_vq_num): a power of two in 1..<see cref="MaxSize"/>; otherwise ArgumentOutOfRangeException.</summary>
    public int Size
    {
        get => _size;
        set
        {
            if (!IsValidSize(value, MaxSize)) throw new ArgumentOutOfRangeException(nameof(value), "must be a power of two in 1..MaxSize");
            _size = value;
            _ringChecked = false;
        }
    }

    /// <summary>Guest address of the descriptor table.</summary>
    public Iova DescriptorTable { get; private set; }

    /// <summary>Guest address of the driver area (available ring).</summary>
    public Iova DriverArea { get; private set; }

    /// <summary>Guest address of the device area (used ring).</summary>
    public Iova DeviceArea { get; private set; }

    /// <summary>VIRTIO_RING_F_EVENT_IDX (VIRTIO_F_EVENT_IDX) was negotiated.</summary>
    public bool EventIndex { get; set; }

    /// <summary>VIRTIO_RING_F_INDIRECT_DESC was negotiated; otherwise an INDIRECT descriptor breaks the queue.</summary>
    public bool IndirectDescriptors { get; set; }

    /// <summary>
    /// Queue enable (set_vq_ready). Setting true (re)initialises from the addresses, keeps <see cref="LastAvailIndex"/>
    /// and sets <see cref="UsedIndex"/> to it, as vdpa_sim's vdpasim_queue_ready does. The rings are validated lazily, on
    /// first use.
    /// </summary>
    public bool Ready
    {
        get => _ready;
        set
        {
            if (value)
            {
                _usedIdx = _lastAvail;
                _unpublishedUsed = 0;
                _signalledUsed = _lastAvail;
                _completedSinceSignal = 0;
                _undoable = 0;
                _usedFlagNoNotify = false;
                _ringChecked = false;
            }
            _ready = value;
        }
    }

    /// <summary>Index of the next available-ring entry to pop (the split queue state of get/set_vq_state).</summary>
    public ushort LastAvailIndex
    {
        get => _lastAvail;
        set
        {
            _lastAvail = value;
            _undoable = 0;
        }
    }

    /// <summary>The used index this device has published.</summary>
    public ushort UsedIndex => _usedIdx;

    /// <summary>True once the driver corrupted the queue; sticky until <see cref="Reset"/>.</summary>
    public bool IsBroken => _error != QueueError.None;

    /// <summary>Why the queue is broken, or <see cref="QueueError.None"/>.</summary>
    public QueueError Error => _error;

    /// <summary>Sets the ring addresses (set_vq_address).</summary>
    public void SetAddresses(Iova desc, Iova driverArea, Iova deviceArea)
    {
        DescriptorTable = desc;
        DriverArea = driverArea;
        DeviceArea = deviceArea;
        _ringChecked = false;
    }

    /// <summary>Back to the reset state: not ready, addresses 0, indices 0, size = <see cref="MaxSize"/>, no features, not broken (vdpasim_vq_reset).</summary>
    public void Reset()
    {
        _ready = false;
        DescriptorTable = default;
        DriverArea = default;
        DeviceArea = default;
        _size = MaxSize;
        EventIndex = false;
        IndirectDescriptors = false;
        _lastAvail = 0;
        _usedIdx = 0;
        _unpublishedUsed = 0;
        _signalledUsed = 0;
        _completedSinceSignal = 0;
        _undoable = 0;
        _usedFlagNoNotify = false;
        _ringChecked = false;
        _error = QueueError.None;
    }

    /// <summary>Marks the queue broken (the first error sticks).</summary>
    public void MarkBroken(QueueError error)
    {
        if (error == QueueError.None) throw new ArgumentOutOfRangeException(nameof(error));
        if (_error == QueueError.None) _error = error;
    }

    /// <summary>
    /// Pops the next available chain into <paramref name="chain"/> (vringh_getdesc). Returns <see cref="PopStatus.Empty"/>
    /// when nothing is available or the queue is not ready, <see cref="PopStatus.Broken"/> when the driver's input is
    /// malformed (the queue then stays broken). <paramref name="chain"/> must hold at least <see cref="Size"/> segments.
    /// </summary>
    public PopStatus TryPop(DmaView memory, DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Capacity < _size) throw new ArgumentException("the chain holder is smaller than the queue size", nameof(chain));
        if (IsBroken) return PopStatus.Broken;
        if (!_ready) return PopStatus.Empty;
        if (!EnsureRings(memory)) return PopStatus.Broken;

        // Spec: VIRTIO 1.3 §2.7.13.3 — read avail->idx with acquire so the ring entries (and the descriptors they name),
        // written by the driver before its release of idx, are visible to the plain reads below.
        if (!memory.TryReadUInt16Acquire(AvailIdxAddress, out ushort availIdx)) return Fail(QueueError.RingUnmapped);
        ushort pending = (ushort)(availIdx - _lastAvail);
        if (pending == 0) return PopStatus.Empty;
        if (pending > _size) return Fail(QueueError.AvailIndexJump);

        int slot = _lastAvail & (_size - 1);
        if (!memory.TryReadUInt16(new Iova(DriverArea.Value + SplitRingLayout.AvailRingOffset + 2UL * (ulong)slot), out ushort head))
            return Fail(QueueError.RingUnmapped);
        if (head >= _size) return Fail(QueueError.IndexOutOfRange);

        var err = Walk(memory, chain, head);
        if (err != QueueError.None) return Fail(err);

        _lastAvail++;
        _undoable++;
        return PopStatus.Chain;
    }

    /// <summary>
    /// Gives back the last popped chain (vringh_abandon of one); it will be popped again. Undoes at most the pops since
    /// the queue became ready or <see cref="LastAvailIndex"/> was set; the caller must not have pushed the chain.
    /// </summary>
    public void UndoPop()
    {
        if (_undoable == 0) return;
        _undoable--;
        _lastAvail--;
    }

    /// <summary>
    /// Publishes a used element for chain <paramref name="head"/> with <paramref name="writtenLength"/> bytes written
    /// (vringh_complete). Returns false when the queue is (or becomes) broken. Elements added by
    /// <see cref="TryAddUsed"/> before it are published with it.
    /// </summary>
    public bool TryPushUsed(DmaView memory, ushort head, uint writtenLength)
        => TryAddUsed(memory, head, writtenLength) && PublishUsed(memory);

    /// <summary>
    /// Writes a used element for chain <paramref name="head"/> without exposing it: the driver sees it at the next
    /// <see cref="PublishUsed"/> (or <see cref="TryPushUsed"/>), which moves used->idx once for the whole batch, as
    /// DPDK's vhost does per burst. Returns false when the queue is (or becomes) broken.
    /// </summary>
    public bool TryAddUsed(DmaView memory, ushort head, uint writtenLength)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (head >= _size) throw new ArgumentOutOfRangeException(nameof(head), "not a descriptor index of this queue");
        if (IsBroken || !_ready) return false;
        if (!EnsureRings(memory)) return false;
        // More unpublished elements than slots would overwrite ones the driver has not seen: a caller completing
        // chains it never popped. Refuse rather than corrupt the ring.
        if (_unpublishedUsed >= _size) throw new InvalidOperationException("more used elements than the ring holds without a PublishUsed");

        int slot = (_usedIdx + _unpublishedUsed) & (_size - 1);
        var elem = new VirtqUsedElem { Id = head, Len = writtenLength };
        if (!memory.TryWrite(new Iova(DeviceArea.Value + SplitRingLayout.UsedRingOffset + VirtqUsedElem.Size * (ulong)slot), in elem))
        {
            MarkBroken(QueueError.UsedRingFault);
            return false;
        }
        _unpublishedUsed++;
        return true;
    }

    /// <summary>
    /// Exposes the elements written by <see cref="TryAddUsed"/>: one release store of used->idx. Elements added before
    /// the queue broke are still published (they were completed). Returns false when the store faults.
    /// </summary>
    public bool PublishUsed(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (_unpublishedUsed == 0) return !IsBroken;
        int count = _unpublishedUsed;
        _unpublishedUsed = 0;
        if (!_ready || !EnsureRings(memory)) return false;
        ushort next = (ushort)(_usedIdx + count);
        // Spec: VIRTIO 1.3 §2.7.8.2 — the elements must be visible before the index that exposes them: release store.
        if (!memory.TryWriteUInt16Release(UsedIdxAddress, next))
        {
            MarkBroken(QueueError.UsedRingFault);
            return false;
        }
        _usedIdx = next;
        _completedSinceSignal = (int)Math.Min((long)_completedSinceSignal + count, int.MaxValue);
        return !IsBroken;
    }

    /// <summary>
    /// After one or more pushes: true when the driver wants a used-buffer notification (vringh_need_notify). With
    /// EVENT_IDX this is vring_need_event(used_event, new, old) over the pushes since the previous call; without it,
    /// !(avail->flags &amp; VRING_AVAIL_F_NO_INTERRUPT). Spec: VIRTIO 1.3 §2.7.10.
    /// </summary>
    public bool ShouldNotifyDriver(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        PublishUsed(memory);
        if (IsBroken || !_ready || !EnsureRings(memory)) return false;

        // Store-load ordering: our used->idx store must be globally visible before we load used_event/flags, pairing
        // with the driver's full barrier between writing used_event/flags and re-reading used->idx
        // (virtqueue_enable_cb + virtqueue_poll). Release/acquire alone would let the load pass the store and both
        // sides would sleep (a lost interrupt).
        Interlocked.MemoryBarrier();

        if (!EventIndex)
        {
            _signalledUsed = _usedIdx;
            _completedSinceSignal = 0;
            if (!memory.TryReadUInt16(new Iova(DriverArea.Value + SplitRingLayout.AvailFlagsOffset), out ushort flags))
                return FailNotify();
            return (flags & SplitRingLayout.AvailFlagNoInterrupt) == 0;
        }

        if (!memory.TryReadUInt16(new Iova(DriverArea.Value + (ulong)SplitRingLayout.UsedEventOffset(_size)), out ushort usedEvent))
            return FailNotify();
        ushort old = _signalledUsed;
        ushort now = _usedIdx;
        // More than 65535 completions since the last check wrap the 16-bit window: notify to be safe (as vringh does).
        bool notify = _completedSinceSignal > 0xffff || SplitRingLayout.NeedEvent(usedEvent, now, old);
        _signalledUsed = now;
        _completedSinceSignal = 0;
        return notify;
    }

    /// <summary>
    /// Asks the driver for available-buffer notifications (vringh_notify_enable): clears VRING_USED_F_NO_NOTIFY, or with
    /// EVENT_IDX publishes avail_event = <see cref="LastAvailIndex"/>. Then re-reads avail->idx and returns true when
    /// buffers are already pending, so the caller keeps polling instead of waiting for a kick that will not come.
    /// </summary>
    public bool EnableNotifications(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken || !_ready || !EnsureRings(memory)) return false;
        bool ok = EventIndex
            ? memory.TryWriteUInt16(new Iova(DeviceArea.Value + (ulong)SplitRingLayout.AvailEventOffset(_size)), _lastAvail)
            : memory.TryWriteUInt16(new Iova(DeviceArea.Value + SplitRingLayout.UsedFlagsOffset), 0);
        if (!ok)
        {
            MarkBroken(QueueError.UsedRingFault);
            return false;
        }
        _usedFlagNoNotify = false;

        // Store-load ordering: the driver may have added a buffer and read our old flags/avail_event just before the
        // store above; the full barrier pairs with its barrier in virtqueue_kick_prepare so at least one side sees the
        // other (the driver kicks, or we see the new avail->idx here).
        Interlocked.MemoryBarrier();
        return HasAvailable(memory);
    }

    /// <summary>
    /// Tells the driver not to notify (vringh_notify_disable): sets VRING_USED_F_NO_NOTIFY. With EVENT_IDX nothing is
    /// written: avail_event stays where it is and the driver kicks at most once more.
    /// </summary>
    public void DisableNotifications(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (EventIndex || _usedFlagNoNotify || IsBroken || !_ready || !EnsureRings(memory)) return;
        if (!memory.TryWriteUInt16(new Iova(DeviceArea.Value + SplitRingLayout.UsedFlagsOffset), SplitRingLayout.UsedFlagNoNotify))
        {
            MarkBroken(QueueError.UsedRingFault);
            return;
        }
        _usedFlagNoNotify = true;
    }

    /// <summary>True when at least one available entry has not been popped. A jump of more than <see cref="Size"/> breaks the queue.</summary>
    public bool HasAvailable(DmaView memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (IsBroken || !_ready || !EnsureRings(memory)) return false;
        // Acquire pairs with the driver's release of avail->idx (see TryPop).
        if (!memory.TryReadUInt16Acquire(AvailIdxAddress, out ushort availIdx))
        {
            MarkBroken(QueueError.RingUnmapped);
            return false;
        }
        ushort pending = (ushort)(availIdx - _lastAvail);
        if (pending > _size)
        {
            MarkBroken(QueueError.AvailIndexJump);
            return false;
        }
        return pending != 0;
    }

    private Iova AvailIdxAddress => new(DriverArea.Value + SplitRingLayout.AvailIdxOffset);

    private Iova UsedIdxAddress => new(DeviceArea.Value + SplitRingLayout.UsedIdxOffset);

    private static bool IsValidSize(int size, int max) => size >= 1 && size <= max && BitOperations.IsPow2(size);

    private PopStatus Fail(QueueError error)
    {
        MarkBroken(error);
        return PopStatus.Broken;
    }

    private bool FailNotify()
    {
        MarkBroken(QueueError.RingUnmapped);
        // The pushes before the fault are published; an extra interrupt is harmless, a missing one is not.
        return true;
    }

    /// <summary>
    /// Validates the ring areas once per (re)initialisation: alignment (Spec: VIRTIO 1.3 §2.7, table "Virtqueue Part
    /// Alignment") and mapping with the rights each side needs (descriptor table and available ring readable, used ring
    /// writable). Later accesses are still checked; a mapping change that removes them breaks the queue then.
    /// </summary>
    private bool EnsureRings(DmaView memory)
    {
        if (_ringChecked) return true;
        ulong d = DescriptorTable.Value, a = DriverArea.Value, u = DeviceArea.Value;
        if ((d & (SplitRingLayout.DescAlign - 1)) != 0 || (a & (SplitRingLayout.AvailAlign - 1)) != 0 || (u & (SplitRingLayout.UsedAlign - 1)) != 0
            || !memory.IsAccessible(DescriptorTable, (ulong)SplitRingLayout.DescTableSize(_size), AccessPermission.Read)
            || !memory.IsAccessible(DriverArea, (ulong)SplitRingLayout.AvailSize(_size), AccessPermission.Read)
            || !memory.IsAccessible(DeviceArea, (ulong)SplitRingLayout.UsedSize(_size), AccessPermission.Write))
        {
            MarkBroken(QueueError.RingUnmapped);
            return false;
        }
        _ringChecked = true;
        return true;
    }

    /// <summary>
    /// Walks the chain starting at <paramref name="head"/> (vringh's __vringh_iov). Each descriptor is read once into a
    /// local copy, so a driver rewriting the table concurrently cannot make us act on values we did not check.
    /// </summary>
    private QueueError Walk(DmaView memory, DescriptorChain chain, ushort head)
    {
        chain.Clear(head);
        ulong tableBase = DescriptorTable.Value;
        uint tableCount = (uint)_size;
        bool indirect = false;
        uint index = head;
        ulong total = 0;
        int maxSegments = _size;

        while (true)
        {
            // index < tableCount holds here; tableBase + 16 * tableCount was checked not to wrap.
            if (!memory.TryRead(new Iova(tableBase + VirtqDesc.Size * (ulong)index), out VirtqDesc desc))
                return indirect ? QueueError.BufferUnmapped : QueueError.RingUnmapped;
            var flags = (VirtqDescFlags)desc.Flags;

            if ((flags & VirtqDescFlags.Indirect) != 0)
            {
                // Spec: VIRTIO 1.3 §2.7.5.3.1/2 — one indirect table, last in the direct chain, never nested.
                if (!IndirectDescriptors) return QueueError.IndirectNotNegotiated;
                if (indirect) return QueueError.NestedIndirect;
                if ((flags & VirtqDescFlags.Next) != 0) return QueueError.IndirectWithNext;
                if (desc.Len == 0 || desc.Len % VirtqDesc.Size != 0 || desc.Len / VirtqDesc.Size > (uint)_size)
                    return QueueError.BadIndirectTable;
                if (!memory.IsAccessible(new Iova(desc.Addr), desc.Len, AccessPermission.Read)) return QueueError.BufferUnmapped;
                indirect = true;
                tableBase = desc.Addr;
                tableCount = desc.Len / VirtqDesc.Size;
                index = 0;
                continue;
            }

            bool writable = (flags & VirtqDescFlags.Write) != 0;
            // Spec: VIRTIO 1.3 §2.7.4.2 — device-writable descriptors come after all device-readable ones.
            if (!writable && chain.Count > chain.ReadableCount) return QueueError.ReadableAfterWritable;
            // Caps the walk: a loop (direct or inside a table) or an over-long chain ends here, after at most Size
            // segments plus one indirect hop.
            if (chain.Count >= maxSegments) return QueueError.ChainTooLong;
            total += desc.Len;
            if (total > uint.MaxValue) return QueueError.LengthOverflow;
            if (!memory.IsAccessible(new Iova(desc.Addr), desc.Len, writable ? AccessPermission.Write : AccessPermission.Read))
                return QueueError.BufferUnmapped;
            chain.Add(new Iova(desc.Addr), desc.Len, writable);

            if ((flags & VirtqDescFlags.Next) == 0) return QueueError.None;
            if (desc.Next >= tableCount) return QueueError.IndexOutOfRange;
            index = desc.Next;
        }
    }
}
