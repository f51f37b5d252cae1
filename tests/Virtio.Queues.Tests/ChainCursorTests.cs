using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;
using static Uvdpa.Virtio.Abi.VirtqDescFlags;
using static Uvdpa.Virtio.Queues.Tests.Infrastructure.HostileFixture;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>ChainReader / ChainWriter over multi-segment chains.</summary>
public sealed class ChainCursorTests
{
    private static HostileFixture PopThreeByThree()
    {
        var f = new HostileFixture();
        // Readable: 3 + 0 + 5 bytes; writable: 4 + 6 bytes.
        f.Desc(0, Buffers, 3, Next, 1);
        f.Desc(1, Buffers + 100, 0, Next, 2);
        f.Desc(2, Buffers + 200, 5, Next, 3);
        f.Desc(3, Buffers + 300, 4, Write | Next, 4);
        f.Desc(4, Buffers + 400, 6, Write);
        Assert.True(f.View.TryWrite(new Iova(Buffers), [1, 2, 3]));
        Assert.True(f.View.TryWrite(new Iova(Buffers + 200), [4, 5, 6, 7, 8]));
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        return f;
    }

    [Fact]
    public void Reader_ReadsAcrossSegments()
    {
        using var f = PopThreeByThree();
        Assert.Equal(5, f.Chain.Count);
        Assert.Equal(3, f.Chain.ReadableCount);
        Assert.Equal(2, f.Chain.WritableSegments.Length);
        var r = f.Chain.CreateReader();
        Assert.Equal(8UL, r.Remaining);
        Span<byte> buf = stackalloc byte[4];
        Assert.Equal(4, r.Read(f.View, buf));
        Assert.Equal([1, 2, 3, 4], buf.ToArray());
        Assert.True(r.Skip(1));
        Assert.False(r.Skip(5));
        Assert.Equal(3UL, r.Remaining);
        Assert.Equal(3, r.Read(f.View, buf));
        Assert.Equal([6, 7, 8], buf[..3].ToArray());
        Assert.Equal(0, r.Read(f.View, buf));
        Assert.Equal(0, default(ChainReader).Read(f.View, buf));
    }

    [Fact]
    public void Writer_WritesSkipsAndFillsAcrossSegments()
    {
        using var f = PopThreeByThree();
        var w = f.Chain.CreateWriter();
        Assert.Equal(10UL, w.Remaining);
        Assert.Equal(3, w.Write(f.View, [9, 9, 9]));
        Assert.True(w.Skip(2));
        Assert.True(w.Fill(f.View, 3, 0x77));
        Assert.False(w.Fill(f.View, 3, 0x77));
        Assert.Equal(2, w.Write(f.View, [1, 2, 3, 4]));
        Assert.Equal(10UL, w.Written);
        Assert.Equal(0UL, w.Remaining);
        var a = new byte[4]; var b = new byte[6];
        Assert.True(f.View.TryRead(new Iova(Buffers + 300), a));
        Assert.True(f.View.TryRead(new Iova(Buffers + 400), b));
        Assert.Equal(new byte[] { 9, 9, 9, 0 }, a);
        Assert.Equal(new byte[] { 0, 0x77, 0x77, 0x77, 1, 2 }, b);
    }

    [Fact]
    public void DangerousSpans_CoverOneSegmentAtTheCursor_AndDoNotAdvance()
    {
        using var f = PopThreeByThree();
        var r = f.Chain.CreateReader();
        Assert.True(r.DangerousTryGetSpan(f.View, 100, out var rs));
        Assert.Equal([1, 2, 3], rs.ToArray()); // first segment only, capped by its length
        Assert.Equal(8UL, r.Remaining);
        Assert.True(r.Skip(3));
        Assert.True(r.DangerousTryGetSpan(f.View, 2, out rs)); // the empty segment is passed over; capped by max
        Assert.Equal([4, 5], rs.ToArray());
        Assert.False(r.DangerousTryGetSpan(f.View, 0, out _));

        var w = f.Chain.CreateWriter();
        Assert.True(w.DangerousTryGetSpan(f.View, 100, out var ws));
        Assert.Equal(4, ws.Length);
        ws.Fill(0x42);
        Assert.True(w.Skip(4));
        Assert.True(w.DangerousTryGetSpan(f.View, 100, out ws));
        Assert.Equal(6, ws.Length);
        Assert.True(w.Skip(6));
        Assert.False(w.DangerousTryGetSpan(f.View, 100, out _)); // nothing left
        var a = new byte[4];
        Assert.True(f.View.TryRead(new Iova(Buffers + 300), a));
        Assert.Equal(new byte[] { 0x42, 0x42, 0x42, 0x42 }, a);

        // Unmapped in the view: no span (the caller falls back to the copying path, which reports the fault).
        using var other = TestSpace.Single(0x7000_0000, 4096);
        Assert.False(f.Chain.CreateWriter().DangerousTryGetSpan(other.View, 4, out _));
        Assert.False(f.Chain.CreateReader().DangerousTryGetSpan(other.View, 4, out _));
    }

    [Fact]
    public void DangerousSpans_CoalesceAdjacentSegments()
    {
        using var f = new HostileFixture();
        // Readable 4 + 4 bytes back to back, then 2 elsewhere; writable 8 + 8 back to back.
        f.Desc(0, Buffers, 4, Next, 1);
        f.Desc(1, Buffers + 4, 4, Next, 2);
        f.Desc(2, Buffers + 100, 2, Next, 3);
        f.Desc(3, Buffers + 200, 8, Write | Next, 4);
        f.Desc(4, Buffers + 208, 8, Write);
        Assert.True(f.View.TryWrite(new Iova(Buffers), [1, 2, 3, 4, 5, 6, 7, 8]));
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        var r = f.Chain.CreateReader();
        Assert.True(r.DangerousTryGetSpan(f.View, 100, out var rs));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], rs.ToArray()); // stops where the addresses stop being adjacent
        Assert.True(r.DangerousTryGetSpan(f.View, 6, out rs));
        Assert.Equal(6, rs.Length); // capped by max inside the second segment
        var w = f.Chain.CreateWriter();
        Assert.True(w.DangerousTryGetSpan(f.View, 100, out var ws));
        Assert.Equal(16, ws.Length);
    }

    [Fact]
    public void Writer_ReportsMemoryFaultAfterMappingChange()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 8, Write);
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        var w = f.Chain.CreateWriter();
        // A view in which the buffer is unmapped (e.g. the IOTLB changed after the pop): -1, no exception.
        using var other = TestSpace.Single(0x7000_0000, 4096);
        Assert.Equal(-1, w.Write(other.View, [1, 2, 3]));
        var r = f.Chain.CreateReader();
        Assert.Equal(0, r.Read(other.View, new byte[4]));
    }
}
