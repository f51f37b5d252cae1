using Uvdpa.Virtio.Memory;

namespace Uvdpa.Vdpa.Core;

/// <summary>Optional ops a parent implements (the kernel tests the op pointer for NULL).</summary>
[Flags]
public enum VdpaOptionalOps
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>set_map (batched, replace-all mapping).</summary>
    SetMap = 1 << 0,
    /// <summary>dma_map / dma_unmap (incremental mapping).</summary>
    DmaMap = 1 << 1,
    /// <summary>reset_map.</summary>
    ResetMap = 1 << 2,
    /// <summary>suspend.</summary>
    Suspend = 1 << 3,
    /// <summary>resume.</summary>
    Resume = 1 << 4,
    /// <summary>get_vendor_vq_stats.</summary>
    VendorVqStats = 1 << 5,
    /// <summary>get_vq_num_min.</summary>
    VqNumMin = 1 << 6,
    /// <summary>get_vq_size.</summary>
    VqSize = 1 << 7,
    /// <summary>compat_reset.</summary>
    CompatReset = 1 << 8,
    /// <summary>get_generation.</summary>
    Generation = 1 << 9,
    /// <summary>get_iova_range.</summary>
    IovaRange = 1 << 10,
    /// <summary>set_group_asid / get_vq_group.</summary>
    GroupAsid = 1 << 11,
    /// <summary>Polling queues (no kick notifications). uvdpa extension.</summary>
    Polling = 1 << 12,
    /// <summary>Inflight tracking hook. uvdpa extension.</summary>
    InflightTracking = 1 << 13,
    /// <summary>
    /// The device reaches driver memory from another process (e.g. a vhost-user back-end), so every region given to
    /// <see cref="VdpaConfigOps.BindMemory"/> must be shareable (fd-backed, <see cref="Uvdpa.Virtio.Memory.MemoryRegion.Descriptor"/>
    /// set). Drivers allocate their DMA memory from a memfd for such devices. uvdpa extension.
    /// </summary>
    SharedMemory = 1 << 14,
}

/// <summary>One vendor statistic (VDPA_ATTR_DEV_VENDOR_ATTR_NAME / _VALUE).</summary>
public readonly record struct VendorStat(string Name, ulong Value);

/// <summary>
/// struct vdpa_config_ops: the table of operations a parent provides for one device (include/linux/vdpa.h).
/// Mandatory ops are abstract; optional ones are virtual, listed in <see cref="OptionalOps"/>, and by default return
/// -EOPNOTSUPP. Ops that can fail return 0 or a negative errno, as in the kernel. Callers (bus drivers) serialise
/// config access through <see cref="VdpaDevice"/>, which adds the core's side effects.
/// </summary>
public abstract class VdpaConfigOps
{
    /// <summary>Which optional ops exist.</summary>
    public abstract VdpaOptionalOps OptionalOps { get; }

    /// <summary>True if <paramref name="op"/> is implemented.</summary>
    public bool Supports(VdpaOptionalOps op) => (OptionalOps & op) == op;

