using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>Driver side on its own: layout, descriptor placement, and an untrusted device's used ring.</summary>
public sealed class DriverQueueTests : IDisposable
{
    private const ulong Gpa = 0x30_0000;
    private readonly TestSpace _mem = TestSpace.Single(Gpa, 1 << 20);

    public void Dispose() => _mem.Dispose();

    private DmaView V => _mem.View;

    private SplitDriverQueue Create(int size, bool indirect = false, int maxInd = 4, bool eventIndex = false)
    {
        var l = SplitDriverQueue.Layout(size, indirect, maxInd);
        var q = new SplitDriverQueue(size, new Iova(Gpa), new Iova(Gpa + (ulong)l.AvailOffset), new Iova(Gpa + (ulong)l.UsedOffset), eventIndex,
            indirect ? new Iova(Gpa + (ulong)l.IndirectPoolOffset) : null, indirect ? maxInd : 0);
        q.Initialize(V);
        return q;
    }

    private static DescriptorSegment R(ulong a, uint len) => new(new Iova(a), len, false);
    private static DescriptorSegment W(ulong a, uint len) => new(new Iova(a), len, true);

    private VirtqDesc Desc(ulong table, int i)
    {
        Assert.True(V.TryRead(new Iova(table + 16UL * (ulong)i), out VirtqDesc d));
        return d;
    }

    private void DeviceUsed(int size, ushort slot, uint id, uint len, ushort newIdx)
    {
        var l = SplitDriverQueue.Layout(size, false, 0);
        ulong used = Gpa + (ulong)l.UsedOffset;
        Assert.True(V.TryWrite(new Iova(used + 4 + 8UL * slot), new VirtqUsedElem { Id = id, Len = len }));
        Assert.True(V.TryWriteUInt16Release(new Iova(used + 2), newIdx));
    }

    [Theory]
    [InlineData(256, 4096, 0, 4096, 518, 8192, 2054, 10246)] // vring_size(256, 4096) = 10246
    [InlineData(1024, 4096, 0, 16384, 2054, 20480, 8198, 28678)]
    [InlineData(8, 4, 0, 128, 22, 152, 70, 222)]
    public void Layout_MatchesVringSize(int size, int align, long descOff, long descBytes, long availBytes, long usedOff, long usedBytes, long total)
    {
        var l = SplitDriverQueue.Layout(size, false, 0, align);
        Assert.Equal(descOff, l.DescriptorTableOffset);
        Assert.Equal(descBytes, l.DescriptorTableBytes);
        Assert.Equal(descBytes, l.AvailOffset);
        Assert.Equal(availBytes, l.AvailBytes);
        Assert.Equal(usedOff, l.UsedOffset);
        Assert.Equal(usedBytes, l.UsedBytes);
        Assert.Equal(0, l.IndirectPoolBytes);
        Assert.Equal(total, l.TotalBytes);
    }

