using System.Diagnostics;
using System.Numerics;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// The simulator core (drivers/vdpa/vdpa_sim/vdpa_sim.c): a <see cref="VdpaConfigOps"/> table shared by the net and
/// blk simulators, parameterised by <see cref="VdpaSimDeviceAttributes"/> and the class hooks
/// (<see cref="ProcessQueues"/>, <see cref="RefreshConfig"/>, <see cref="OnConfigWritten"/>, <see cref="GetStats"/>,
/// <see cref="OnFree"/>). The work runs on a per-device <see cref="SerialWorkQueue"/> under the device lock (the
/// kernel's <c>vdpasim-&gt;mutex</c>), with one DMA lease per address space per run.
/// </summary>
/// <remarks>
/// Deviations from the kernel, all deliberate (see COMPATIBILITY notes in the report): a queue the driver corrupted
/// becomes broken and the device sets DEVICE_NEEDS_RESET and calls the config callback (the kernel sims never do);
/// used-buffer notifications are evaluated once per run instead of once per completion; unexpected exceptions in a
/// run set DEVICE_NEEDS_RESET instead of oopsing.
/// </remarks>
internal abstract class VdpaSimDevice : VdpaConfigOps
{
    /// <summary>VDPASIM_QUEUE_MAX.</summary>
    public const int QueueMax = 256;

    /// <summary>VDPASIM_QUEUE_ALIGN (PAGE_SIZE).</summary>
    public const uint QueueAlign = 4096;

    /// <summary>VDPASIM_VENDOR_ID.</summary>
    public const uint VendorId = 0;

    /// <summary>VDPASIM_FEATURES: ANY_LAYOUT | VERSION_1 | ACCESS_PLATFORM.</summary>
    public const ulong BaseFeatures = (1UL << VirtioFeatures.AnyLayout) | (1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.AccessPlatform);

    /// <summary>VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK.</summary>
    private const int BackendFeatureEnableAfterDriverOk = 6;

    // Polled queues keep running while idle for this long (Stopwatch ticks) before falling back to the 1 ms timer:
    // long enough to cover a peer's turnaround (a front-end polling its used ring and refilling the avail ring), so
    // a busy ring never waits for a kick or the timer (SimulatorOptions.PollIdleBudget).
    private readonly long _pollIdleBudget;

    private readonly object _lock = new();
    private readonly VdpaSimVirtqueue[] _vqs;
    private readonly DmaSpace[] _spaces;
    private readonly DmaView?[] _views;
    private readonly DmaLease[] _leases;
    private readonly VdpaCallback?[] _pendingCallbacks;
    private readonly byte[] _config;
    private readonly SerialWorkQueue _executor;
    private readonly bool _batchMapping;
    private volatile byte _status;
    private volatile bool _running;
    private volatile bool _pendingKick;
    private volatile bool _freed;
    private ulong _features;
    private uint _generation;
    private VdpaCallback? _configCallback;
    private Timer? _pollTimer;
    private long _pollIdleSince; // Stopwatch timestamp of the first idle polled run; 0 after progress

    private protected VdpaSimDevice(VdpaSimDeviceAttributes attributes, SimulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        ArgumentNullException.ThrowIfNull(options);
        Attributes = attributes;
        _batchMapping = options.BatchMapping;
        _pollIdleBudget = (long)(options.PollIdleBudget.TotalSeconds * Stopwatch.Frequency);
        _vqs = new VdpaSimVirtqueue[attributes.NumVqs];
        for (int i = 0; i < _vqs.Length; i++) _vqs[i] = new VdpaSimVirtqueue(i);
        _spaces = new DmaSpace[attributes.NumAddressSpaces];
        for (int i = 0; i < _spaces.Length; i++) _spaces[i] = new DmaSpace(GuestMemory.Empty, new Iotlb(options.MaxIotlbEntries));
        _views = new DmaView?[_spaces.Length];
        _leases = new DmaLease[_spaces.Length];
        _pendingCallbacks = new VdpaCallback?[_vqs.Length + 1];
        _config = new byte[attributes.ConfigSize];
        _executor = new SerialWorkQueue(ExecuteWork);
    }

    /// <summary>The device's shape.</summary>
    public VdpaSimDeviceAttributes Attributes { get; }

    /// <summary>Negotiated features (vdpasim-&gt;features).</summary>
    private protected ulong Features => Volatile.Read(ref _features);

