using System.Buffers;
using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// vdpa_sim_blk (Linux 6.12): one request queue over an <see cref="IBlockBackend"/> (a sparse RAM disk as in the
/// kernel, or a raw image file). Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES with the kernel's checks.
/// </summary>
internal sealed class VdpaSimBlkDevice : VdpaSimDevice
{
    /// <summary>VDPASIM_BLK_FEATURES: base | SIZE_MAX | SEG_MAX | BLK_SIZE | FLUSH | TOPOLOGY | MQ | DISCARD | WRITE_ZEROES (0x308007646).</summary>
    public const ulong SupportedFeatureSet = BaseFeatures
        | (1UL << BlkFeatures.Flush) | (1UL << BlkFeatures.SizeMax) | (1UL << BlkFeatures.SegMax) | (1UL << BlkFeatures.BlkSize)
        | (1UL << BlkFeatures.Topology) | (1UL << BlkFeatures.Mq) | (1UL << BlkFeatures.Discard) | (1UL << BlkFeatures.WriteZeroes);

    /// <summary>
    /// Features of a file-backed device (uvdpa extension): the kernel set plus VIRTIO_RING_F_INDIRECT_DESC. With
    /// size_max 4 KiB and seg_max 32 a 128 KiB request is 34 descriptors; without indirect tables a 256-entry ring
    /// then holds only 7 such requests, which caps large-block throughput far below a real disk's queue depth. The
    /// queues accept indirect descriptors anyway (vringh does); the RAM device keeps the kernel's exact set.
    /// </summary>
    public const ulong FileBackedFeatureSet = SupportedFeatureSet | (1UL << VirtioFeatures.RingIndirectDesc);

    /// <summary>VDPASIM_BLK_CAPACITY in sectors (128 MiB).</summary>
    public const ulong DefaultCapacitySectors = 0x40000;

    /// <summary>VDPASIM_BLK_SIZE_MAX.</summary>
    public const uint SizeMax = 0x1000;

    /// <summary>VDPASIM_BLK_SEG_MAX.</summary>
    public const uint SegMax = 32;

    /// <summary>VDPASIM_BLK_DWZ_MAX_SECTORS.</summary>
    public const uint DwzMaxSectors = uint.MaxValue;

    /// <summary>VDPASIM_BLK_VQ_NUM.</summary>
    public const int VqNum = 1;

    /// <summary>The GET_ID answer: "vdpa_blk_sim" NUL-padded to VIRTIO_BLK_ID_BYTES.</summary>
    private static ReadOnlySpan<byte> IdString => "vdpa_blk_sim\0\0\0\0\0\0\0\0"u8;

    private const int BounceSize = 64 * 1024;
    private const int DirectMax = 1 << 20; // largest piece handed to the backend in place (one segment at most)
    private const int SectorShift = VirtioBlkConfig.SectorShift;

    private readonly IBlockBackend _backend;
    private readonly bool _ownsBackend;
    private readonly ulong _capacitySectors;
    private readonly int _batch;
    private volatile IInflightTracker? _inflight;
    private long _requests, _errors, _unsupported, _readBytes, _writtenBytes;

    public VdpaSimBlkDevice(string name, ulong supportedFeatures, IBlockBackend backend, bool ownsBackend, SimulatorOptions options)
        : base(new VdpaSimDeviceAttributes
        {
            Name = name,
            DeviceId = (uint)VirtioDeviceId.Block,
            NumVqs = VqNum,
            NumGroups = 1,
            NumAddressSpaces = 1,
            SupportedFeatures = supportedFeatures,
            ConfigSize = VirtioBlkConfig.Size,
            Batch = options.BlkBatch,
        }, options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _backend = backend;
        _ownsBackend = ownsBackend;
        _capacitySectors = (ulong)backend.Capacity >> SectorShift;
        _batch = Math.Max(1, Attributes.Batch);
    }

    /// <summary>The storage (tests).</summary>
    internal IBlockBackend Backend => _backend;

    /// <inheritdoc />
    private protected override VdpaOptionalOps ExtraOptionalOps => VdpaOptionalOps.InflightTracking;

    /// <inheritdoc />
    public override int SetInflightTracker(IInflightTracker? tracker)
    {
        _inflight = tracker;
        return 0;
    }

    /// <inheritdoc />
    public override int GetQueueCounters(int index, List<VendorStat> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        if (index != 0) return -Errno.EINVAL;
        counters.Add(new("requests", (ulong)Volatile.Read(ref _requests)));
        counters.Add(new("errors", (ulong)Volatile.Read(ref _errors)));
        counters.Add(new("unsupported", (ulong)Volatile.Read(ref _unsupported)));
        counters.Add(new("read bytes", (ulong)Volatile.Read(ref _readBytes)));
        counters.Add(new("written bytes", (ulong)Volatile.Read(ref _writtenBytes)));
        return 0;
    }

