using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver.Internal;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// The virtio_blk driver's role for one device: asynchronous block I/O on request queue 0. Each request is the
/// 16-byte out header, data segments (at most seg_max, each at most size_max bytes) and a status byte, all in
/// bounce buffers pre-allocated per request slot in the driver's DMA memory. At most <see cref="QueueDepth"/>
/// requests are in flight; further callers wait. I/O larger than <see cref="MaxRequestBytes"/> is split into
/// several requests. Thread-safe; a steady state allocates nothing per request.
/// </summary>
public sealed class VirtioBlkDevice
{
    /// <summary>The driver's feature table (virtio_blk's features[] minus MQ, zoned and secure erase).</summary>
    internal static readonly ulong FeatureTable =
        VirtioFeatures.Bit(BlkFeatures.SizeMax) | VirtioFeatures.Bit(BlkFeatures.SegMax) | VirtioFeatures.Bit(BlkFeatures.Geometry) |
        VirtioFeatures.Bit(BlkFeatures.Ro) | VirtioFeatures.Bit(BlkFeatures.BlkSize) | VirtioFeatures.Bit(BlkFeatures.Flush) |
        VirtioFeatures.Bit(BlkFeatures.Topology) | VirtioFeatures.Bit(BlkFeatures.Discard) | VirtioFeatures.Bit(BlkFeatures.WriteZeroes);


    private const int SectorSize = VirtioBlkConfig.SectorSize;
    private const int MetaBytes = 64; // out header (16) + discard/write-zeroes range (16) + status (1), per slot
    private const int PayloadOffset = 16;
    private const int StatusOffset = 32;
    private const int MaxSegmentsCap = 256;

    private readonly VirtioDevice _dev;
    private readonly Virtqueue _vq;
    private readonly Request[] _requests;
    private readonly Stack<Request> _free;
    private readonly AsyncSignal _slotSignal = new();
    private readonly AsyncSignal _ringSignal = new();
    private readonly int _sizeMax;
    private long _capacity;
    private volatile bool _removed;

    private VirtioBlkDevice(VirtioDevice dev, Virtqueue vq, BlkGeometry g, int depth, int maxRequestBytes, int maxDataSegments)
    {
        _dev = dev;
        _vq = vq;
        _capacity = (long)Math.Min(g.Capacity, long.MaxValue);
        BlockSize = g.BlockSize;
        SizeMax = g.SizeMax;
        SegMax = g.SegMax;
        _sizeMax = g.SizeMax == 0 ? int.MaxValue : (int)Math.Min(g.SizeMax, int.MaxValue);
        MaxDiscardSectors = g.MaxDiscardSectors;
        MaxWriteZeroesSectors = g.MaxWriteZeroesSectors;
        WriteZeroesMayUnmap = g.WriteZeroesMayUnmap;
        QueueDepth = depth;
        MaxRequestBytes = maxRequestBytes;
        var meta = dev.Arena.Allocate((long)depth * MetaBytes, 64);
        long dataStride = DmaArena.AlignUp(Math.Max(maxRequestBytes, BlkId.Bytes), 4096);
        var data = dev.Arena.Allocate(depth * dataStride, 4096);
        _requests = new Request[depth];
        _free = new Stack<Request>(depth);
        for (int i = depth - 1; i >= 0; i--)
        {
            var m = new Iova(meta.Value + (ulong)i * MetaBytes);
            _requests[i] = new Request(i, m, new Iova(data.Value + (ulong)((long)i * dataStride)), 2 + maxDataSegments);
            _free.Push(_requests[i]);
        }
    }

    /// <summary>The virtio device underneath (status, features, config).</summary>
    public VirtioDevice Device => _dev;

    /// <summary>Name of the vDPA device.</summary>
    public string Name => _dev.Name;

    /// <summary>Capacity in 512-byte sectors (re-read on a config change, like virtblk_update_capacity).</summary>
    public ulong Capacity => (ulong)Volatile.Read(ref _capacity);

    /// <summary>Logical block size (blk_size with VIRTIO_BLK_F_BLK_SIZE, else 512).</summary>
    public int BlockSize { get; }

    /// <summary>size_max (0 when VIRTIO_BLK_F_SIZE_MAX was not negotiated: no limit).</summary>
    public uint SizeMax { get; }

