using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver.Internal;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// struct virtio_device as virtio_vdpa registers it: the virtio core's view of one vDPA device (status, feature
/// negotiation, config space, virtqueues). The class drivers (<see cref="VirtioNetDevice"/>,
/// <see cref="VirtioBlkDevice"/>) sit on top. Thread-safe.
/// </summary>
public sealed class VirtioDevice
{
    private const int MaxGenerationRetries = 1000;

    private readonly VdpaDevice _vdpa;
    private readonly VdpaConfigOps _ops;
    private Virtqueue[] _vqs = [];
    private volatile bool _configEnabled;
    private volatile bool _removed;
    private int _arenaReleased;
    private Action? _configHandler;

    internal VirtioDevice(VdpaDevice vdpa, DmaArena arena)
    {
        _vdpa = vdpa;
        _ops = vdpa.Ops;
        Arena = arena;
        DeviceId = (VirtioDeviceId)_ops.GetDeviceId();
        VendorId = _ops.GetVendorId();
    }

    /// <summary>The vDPA device's name.</summary>
    public string Name => _vdpa.Name;

    /// <summary>The underlying vDPA device.</summary>
    public VdpaDevice VdpaDevice => _vdpa;

    /// <summary>Virtio device id (id.device).</summary>
    public VirtioDeviceId DeviceId { get; }

    /// <summary>Vendor id (id.vendor).</summary>
    public uint VendorId { get; }

    /// <summary>The device status byte, read from the device.</summary>
    public DeviceStatus Status => (DeviceStatus)_vdpa.GetStatus();

    /// <summary>Features the device offered (get_device_features at probe).</summary>
    public ulong DeviceFeatures { get; private set; }

    /// <summary>Features the driver accepted (dev->features after finalize_features).</summary>
    public ulong NegotiatedFeatures { get; private set; }

    /// <summary>True once the driver's remove ran.</summary>
    public bool IsRemoved => _removed;

    /// <summary>Sizes of the virtqueues the driver set up (empty after remove).</summary>
    public IReadOnlyList<int> QueueSizes => Array.ConvertAll(Volatile.Read(ref _vqs), q => q.Size);

    /// <summary>Config space length (get_config_size).</summary>
    public int ConfigSize => _ops.GetConfigSize();

    /// <summary>Config generation (get_generation; 0 when the device has none).</summary>
    public uint ConfigGeneration => _ops.Supports(VdpaOptionalOps.Generation) ? _ops.GetGeneration() : 0;

    /// <summary>Raised on the thread pool after the device signalled a config change (after DRIVER_OK only).</summary>
    public event Action<VirtioDevice>? ConfigChanged;

    internal DmaArena Arena { get; }

    internal DmaView View => Arena.View;

    /// <summary>A fresh "device was removed" exception (one per failed operation, so stack traces do not mix).</summary>
    internal VirtioDeviceRemovedException CreateRemovedError() => new(_vdpa.Name);

    /// <summary>True when feature <paramref name="bit"/> was negotiated (virtio_has_feature).</summary>
    public bool HasFeature(int bit) => VirtioFeatures.Has(NegotiatedFeatures, bit);

    /// <summary>
    /// Reads config bytes, re-reading while the config generation changes so the bytes are one consistent snapshot
    /// (__virtio_cread_many / virtio_cread_bytes).
    /// </summary>
    public void ReadConfig(int offset, Span<byte> destination)
    {
        ThrowIfRemoved();
        for (int attempt = 0; ; attempt++)
        {
            uint before = ConfigGeneration;
            _vdpa.GetConfig(offset, destination);
            if (ConfigGeneration == before) return;
            if (attempt >= MaxGenerationRetries)
                throw new IOException($"virtio: config generation of {Name} keeps changing");
        }
    }

    /// <summary>Reads a config byte.</summary>
    public byte ReadConfigByte(int offset)
    {
        Span<byte> b = stackalloc byte[1];
        ReadConfig(offset, b);
        return b[0];
    }