    // ---- virtqueue ops ----
    /// <summary>set_vq_address.</summary>
    public abstract int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea);
    /// <summary>set_vq_num.</summary>
    public abstract void SetVqNum(int index, uint num);
    /// <summary>kick_vq: the doorbell. Must be cheap and callable from any thread.</summary>
    public abstract void KickVq(int index);
    /// <summary>
    /// kick_vq from a thread whose only job is feeding this device kicks (vhost's worker: e.g. the reader of a
    /// vhost-user kick eventfd): the device may run the work the kick causes on the calling thread before returning,
    /// saving a thread hop. uvdpa extension; by default <see cref="KickVq"/>.
    /// </summary>
    public virtual void KickVqFromWorker(int index) => KickVq(index);
    /// <summary>set_vq_cb (null clears).</summary>
    public abstract void SetVqCallback(int index, VdpaCallback? callback);
    /// <summary>set_vq_ready.</summary>
    public abstract void SetVqReady(int index, bool ready);
    /// <summary>get_vq_ready.</summary>
    public abstract bool GetVqReady(int index);
    /// <summary>set_vq_state.</summary>
    public abstract int SetVqState(int index, VqState state);
    /// <summary>get_vq_state.</summary>
    public abstract int GetVqState(int index, out VqState state);
    /// <summary>get_vq_align.</summary>
    public abstract uint GetVqAlign();
    /// <summary>get_vq_num_max.</summary>
    public abstract ushort GetVqNumMax();
    /// <summary>get_vq_num_min (optional; the core reports 1 when absent).</summary>
    public virtual ushort GetVqNumMin() => 1;
    /// <summary>get_vq_size (optional).</summary>
    public virtual ushort GetVqSize(int index) => GetVqNumMax();
    /// <summary>get_vendor_vq_stats (optional): appends this queue's counters.</summary>
    public virtual int GetVendorVqStats(int index, List<VendorStat> stats) => -Errno.EOPNOTSUPP;
    /// <summary>Kick versus polling for a queue (optional uvdpa extension).</summary>
    public virtual int SetVqNotificationMode(int index, VqNotificationMode mode) => mode == VqNotificationMode.Kick ? 0 : -Errno.EOPNOTSUPP;

    // ---- device ops ----
    /// <summary>get_device_features.</summary>
    public abstract ulong GetDeviceFeatures();
    /// <summary>set_driver_features (0 or -errno).</summary>
    public abstract int SetDriverFeatures(ulong features);
    /// <summary>get_driver_features.</summary>
    public abstract ulong GetDriverFeatures();
    /// <summary>get_backend_features (vhost backend bits).</summary>
    public virtual ulong GetBackendFeatures() => 0;
    /// <summary>set_config_cb.</summary>
    public abstract void SetConfigCallback(VdpaCallback? callback);
    /// <summary>get_device_id.</summary>
    public abstract uint GetDeviceId();
    /// <summary>get_vendor_id.</summary>
    public abstract uint GetVendorId();
    /// <summary>get_status.</summary>
    public abstract byte GetStatus();
    /// <summary>set_status.</summary>
    public abstract void SetStatus(byte status);
    /// <summary>reset.</summary>
    public abstract int Reset();
    /// <summary>compat_reset (optional; flags: <see cref="VdpaDevice.ResetCleanMap"/>).</summary>
    public virtual int CompatReset(uint flags) => Reset();
    /// <summary>suspend (optional).</summary>
    public virtual int Suspend() => -Errno.EOPNOTSUPP;
    /// <summary>resume (optional).</summary>
    public virtual int Resume() => -Errno.EOPNOTSUPP;
    /// <summary>get_config_size.</summary>
    public abstract int GetConfigSize();
    /// <summary>get_config: copies config bytes at <paramref name="offset"/>; leaves the buffer untouched when out of range.</summary>
    public abstract void GetConfig(int offset, Span<byte> buffer);
    /// <summary>set_config.</summary>
    public abstract void SetConfig(int offset, ReadOnlySpan<byte> buffer);
    /// <summary>get_generation (optional).</summary>
    public virtual uint GetGeneration() => 0;
    /// <summary>get_iova_range (optional).</summary>
    public virtual IovaRange GetIovaRange() => new(0, ulong.MaxValue);

    // ---- DMA ----
    /// <summary>
    /// Binds the memory the device's DMA reaches (the analogue of bind_mm: in user space "physical" memory is
    /// whatever regions the user of the device registered). Identity ("pass-through") covers only these regions.
    /// </summary>
    public abstract int BindMemory(GuestMemory memory);
    /// <summary>set_map (optional): replace address space <paramref name="asid"/>'s mappings.</summary>
    public virtual int SetMap(uint asid, IReadOnlyList<IotlbEntry> entries) => -Errno.EOPNOTSUPP;
    /// <summary>dma_map (optional).</summary>
    public virtual int DmaMap(uint asid, Iova iova, ulong size, GuestAddress target, AccessPermission permission) => -Errno.EOPNOTSUPP;
    /// <summary>dma_unmap (optional).</summary>
    public virtual int DmaUnmap(uint asid, Iova iova, ulong size) => -Errno.EOPNOTSUPP;
    /// <summary>reset_map (optional): back to pass-through.</summary>
    public virtual int ResetMap(uint asid) => -Errno.EOPNOTSUPP;
    /// <summary>get_vq_group (optional).</summary>
    public virtual uint GetVqGroup(int index) => 0;
    /// <summary>set_group_asid (optional).</summary>
    public virtual int SetGroupAsid(uint group, uint asid) => -Errno.EOPNOTSUPP;

    // ---- uvdpa extensions ----
    /// <summary>Installs (or clears) the inflight tracking hook (optional; block devices).</summary>
    public virtual int SetInflightTracker(IInflightTracker? tracker) => -Errno.EOPNOTSUPP;
    /// <summary>Per-queue counters for any device class (names and values), beyond the kernel's net-only vstats.</summary>
    public virtual int GetQueueCounters(int index, List<VendorStat> counters) => GetVendorVqStats(index, counters);
    /// <summary>Indices of queues that a driver fault broke (sticky until reset).</summary>
    public virtual IReadOnlyList<int> BrokenQueues => [];
    /// <summary>Releases resources (struct vdpa_config_ops.free); called after the device left the bus.</summary>
    public virtual void Free() { }
}
