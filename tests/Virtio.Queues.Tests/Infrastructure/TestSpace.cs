using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>Guest memory + DMA space + a held lease, disposed together.</summary>
internal sealed class TestSpace : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private DmaLease _lease;

    private TestSpace(GuestMemory memory, DmaSpace space, IEnumerable<IDisposable> owned)
    {
        Memory = memory;
        Space = space;
        _owned.AddRange(owned);
        _lease = space.Acquire();
    }

    public GuestMemory Memory { get; }
    public DmaSpace Space { get; }
    public DmaView View => _lease.View;

    /// <summary>One anonymous region at <paramref name="gpa"/>, pass-through (IOVA = GPA).</summary>
    public static TestSpace Single(ulong gpa, long size)
    {
        var r = MemoryRegion.Anonymous(new GuestAddress(gpa), size);
        return Over(GuestMemory.Create(r), null, r);
    }

    public static TestSpace Over(GuestMemory memory, Iotlb? iotlb, params IDisposable[] owned)
    {
        var space = new DmaSpace(memory, iotlb);
        return new TestSpace(memory, space, owned);
    }

    /// <summary>Re-acquires the lease (after an IOTLB change).</summary>
    public void Refresh()
    {
        var old = _lease;
        _lease = Space.Acquire();
        old.Dispose();
    }

    public void Dispose()
    {
        _lease.Dispose();
        Space.Dispose();
        foreach (var o in _owned) o.Dispose();
    }
}