    /// <summary>True when feature <paramref name="bit"/> was negotiated.</summary>
    private protected bool HasFeature(int bit) => (Features & (1UL << bit)) != 0;

    /// <summary>The config space buffer (vdpasim-&gt;config); touch it only under the device lock.</summary>
    private protected Span<byte> ConfigBuffer => _config;

    /// <summary>The device lock (vdpasim-&gt;mutex). The work runs under it.</summary>
    private protected object SyncRoot => _lock;

    /// <summary>Queue <paramref name="index"/>.</summary>
    private protected VdpaSimVirtqueue Vq(int index) => _vqs[index];

    /// <summary>The DMA view a queue uses in the current run (valid only inside <see cref="ProcessQueues"/>).</summary>
    private protected DmaView ViewOf(VdpaSimVirtqueue vq) => _views[vq.Asid]!;

    /// <summary>True when a run is neither queued nor running (tests).</summary>
    /// <summary>Runs that moved a ring (tests: how work is batched). Written by the run, under the lock.</summary>
    internal long ProgressRuns { get; private set; }

    internal bool IsWorkIdle => _executor.IsIdle;

    // ---- class hooks ----

    /// <summary>dev_attr.work_fn body: runs with the lock held and DMA views pinned. Returns true to reschedule (batch limit).</summary>
    private protected abstract bool ProcessQueues();

    /// <summary>dev_attr.get_config: refresh <paramref name="config"/> before a read.</summary>
    private protected virtual void RefreshConfig(Span<byte> config) { }

    /// <summary>dev_attr.set_config: after the driver wrote config bytes.</summary>
    private protected virtual void OnConfigWritten(Span<byte> config) { }

    /// <summary>dev_attr.get_stats; -EOPNOTSUPP when the class has none.</summary>
    private protected virtual int GetStats(int index, List<VendorStat> stats) => -Errno.EOPNOTSUPP;

    /// <summary>dev_attr.free.</summary>
    private protected virtual void OnFree() { }

    // ---- optional op table ----

    /// <inheritdoc />
    public override VdpaOptionalOps OptionalOps
    {
        get
        {
            var ops = VdpaOptionalOps.ResetMap | VdpaOptionalOps.Suspend | VdpaOptionalOps.Resume | VdpaOptionalOps.VendorVqStats
                | VdpaOptionalOps.CompatReset | VdpaOptionalOps.Generation | VdpaOptionalOps.IovaRange | VdpaOptionalOps.GroupAsid
                | VdpaOptionalOps.Polling | ExtraOptionalOps;
            // vdpasim_batch_config_ops has set_map; vdpasim_config_ops has dma_map/dma_unmap and get_vq_size.
            return ops | (_batchMapping ? VdpaOptionalOps.SetMap : VdpaOptionalOps.DmaMap | VdpaOptionalOps.VqSize);
        }
    }

    /// <summary>Optional ops a class adds (blk: inflight tracking).</summary>
    private protected virtual VdpaOptionalOps ExtraOptionalOps => VdpaOptionalOps.None;

    // ---- virtqueue ops ----

