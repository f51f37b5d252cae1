using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>Driver against device over the same memory (tools/virtio/vringh_test.c style), indirect × event-idx matrix.</summary>
public sealed class LoopbackTests
{
    private const ulong Gpa = 0x4000_0000;

    public static TheoryData<bool, bool, int> Matrix()
    {
        var d = new TheoryData<bool, bool, int>();
        foreach (int size in new[] { 8, 64 })
            foreach (bool ind in new[] { false, true })
                foreach (bool ev in new[] { false, true })
                    d.Add(ind, ev, size);
        return d;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void VariedChains_RoundTripByteForByte(bool indirect, bool eventIndex, int size)
    {
        using var mem = TestSpace.Single(Gpa, 4 << 20);
        var h = new LoopbackHarness(mem.View, mem.View, new Iova(Gpa), new Iova(Gpa + 0x10_0000), 2 << 20, size, indirect, eventIndex, seed: 1234 + size);
        h.RunRounds(300, kickPerAdd: false, notifyPerPush: false);
        Assert.True(h.Book.Verified > 300);
        Assert.Equal(h.Added, h.Book.Verified);
        Assert.Equal(h.Added, h.Pushed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NotificationCounts_EventIndexSuppressesAllButOnePerRound(bool indirect)
    {
        using var mem = TestSpace.Single(Gpa, 4 << 20);
        var flags = new LoopbackHarness(mem.View, mem.View, new Iova(Gpa), new Iova(Gpa + 0x10_0000), 1 << 20, 32, indirect, eventIndex: false, seed: 7);
        flags.RunRounds(200, kickPerAdd: true, notifyPerPush: true);

        using var mem2 = TestSpace.Single(Gpa, 4 << 20);
        var ev = new LoopbackHarness(mem2.View, mem2.View, new Iova(Gpa), new Iova(Gpa + 0x10_0000), 1 << 20, 32, indirect, eventIndex: true, seed: 7);
        ev.RunRounds(200, kickPerAdd: true, notifyPerPush: true);

        // Flags only: every add kicks (the device re-enabled), every push interrupts (the driver re-enabled).
        Assert.Equal(flags.Added, flags.Kicks);
        Assert.Equal(flags.Pushed, flags.Interrupts);
        // Event index: exactly the first add and the first push of each round cross the published event index.
        Assert.Equal(ev.RoundsWithWork, ev.Kicks);
        Assert.Equal(ev.RoundsWithWork, ev.Interrupts);
        Assert.Equal(flags.Added, ev.Added); // same seed, same workload
        Assert.True(ev.Kicks < flags.Kicks);
        Assert.True(ev.Interrupts < flags.Interrupts);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Regression_IndexWrap_Over65536Buffers(bool eventIndex)
    {
        using var mem = TestSpace.Single(Gpa, 4 << 20);
        var h = new LoopbackHarness(mem.View, mem.View, new Iova(Gpa), new Iova(Gpa + 0x10_0000), 256 * 1024, 256, indirect: true, eventIndex, seed: 99, maxSegments: 3);
        while (h.Added < 70_000) h.RunRounds(100, kickPerAdd: true, notifyPerPush: false);
        Assert.Equal(h.Added, h.Book.Verified);
        Assert.Equal((ushort)h.Added, h.Device.UsedIndex);
        Assert.Equal((ushort)h.Added, h.Device.LastAvailIndex);
    }
}