    /// <summary>seg_max (1 when VIRTIO_BLK_F_SEG_MAX was not negotiated, as virtio_blk assumes).</summary>
    public uint SegMax { get; }

    /// <summary>Data bytes per request; larger I/O is split into several requests.</summary>
    public int MaxRequestBytes { get; }

    /// <summary>Requests in flight at most.</summary>
    public int QueueDepth { get; }

    /// <summary>VIRTIO_BLK_F_RO: the device refuses writes.</summary>
    public bool IsReadOnly => _dev.HasFeature(BlkFeatures.Ro);

    /// <summary>VIRTIO_BLK_F_FLUSH: the device has a volatile cache to flush.</summary>
    public bool SupportsFlush => _dev.HasFeature(BlkFeatures.Flush);

    /// <summary>VIRTIO_BLK_F_DISCARD.</summary>
    public bool SupportsDiscard => _dev.HasFeature(BlkFeatures.Discard);

    /// <summary>VIRTIO_BLK_F_WRITE_ZEROES.</summary>
    public bool SupportsWriteZeroes => _dev.HasFeature(BlkFeatures.WriteZeroes);

    /// <summary>max_discard_sectors (larger discards are split).</summary>
    public uint MaxDiscardSectors { get; }

    /// <summary>max_write_zeroes_sectors (larger requests are split).</summary>
    public uint MaxWriteZeroesSectors { get; }

    /// <summary>write_zeroes_may_unmap.</summary>
    public bool WriteZeroesMayUnmap { get; }

    // ---- probe (virtblk_probe) ----

    private readonly record struct BlkGeometry(ulong Capacity, int BlockSize, uint SizeMax, uint SegMax,
        uint MaxDiscardSectors, uint MaxWriteZeroesSectors, bool WriteZeroesMayUnmap);

    /// <summary>Feature selection: the table (no inter-feature dependencies to fix up).</summary>
    internal static ulong SelectFeatures(ulong offered) => offered & (FeatureTable | VirtioDevice.TransportFeatures);

    /// <summary>Arena bytes this driver may need, knowing only the queue limit and the options.</summary>
    internal static long EstimateDmaBytes(int queueSize, VirtioDriverOptions options)
    {
        // Upper bound of the probe's rule below (indirect is not known before negotiation).
        int depth = options.QueueDepth > 0 ? Math.Min(options.QueueDepth, queueSize) : queueSize;
        int indirect = Math.Min(queueSize, 2 + MaxSegmentsCap);
        long stride = DmaArena.AlignUp(Math.Max(options.MaxRequestBytes, BlkId.Bytes), 4096);
        return VirtioDevice.RingBytesUpperBound(queueSize, indirect) + (long)depth * MetaBytes + 4096 + depth * stride + 4096;
    }

