using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend;

/// <summary>
/// The vhost-user front-end parent: a vDPA device whose data path is an external vhost-user back-end
/// (qemu-storage-daemon, SPDK, DPDK, our own vhost_vdpa socket). Config ops become vhost-user requests, as QEMU's
/// vhost-user code turns virtio transport events into them; any vDPA bus driver (virtio_vdpa's virtio_blk) then
/// drives the back-end.
/// </summary>
/// <remarks>
/// <para>Mapping. get_device_features = GET_FEATURES without bit 30, LOG_ALL and ACCESS_PLATFORM (no vhost IOTLB
/// here, so descriptors carry IOVAs the back-end resolves through the memory table). set_driver_features =
/// SET_FEATURES (acked with REPLY_ACK). get/set_config = GET/SET_CONFIG (PROTOCOL_F_CONFIG is required).
/// DRIVER_OK = SET_MEM_TABLE, then every ready ring is started: NUM, BASE, ADDR, CALL, KICK, ENABLE. Ready(false),
/// reset and free stop rings with ENABLE(0) + GET_VRING_BASE. kick_vq writes the ring's kick eventfd; a thread per
/// running ring waits on its call eventfd and invokes the vq callback.</para>
/// <para>Memory. The device declares <see cref="VdpaOptionalOps.SharedMemory"/>, so drivers bind memfd-backed
/// regions. The back-end's "guest-physical" space is the device's IOVA space: with pass-through (no map) each bound
/// region is sent at its own address; after set_map each IOTLB entry becomes one memory-table region whose fd offset
/// points at the entry's target (so any page-aligned map of at most 8 entries is served without an IOTLB protocol).
/// Ring addresses are sent as front-end virtual addresses IOVA + <see cref="FrontendAddressBias"/>.</para>
/// <para>Not done: config-change notifications (need BACKEND_REQ), inflight tracking, packed rings, a back-end that
/// dies mid-I/O is noticed by the next control request only.</para>
/// </remarks>
public sealed class VhostUserFrontendDevice : VdpaConfigOps
{
    /// <summary>Offset between an IOVA and the "front-end virtual address" the back-end is told for it.</summary>
    public const ulong FrontendAddressBias = 0x5500_0000_0000;

    /// <summary>DEVICE_NEEDS_RESET (set when the back-end refused or broke while starting).</summary>
    private const byte NeedsReset = (byte)DeviceStatus.NeedsReset;

    /// <summary>Config sizes tried at connect, largest first: Linux 6.12 (zoned), 5.19 (secure erase), 5.x.</summary>
    private static readonly int[] s_blkConfigSizes = [VirtioBlkConfig.Size, 72, 60];

    private readonly VhostUserFrontend _frontend;
    private readonly VhostUserFrontendOptions _options;
    private readonly VirtioDeviceId _deviceId;
    private readonly ulong _offeredFeatures;
    private readonly int _configSize;
    private readonly FrontendVring[] _vqs;
    private readonly Lock _lock = new();
    private byte _status;
    private ulong _driverFeatures;
    private GuestMemory _memory = GuestMemory.Empty;
    private IotlbEntry[]? _map;
    private bool _memoryTableSent;
    private int _freed;

    private VhostUserFrontendDevice(string name, VhostUserFrontend frontend, VhostUserFrontendOptions options, VirtioDeviceId deviceId, int configSize)
    {
        Name = name;
        _frontend = frontend;
        _options = options;
        _deviceId = deviceId;
        _configSize = configSize;
        ulong hidden = (1UL << VhostUserFrontend.ProtocolFeaturesBit) | (1UL << VhostUserFrontend.LogAllBit) | (1UL << VirtioFeatures.AccessPlatform);
        _offeredFeatures = frontend.BackendFeatures & ~hidden;
        _vqs = new FrontendVring[frontend.QueueCount];
        for (int i = 0; i < _vqs.Length; i++) _vqs[i] = new FrontendVring(i, name);
    }

