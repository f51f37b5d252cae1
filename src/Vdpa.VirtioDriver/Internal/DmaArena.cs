using Uvdpa.Virtio.Memory;

namespace Uvdpa.Vdpa.VirtioDriver.Internal;

/// <summary>
/// The driver's DMA memory for one device (the dma_alloc_coherent pool of virtio_ring.c plus the drivers' buffers):
/// one region at a fixed guest address, identity-mapped (IOVA = GPA) for the device, carved by a bump
/// allocator (private anonymous memory, or a memfd when the device lives in another process). Reference counted: data-path operations <see cref="TryEnter"/>/<see cref="Exit"/> around their memory
/// accesses, so the pages stay mapped until the last one finishes even when the device is removed concurrently.
/// </summary>
internal sealed class DmaArena
{
    /// <summary>Where the driver's memory sits in the device's (pass-through) DMA space.</summary>
    public static readonly GuestAddress Base = new(0x1_0000_0000);

    private readonly MemoryRegion _region;
    private readonly DmaSpace _space;
    private readonly DmaLease _lease;
    private long _next;
    private int _refs = 1; // the owner's reference

    /// <param name="size">Bytes (rounded up to a page).</param>
    /// <param name="shared">
    /// True when the device needs fd-backed memory it can pass to another process (<see cref="Core.VdpaOptionalOps.SharedMemory"/>).
    /// </param>
    public DmaArena(long size, bool shared = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        size = AlignUp(size, 4096);
        // Private anonymous memory by default: the device reaches it through BindMemory in this process, so no file
        // descriptor is needed (10,000 bound devices must not hold 10,000 memfds), and untouched pages cost nothing.
        // A device served by another process (a vhost-user back-end) gets a memfd it can map.
        _region = shared ? MemoryRegion.Shared(Base, size, "uvdpa-virtio-dma") : MemoryRegion.Anonymous(Base, size);
        try
        {
            Memory = GuestMemory.Create(_region);
            _space = new DmaSpace(Memory);
            _lease = _space.Acquire();
        }
        catch
        {
            _space?.Dispose();
            _region.Dispose();
            throw;
        }
        View = _lease.View;
    }

    /// <summary>The guest memory the device is bound to.</summary>
    public GuestMemory Memory { get; }

    /// <summary>The driver's view (valid while a reference is held).</summary>
    public DmaView View { get; }

    /// <summary>Total bytes.</summary>
    public long Size => _region.Size;

    /// <summary>Bytes handed out so far.</summary>
    public long Used => _next;

    /// <summary>Carves <paramref name="size"/> bytes aligned to <paramref name="align"/> (a power of two).</summary>
    public Iova Allocate(long size, int align)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        long start = AlignUp(_next, align);
        if (start + size > _region.Size)
            throw new InvalidOperationException($"driver DMA arena exhausted: need {size} bytes at {start}, size {_region.Size}");
        _next = start + size;
        return new Iova(Base.Value + (ulong)start);
    }

    /// <summary>Takes a reference; false once the owner released the arena and the last user left.</summary>
    public bool TryEnter()
    {
        int r = Volatile.Read(ref _refs);
        while (r > 0)
        {
            int seen = Interlocked.CompareExchange(ref _refs, r + 1, r);
            if (seen == r) return true;
            r = seen;
        }
        return false;
    }

    /// <summary>Drops a reference; the last one unmaps the memory.</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
        {
            _lease.Dispose();
            _space.Dispose();
            _region.Dispose();
        }
    }

    public static long AlignUp(long value, long align) => (value + align - 1) & ~(align - 1);
}
