using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>
/// One split ring of <see cref="Size"/> entries in 1 MiB of test memory, seen by our driver queue and our device queue
/// at once (event index on or off, chosen per test by <see cref="Setup"/>).
/// </summary>
public abstract class RingPairTest : IDisposable
{
    protected const ulong Gpa = 0x20_0000;
    protected const int Size = 8;
    private readonly TestSpace _mem = TestSpace.Single(Gpa, 1 << 20);
    private readonly SplitRingLayoutInfo _layout = SplitDriverQueue.Layout(Size, false, 0);

    protected DescriptorChain Chain { get; } = new(Size);

    protected SplitDriverQueue Driver { get; private set; } = null!;

    protected SplitDeviceQueue Device { get; private set; } = null!;

    protected DmaView V => _mem.View;

    protected Iova Avail => new(Gpa + (ulong)_layout.AvailOffset);

    protected Iova Used => new(Gpa + (ulong)_layout.UsedOffset);

    public void Dispose()
    {
        _mem.Dispose();
        GC.SuppressFinalize(this);
    }

    protected void Setup(bool eventIndex)
    {
        Driver = new SplitDriverQueue(Size, new Iova(Gpa), Avail, Used, eventIndex);
        Driver.Initialize(V);
        Device = new SplitDeviceQueue(Size) { EventIndex = eventIndex };
        Device.SetAddresses(new Iova(Gpa), Avail, Used);
        Device.Ready = true;
    }

    /// <summary>The 16-bit value at <paramref name="area"/> + <paramref name="offset"/>.</summary>
    protected ushort Read16(Iova area, ulong offset)
    {
        Assert.True(V.TryReadUInt16(new Iova(area.Value + offset), out ushort v));
        return v;
    }
}
