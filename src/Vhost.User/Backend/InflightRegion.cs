using System.Numerics;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>
/// The shared inflight buffer of VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD (vhost-user.rst "Inflight I/O tracking", split
/// rings), and the <see cref="IInflightTracker"/> a blk device reports its requests to. Per queue, at
/// <c>queue * QueueRegionSize</c>: <c>QueueRegionSplit { u64 features; u16 version; u16 desc_num; u16 last_batch_head;
/// u16 used_idx; DescStateSplit desc[desc_num] }</c> with <c>DescStateSplit { u8 inflight; u8 padding[5]; u16 next;
/// u64 counter }</c>. The buffer is shared with the front-end, which keeps it across back-end restarts: everything
/// read from it is untrusted and checked before use.
/// </summary>
/// <remarks>
/// Order of the writes (libvhost-user's vu_queue_inflight_get/pre_put/post_put): on take, counter then inflight = 1;
/// before the used element is published, last_batch_head = head; after it, inflight = 0 and then (release) used_idx.
/// A crash between the used-index store and the used_idx store leaves used_idx one behind: <see cref="Recover"/>
/// repairs it from the ring as the spec says. Only the device's worker writes while a ring runs; the session
/// thread reads and repairs only rings that are stopped.
/// </remarks>
internal sealed class InflightRegion : IInflightTracker, IDisposable
{
    /// <summary>Current split layout version.</summary>
    public const ushort Version = 1;
    /// <summary>sizeof(QueueRegionSplit) without the array.</summary>
    public const int QueueHeaderSize = 16;
    /// <summary>sizeof(DescStateSplit).</summary>
    public const int DescStateSize = 16;
    /// <summary>Queue regions are 64-byte aligned (libvhost-user INFLIGHT_ALIGNMENT).</summary>
    public const int Alignment = 64;

    private const int OffVersion = 8, OffDescNum = 10, OffLastBatchHead = 12, OffUsedIdx = 14;
    private const int OffInflight = 0, OffCounter = 8;

    private readonly MemoryRegion _region;
    private readonly DmaSpace _space;
    private readonly DmaLease _lease;
    private readonly QueueState[] _queues;

    private sealed class QueueState
    {
        public volatile bool Active;   // the ring runs with tracking
        public ulong Counter;          // next submission counter
        public ushort UsedIdx;         // used index after the last completion
        public ushort DescNum;
    }

    private InflightRegion(MemoryRegion region, int numQueues, int queueSize, ulong mmapSize)
    {
        _region = region;
        _space = new DmaSpace(GuestMemory.Create(region));
        _lease = _space.Acquire();
        NumQueues = numQueues;
        QueueSize = queueSize;
        MmapSize = mmapSize;
        _queues = new QueueState[numQueues];
        for (int i = 0; i < numQueues; i++) _queues[i] = new QueueState { DescNum = (ushort)queueSize };
    }

    /// <summary>Queues described.</summary>
    public int NumQueues { get; }

    /// <summary>Descriptors per queue.</summary>
    public int QueueSize { get; }

    /// <summary>Bytes mapped.</summary>
    public ulong MmapSize { get; }

    /// <summary>The memfd (for the GET_INFLIGHT_FD reply).</summary>
    public FileDescriptor Descriptor => _region.Descriptor!;

    private DmaView View => _lease.View;

    /// <summary>Bytes one queue takes: the header and its descriptor states, 64-byte aligned.</summary>
    public static ulong QueueRegionSize(int queueSize) => ((ulong)(QueueHeaderSize + DescStateSize * queueSize) + Alignment - 1) & ~(ulong)(Alignment - 1);

    /// <summary>True for a split queue size the region can describe (a power of 2, 1..32768).</summary>
    public static bool IsValidQueueSize(int queueSize) => queueSize is >= 1 and <= 32768 && BitOperations.IsPow2(queueSize);

    /// <summary>GET_INFLIGHT_FD: a new zeroed memfd with every queue header initialised (version 1, desc_num).</summary>
    public static InflightRegion Create(int numQueues, int queueSize)
    {
        ulong size = (ulong)numQueues * QueueRegionSize(queueSize);
        var region = MemoryRegion.Shared(new GuestAddress(0), (long)size, "uvdpa-vhost-inflight");
        var result = new InflightRegion(region, numQueues, queueSize, size);
        for (int q = 0; q < numQueues; q++) result.InitializeQueue(q);
        return result;
    }

    /// <summary>SET_INFLIGHT_FD: maps the front-end's buffer (takes ownership of <paramref name="fd"/>).</summary>
    public static InflightRegion Map(FileDescriptor fd, ulong offset, ulong size, int numQueues, int queueSize)
    {
        var region = MemoryRegion.FromDescriptor(new GuestAddress(0), fd, (long)offset, (long)size);
        return new InflightRegion(region, numQueues, queueSize, size);
    }

    private ulong QueueBase(int q) => (ulong)q * QueueRegionSize(QueueSize);

    private Iova Desc(int q, int head, int field) => new(QueueBase(q) + QueueHeaderSize + (ulong)head * DescStateSize + (ulong)field);