    [Fact]
    public void Layout_WithIndirectPool()
    {
        var l = SplitDriverQueue.Layout(256, true, 16);
        Assert.Equal(10256, l.IndirectPoolOffset); // 10246 rounded up to 16
        Assert.Equal(256L * 16 * 16, l.IndirectPoolBytes);
        Assert.Equal(l.IndirectPoolOffset + l.IndirectPoolBytes, l.TotalBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitDriverQueue.Layout(100, false, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitDriverQueue.Layout(8, true, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitDriverQueue.Layout(8, false, 0, 3));
    }

    [Fact]
    public void DirectChain_UsesFreeListAndFlags()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10), W(0x2000, 20), W(0x3000, 30)], 77));
        Assert.Equal(5, q.FreeCount);
        var d0 = Desc(Gpa, 0); var d1 = Desc(Gpa, 1); var d2 = Desc(Gpa, 2);
        Assert.Equal((ushort)VirtqDescFlags.Next, d0.Flags);
        Assert.Equal(1, d0.Next);
        Assert.Equal((ushort)(VirtqDescFlags.Next | VirtqDescFlags.Write), d1.Flags);
        Assert.Equal(2, d1.Next);
        Assert.Equal((ushort)VirtqDescFlags.Write, d2.Flags);
        Assert.Equal(0x3000UL, d2.Addr);
        Assert.Equal(30u, d2.Len);
        // Not visible to the device until KickPrepare publishes avail->idx.
        var availIdx = new Iova(Gpa + (ulong)SplitDriverQueue.Layout(8, false, 0).AvailOffset + 2);
        Assert.True(V.TryReadUInt16(availIdx, out ushort idx));
        Assert.Equal(0, idx);
        Assert.True(q.KickPrepare(V));
        Assert.True(V.TryReadUInt16(availIdx, out idx));
        Assert.Equal(1, idx);
        // Not enough descriptors for a 6-segment chain.
        Assert.False(q.TryAdd(V, [R(0, 1), R(0, 1), R(0, 1), R(0, 1), R(0, 1), R(0, 1)], 1));
        Assert.Equal(5, q.FreeCount);
    }

    [Fact]
    public void IndirectChain_UsesTableOfItsHead()
    {
        var q = Create(8, indirect: true, maxInd: 4);
        var l = SplitDriverQueue.Layout(8, true, 4);
        Assert.True(q.TryAdd(V, [R(0x1000, 1)], 1)); // single segment: direct (head 0)
        Assert.True(q.TryAdd(V, [R(0x1000, 10), W(0x2000, 20)], 2)); // head 1, table 1
        Assert.Equal(6, q.FreeCount);
        var head = Desc(Gpa, 1);
        ulong table = Gpa + (ulong)l.IndirectPoolOffset + 1UL * 4 * 16;
        Assert.Equal((ushort)VirtqDescFlags.Indirect, head.Flags);
        Assert.Equal(table, head.Addr);
        Assert.Equal(32u, head.Len);
        Assert.Equal((ushort)VirtqDescFlags.Next, Desc(table, 0).Flags);
        Assert.Equal((ushort)VirtqDescFlags.Write, Desc(table, 1).Flags);
        // More segments than a table holds: falls back to a direct chain.
        Assert.True(q.TryAdd(V, [R(1, 1), R(1, 1), R(1, 1), R(1, 1), R(1, 1)], 3));
        Assert.Equal(1, q.FreeCount);
    }

    [Fact]
    public void TryAdd_RejectsReadableAfterWritableAndEmpty()
    {
        var q = Create(8);
        Assert.Throws<ArgumentException>(() => q.TryAdd(V, [W(0x1000, 1), R(0x1000, 1)], 0));
        Assert.Throws<ArgumentException>(() => q.TryAdd(V, ReadOnlySpan<DescriptorSegment>.Empty, 0));
        Assert.Equal(8, q.FreeCount);
    }

    [Fact]
    public void TryGetUsed_ReturnsTokenAndLength_AndFreesTheChain()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10), W(0x2000, 20)], 41));
        Assert.True(q.TryAdd(V, [W(0x3000, 20)], 42));
        q.KickPrepare(V);
        Assert.False(q.TryGetUsed(V, out _, out _));
        DeviceUsed(8, 0, 2, 5, 1); // chain at head 2 (second buffer) completes first
        Assert.True(q.TryGetUsed(V, out int tok, out uint len));
        Assert.Equal(42, tok);
        Assert.Equal(5u, len);
        Assert.Equal(6, q.FreeCount);
        Assert.Equal(1, q.InFlight);
        DeviceUsed(8, 1, 0, 20, 2);
        Assert.True(q.TryGetUsed(V, out tok, out len));
        Assert.Equal(41, tok);
        Assert.Equal(8, q.FreeCount);
        Assert.False(q.IsBroken);
    }

    [Fact]
    public void Regression_UsedIdOutOfRange_BreaksInsteadOfThrowing()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 1));
        q.KickPrepare(V);
        DeviceUsed(8, 0, 9999, 0, 1);
        Assert.False(q.TryGetUsed(V, out _, out _));
        Assert.True(q.IsBroken);
        Assert.Equal(QueueError.UsedRingFault, q.Error);
        Assert.False(q.TryAdd(V, [R(0x1000, 10)], 1));
    }

    [Fact]
    public void Regression_UsedIdNotInFlight_Breaks()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10), R(0x1000, 10)], 1)); // head 0, uses 0 and 1
        q.KickPrepare(V);
        DeviceUsed(8, 0, 1, 0, 1); // 1 is inside the chain, not a head
        Assert.False(q.TryGetUsed(V, out _, out _));
        Assert.Equal(QueueError.UsedRingFault, q.Error);
    }

    [Fact]
    public void Regression_UsedIdReturnedTwice_Breaks()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 1));
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 2));
        q.KickPrepare(V);
        DeviceUsed(8, 0, 0, 0, 1);
        Assert.True(q.TryGetUsed(V, out _, out _));
        DeviceUsed(8, 1, 0, 0, 2);
        Assert.False(q.TryGetUsed(V, out _, out _));
        Assert.Equal(QueueError.UsedRingFault, q.Error);
    }

    [Fact]
    public void Regression_UsedIndexJumpsPastInFlight_Breaks()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 1));
        q.KickPrepare(V);
        DeviceUsed(8, 0, 0, 0, 5);
        Assert.False(q.TryGetUsed(V, out _, out _));
        Assert.Equal(QueueError.UsedRingFault, q.Error);
    }

    [Fact]
    public void DetachUnused_ReturnsOutstandingTokens()
    {
        var q = Create(8, indirect: true);
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 10));
        Assert.True(q.TryAdd(V, [R(0x1000, 10), W(0x1000, 10)], 11));
        Assert.True(q.TryAdd(V, [R(0x1000, 10), R(0x1000, 10), R(0x1000, 10), R(0x1000, 10), R(0x1000, 10)], 12));
        q.KickPrepare(V);
        Span<int> tokens = stackalloc int[2];
        int n = q.DetachUnused(tokens);
        Assert.Equal(2, n);
        Span<int> rest = stackalloc int[8];
        int m = q.DetachUnused(rest);
        Assert.Equal(1, m);
        int[] all = [tokens[0], tokens[1], rest[0]];
        Array.Sort(all);
        Assert.Equal([10, 11, 12], all);
        Assert.Equal(8, q.FreeCount);
        Assert.Equal(0, q.InFlight);
        Assert.Equal(0, q.DetachUnused(rest));
    }

    [Fact]
    public void Initialize_ResetsEverything()
    {
        var q = Create(8);
        Assert.True(q.TryAdd(V, [R(0x1000, 10)], 1));
        q.KickPrepare(V);
        DeviceUsed(8, 0, 7, 0, 1);
        Assert.False(q.TryGetUsed(V, out _, out _));
        Assert.True(q.IsBroken);
        q.Initialize(V);
        Assert.False(q.IsBroken);
        Assert.Equal(8, q.FreeCount);
        Assert.Equal(0, q.InFlight);
    }

    [Fact]
    public void Constructor_ValidatesArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitDriverQueue(6, new Iova(0), new Iova(0), new Iova(0), false));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitDriverQueue(8, new Iova(0), new Iova(0), new Iova(0), false, new Iova(0), 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitDriverQueue(8, new Iova(0), new Iova(0), new Iova(0), false, new Iova(0), 9));
    }
}
