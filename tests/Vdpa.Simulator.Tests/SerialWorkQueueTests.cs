namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>
/// The device's work queue on each of its three executors (thread pool, dedicated thread, the kicking thread itself):
/// never two runs at once, and every schedule is followed by a run that sees what was published before it.
/// </summary>
public sealed class SerialWorkQueueTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void RunOrSchedule_OnAnIdleQueue_RunsOnTheCallingThread_BeforeReturning()
    {
        Thread? ranOn = null;
        var q = new SerialWorkQueue(() => ranOn = Thread.CurrentThread);
        q.RunOrSchedule();
        Assert.Same(Thread.CurrentThread, ranOn);
        Assert.True(q.IsIdle);
    }

    [Fact]
    public void RunOrSchedule_DuringARun_AsksForExactlyOneMoreRun()
    {
        int runs = 0;
        SerialWorkQueue? q = null;
        q = new SerialWorkQueue(() =>
        {
            if (Interlocked.Increment(ref runs) == 1)
            {
                // A kick that arrives while the work runs: absorbed into one more run, however many arrive.
                q!.RunOrSchedule();
                q.RunOrSchedule();
            }
        });
        q.RunOrSchedule();
        Assert.Equal(2, runs);
        Assert.True(q.IsIdle);
    }

    [Fact]
    public void DedicatedThread_RunsTheWork_AndLoopsOnReschedule_WithoutLeavingIt()
    {
        var threads = new List<string?>();
        int runs = 0;
        SerialWorkQueue? q = null;
        using var done = new ManualResetEventSlim();
        q = new SerialWorkQueue(() =>
        {
            lock (threads) threads.Add(Thread.CurrentThread.Name);
            if (Interlocked.Increment(ref runs) < 5) q!.Schedule();
            else done.Set();
        });
        q.UseDedicatedThread("vDPA sim worker: t0");
        Assert.True(q.HasDedicatedThread);
        q.Schedule();
        Assert.True(done.Wait(Timeout));
        q.WaitIdle(Timeout);
        Assert.Equal(Enumerable.Repeat<string?>("vDPA sim worker: t0", 5), threads);
        // With a dedicated thread, a worker's kick hands the run to it rather than running inline.
        q.RunOrSchedule();
        q.WaitIdle(Timeout);
        Assert.Equal("vDPA sim worker: t0", threads[^1]);
        q.Stop();
    }

    public static TheoryData<string> Executors => new() { "pool", "dedicated", "inline", "switch" };

    [Theory]
    [MemberData(nameof(Executors))]
    public async Task ManySchedulers_NeverOverlap_AndTheLastPublishedValueIsAlwaysSeen(string executor)
    {
        long published = 0, seen = 0;
        int inside = 0, overlaps = 0;
        var q = new SerialWorkQueue(() =>
        {
            if (Interlocked.Increment(ref inside) != 1) Interlocked.Increment(ref overlaps);
            Volatile.Write(ref seen, Math.Max(Volatile.Read(ref seen), Volatile.Read(ref published)));
            Thread.SpinWait(50);
            Interlocked.Decrement(ref inside);
        });
        if (executor == "dedicated") q.UseDedicatedThread("t-dedicated");
        var tasks = Enumerable.Range(0, 4).Select(t => Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                Interlocked.Increment(ref published);
                if (executor == "inline" || (executor == "switch" && (i & 1) == 0)) q.RunOrSchedule();
                else q.Schedule();
                if (executor == "switch" && t == 0 && i == 10_000) q.UseDedicatedThread("t-switched");
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(tasks);
        q.WaitIdle(Timeout);
        Assert.True(q.IsIdle, "the queue did not go idle");
        Assert.Equal(0, overlaps);
        Assert.Equal(Volatile.Read(ref published), Volatile.Read(ref seen));
        q.Stop();
    }
}