    private Iova Header(int q, int field) => new(QueueBase(q) + (ulong)field);

    private void InitializeQueue(int q)
    {
        View.TryFill(new Iova(QueueBase(q)), QueueRegionSize(QueueSize), 0);
        View.TryWriteUInt16(Header(q, OffDescNum), (ushort)QueueSize);
        View.TryWriteUInt16Release(Header(q, OffVersion), Version);
    }

    /// <summary>
    /// Before ring <paramref name="q"/> starts: validates its part of the buffer, repairs the last batch against the
    /// ring's used index <paramref name="ringUsedIdx"/> and returns the heads that were inflight, oldest first
    /// (submission counter order). A version-0 queue (a buffer no back-end used yet) is initialised and has none.
    /// Returns false with <paramref name="error"/> when the buffer is corrupt.
    /// </summary>
    public bool Recover(int q, int ringSize, ushort ringUsedIdx, out List<ushort> heads, out string? error)
    {
        heads = [];
        error = null;
        var state = _queues[q];
        var v = View;
        if (!v.TryReadUInt16(Header(q, OffVersion), out ushort version) || !v.TryReadUInt16(Header(q, OffDescNum), out ushort descNum)
            || !v.TryReadUInt16(Header(q, OffLastBatchHead), out ushort lastBatch) || !v.TryReadUInt16(Header(q, OffUsedIdx), out ushort usedIdx))
        {
            error = "inflight region is not readable";
            return false;
        }
        if (version == 0)
        {
            InitializeQueue(q);
            v.TryWriteUInt16(Header(q, OffUsedIdx), ringUsedIdx);
            state.Counter = 1;
            state.UsedIdx = ringUsedIdx;
            return true;
        }
        if (version != Version) { error = $"inflight region version {version} (expected {Version})"; return false; }
        if (descNum != QueueSize) { error = $"inflight desc_num {descNum} does not match the region's queue size {QueueSize}"; return false; }
        if (ringSize > descNum) { error = $"vring size {ringSize} exceeds the inflight region's {descNum} descriptors"; return false; }

        if (usedIdx != ringUsedIdx)
        {
            // Crashed after publishing the used index but before recording it: the last completed head is done.
            if (lastBatch < descNum) v.TryWrite(Desc(q, lastBatch, OffInflight), [(byte)0]);
            v.TryWriteUInt16(Header(q, OffUsedIdx), ringUsedIdx);
        }

        var found = new List<(ulong Counter, ushort Head)>();
        ulong max = 0;
        Span<byte> flag = stackalloc byte[1];
        for (int head = 0; head < descNum; head++)
        {
            if (!v.TryRead(Desc(q, head, OffInflight), flag)) { error = "inflight region is not readable"; return false; }
            if (flag[0] == 0) continue;
            if (flag[0] != 1 || head >= ringSize) { error = $"inflight entry {head} is corrupt (inflight={flag[0]}, vring size {ringSize})"; return false; }
            v.TryRead(Desc(q, head, OffCounter), out ulong counter);
            found.Add((counter, (ushort)head));
            max = Math.Max(max, counter);
        }
        found.Sort((a, b) => a.Counter.CompareTo(b.Counter));
        foreach (var (_, head) in found) heads.Add(head);
        state.Counter = max + 1;
        state.UsedIdx = ringUsedIdx;
        return true;
    }

    /// <summary>Starts or stops tracking ring <paramref name="q"/> (only while the device does not run it).</summary>
    public void SetActive(int q, bool active)
    {
        if ((uint)q < (uint)_queues.Length) _queues[q].Active = active;
    }

    /// <inheritdoc />
    public void OnTaken(int queue, ushort head)
    {
        if (!TryGet(queue, head, out var s)) return;
        View.TryWriteUInt64(Desc(queue, head, OffCounter), s.Counter++);
        // The counter must be in place before the entry counts as inflight.
        Interlocked.MemoryBarrier();
        View.TryWrite(Desc(queue, head, OffInflight), [(byte)1]);
    }

    /// <inheritdoc />
    public void OnCompleting(int queue, ushort head)
    {
        if (!TryGet(queue, head, out _)) return;
        View.TryWriteUInt16Release(Header(queue, OffLastBatchHead), head);
    }

    /// <inheritdoc />
    public void OnCompleted(int queue, ushort head)
    {
        if (!TryGet(queue, head, out var s)) return;
        View.TryWrite(Desc(queue, head, OffInflight), [(byte)0]);
        s.UsedIdx++;
        // Release: inflight = 0 is visible before used_idx says the completion is recorded.
        View.TryWriteUInt16Release(Header(queue, OffUsedIdx), s.UsedIdx);
    }

    private bool TryGet(int queue, ushort head, out QueueState state)
    {
        state = null!;
        if ((uint)queue >= (uint)_queues.Length) return false;
        state = _queues[queue];
        return state.Active && head < state.DescNum;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lease.Dispose();
        _space.Dispose();
        _region.Dispose();
    }
}