    /// <summary>
    /// Connects to the vhost-user back-end at <paramref name="socketPath"/> and reads what the device is: features,
    /// queue count and config space. Throws <see cref="VhostUserException"/> (bad or refusing back-end),
    /// <see cref="PlatformException"/> (cannot connect) or <see cref="NotSupportedException"/> (a device class or
    /// back-end this parent cannot drive).
    /// </summary>
    public static VhostUserFrontendDevice Connect(string name, string socketPath, VirtioDeviceId deviceId, VhostUserFrontendOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= VhostUserFrontendOptions.Default;
        if (deviceId != VirtioDeviceId.Block)
            throw new NotSupportedException($"vhost-user front-end: device class {deviceId} is not supported (blk only)");
        var frontend = VhostUserFrontend.Connect(socketPath, options);
        try
        {
            if ((frontend.ProtocolFeatures & ProtocolFeatures.Config) == 0)
                throw new NotSupportedException($"vhost-user front-end: the back-end at {socketPath} does not offer VHOST_USER_PROTOCOL_F_CONFIG; a blk device needs its config space");
            int size = 0;
            var probe = new byte[s_blkConfigSizes[0]];
            foreach (int candidate in s_blkConfigSizes)
            {
                if (frontend.TryGetConfig(0, probe.AsSpan(0, candidate))) { size = candidate; break; }
            }
            if (size == 0) throw new VhostUserRequestException(FrontendRequest.GetConfig, $"the back-end at {socketPath} refused every virtio-blk config size ({string.Join(", ", s_blkConfigSizes)})");
            return new VhostUserFrontendDevice(name, frontend, options, deviceId, size);
        }
        catch
        {
            frontend.Dispose();
            throw;
        }
    }

    /// <summary>The device name (for thread names and messages).</summary>
    public string Name { get; }

    /// <summary>The protocol connection.</summary>
    public VhostUserFrontend Frontend => _frontend;

    /// <summary>Virtqueues (the back-end's GET_QUEUE_NUM).</summary>
    public int QueueCount => _vqs.Length;

    /// <summary>The last error talking to the back-end (null when none).</summary>
    public string? LastError { get; private set; }

    /// <summary>Call notifications delivered on queue <paramref name="index"/>.</summary>
    public long GetCallCount(int index) => _vqs[index].Calls;

    /// <inheritdoc />
    public override VdpaOptionalOps OptionalOps =>
        VdpaOptionalOps.SharedMemory | VdpaOptionalOps.SetMap | VdpaOptionalOps.ResetMap | VdpaOptionalOps.VqNumMin;

    // ---- virtqueue ops ----

