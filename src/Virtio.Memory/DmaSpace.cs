using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Virtio.Memory;

/// <summary>A pinned <see cref="DmaView"/>; dispose to release it.</summary>
public readonly struct DmaLease : IDisposable
{
    internal DmaLease(DmaView view) => View = view;

    /// <summary>The pinned snapshot.</summary>
    public DmaView View { get; }

    /// <inheritdoc />
    public void Dispose() => View?.Exit();
}

/// <summary>
/// A device's DMA address space: an <see cref="Iotlb"/> over a <see cref="GuestMemory"/>. "Pass-through" is identity
/// over the registered regions only (never raw process addresses). Publishes immutable <see cref="DmaView"/>
/// snapshots; a change builds a new one, and the old one is unpinned when its last lease ends (an RCU-style swap).
/// </summary>
public sealed class DmaSpace : IDisposable
{
    private readonly object _lock = new();
    private GuestMemory _memory;
    private DmaView _current;
    private bool _disposed;

    /// <summary>Creates a space over <paramref name="memory"/> with <paramref name="iotlb"/> (a new pass-through one when null).</summary>
    public DmaSpace(GuestMemory memory, Iotlb? iotlb = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        Iotlb = iotlb ?? new Iotlb();
        // Subscribe before the first build, under the lock: an IOTLB change racing with construction then either
        // shows in this build or triggers a Rebuild that waits for the lock; subscribing afterwards could lose it.
        lock (_lock)
        {
            Iotlb.Changed += Rebuild;
            try
            {
                _current = Build(_memory, Iotlb);
            }
            catch
            {
                Iotlb.Changed -= Rebuild;
                throw;
            }
        }
    }

    /// <summary>The translation table; changes take effect for leases acquired afterwards.</summary>
    public Iotlb Iotlb { get; }

    /// <summary>The guest memory currently bound.</summary>
    public GuestMemory Memory { get { lock (_lock) return _memory; } }

    /// <summary>Replaces the guest memory (bind_mm / a vhost-user memory table).</summary>
    public void SetMemory(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        lock (_lock)
        {
            _memory = memory;
            Publish(Build(memory, Iotlb));
        }
    }

    /// <summary>Pins the current snapshot. Cheap (two interlocked operations); take one per batch of work, not per access.</summary>
    public DmaLease Acquire()
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
            var v = Volatile.Read(ref _current);
            if (v.TryEnter()) return new DmaLease(v);
            // The snapshot was retired between the read and the enter; the next read sees its successor.
        }
    }

    private void Rebuild()
    {
        lock (_lock) Publish(Build(_memory, Iotlb));
    }

    private void Publish(DmaView next)
    {
        if (_disposed) { next.Exit(); return; }
        var old = Interlocked.Exchange(ref _current, next);
        old.Exit();
    }

    private static DmaView Build(GuestMemory memory, Iotlb iotlb)
    {
        var (passThrough, entries) = iotlb.Snapshot();
        var segments = new List<DmaView.Segment>();
        var pinned = new HashSet<MemoryMapping>();
        if (passThrough)
        {
            foreach (var r in memory.Regions)
            {
                var perm = r.Writable ? AccessPermission.ReadWrite : AccessPermission.Read;
                segments.Add(new DmaView.Segment(r.Start.Value, r.Last.Value, r.Mapping.Address, perm));
                pinned.Add(r.Mapping);
            }
        }
        else
        {
            foreach (var e in entries)
            {
                // Walk the guest regions covered by [Target, Target + len) and emit one segment per overlap.
                ulong len = e.Last.Value - e.First.Value; // len + 1 bytes (may be 2^64 - 1 + 1)
                ulong gpa = e.Target.Value;
                ulong gpaLast = gpa + len; // checked at entry creation not to wrap
                foreach (var r in memory.Regions)
                {
                    ulong lo = Math.Max(gpa, r.Start.Value);
                    ulong hi = Math.Min(gpaLast, r.Last.Value);
                    if (lo > hi) continue;
                    var perm = e.Permission;
                    if (!r.Writable) perm &= ~AccessPermission.Write;
                    if (perm == AccessPermission.None) continue;
                    ulong iovaLo = e.First.Value + (lo - gpa);
                    segments.Add(new DmaView.Segment(iovaLo, iovaLo + (hi - lo), r.Mapping.Address + (nint)(lo - r.Start.Value), perm));
                    pinned.Add(r.Mapping);
                }
            }
            segments.Sort((a, b) => a.First.CompareTo(b.First));
        }
        return new DmaView([.. segments], [.. pinned]);
    }

    /// <summary>Drops the space's reference to the current snapshot (outstanding leases stay valid).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            Iotlb.Changed -= Rebuild;
            _current.Exit();
        }
    }
}
