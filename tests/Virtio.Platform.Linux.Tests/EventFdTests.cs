namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary>eventfd(2) counters as kick/call notifications.</summary>
public class EventFdTests
{
    [Fact]
    public void Signal_ThenConsume_ReturnsCountAndClears()
    {
        using var e = EventFd.Create(nonBlocking: true);
        Assert.True(e.Signal());
        Assert.True(e.Signal());
        Assert.True(e.Signal());
        Assert.Equal(3UL, e.Consume());
        Assert.Equal(0UL, e.Consume());
    }

    [Fact]
    public void NonBlocking_ConsumeWithNothingPending_ReturnsZeroAtOnce()
    {
        using var e = EventFd.Create(nonBlocking: true);
        Assert.Equal(0UL, e.Consume());
    }

    [Fact]
    public async Task Blocking_Consume_WaitsForSignal()
    {
        using var e = EventFd.Create();
        using var started = new ManualResetEventSlim();
        var reader = Task.Factory.StartNew(() => { started.Set(); return e.Consume(); }, TaskCreationOptions.LongRunning);
        started.Wait();
        await Task.Delay(50);
        Assert.False(reader.IsCompleted); // still blocked in read(2)
        Assert.True(e.Signal());
        var done = await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(reader, done);
        Assert.Equal(1UL, await reader);
    }

    [Fact]
    public void Blocking_ConsumeWithPendingSignal_ReturnsImmediately()
    {
        using var e = EventFd.Create();
        e.Signal();
        e.Signal();
        Assert.Equal(2UL, e.Consume());
    }

    [Fact]
    public async Task Signals_FromManyThreads_AreAllCounted()
    {
        using var e = EventFd.Create(nonBlocking: true);
        const int threads = 4, each = 1000;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < each; i++) Assert.True(e.Signal());
        })));
        Assert.Equal((ulong)(threads * each), e.Consume());
    }

    [Fact]
    public void AfterDispose_SignalFailsAndConsumeReturnsZero()
    {
        var e = EventFd.Create(nonBlocking: true);
        e.Dispose();
        Assert.False(e.Signal());
        Assert.Equal(0UL, e.Consume());
    }

    [Fact]
    public void Descriptor_IsOwnedAndClosedByDispose()
    {
        var e = EventFd.Create();
        Assert.False(e.Descriptor.IsInvalid);
        Assert.True(e.Descriptor.Value >= 0);
        e.Dispose();
        Assert.True(e.Descriptor.IsClosed);
    }
}