    /// <inheritdoc />
    public override int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea)
    {
        if (!TryGetVq(index, out var vq)) return -Errno.EINVAL;
        lock (_lock)
        {
            if (vq.Started) return -Errno.EBUSY;
            vq.Desc = descArea;
            vq.Driver = driverArea;
            vq.Device = deviceArea;
            vq.AddressSet = true;
            return 0;
        }
    }

    /// <inheritdoc />
    public override void SetVqNum(int index, uint num)
    {
        if (!TryGetVq(index, out var vq)) return;
        lock (_lock)
        {
            if (!vq.Started) vq.Num = num;
        }
    }

    /// <inheritdoc />
    public override void KickVq(int index)
    {
        if ((uint)index < (uint)_vqs.Length) _vqs[index].Kick();
    }

    /// <inheritdoc />
    public override void SetVqCallback(int index, VdpaCallback? callback)
    {
        if (TryGetVq(index, out var vq)) vq.Callback = callback;
    }

    /// <inheritdoc />
    public override void SetVqReady(int index, bool ready)
    {
        if (!TryGetVq(index, out var vq)) return;
        lock (_lock)
        {
            vq.Ready = ready;
            if (ready && !vq.Started && (_status & (byte)DeviceStatus.DriverOk) != 0) Guard(() => StartUnsynchronized(index));
            else if (!ready && vq.Started) Guard(() => vq.Stop(_frontend));
        }
    }

    /// <inheritdoc />
    public override bool GetVqReady(int index) => TryGetVq(index, out var vq) && vq.Ready;

    /// <inheritdoc />
    public override int SetVqState(int index, VqState state)
    {
        if (!TryGetVq(index, out var vq)) return -Errno.EINVAL;
        lock (_lock)
        {
            if (vq.Started) return -Errno.EBUSY;
            vq.Base = state.AvailIndex;
            return 0;
        }
    }

    /// <summary>get_vq_state: where the ring stopped (GET_VRING_BASE), or the base it will start from; a running ring reports its start base.</summary>
    public override int GetVqState(int index, out VqState state)
    {
        state = default;
        if (!TryGetVq(index, out var vq)) return -Errno.EINVAL;
        lock (_lock) state = new VqState(vq.Base);
        return 0;
    }

    /// <inheritdoc />
    public override uint GetVqAlign() => 4096;

    /// <inheritdoc />
    public override ushort GetVqNumMax() => (ushort)Math.Min(_options.QueueSize, 32768);

    /// <inheritdoc />
    public override ushort GetVqNumMin() => 1;

    // ---- device ops ----

    /// <inheritdoc />
    public override ulong GetDeviceFeatures() => _offeredFeatures;

    /// <inheritdoc />
    public override int SetDriverFeatures(ulong features)
    {
        if ((features & ~_offeredFeatures) != 0) return -Errno.EINVAL;
        lock (_lock)
        {
            if ((_status & (byte)DeviceStatus.DriverOk) != 0) return -Errno.EBUSY;
            try
            {
                _frontend.SetFeatures(features);
            }
            catch (VhostUserException e)
            {
                LastError = e.Message;
                return -Errno.EIO;
            }
            _driverFeatures = features;
            return 0;
        }
    }

    /// <inheritdoc />
    public override ulong GetDriverFeatures()
    {
        lock (_lock) return _driverFeatures;
    }

    /// <summary>Stored only: config-change notifications would need PROTOCOL_F_BACKEND_REQ, which is not negotiated.</summary>
    public override void SetConfigCallback(VdpaCallback? callback) { }

    /// <inheritdoc />
    public override uint GetDeviceId() => (uint)_deviceId;

    /// <inheritdoc />
    public override uint GetVendorId() => 0;

    /// <inheritdoc />
    public override byte GetStatus()
    {
        lock (_lock) return _status;
    }

    /// <inheritdoc />
    public override void SetStatus(byte status)
    {
        if (status == 0)
        {
            Reset();
            return;
        }
        lock (_lock)
        {
            byte old = _status;
            _status = (byte)(status | (old & NeedsReset));
            if ((status & (byte)DeviceStatus.DriverOk) != 0 && (old & (byte)DeviceStatus.DriverOk) == 0)
            {
                // vhost_dev_start: memory table, then the rings.
                Guard(() =>
                {
                    SendMemoryTableUnsynchronized();
                    for (int i = 0; i < _vqs.Length; i++)
                    {
                        if (_vqs[i].Ready && !_vqs[i].Started) StartUnsynchronized(i);
                    }
                });
            }
        }
    }

    /// <inheritdoc />
    public override int Reset()
    {
        lock (_lock)
        {
            // vhost_dev_stop: every running ring is stopped and its base kept; the back-end has no reset message
            // without PROTOCOL_F_RESET_DEVICE/STATUS, so the next start sends everything again.
            foreach (var vq in _vqs)
            {
                try
                {
                    vq.Stop(_frontend);
                }
                catch (VhostUserException e)
                {
                    LastError = e.Message;
                }
                vq.Ready = false;
                vq.AddressSet = false;
                vq.Num = 0;
                vq.Base = 0;
                vq.Callback = null;
            }
            _status = 0;
            _driverFeatures = 0;
            _memoryTableSent = false;
            return 0;
        }
    }

    /// <inheritdoc />
    public override int GetConfigSize() => _configSize;

    /// <summary>get_config: GET_CONFIG of the whole config space (libvhost-user ignores the offset), then the requested slice.</summary>
    public override void GetConfig(int offset, Span<byte> buffer)
    {
        if (offset < 0 || buffer.Length > _configSize - offset || buffer.IsEmpty) return;
        Span<byte> config = stackalloc byte[_configSize];
        lock (_lock)
        {
            try
            {
                if (!_frontend.TryGetConfig(0, config))
                {
                    LastError = "the back-end refused GET_CONFIG";
                    return;
                }
            }
            catch (VhostUserException e)
            {
                LastError = e.Message;
                return;
            }
        }
        config.Slice(offset, buffer.Length).CopyTo(buffer);
    }

    /// <inheritdoc />
    public override void SetConfig(int offset, ReadOnlySpan<byte> buffer)
    {
        if (offset < 0 || buffer.Length > _configSize - offset || buffer.IsEmpty) return;
        byte[] copy = buffer.ToArray();
        lock (_lock) Guard(() => _frontend.SetConfig((uint)offset, copy));
    }

    // ---- DMA ----

    /// <summary>Binds the driver's memory; every region must be fd-backed (the back-end maps it). Sent at DRIVER_OK, or at once while running.</summary>
    public override int BindMemory(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        foreach (var r in memory.Regions)
        {
            if (r.Descriptor is null)
            {
                LastError = $"region {r.Start}..{r.Last} is private memory; a vhost-user back-end can only reach fd-backed (shared) memory";
                return -Errno.EINVAL;
            }
        }
        lock (_lock)
        {
            var old = _memory;
            _memory = memory;
            if (ResendIfRunningUnsynchronized() is int err and not 0)
            {
                _memory = old;
                return err;
            }
            return 0;
        }
    }

    /// <summary>set_map: the IOTLB entries become the memory table (one region each, at most 8, page-aligned targets).</summary>
    public override int SetMap(uint asid, IReadOnlyList<IotlbEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (asid != 0) return -Errno.EINVAL;
        lock (_lock)
        {
            var old = _map;
            _map = [.. entries];
            if (TryBuildTable(out _, out _, out string? why) is false)
            {
                _map = old;
                LastError = why;
                return -Errno.EINVAL;
            }
            if (ResendIfRunningUnsynchronized() is int err and not 0)
            {
                _map = old;
                return err;
            }
            return 0;
        }
    }

    /// <inheritdoc />
    public override int ResetMap(uint asid)
    {
        if (asid != 0) return -Errno.EINVAL;
        lock (_lock)
        {
            _map = null;
            return ResendIfRunningUnsynchronized() ?? 0;
        }
    }

    /// <summary>Stops the rings and closes the connection (the back-end sees a clean end of stream).</summary>
    public override void Free()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0) return;
        Reset();
        _frontend.Dispose();
    }

    /// <summary>
    /// A diagnostic snapshot of queue <paramref name="index"/> as the driver's memory shows it (avail idx and flags,
    /// used idx and flags, used_event, avail_event) plus what the parent knows; for failure messages.
    /// </summary>
    public string DescribeQueue(int index)
    {
        if (!TryGetVq(index, out var vq)) return $"no vq {index}";
        GuestMemory memory;
        lock (_lock) memory = _memory;
        string ring = "memory not bound";
        if (memory.Regions.Count > 0 && vq.AddressSet && vq.Num > 0 && _map is null)
        {
            using var space = new DmaSpace(memory);
            using var lease = space.Acquire();
            var v = lease.View;
            ulong n = vq.Num;
            v.TryReadUInt16(vq.Driver, out ushort availFlags);
            v.TryReadUInt16(new Iova(vq.Driver.Value + 2), out ushort availIdx);
            v.TryReadUInt16(new Iova(vq.Driver.Value + 4 + 2 * n), out ushort usedEvent);
            v.TryReadUInt16(vq.Device, out ushort usedFlags);
            v.TryReadUInt16(new Iova(vq.Device.Value + 2), out ushort usedIdx);
            v.TryReadUInt16(new Iova(vq.Device.Value + 4 + 8 * n), out ushort availEvent);
            ring = $"avail idx {availIdx} flags 0x{availFlags:x} used_event {usedEvent}; used idx {usedIdx} flags 0x{usedFlags:x} avail_event {availEvent}";
        }
        return $"vq {index}: num {vq.Num} base {vq.Base} ready {vq.Ready} started {vq.Started} calls {vq.Calls}; {ring}; status 0x{GetStatus():x}; last error {LastError ?? "none"}";
    }

    // ---- internals (caller holds _lock) ----

    private bool TryGetVq(int index, out FrontendVring vq)
    {
        if ((uint)index < (uint)_vqs.Length)
        {
            vq = _vqs[index];
            return true;
        }
        vq = null!;
        return false;
    }

    /// <summary>Runs a back-end exchange; a failure sets DEVICE_NEEDS_RESET (set_status/set_vq_ready cannot return errors).</summary>
    private void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is VhostUserException or InvalidOperationException or PlatformException)
        {
            LastError = e.Message;
            _status |= NeedsReset;
        }
    }

    private int? ResendIfRunningUnsynchronized()
    {
        if (!_memoryTableSent) return null;
        try
        {
            SendMemoryTableUnsynchronized();
            return 0;
        }
        catch (Exception e) when (e is VhostUserException or InvalidOperationException)
        {
            LastError = e.Message;
            return -Errno.EIO;
        }
    }

    private void SendMemoryTableUnsynchronized()
    {
        if (!TryBuildTable(out var regions, out var fds, out string? why)) throw new InvalidOperationException($"vhost-user front-end {Name}: {why}");
        _frontend.SetMemTable(regions, fds);
        _memoryTableSent = true;
    }

    /// <summary>The memory table for the current memory and map, or why there is none.</summary>
    private bool TryBuildTable(out VhostUserMemoryRegion[] regions, out FileDescriptor[] fds, out string? why)
    {
        regions = [];
        fds = [];
        var r = new List<VhostUserMemoryRegion>();
        var f = new List<FileDescriptor>();
        if (_map is null)
        {
            foreach (var region in _memory.Regions)
            {
                if (!TryAdd(r, f, region.Start.Value, (ulong)region.Size, region, (ulong)region.DescriptorOffset, out why)) return false;
            }
        }
        else
        {
            foreach (var e in _map)
            {
                ulong size = e.Last.Value - e.First.Value + 1;
                if (size == 0) { why = "an IOTLB entry covers the whole 64-bit space"; return false; }
                if (!_memory.TryFind(e.Target, out var region) || !region.Contains(e.Target, size))
                {
                    why = $"IOTLB entry {e.First}..{e.Last} → {e.Target} is not inside one bound region";
                    return false;
                }
                ulong offset = (ulong)region.DescriptorOffset + (e.Target.Value - region.Start.Value);
                if ((offset & 0xfff) != 0) { why = $"IOTLB entry {e.First} → {e.Target} is not page aligned in its file"; return false; }
                if (!TryAdd(r, f, e.First.Value, size, region, offset, out why)) return false;
            }
        }
        if (r.Count == 0) { why = "no memory is bound"; return false; }
        if (r.Count > VhostUserMemory.MaxRegions) { why = $"{r.Count} memory regions (a vhost-user memory table holds {VhostUserMemory.MaxRegions})"; return false; }
        regions = [.. r];
        fds = [.. f];
        why = null;
        return true;
    }

    private static bool TryAdd(List<VhostUserMemoryRegion> r, List<FileDescriptor> f, ulong iova, ulong size, MemoryRegion region, ulong offset, out string? why)
    {
        if (iova + size - 1 < iova || iova + size - 1 > ulong.MaxValue - FrontendAddressBias)
        {
            why = $"IOVA range 0x{iova:x}+0x{size:x} cannot be given a front-end address";
            return false;
        }
        r.Add(new VhostUserMemoryRegion { GuestPhysAddr = iova, MemorySize = size, UserspaceAddr = iova + FrontendAddressBias, MmapOffset = offset });
        f.Add(region.Descriptor!);
        why = null;
        return true;
    }

    private void StartUnsynchronized(int index)
    {
        var vq = _vqs[index];
        if (!vq.AddressSet || vq.Num == 0) throw new InvalidOperationException($"vhost-user front-end {Name}: vq {index} is ready without size or addresses");
        if (!_memoryTableSent) SendMemoryTableUnsynchronized();
        // Spec: VIRTIO 1.3 §2.7 split ring sizes (avail and used with the event index word).
        ulong n = vq.Num;
        CheckMapped(index, "descriptor table", vq.Desc, 16 * n);
        CheckMapped(index, "available ring", vq.Driver, 6 + 2 * n);
        CheckMapped(index, "used ring", vq.Device, 6 + 8 * n);
        vq.Start(_frontend, vq.Desc.Value + FrontendAddressBias, vq.Driver.Value + FrontendAddressBias, vq.Device.Value + FrontendAddressBias);
    }

    private void CheckMapped(int index, string what, Iova at, ulong length)
    {
        if (!TryBuildTable(out var regions, out _, out _)) throw new InvalidOperationException($"vhost-user front-end {Name}: no memory table");
        foreach (var r in regions)
        {
            if (at.Value >= r.GuestPhysAddr && length <= r.MemorySize && at.Value - r.GuestPhysAddr <= r.MemorySize - length) return;
        }
        throw new InvalidOperationException($"vhost-user front-end {Name}: vq {index} {what} at {at} (+{length}) is not inside one memory region");
    }
}
