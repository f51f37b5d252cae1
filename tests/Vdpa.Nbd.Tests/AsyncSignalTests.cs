namespace Uvdpa.Vdpa.Nbd.Tests;

public sealed class AsyncSignalTests
{
    [Fact]
    public async Task SetBeforeWait_IsRemembered_Once()
    {
        var s = new AsyncSignal();
        s.Set();
        s.Set(); // coalesces
        Assert.True(s.WaitAsync().IsCompleted);
        var pending = s.WaitAsync();
        Assert.False(pending.IsCompleted);
        s.Set();
        await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ManySetsFromOtherThreads_NeverLoseAWakeUp()
    {
        var s = new AsyncSignal();
        int produced = 0;
        const int Total = 20000;
        var producer = Task.Run(() =>
        {
            for (int i = 0; i < Total; i++)
            {
                Interlocked.Increment(ref produced);
                s.Set();
            }
        });
        int seen = 0;
        while (seen < Total)
        {
            await s.WaitAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            seen = Volatile.Read(ref produced);
        }
        await producer;
    }
}