    /// <summary>Reads a little-endian u16 config field.</summary>
    public ushort ReadConfigUInt16(int offset)
    {
        Span<byte> b = stackalloc byte[2];
        ReadConfig(offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    /// <summary>Reads a little-endian u32 config field.</summary>
    public uint ReadConfigUInt32(int offset)
    {
        Span<byte> b = stackalloc byte[4];
        ReadConfig(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>Reads a little-endian u64 config field (generation-checked, virtio_cread64).</summary>
    public ulong ReadConfigUInt64(int offset)
    {
        Span<byte> b = stackalloc byte[8];
        ReadConfig(offset, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>Writes config bytes (virtio_cwrite).</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        ThrowIfRemoved();
        _vdpa.SetConfig(offset, source);
    }

    // ---- virtio core (drivers/virtio/virtio.c) ----

    /// <summary>virtio_add_status: status |= bits (read-modify-write through get_status/set_status).</summary>
    internal void AddStatus(DeviceStatus bits) => _vdpa.SetStatus((byte)(_vdpa.GetStatus() | (byte)bits));

    /// <summary>
    /// virtio_dev_probe's negotiation: intersect the device's features with the driver's table, keep the transport
    /// bits the ring supports (vring_transport_features), then finalize_features (vdpa_set_features) and, for
    /// VERSION_1 devices, FEATURES_OK with a status re-read (virtio_features_ok). Throws <see cref="VdpaException"/>.
    /// </summary>
    internal void NegotiateFeatures(Func<ulong, ulong> selectFeatures)
    {
        DeviceFeatures = _ops.GetDeviceFeatures();
        ulong features = selectFeatures(DeviceFeatures) & DeviceFeatures;
        NegotiatedFeatures = features;
        int err = _vdpa.SetFeatures(features);
        if (err != 0)
            throw new VdpaException(err < 0 ? -err : Errno.EIO, detail: $"virtio: {Name}: set_driver_features(0x{features:x}) failed: {err}");
        if (!VirtioFeatures.Has(features, VirtioFeatures.Version1)) return; // legacy: no FEATURES_OK step
        AddStatus(DeviceStatus.FeaturesOk);
        byte status = _vdpa.GetStatus();
        if ((status & (byte)DeviceStatus.FeaturesOk) == 0)
            throw new VdpaException(Errno.ENODEV, detail: $"virtio: device refuses features: {status:x}");
    }

    /// <summary>
    /// The transport bits virtio_ring implements here (vring_transport_features keeps these, drops the rest; ANY_LAYOUT,
    /// below the transport range, is dropped because no driver table lists it).
    /// </summary>
    internal static ulong TransportFeatures { get; } =
        VirtioFeatures.Bit(VirtioFeatures.RingIndirectDesc) | VirtioFeatures.Bit(VirtioFeatures.RingEventIdx) |
        VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.AccessPlatform);

    /// <summary>Upper bound of the arena bytes one ring of <paramref name="size"/> entries takes (any alignment up to 64 KiB).</summary>
    internal static long RingBytesUpperBound(int size, int indirectSegments)
        => SplitRingLayout.DescTableSize(size) + SplitRingLayout.AvailSize(size) + SplitRingLayout.UsedSize(size)
           + (long)size * indirectSegments * VirtqDesc.Size + 4 * 65536L;

    /// <summary>
    /// virtio_vdpa_find_vqs: sets up queues 0..callbacks.Length-1 exactly as virtio_vdpa_setup_vq does, then
    /// set_config_cb. <paramref name="indirectSegments"/> is the indirect table size wanted (descriptors per chain) when
    /// INDIRECT_DESC was negotiated (0: none); it is capped at the ring size (see <c>Virtqueue.IndirectSegments</c>). Throws <see cref="VdpaException"/>; on failure every queue is torn down.
    /// </summary>
    internal Virtqueue[] FindVqs(ReadOnlySpan<Action?> callbacks, int maxQueueSize, int indirectSegments)
    {
        var vqs = new List<Virtqueue>(callbacks.Length);
        try
        {
            for (int i = 0; i < callbacks.Length; i++) vqs.Add(SetupVq(i, callbacks[i], maxQueueSize, indirectSegments));
        }
        catch
        {
            foreach (var vq in vqs) _ops.SetVqReady(vq.Index, false);
            throw;
        }
        _ops.SetConfigCallback(new VdpaCallback(OnConfigInterrupt));
        var result = vqs.ToArray();
        Volatile.Write(ref _vqs, result);
        return result;
    }

    private Virtqueue SetupVq(int index, Action? callback, int maxQueueSize, int indirectSegments)
    {
        if (index >= _vdpa.NumVqs) throw new VdpaException(Errno.ENOENT, detail: $"virtio: {Name} has {_vdpa.NumVqs} vqs, need vq {index}");
        // Queue shouldn't already be set up.
        if (_ops.GetVqReady(index)) throw new VdpaException(Errno.ENOENT, detail: $"virtio: {Name} vq {index} is already ready");
        try
        {
            int max = _ops.Supports(VdpaOptionalOps.VqSize) ? _ops.GetVqSize(index) : _ops.GetVqNumMax();
            if (max == 0) throw new VdpaException(Errno.ENOENT, detail: $"virtio: {Name} vq {index} has size 0");
            int min = _ops.Supports(VdpaOptionalOps.VqNumMin) ? _ops.GetVqNumMin() : 1;
            int size = max;
            // may_reduce_num: the driver may pick a smaller ring when min != max.
            if (maxQueueSize > 0 && max != min && maxQueueSize < size) size = Math.Max(maxQueueSize, min);
            if ((size & (size - 1)) != 0)
                throw new VdpaException(Errno.EINVAL, detail: $"virtio: {Name}: bad virtqueue length {size}");
            int align = (int)_ops.GetVqAlign();
            if (align <= 0 || (align & (align - 1)) != 0 || align > 65536)
                throw new VdpaException(Errno.EINVAL, detail: $"virtio: {Name}: bad vq alignment {align}");

            // vring_create_virtqueue: rings in the driver's DMA memory (Linux layout: used ring aligned to align).
            bool eventIdx = HasFeature(VirtioFeatures.RingEventIdx);
            int tableSize = HasFeature(VirtioFeatures.RingIndirectDesc) ? Math.Min(indirectSegments, size) : 0;
            bool indirect = tableSize >= 2;
            var desc = Arena.Allocate(SplitRingLayout.DescTableSize(size), Math.Max(align, SplitRingLayout.DescAlign));
            var avail = Arena.Allocate(SplitRingLayout.AvailSize(size), SplitRingLayout.AvailAlign);
            var used = Arena.Allocate(SplitRingLayout.UsedSize(size), Math.Max(align, SplitRingLayout.UsedAlign));
            Iova? pool = indirect ? Arena.Allocate((long)size * tableSize * VirtqDesc.Size, SplitRingLayout.DescAlign) : null;
            var ring = new SplitDriverQueue(size, desc, avail, used, eventIdx, pool, indirect ? tableSize : 0);
            ring.Initialize(View);
            var vq = new Virtqueue(_ops, index, ring, desc, avail, used, callback, indirect ? tableSize : 0);

            _ops.SetVqCallback(index, new VdpaCallback(vq.Interrupt));
            _ops.SetVqNum(index, (uint)size);
            if (_ops.SetVqAddress(index, desc, avail, used) != 0)
                throw new VdpaException(Errno.EINVAL, detail: $"virtio: {Name}: set_vq_address({index}) failed");
            int err = _ops.SetVqState(index, new VqState(0)); // reset virtqueue state index
            if (err != 0) throw new VdpaException(err < 0 ? -err : Errno.EIO, detail: $"virtio: {Name}: set_vq_state({index}) failed: {err}");
            _ops.SetVqReady(index, true);
            return vq;
        }
        catch
        {
            _ops.SetVqReady(index, false);
            throw;
        }
    }

    /// <summary>Enables config-change delivery (virtio_config_enable, after DRIVER_OK).</summary>
    internal void EnableConfig(Action handler)
    {
        _configHandler = handler;
        _configEnabled = true;
    }

    private void OnConfigInterrupt()
    {
        // virtio_config_changed: cheap on the device's thread; the driver's handler runs on the thread pool
        // (virtnet_config_changed_work runs from a workqueue for the same reason).
        if (!_configEnabled || _removed) return;
        ThreadPool.UnsafeQueueUserWorkItem(static s => ((VirtioDevice)s!).RunConfigChanged(), this, preferLocal: false);
    }

    private void RunConfigChanged()
    {
        if (_removed) return;
        try
        {
            _configHandler?.Invoke();
            ConfigChanged?.Invoke(this);
        }
        catch (ObjectDisposedException)
        {
            // Removed while handling; nothing to update.
        }
    }

    /// <summary>
    /// The driver's remove: stop config delivery, reset the device (it stops using the rings), deactivate every vq
    /// (virtio_vdpa_del_vqs) and unbind the memory. The arena is released by <see cref="ReleaseMemory"/>.
    /// </summary>
    internal void Remove()
    {
        _configEnabled = false;
        _removed = true;
        _vdpa.Reset();
        DeleteVqs();
    }

    /// <summary>virtio_vdpa_del_vqs: deactivate every queue the driver set up.</summary>
    internal void DeleteVqs()
    {
        foreach (var vq in Interlocked.Exchange(ref _vqs, []))
        {
            _ops.SetVqReady(vq.Index, false);
        }
    }

    /// <summary>Marks the device removed without touching it (probe failure paths).</summary>
    internal void MarkRemoved()
    {
        _configEnabled = false;
        _removed = true;
    }

    /// <summary>Drops the owner's reference on the DMA memory (the last in-flight user unmaps it).</summary>
    internal void ReleaseMemory()
    {
        if (Interlocked.Exchange(ref _arenaReleased, 1) == 0) Arena.Exit();
    }

    internal void ThrowIfRemoved()
    {
        if (_removed) throw CreateRemovedError();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({DeviceId})";
}