    /// <inheritdoc />
    public override int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea)
    {
        if (!TryGetVq(index, out var vq)) return -Errno.EINVAL;
        lock (_lock)
        {
            vq.DescArea = descArea;
            vq.DriverArea = driverArea;
            vq.DeviceArea = deviceArea;
        }
        return 0;
    }

    /// <inheritdoc />
    public override void SetVqNum(int index, uint num)
    {
        if (!TryGetVq(index, out var vq)) return;
        lock (_lock) vq.Num = num;
    }

    /// <inheritdoc />
    public override ushort GetVqSize(int index)
    {
        // vdpasim_get_vq_size: the negotiated size once DRIVER_OK, else the maximum.
        if (!TryGetVq(index, out var vq)) return 0;
        return (_status & (byte)DeviceStatus.DriverOk) != 0 ? (ushort)vq.Num : (ushort)QueueMax;
    }

    /// <inheritdoc />
    public override void KickVq(int index) => Kick(index, fromWorker: false);

    /// <inheritdoc />
    public override void KickVqFromWorker(int index) => Kick(index, fromWorker: true);

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
            bool old = vq.Ready;
            vq.Ready = ready;
            if (ready && !old) QueueReadyUnsynchronized(vq);
            else if (!ready) vq.Queue.Ready = false;
        }
        if (ready) MaybeStartPolling();
    }

    /// <inheritdoc />
    public override bool GetVqReady(int index) => TryGetVq(index, out var vq) && vq.Ready;

    /// <inheritdoc />
    public override int SetVqState(int index, VqState state)
    {
        if (!TryGetVq(index, out var vq)) return -Errno.EINVAL;
        lock (_lock) vq.Queue.LastAvailIndex = state.AvailIndex;
        return 0;
    }

    /// <inheritdoc />
    public override int GetVqState(int index, out VqState state)
    {
        if (!TryGetVq(index, out var vq))
        {
            state = default;
            return -Errno.EINVAL;
        }
        lock (_lock) state = new VqState(vq.Queue.LastAvailIndex);
        return 0;
    }

    /// <inheritdoc />
    public override uint GetVqAlign() => QueueAlign;

    /// <inheritdoc />
    public override ushort GetVqNumMax() => QueueMax;

    /// <inheritdoc />
    public override int GetVendorVqStats(int index, List<VendorStat> stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        return GetStats(index, stats);
    }

    /// <inheritdoc />
    public override int SetVqNotificationMode(int index, VqNotificationMode mode)
    {
        if (!TryGetVq(index, out var vq) || !Enum.IsDefined(mode)) return -Errno.EINVAL;
        lock (_lock) vq.Mode = mode;
        if (mode == VqNotificationMode.Poll) MaybeStartPolling();
        return 0;
    }

    /// <inheritdoc />
    public override uint GetVqGroup(int index)
        // vdpasim_get_vq_group: RX and TX belong to group 0, the CVQ (index 2) to group 1.
        => index == 2 ? 1u : 0u;

    // ---- device ops ----

    /// <inheritdoc />
    public override ulong GetDeviceFeatures() => Attributes.SupportedFeatures;

    /// <inheritdoc />
    public override ulong GetBackendFeatures() => 1UL << BackendFeatureEnableAfterDriverOk;

    /// <inheritdoc />
    public override int SetDriverFeatures(ulong features)
    {
        // "DMA mapping must be done by driver".
        if ((features & (1UL << VirtioFeatures.AccessPlatform)) == 0) return -Errno.EINVAL;
        Volatile.Write(ref _features, features & Attributes.SupportedFeatures);
        return 0;
    }

    /// <inheritdoc />
    public override ulong GetDriverFeatures() => Features;

    /// <inheritdoc />
    public override void SetConfigCallback(VdpaCallback? callback)
    {
        // The kernel ignores it (no config interrupt); uvdpa keeps it to announce DEVICE_NEEDS_RESET.
        lock (_lock) _configCallback = callback;
    }

    /// <inheritdoc />
    public override uint GetDeviceId() => Attributes.DeviceId;

    /// <inheritdoc />
    public override uint GetVendorId() => VendorId;

    /// <inheritdoc />
    public override byte GetStatus()
    {
        lock (_lock) return _status;
    }

    /// <inheritdoc />
    public override void SetStatus(byte status)
    {
        lock (_lock)
        {
            _status = status;
            _running = (status & (byte)DeviceStatus.DriverOk) != 0;
        }
        MaybeStartPolling();
    }

    /// <inheritdoc />
    public override int Reset() => CompatReset(0);

    /// <inheritdoc />
    public override int CompatReset(uint flags)
    {
        lock (_lock)
        {
            // vdpasim_do_reset.
            foreach (var vq in _vqs)
            {
                vq.Ready = false;
                vq.DescArea = default;
                vq.DriverArea = default;
                vq.DeviceArea = default;
                vq.Callback = null;
                vq.NotifyCheck = false;
                vq.ForceNotify = false;
                vq.Queue.Reset();
                vq.Asid = 0;
            }
            if ((flags & VdpaDevice.ResetCleanMap) != 0)
            {
                foreach (var space in _spaces) space.Iotlb.ResetToPassThrough();
            }
            _running = false;
            Volatile.Write(ref _features, 0);
            _status = 0;
            _generation++;
        }
        return 0;
    }

    /// <inheritdoc />
    public override int Suspend()
    {
        lock (_lock) _running = false;
        return 0;
    }

    /// <inheritdoc />
    public override int Resume()
    {
        lock (_lock)
        {
            _running = true;
            if (_pendingKick)
            {
                // Process the descriptors that were kicked while suspended.
                for (int i = 0; i < _vqs.Length; i++) KickVq(i);
                _pendingKick = false;
            }
        }
        MaybeStartPolling();
        return 0;
    }

    /// <inheritdoc />
    public override int GetConfigSize() => Attributes.ConfigSize;

    /// <inheritdoc />
    public override void GetConfig(int offset, Span<byte> buffer)
    {
        if (!InConfigRange(offset, buffer.Length)) return;
        lock (_lock)
        {
            RefreshConfig(_config);
            _config.AsSpan(offset, buffer.Length).CopyTo(buffer);
        }
    }

    /// <inheritdoc />
    public override void SetConfig(int offset, ReadOnlySpan<byte> buffer)
    {
        if (!InConfigRange(offset, buffer.Length)) return;
        lock (_lock)
        {
            buffer.CopyTo(_config.AsSpan(offset));
            OnConfigWritten(_config);
        }
    }

    /// <inheritdoc />
    public override uint GetGeneration()
    {
        lock (_lock) return _generation;
    }

    /// <inheritdoc />
    public override IovaRange GetIovaRange() => new(0, ulong.MaxValue);

    // ---- DMA ----

    /// <inheritdoc />
    public override int BindMemory(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        foreach (var space in _spaces) space.SetMemory(memory);
        return 0;
    }

    /// <inheritdoc />
    public override int SetMap(uint asid, IReadOnlyList<IotlbEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (!_batchMapping) return -Errno.EOPNOTSUPP;
        if (asid >= (uint)_spaces.Length) return -Errno.EINVAL;
        var iotlb = _spaces[asid].Iotlb;
        var result = iotlb.SetMap(entries);
        // vdpasim_set_map: on failure the address space is left empty (reset, no longer pass-through).
        if (result != IotlbResult.Ok) iotlb.SetMap([]);
        return ToErrno(result);
    }

    /// <inheritdoc />
    public override int DmaMap(uint asid, Iova iova, ulong size, GuestAddress target, AccessPermission permission)
    {
        if (_batchMapping) return -Errno.EOPNOTSUPP;
        if (asid >= (uint)_spaces.Length) return -Errno.EINVAL;
        var iotlb = _spaces[asid].Iotlb;
        var result = iotlb.Map(iova, size, target, permission);
        // The first map leaves pass-through even when the entry itself is refused.
        if (result != IotlbResult.Ok && iotlb.IsPassThrough) iotlb.SetMap([]);
        return ToErrno(result);
    }

    /// <inheritdoc />
    public override int DmaUnmap(uint asid, Iova iova, ulong size)
    {
        if (_batchMapping) return -Errno.EOPNOTSUPP;
        if (asid >= (uint)_spaces.Length) return -Errno.EINVAL;
        var iotlb = _spaces[asid].Iotlb;
        // vdpasim_dma_unmap always succeeds; an empty or wrapping range deletes nothing but still ends pass-through.
        if (iotlb.Unmap(iova, size) != IotlbResult.Ok && iotlb.IsPassThrough) iotlb.SetMap([]);
        return 0;
    }

    /// <inheritdoc />
    public override int ResetMap(uint asid)
    {
        if (asid >= (uint)_spaces.Length) return -Errno.EINVAL;
        var iotlb = _spaces[asid].Iotlb;
        if (!iotlb.IsPassThrough) iotlb.ResetToPassThrough();
        return 0;
    }

    /// <inheritdoc />
    public override int SetGroupAsid(uint group, uint asid)
    {
        // The kernel compares with '>' (group == ngroups is accepted and matches no queue).
        if (group > Attributes.NumGroups) return -Errno.EINVAL;
        if (asid >= Attributes.NumAddressSpaces) return -Errno.EINVAL;
        lock (_lock)
        {
            for (int i = 0; i < _vqs.Length; i++)
            {
                if (GetVqGroup(i) == group) _vqs[i].Asid = asid;
            }
        }
        return 0;
    }

    // ---- uvdpa extensions ----

    /// <inheritdoc />
    public override IReadOnlyList<int> BrokenQueues
    {
        get
        {
            lock (_lock)
            {
                var broken = new List<int>();
                foreach (var vq in _vqs)
                {
                    if (vq.Queue.IsBroken) broken.Add(vq.Index);
                }
                return broken;
            }
        }
    }

    /// <inheritdoc />
    public override void Free()
    {
        if (_freed) return;
        _freed = true;
        _executor.WaitIdle(TimeSpan.FromSeconds(10));
        _executor.Stop();
        lock (_lock)
        {
            _pollTimer?.Dispose();
            _pollTimer = null;
            foreach (var space in _spaces) space.Dispose();
        }
        OnFree();
    }

    /// <summary>vdpasim_kick_vq: lock-free, like the kernel's; a kicking worker may run the work itself.</summary>
    private void Kick(int index, bool fromWorker)
    {
        if (!TryGetVq(index, out var vq)) return;
        if (!_running && (_status & (byte)DeviceStatus.DriverOk) != 0)
        {
            _pendingKick = true;
            return;
        }
        if (!vq.Ready) return;
        if (fromWorker) _executor.RunOrSchedule();
        else _executor.Schedule();
    }

    /// <summary>vdpasim_schedule_work.</summary>
    private protected void ScheduleWork() => _executor.Schedule();

    /// <summary>
    /// Writes a used element for <paramref name="head"/> that the driver sees at the queue's next
    /// <see cref="SplitDeviceQueue.PublishUsed"/> (at the latest, the notification check after the run), so a batch
    /// moves used->idx once.
    /// </summary>
    private protected bool CompleteDeferred(VdpaSimVirtqueue vq, ushort head, uint length)
    {
        vq.NotifyCheck = true;
        return vq.Queue.TryAddUsed(ViewOf(vq), head, length);
    }

    /// <summary>Publishes a used element for <paramref name="head"/> and asks for a notification check after the run.</summary>
    private protected bool Complete(VdpaSimVirtqueue vq, ushort head, uint length)
    {
        vq.NotifyCheck = true;
        return vq.Queue.TryPushUsed(ViewOf(vq), head, length);
    }

    private static int ToErrno(IotlbResult result) => result switch
    {
        IotlbResult.Ok => 0,
        IotlbResult.Overlap => -Errno.EEXIST,
        IotlbResult.NoSpace => -Errno.ENOSPC,
        _ => -Errno.EINVAL,
    };

    private bool TryGetVq(int index, out VdpaSimVirtqueue vq)
    {
        if ((uint)index < (uint)_vqs.Length)
        {
            vq = _vqs[index];
            return true;
        }
        vq = null!;
        return false;
    }

    private bool InConfigRange(int offset, int length)
        => offset >= 0 && (long)offset + length <= Attributes.ConfigSize;

    /// <summary>vdpasim_queue_ready: (re)initialise the ring from the driver's parameters, keeping last_avail_idx.</summary>
    private void QueueReadyUnsynchronized(VdpaSimVirtqueue vq)
    {
        var q = vq.Queue;
        q.SetAddresses(vq.DescArea, vq.DriverArea, vq.DeviceArea);
        q.EventIndex = HasFeature(VirtioFeatures.RingEventIdx);
        // vringh follows INDIRECT descriptors whatever was negotiated; so do we.
        q.IndirectDescriptors = true;
        uint num = vq.Num;
        bool validSize = num is >= 1 and <= QueueMax && BitOperations.IsPow2(num);
        if (validSize) q.Size = (int)num;
        q.Ready = true;
        // A size the ring cannot have leaves the queue unusable: report it as a broken ring instead of walking garbage.
        if (!validSize) q.MarkBroken(QueueError.RingUnmapped);
    }

    private void MaybeStartPolling()
    {
        if (_freed || !_running) return;
        foreach (var vq in _vqs)
        {
            // A polled ring runs; a ring left with NO_NOTIFY by an earlier poll needs a run to ask for kicks again.
            if ((vq.Mode == VqNotificationMode.Poll || vq.NotifySuppressed) && vq.Ready)
            {
                // Polled runs follow each other back to back: give them the device's own thread (the kernel's kthread)
                // rather than a thread-pool hop per run. The thread stays until the device is freed.
                if (vq.Mode == VqNotificationMode.Poll) _executor.UseDedicatedThread($"vDPA sim worker: {Attributes.Name}");
                _executor.Schedule();
                return;
            }
        }
    }

    /// <summary>vdpasim_work_fn: one run of the device's work. Never throws.</summary>
    private void ExecuteWork()
    {
        int callbacks = 0;
        bool reschedule = false, polling = false, progress = false, spin = false;
        try
        {
            lock (_lock)
            {
                if (_freed || !_running || (_status & (byte)DeviceStatus.DriverOk) == 0) return;
                bool wasNeedsReset = (_status & (byte)DeviceStatus.NeedsReset) != 0;
                int acquired = 0;
                try
                {
                    for (; acquired < _spaces.Length; acquired++)
                    {
                        _leases[acquired] = _spaces[acquired].Acquire();
                        _views[acquired] = _leases[acquired].View;
                    }
                    int before = AvailSum();
                    try
                    {
                        reschedule = ProcessQueues();
                    }
                    catch (Exception)
                    {
                        // A device bug or a guest input we failed to anticipate: fail this device only.
                        _status |= (byte)DeviceStatus.NeedsReset;
                        reschedule = false;
                    }
                    progress = AvailSum() != before;
                    if (progress) ProgressRuns++;

                    foreach (var vq in _vqs)
                    {
                        bool notify = vq.ForceNotify || (vq.NotifyCheck && vq.Queue.ShouldNotifyDriver(ViewOf(vq)));
                        vq.ForceNotify = false;
                        vq.NotifyCheck = false;
                        if (notify && vq.Callback is { } cb) _pendingCallbacks[callbacks++] = cb;
                        if (vq.Queue.IsBroken) _status |= (byte)DeviceStatus.NeedsReset;
                        if (vq.Mode == VqNotificationMode.Poll && vq.Ready && !vq.Queue.IsBroken) polling = true;
                    }

                    // Busy polling (vhost's notify disable/enable around its handle loop): while the poll loop spins,
                    // ask the driver not to kick (VRING_USED_F_NO_NOTIFY); before it falls back to the timer, ask for
                    // kicks again and re-check, so a buffer added in between is never stranded. A ring that is no
                    // longer polled (or restarted) gets kicks back on its next run.
                    if (polling) spin = KeepSpinning(progress);
                    foreach (var vq in _vqs)
                    {
                        if (!vq.Ready || vq.Queue.IsBroken) continue;
                        bool spinning = spin && vq.Mode == VqNotificationMode.Poll;
                        if (spinning && !vq.NotifySuppressed)
                        {
                            vq.Queue.DisableNotifications(ViewOf(vq));
                            vq.NotifySuppressed = true;
                        }
                        else if (!spinning && vq.NotifySuppressed)
                        {
                            vq.NotifySuppressed = false;
                            if (vq.Queue.EnableNotifications(ViewOf(vq))) spin |= polling;
                            if (vq.Mode != VqNotificationMode.Poll && vq.Queue.HasAvailable(ViewOf(vq))) reschedule = true;
                        }
                    }
                }
                finally
                {
                    for (int i = 0; i < acquired; i++)
                    {
                        _leases[i].Dispose();
                        _leases[i] = default;
                        _views[i] = null;
                    }
                }
                if (!wasNeedsReset && (_status & (byte)DeviceStatus.NeedsReset) != 0 && _configCallback is { } configCb)
                    _pendingCallbacks[callbacks++] = configCb;
            }
        }
        catch (Exception)
        {
            // Lease acquisition on a disposed space (device being freed) or similar: nothing to do for this run.
            reschedule = false;
            polling = false;
        }

        // Callbacks run outside the lock so a driver that calls back into the ops cannot deadlock with the worker.
        for (int i = 0; i < callbacks; i++)
        {
            var cb = _pendingCallbacks[i];
            _pendingCallbacks[i] = null;
            try
            {
                cb!.Invoke();
            }
            catch (Exception)
            {
                // A throwing driver callback must not take down the pool thread or the other devices.
            }
        }

        if (reschedule)
        {
            _executor.Schedule();
        }
        else if (polling)
        {
            SchedulePoll(spin);
        }
    }

    private int AvailSum()
    {
        int sum = 0;
        foreach (var vq in _vqs) sum += vq.Queue.LastAvailIndex + vq.Queue.UsedIndex;
        return sum;
    }

    /// <summary>Polled queues: true after progress and while idle for less than the budget (run again at once).</summary>
    private bool KeepSpinning(bool progress)
    {
        if (progress)
        {
            _pollIdleSince = 0;
            return true;
        }
        long now = Stopwatch.GetTimestamp();
        if (_pollIdleSince == 0) _pollIdleSince = now;
        return now - _pollIdleSince < _pollIdleBudget;
    }

    /// <summary>Polled queues: run again at once while spinning; otherwise re-check on a 1 ms timer.</summary>
    private void SchedulePoll(bool spin)
    {
        if (spin)
        {
            _executor.Schedule();
            return;
        }
        lock (_lock)
        {
            if (_freed) return;
            _pollTimer ??= new Timer(static s => ((VdpaSimDevice)s!)._executor.Schedule(), this, Timeout.Infinite, Timeout.Infinite);
            _pollTimer.Change(1, Timeout.Infinite);
        }
    }
}