    /// <summary>virtblk_probe after FEATURES_OK: config, the request queue, the slots.</summary>
    internal static VirtioBlkDevice Probe(VirtioDevice dev, VirtioDriverOptions options)
    {
        ulong capacity = dev.ReadConfigUInt64(VirtioBlkConfig.CapacityOffset);
        uint sizeMax = dev.HasFeature(BlkFeatures.SizeMax) ? dev.ReadConfigUInt32(VirtioBlkConfig.SizeMaxOffset) : 0;
        uint segMax = dev.HasFeature(BlkFeatures.SegMax) ? dev.ReadConfigUInt32(VirtioBlkConfig.SegMaxOffset) : 1;
        if (segMax == 0) segMax = 1;
        int blkSize = SectorSize;
        if (dev.HasFeature(BlkFeatures.BlkSize))
        {
            uint b = dev.ReadConfigUInt32(VirtioBlkConfig.BlkSizeOffset);
            // virtblk_probe: a block size that is not a power of two between 512 and a page is ignored.
            if (b >= SectorSize && b <= 4096 && (b & (b - 1)) == 0) blkSize = (int)b;
        }
        uint maxDiscard = 0, maxWz = 0;
        bool wzUnmap = false;
        if (dev.HasFeature(BlkFeatures.Discard))
        {
            maxDiscard = dev.ReadConfigUInt32(VirtioBlkConfig.MaxDiscardSectorsOffset);
            if (maxDiscard == 0) maxDiscard = uint.MaxValue;
        }
        if (dev.HasFeature(BlkFeatures.WriteZeroes))
        {
            maxWz = dev.ReadConfigUInt32(VirtioBlkConfig.MaxWriteZeroesSectorsOffset);
            if (maxWz == 0) maxWz = uint.MaxValue;
            wzUnmap = dev.ReadConfigByte(VirtioBlkConfig.WriteZeroesMayUnmapOffset) != 0;
        }

        VirtioBlkDevice? blk = null;
        Action cb = () => blk?.OnInterrupt();
        bool indirect = dev.HasFeature(VirtioFeatures.RingIndirectDesc);

        // Segments per request: seg_max (capped); they must fit an indirect table, or the ring itself without one.
        int segs = (int)Math.Min(segMax, MaxSegmentsCap);
        var vqs = dev.FindVqs([cb], options.QueueSize, indirect ? 2 + segs : 0);
        var vq = vqs[0];
        if (vq.IndirectSegments >= 3)
        {
            segs = Math.Min(segs, vq.IndirectSegments - 2);
        }
        else
        {
            if (vq.Size < 3) throw new VdpaException(Errno.EINVAL, detail: $"virtio_blk: {dev.Name}: a ring of {vq.Size} cannot hold a request");
            segs = Math.Min(segs, vq.Size - 2);
        }

        long perRequest = Math.Min(options.MaxRequestBytes, (long)segs * (sizeMax == 0 ? int.MaxValue : sizeMax));
        perRequest -= perRequest % blkSize;
        if (perRequest < blkSize)
            throw new VdpaException(Errno.EINVAL, detail: $"virtio_blk: {dev.Name}: seg_max {segMax} × size_max {sizeMax} is below one block");

        // virtblk: queue depth defaults to the ring (half of it without indirect descriptors).
        int depth = options.QueueDepth > 0 ? options.QueueDepth : indirect ? vq.Size : Math.Max(1, vq.Size / 2);
        depth = Math.Min(depth, vq.Size);
        var g = new BlkGeometry(capacity, blkSize, sizeMax, segMax, maxDiscard, maxWz, wzUnmap);
        blk = new VirtioBlkDevice(dev, vq, g, depth, (int)perRequest, segs);
        return blk;
    }

    /// <summary>After DRIVER_OK.</summary>
    internal void Start() => _dev.EnableConfig(OnConfigChanged);

    // ---- public I/O ----

    /// <summary>Reads <paramref name="buffer"/>.Length bytes (a multiple of 512) starting at <paramref name="sector"/>.</summary>
    public ValueTask ReadAsync(ulong sector, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CheckRange(sector, buffer.Length);
        return buffer.Length == 0 ? ValueTask.CompletedTask : RunIoAsync(BlkRequestType.In, sector, buffer, default, cancellationToken);
    }

    /// <summary>Writes <paramref name="data"/> (a multiple of 512 bytes) starting at <paramref name="sector"/>.</summary>
    public ValueTask WriteAsync(ulong sector, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckRange(sector, data.Length);
        if (IsReadOnly) throw new NotSupportedException($"virtio_blk: {Name} is read-only");
        return data.Length == 0 ? ValueTask.CompletedTask : RunIoAsync(BlkRequestType.Out, sector, default, data, cancellationToken);
    }