    /// <inheritdoc />
    private protected override void RefreshConfig(Span<byte> config)
    {
        // vdpasim_blk_get_config: rebuilt from scratch on every read.
        config[..VirtioBlkConfig.Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(config[VirtioBlkConfig.CapacityOffset..], _capacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.SizeMaxOffset..], SizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.SegMaxOffset..], SegMax);
        BinaryPrimitives.WriteUInt16LittleEndian(config[VirtioBlkConfig.NumQueuesOffset..], VqNum);
        BinaryPrimitives.WriteUInt16LittleEndian(config[VirtioBlkConfig.MinIoSizeOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.OptIoSizeOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.BlkSizeOffset..], VirtioBlkConfig.SectorSize);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.DiscardSectorAlignmentOffset..], VirtioBlkConfig.SectorSize);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.MaxDiscardSectorsOffset..], DwzMaxSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.MaxDiscardSegOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.MaxWriteZeroesSectorsOffset..], DwzMaxSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[VirtioBlkConfig.MaxWriteZeroesSegOffset..], 1);
    }

    /// <inheritdoc />
    private protected override void OnFree()
    {
        if (_ownsBackend) _backend.Dispose();
    }

    /// <summary>vdpasim_blk_work.</summary>
    private protected override bool ProcessQueues()
    {
        var vq = Vq(0);
        if (!vq.Ready) return false;
        byte[]? bounce = null;
        try
        {
            int requests = 0;
            while (HandleRequest(vq, ref bounce))
            {
                if (++requests >= _batch) return true;
            }
            return false;
        }
        finally
        {
            if (bounce is not null) ArrayPool<byte>.Shared.Return(bounce);
        }
    }

    /// <summary>
    /// vdpasim_blk_check_range, with the 6.17 underflow fixed: a start past the end is an error instead of a huge
    /// <c>capacity - start</c>. <paramref name="bytes"/> additionally keeps a length that is not a whole number of
    /// sectors inside the disk (the kernel would copy past its buffer there).
    /// </summary>
    private bool CheckRange(ulong start, ulong numSectors, ulong maxSectors, ulong bytes)
    {
        if (start > _capacitySectors) return false;
        if (numSectors > maxSectors) return false;
        if (numSectors > _capacitySectors - start) return false;
        return bytes <= ((_capacitySectors - start) << SectorShift);
    }

    /// <summary>
    /// vdpasim_blk_handle_req. Returns true when the request was completed with its status in the last writable byte;
    /// false when nothing was available or the request was structurally bad (then it is completed with the bytes
    /// pushed so far and the run stops, as in the kernel).
    /// </summary>
    private bool HandleRequest(VdpaSimVirtqueue vq, ref byte[]? bounce)
    {
        var view = ViewOf(vq);
        var chain = vq.Chain;
        if (vq.Queue.TryPop(view, chain) != PopStatus.Chain) return false;
        ushort head = chain.Head;
        var inflight = _inflight;
        inflight?.OnTaken(vq.Index, head);
        Interlocked.Increment(ref _requests);

        ulong pushed = 0;
        bool handled = false;
        var reader = chain.CreateReader();
        var writer = chain.CreateWriter();

        // vringh builds no iov for a zero-length descriptor, so "at least one out/in iov" means a non-empty part; the
        // last in-iov is then never empty and the status byte always fits.
        if (chain.ReadableLength >= 1 && chain.WritableLength >= 1)
        {
            ulong toPush = chain.WritableLength - 1;
            ulong toPull = chain.ReadableLength;
            Span<byte> hdr = stackalloc byte[VirtioBlkOutHdr.Size];
            if (reader.Read(view, hdr) == hdr.Length)
            {
                toPull -= VirtioBlkOutHdr.Size;
                var type = (BlkRequestType)BinaryPrimitives.ReadUInt32LittleEndian(hdr);
                ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(hdr[8..]);
                BlkStatus status;
                if (type != BlkRequestType.In && type != BlkRequestType.Out && sector != 0)
                    status = BlkStatus.IoErr;
                else
                    status = Execute(type, sector, toPush, toPull, view, ref reader, ref writer, ref pushed, ref bounce);

                if (status != BlkStatus.Ok) Interlocked.Increment(ref status == BlkStatus.Unsupp ? ref _unsupported : ref _errors);

                // Skip what was not written so the status lands in the last byte. When more than to_push was pushed
                // (GET_ID into a short buffer) the kernel's unsigned difference wraps and skips everything; the status
                // push then fails and the request ends as a structural error.
                if (pushed < toPush) writer.Skip(toPush - pushed);
                else if (pushed > toPush) writer.Skip(writer.Remaining);

                Span<byte> statusByte = stackalloc byte[1];
                statusByte[0] = (byte)status;
                if (writer.Write(view, statusByte) == 1)
                {
                    pushed++;
                    handled = true;
                }
            }
        }
        else
        {
            Interlocked.Increment(ref _errors);
        }

        inflight?.OnCompleting(vq.Index, head);
        Complete(vq, head, (uint)pushed);
        inflight?.OnCompleted(vq.Index, head);
        return handled;
    }

    private BlkStatus Execute(BlkRequestType type, ulong sector, ulong toPush, ulong toPull, DmaView view,
        ref ChainReader reader, ref ChainWriter writer, ref ulong pushed, ref byte[]? bounce)
    {
        const ulong ioMaxSectors = (ulong)SizeMax * SegMax; // the kernel compares sectors with bytes*segments
        try
        {
            switch (type)
            {
                case BlkRequestType.In:
                {
                    if (!CheckRange(sector, toPush >> SectorShift, ioMaxSectors, toPush)) return BlkStatus.IoErr;
                    long offset = (long)(sector << SectorShift);
                    ulong left = toPush;
                    while (left > 0)
                    {
                        int n = (int)Math.Min(left, (ulong)DirectMax);
                        // In place when the segment is mapped writable (one copy, as a real device's DMA); else
                        // through the bounce buffer, whose write reports the fault.
                        if (writer.DangerousTryGetSpan(view, n, out var direct))
                        {
                            n = direct.Length;
                            _backend.Read(offset, direct);
                            writer.Skip((ulong)n);
                            pushed += (ulong)n;
                        }
                        else
                        {
                            n = Math.Min(n, BounceSize);
                            var buf = bounce ??= ArrayPool<byte>.Shared.Rent(BounceSize);
                            _backend.Read(offset, buf.AsSpan(0, n));
                            int w = writer.Write(view, buf.AsSpan(0, n));
                            if (w < 0) return BlkStatus.IoErr;
                            pushed += (ulong)w;
                        }
                        offset += n;
                        left -= (ulong)n;
                    }
                    Interlocked.Add(ref _readBytes, (long)toPush);
                    return BlkStatus.Ok;
                }
                case BlkRequestType.Out:
                {
                    if (!CheckRange(sector, toPull >> SectorShift, ioMaxSectors, toPull)) return BlkStatus.IoErr;
                    long offset = (long)(sector << SectorShift);
                    ulong left = toPull;
                    while (left > 0)
                    {
                        int n = (int)Math.Min(left, (ulong)DirectMax);
                        if (reader.DangerousTryGetSpan(view, n, out var direct))
                        {
                            // In place: the backend copies the guest's bytes once and never interprets them.
                            _backend.Write(offset, direct);
                            reader.Skip((ulong)direct.Length);
                            n = direct.Length;
                        }
                        else
                        {
                            n = Math.Min(n, BounceSize);
                            var buf = bounce ??= ArrayPool<byte>.Shared.Rent(BounceSize);
                            int r = reader.Read(view, buf.AsSpan(0, n));
                            if (r < 0) return BlkStatus.IoErr;
                            _backend.Write(offset, buf.AsSpan(0, r));
                            if (r < n) break;
                        }
                        offset += n;
                        left -= (ulong)n;
                    }
                    Interlocked.Add(ref _writtenBytes, (long)toPull);
                    return BlkStatus.Ok;
                }
                case BlkRequestType.GetId:
                {
                    int w = writer.Write(view, IdString);
                    if (w < 0) return BlkStatus.IoErr;
                    pushed += (ulong)w;
                    return BlkStatus.Ok;
                }
                case BlkRequestType.Flush:
                    // The completion is published only after this returns: FLUSH is durable when the driver sees it.
                    _backend.Flush();
                    return BlkStatus.Ok;
                case BlkRequestType.Discard:
                case BlkRequestType.WriteZeroes:
                {
                    if (toPull != VirtioBlkDiscardWriteZeroes.Size) return BlkStatus.IoErr;
                    Span<byte> range = stackalloc byte[VirtioBlkDiscardWriteZeroes.Size];
                    if (reader.Read(view, range) != range.Length) return BlkStatus.IoErr;
                    ulong start = BinaryPrimitives.ReadUInt64LittleEndian(range);
                    uint numSectors = BinaryPrimitives.ReadUInt32LittleEndian(range[8..]);
                    uint flags = BinaryPrimitives.ReadUInt32LittleEndian(range[12..]);
                    if (type == BlkRequestType.Discard && flags != 0) return BlkStatus.Unsupp;
                    if (type == BlkRequestType.WriteZeroes && (flags & ~VirtioBlkDiscardWriteZeroes.FlagUnmap) != 0) return BlkStatus.Unsupp;
                    ulong bytes = (ulong)numSectors << SectorShift;
                    if (!CheckRange(start, numSectors, DwzMaxSectors, bytes)) return BlkStatus.IoErr;
                    long offset = (long)(start << SectorShift);
                    if (type == BlkRequestType.WriteZeroes) _backend.WriteZeroes(offset, (long)bytes);
                    else _backend.Discard(offset, (long)bytes);
                    return BlkStatus.Ok;
                }
                default:
                    return BlkStatus.IoErr;
            }
        }
        catch (IOException)
        {
            // The image failed us (EIO, ENOSPC, fdatasync error): the request fails, the device carries on.
            return BlkStatus.IoErr;
        }
    }
}
