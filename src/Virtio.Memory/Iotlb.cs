namespace Uvdpa.Virtio.Memory;

/// <summary>One IOTLB mapping: IOVA range [First, Last] to guest address <see cref="Target"/>. Linux: struct vhost_iotlb_map.</summary>
public readonly record struct IotlbEntry(Iova First, Iova Last, GuestAddress Target, AccessPermission Permission)
{
    /// <summary>Builds an entry from a start and a size; false when the size is zero or the range wraps.</summary>
    public static bool TryCreate(Iova iova, ulong size, GuestAddress target, AccessPermission permission, out IotlbEntry entry)
    {
        entry = default;
        if (size == 0 || iova.Value + (size - 1) < iova.Value || target.Value + (size - 1) < target.Value) return false;
        entry = new IotlbEntry(iova, new Iova(iova.Value + size - 1), target, permission);
        return true;
    }
}

/// <summary>Outcome of an incremental IOTLB update (maps to the kernel's errno).</summary>
public enum IotlbResult
{
    /// <summary>Done.</summary>
    Ok = 0,
    /// <summary>Zero size, wrapping range or no permission (EINVAL).</summary>
    Invalid,
    /// <summary>Overlaps an existing mapping (EEXIST).</summary>
    Overlap,
    /// <summary>The entry limit is reached (ENOSPC, vhost_iotlb_add_range_ctx).</summary>
    NoSpace,
}

/// <summary>
/// A device's I/O TLB (drivers/vhost/iotlb.c): IOVA ranges mapped onto guest addresses with permissions. It starts in
/// pass-through (identity over the registered memory, as vdpa_sim's vhost_iotlb starts with 0..ULONG_MAX RW) and
/// supports the kernel's two update styles: replace-all (<see cref="SetMap"/>, the set_map op) and incremental
/// (<see cref="Map"/>/<see cref="Unmap"/>, dma_map/dma_unmap). Thread-safe; readers use the snapshots a <see cref="DmaSpace"/> publishes.
/// </summary>
public sealed class Iotlb
{
    private readonly object _lock = new();
    private IotlbEntry[] _entries = [];
    private bool _passThrough = true;

    /// <summary>Creates an IOTLB in pass-through mode. <paramref name="maxEntries"/> 0 means unlimited (vdpa_sim's max_iotlb_entries, default 2048).</summary>
    public Iotlb(int maxEntries = 2048)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxEntries);
        MaxEntries = maxEntries;
    }

    /// <summary>Raised after every change, under no lock.</summary>
    public event Action? Changed;

    /// <summary>Entry limit, 0 = unlimited.</summary>
    public int MaxEntries { get; }

    /// <summary>True while no mapping was set since creation or the last reset.</summary>
    public bool IsPassThrough { get { lock (_lock) return _passThrough; } }

    /// <summary>A consistent copy of the current state.</summary>
    public (bool PassThrough, IotlbEntry[] Entries) Snapshot()
    {
        // A copy: the live array is shared copy-on-write state, and callers may write into what they get.
        lock (_lock) return (_passThrough, _entries.Length == 0 ? [] : (IotlbEntry[])_entries.Clone());
    }

    /// <summary>Replaces every mapping at once (set_map). Returns Invalid when entries overlap, are empty ranges, have no permission or a wrapping target, Overlap never, NoSpace above the limit.</summary>
    public IotlbResult SetMap(IEnumerable<IotlbEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var sorted = entries.OrderBy(e => e.First.Value).ToArray();
        if (MaxEntries != 0 && sorted.Length > MaxEntries) return IotlbResult.NoSpace;
        for (int i = 0; i < sorted.Length; i++)
        {
            var e = sorted[i];
            if (e.Last.Value < e.First.Value || e.Permission == AccessPermission.None) return IotlbResult.Invalid;
            // The target range must not wrap either (IotlbEntry.TryCreate's rule; entries can also be built directly).
            if (e.Target.Value + (e.Last.Value - e.First.Value) < e.Target.Value) return IotlbResult.Invalid;
            if (i > 0 && sorted[i].First.Value <= sorted[i - 1].Last.Value) return IotlbResult.Invalid;
        }
        lock (_lock)
        {
            _entries = sorted;
            _passThrough = false;
        }
        Changed?.Invoke();
        return IotlbResult.Ok;
    }

    /// <summary>Adds one mapping (dma_map). The first update leaves pass-through mode.</summary>
    public IotlbResult Map(Iova iova, ulong size, GuestAddress target, AccessPermission permission)
    {
        if (permission == AccessPermission.None || !IotlbEntry.TryCreate(iova, size, target, permission, out var entry)) return IotlbResult.Invalid;
        lock (_lock)
        {
            var current = _passThrough ? [] : _entries;
            int at = 0;
            while (at < current.Length && current[at].First.Value < entry.First.Value) at++;
            // Overlap is checked before the limit: vhost_vdpa_map reports EEXIST before the IOTLB's ENOSPC.
            if (at > 0 && current[at - 1].Last.Value >= entry.First.Value) return IotlbResult.Overlap;
            if (at < current.Length && current[at].First.Value <= entry.Last.Value) return IotlbResult.Overlap;
            if (MaxEntries != 0 && current.Length >= MaxEntries) return IotlbResult.NoSpace;
            var next = new IotlbEntry[current.Length + 1];
            Array.Copy(current, next, at);
            next[at] = entry;
            Array.Copy(current, at, next, at + 1, current.Length - at);
            _entries = next;
            _passThrough = false;
        }
        Changed?.Invoke();
        return IotlbResult.Ok;
    }

    /// <summary>Removes every mapping that intersects [iova, iova+size) (dma_unmap; vhost_iotlb_del_range removes whole entries).</summary>
    public IotlbResult Unmap(Iova iova, ulong size)
    {
        if (size == 0 || iova.Value + (size - 1) < iova.Value) return IotlbResult.Invalid;
        ulong last = iova.Value + size - 1;
        lock (_lock)
        {
            var current = _passThrough ? [] : _entries;
            _entries = current.Where(e => e.Last.Value < iova.Value || e.First.Value > last).ToArray();
            _passThrough = false;
        }
        Changed?.Invoke();
        return IotlbResult.Ok;
    }

    /// <summary>Returns to pass-through (reset_map, compat_reset with CLEAN_MAP).</summary>
    public void ResetToPassThrough()
    {
        lock (_lock)
        {
            _entries = [];
            _passThrough = true;
        }
        Changed?.Invoke();
    }
}