    /// <summary>VIRTIO_BLK_T_FLUSH; completes at once when the device has no volatile cache (no VIRTIO_BLK_F_FLUSH).</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfRemoved();
        return SupportsFlush ? RunSimpleAsync(BlkRequestType.Flush, 0, 0, 0, cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>VIRTIO_BLK_T_DISCARD of <paramref name="count"/> sectors (split at max_discard_sectors).</summary>
    public ValueTask DiscardAsync(ulong sector, ulong count, CancellationToken cancellationToken = default)
    {
        if (!SupportsDiscard) throw new NotSupportedException($"virtio_blk: {Name} does not offer VIRTIO_BLK_F_DISCARD");
        if (IsReadOnly) throw new NotSupportedException($"virtio_blk: {Name} is read-only");
        CheckSectorRange(sector, count);
        return count == 0 ? ValueTask.CompletedTask : RunSimpleAsync(BlkRequestType.Discard, sector, count, 0, cancellationToken);
    }

    /// <summary>VIRTIO_BLK_T_WRITE_ZEROES of <paramref name="count"/> sectors; <paramref name="unmap"/> sets VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.</summary>
    public ValueTask WriteZeroesAsync(ulong sector, ulong count, bool unmap = false, CancellationToken cancellationToken = default)
    {
        if (!SupportsWriteZeroes) throw new NotSupportedException($"virtio_blk: {Name} does not offer VIRTIO_BLK_F_WRITE_ZEROES");
        if (IsReadOnly) throw new NotSupportedException($"virtio_blk: {Name} is read-only");
        CheckSectorRange(sector, count);
        return count == 0
            ? ValueTask.CompletedTask
            : RunSimpleAsync(BlkRequestType.WriteZeroes, sector, count, unmap ? VirtioBlkDiscardWriteZeroes.FlagUnmap : 0, cancellationToken);
    }

    /// <summary>VIRTIO_BLK_T_GET_ID: the device's serial (up to 20 bytes, NUL-terminated when shorter).</summary>
    public async Task<string> GetIdAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfRemoved();
        byte[] id = new byte[BlkId.Bytes];
        EnterOrThrow();
        try
        {
            var r = await AcquireAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                WriteHeader(r, BlkRequestType.GetId, 0);
                var segs = r.Segments;
                segs[0] = new DescriptorSegment(r.Header, VirtioBlkOutHdr.Size, false);
                segs[1] = new DescriptorSegment(r.Data, BlkId.Bytes, true);
                segs[2] = new DescriptorSegment(r.Status, 1, true);
                await SubmitAsync(r, 3).ConfigureAwait(false);
                CheckStatus(r, BlkRequestType.GetId, 0);
                if (!_dev.View.TryRead(r.Data, id)) throw Fault("GET_ID buffer");
            }
            finally
            {
                Release(r);
            }
        }
        finally
        {
            _dev.Arena.Exit();
        }
        int len = Array.IndexOf(id, (byte)0);
        return Encoding.Latin1.GetString(id, 0, len < 0 ? id.Length : len);
    }

    // ---- request machinery ----

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunIoAsync(BlkRequestType type, ulong sector, Memory<byte> readInto, ReadOnlyMemory<byte> writeFrom, CancellationToken cancellationToken)
    {
        EnterOrThrow();
        try
        {
            int total = type == BlkRequestType.In ? readInto.Length : writeFrom.Length;
            int done = 0;
            while (done < total)
            {
                int chunk = Math.Min(total - done, MaxRequestBytes);
                ulong at = sector + (ulong)(done / SectorSize);
                var r = await AcquireAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    var view = _dev.View;
                    WriteHeader(r, type, at);
                    if (type == BlkRequestType.Out && !view.TryWrite(r.Data, writeFrom.Span.Slice(done, chunk))) throw Fault("bounce buffer");
                    int count = BuildDataSegments(r, chunk, deviceWritable: type == BlkRequestType.In);
                    await SubmitAsync(r, count).ConfigureAwait(false);
                    CheckStatus(r, type, at);
                    if (type == BlkRequestType.In && !view.TryRead(r.Data, readInto.Span.Slice(done, chunk))) throw Fault("bounce buffer");
                }
                finally
                {
                    Release(r);
                }
                done += chunk;
            }
        }
        finally
        {
            _dev.Arena.Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunSimpleAsync(BlkRequestType type, ulong sector, ulong count, uint flags, CancellationToken cancellationToken)
    {
        EnterOrThrow();
        try
        {
            uint max = type == BlkRequestType.Discard ? MaxDiscardSectors : MaxWriteZeroesSectors;
            ulong done = 0;
            do
            {
                uint n = type == BlkRequestType.Flush ? 0 : (uint)Math.Min(count - done, max);
                var r = await AcquireAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    // Only IN/OUT carry a sector in the header (virtblk_setup_cmd); the range is in the payload.
                    WriteHeader(r, type, 0);
                    var segs = r.Segments;
                    segs[0] = new DescriptorSegment(r.Header, VirtioBlkOutHdr.Size, false);
                    int k = 1;
                    if (type != BlkRequestType.Flush)
                    {
                        var range = new VirtioBlkDiscardWriteZeroes { Sector = sector + done, NumSectors = n, Flags = flags };
                        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts");
                        if (!_dev.View.TryWrite(r.Payload, in range)) throw Fault("range buffer");
                        segs[k++] = new DescriptorSegment(r.Payload, VirtioBlkDiscardWriteZeroes.Size, false);
                    }
                    segs[k++] = new DescriptorSegment(r.Status, 1, true);
                    await SubmitAsync(r, k).ConfigureAwait(false);
                    CheckStatus(r, type, sector + done);
                }
                finally
                {
                    Release(r);
                }
                done += n;
            }
            while (done < count);
        }
        finally
        {
            _dev.Arena.Exit();
        }
    }

    private void WriteHeader(Request r, BlkRequestType type, ulong sector)
    {
        Span<byte> hdr = stackalloc byte[VirtioBlkOutHdr.Size + 1];
        BinaryPrimitives.WriteUInt32LittleEndian(hdr, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(hdr[4..], 0); // ioprio
        BinaryPrimitives.WriteUInt64LittleEndian(hdr[8..], sector);
        var view = _dev.View;
        // The status starts as something the device never writes, so a missing status write is caught.
        if (!view.TryWrite(r.Header, hdr[..VirtioBlkOutHdr.Size]) || !view.TryFill(r.Status, 1, 0xff)) throw Fault("request header");
    }

    private int BuildDataSegments(Request r, int bytes, bool deviceWritable)
    {
        var segs = r.Segments;
        segs[0] = new DescriptorSegment(r.Header, VirtioBlkOutHdr.Size, false);
        int k = 1;
        for (int off = 0; off < bytes;)
        {
            int n = Math.Min(bytes - off, _sizeMax);
            segs[k++] = new DescriptorSegment(new Iova(r.Data.Value + (ulong)off), (uint)n, deviceWritable);
            off += n;
        }
        segs[k++] = new DescriptorSegment(r.Status, 1, true);
        return k;
    }

    private void CheckStatus(Request r, BlkRequestType type, ulong sector)
    {
        Span<byte> s = stackalloc byte[1];
        if (!_dev.View.TryRead(r.Status, s)) throw Fault("status byte");
        if (s[0] != (byte)BlkStatus.Ok) throw new VirtioBlkException(Name, type, sector, (BlkStatus)s[0]);
    }

    /// <summary>Adds the request to the ring (waiting for descriptors when it is full), kicks, and waits for completion.</summary>
    private ValueTask<uint> SubmitAsync(Request r, int segmentCount)
    {
        long epoch = _ringSignal.Epoch;
        return TryAdd(r, segmentCount, out short version) ? new ValueTask<uint>(r, version) : SubmitSlowAsync(r, segmentCount, epoch);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<uint> SubmitSlowAsync(Request r, int segmentCount, long epoch)
    {
        while (true)
        {
            // No descriptors free (requests with many segments and no indirect descriptors): wait for completions.
            // Not cancellable: the caller holds a slot and will retry as soon as anything completes.
            await _ringSignal.WaitAsync(epoch, CancellationToken.None).ConfigureAwait(false);
            epoch = _ringSignal.Epoch;
            if (TryAdd(r, segmentCount, out short version)) return await new ValueTask<uint>(r, version).ConfigureAwait(false);
        }
    }

    private bool TryAdd(Request r, int segmentCount, out short version)
    {
        bool kick;
        lock (_vq.Lock)
        {
            ThrowIfRemoved();
            var view = _dev.View;
            version = r.Arm();
            if (!_vq.Ring.TryAdd(view, r.Segments.AsSpan(0, segmentCount), r.Index))
            {
                if (_vq.Ring.IsBroken) throw QueueBroken();
                return false;
            }
            r.InFlight = true;
            kick = _vq.Ring.KickPrepare(view);
        }
        if (kick) _vq.Notify();
        return true;
    }

    /// <summary>The request queue's callback (virtblk_done), on the device's thread: reap used requests, wake their owners.</summary>
    private void OnInterrupt()
    {
        if (!_dev.Arena.TryEnter()) return;
        try
        {
            var view = _dev.View;
            lock (_vq.Lock)
            {
                if (_removed) return;
                while (_vq.Ring.TryGetUsed(view, out int token, out uint length))
                {
                    var r = _requests[token];
                    if (!r.InFlight) continue;
                    r.InFlight = false;
                    r.Complete(length, null); // continuation runs on the thread pool
                }
                if (_vq.Ring.IsBroken) FailInFlightUnsynchronized(QueueBroken);
            }
        }
        finally
        {
            _dev.Arena.Exit();
        }
        _ringSignal.Set();
    }

    private ValueTask<Request> AcquireAsync(CancellationToken cancellationToken)
    {
        long epoch = _slotSignal.Epoch;
        lock (_free)
        {
            ThrowIfRemoved();
            if (_free.Count > 0) return new ValueTask<Request>(_free.Pop());
        }
        return AcquireSlowAsync(epoch, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Request> AcquireSlowAsync(long epoch, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _slotSignal.WaitAsync(epoch, cancellationToken).ConfigureAwait(false);
            epoch = _slotSignal.Epoch;
            lock (_free)
            {
                ThrowIfRemoved();
                if (_free.Count > 0) return _free.Pop();
            }
        }
    }

    private void Release(Request r)
    {
        lock (_free) _free.Push(r);
        _slotSignal.Set();
    }

    // ---- config and lifetime ----

    private void OnConfigChanged()
    {
        // virtblk_config_changed_work: the capacity may have changed.
        ulong cap = _dev.ReadConfigUInt64(VirtioBlkConfig.CapacityOffset);
        Volatile.Write(ref _capacity, (long)Math.Min(cap, long.MaxValue));
    }

    /// <summary>After the device was reset by remove: fail what is in flight and every waiter; later calls throw.</summary>
    internal void OnRemoved()
    {
        lock (_vq.Lock)
        {
            _removed = true;
            FailInFlightUnsynchronized(_dev.CreateRemovedError);
        }
        _ringSignal.Fault(_dev.CreateRemovedError);
        _slotSignal.Fault(_dev.CreateRemovedError);
    }

    private void FailInFlightUnsynchronized(Func<Exception> error)
    {
        foreach (var r in _requests)
        {
            if (!r.InFlight) continue;
            r.InFlight = false;
            r.Complete(0, error());
        }
    }

    private void CheckRange(ulong sector, int length)
    {
        ThrowIfRemoved();
        if (length % SectorSize != 0) throw new ArgumentException($"length {length} is not a multiple of {SectorSize}", nameof(length));
        CheckSectorRange(sector, (ulong)(length / SectorSize));
    }

    private void CheckSectorRange(ulong sector, ulong count)
    {
        ThrowIfRemoved();
        ulong cap = Capacity;
        if (sector > cap || count > cap - sector)
            throw new ArgumentOutOfRangeException(nameof(sector), $"sectors {sector}+{count} exceed the capacity {cap}");
    }

    private void EnterOrThrow()
    {
        if (_removed || !_dev.Arena.TryEnter()) throw _dev.CreateRemovedError();
    }

    private void ThrowIfRemoved()
    {
        if (_removed) throw _dev.CreateRemovedError();
    }

    private IOException QueueBroken() => new($"virtio_blk: {Name}: virtqueue 0 is broken ({_vq.Ring.Error})");

    private InvalidOperationException Fault(string what) => new($"virtio_blk: {Name}: {what} is not accessible in the driver's DMA memory");

    /// <inheritdoc />
    public override string ToString() => $"virtio_blk {Name} {Capacity} sectors";

    /// <summary>One request slot: header, range payload, status and bounce buffer in DMA memory, and its completion source.</summary>
    private sealed class Request(int index, Iova meta, Iova data, int maxSegments) : IValueTaskSource<uint>
    {
        private ManualResetValueTaskSourceCore<uint> _core = new() { RunContinuationsAsynchronously = true };

        public int Index { get; } = index;
        public Iova Header { get; } = meta;
        public Iova Payload { get; } = new(meta.Value + PayloadOffset);
        public Iova Status { get; } = new(meta.Value + StatusOffset);
        public Iova Data { get; } = data;
        public DescriptorSegment[] Segments { get; } = new DescriptorSegment[maxSegments];

        /// <summary>Guarded by the queue lock: the device owns the request.</summary>
        public bool InFlight { get; set; }

        /// <summary>Prepares a new completion (under the queue lock, before the request is visible to the device).</summary>
        public short Arm()
        {
            _core.Reset();
            return _core.Version;
        }

        public void Complete(uint length, Exception? error)
        {
            if (error is null) _core.SetResult(length);
            else _core.SetException(error);
        }

        public uint GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}
