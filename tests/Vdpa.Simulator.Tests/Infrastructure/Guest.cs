using Uvdpa.Virtio.Memory;

namespace Uvdpa.Vdpa.Simulator.Tests.Infrastructure;

/// <summary>
/// The driver's side of guest memory: one shared (memfd) region, a pass-through view for the driver mock (IOVA = GPA)
/// and a bump allocator for rings and buffers.
/// </summary>
internal sealed class Guest : IDisposable
{
    public const ulong Base = 0x1000_0000;

    private readonly DmaSpace _space;
    private DmaLease _lease;
    private ulong _next;

    public Guest(long size = 16 << 20)
    {
        Region = MemoryRegion.Shared(new GuestAddress(Base), size, "uvdpa-sim-test");
        Memory = GuestMemory.Create(Region);
        _space = new DmaSpace(Memory);
        _lease = _space.Acquire();
        _next = Base;
    }

    public MemoryRegion Region { get; }
    public GuestMemory Memory { get; }
    public DmaView View => _lease.View;
    public ulong Size => (ulong)Region.Size;

    /// <summary>Allocates <paramref name="size"/> bytes aligned to <paramref name="align"/>.</summary>
    public Iova Alloc(long size, long align = 16)
    {
        ulong a = (_next + (ulong)align - 1) & ~((ulong)align - 1);
        _next = a + (ulong)size;
        if (_next > Base + Size) throw new InvalidOperationException("test guest memory exhausted");
        return new Iova(a);
    }

    public Iova Put(ReadOnlySpan<byte> data)
    {
        var at = Alloc(Math.Max(1, data.Length));
        Assert.True(View.TryWrite(at, data));
        return at;
    }

    public byte[] Get(Iova at, int length)
    {
        var b = new byte[length];
        Assert.True(View.TryRead(at, b));
        return b;
    }

    public void Dispose()
    {
        _lease.Dispose();
        _space.Dispose();
        Region.Dispose();
    }
}
