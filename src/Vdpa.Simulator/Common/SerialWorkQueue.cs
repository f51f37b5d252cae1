namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// A per-device serial work queue on the .NET thread pool: the analogue of the simulator's kthread worker
/// ("vDPA sim worker: &lt;name&gt;") without a thread per device. At most one run at a time; a schedule request during a
/// run makes exactly one more run; a request while a run is already queued is absorbed by it. Scheduling allocates
/// nothing (the queue is its own <see cref="IThreadPoolWorkItem"/>), so an idle device costs one small object.
/// </summary>
internal sealed class SerialWorkQueue : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Queued = 1;
    private const int Running = 2;
    private const int RunningRescheduled = 3;

    [ThreadStatic]
    private static SerialWorkQueue? t_current;

    private readonly Action _work;
    private int _state;

    /// <summary>Creates a queue that runs <paramref name="work"/>; the work must not throw.</summary>
    public SerialWorkQueue(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        _work = work;
    }

    /// <summary>True when nothing is queued or running.</summary>
    public bool IsIdle => Volatile.Read(ref _state) == Idle;

    /// <summary>True when called from inside this queue's own run.</summary>
    public bool IsCurrentThreadRunning => ReferenceEquals(t_current, this);

    /// <summary>kthread_queue_work: makes sure the work runs (again) after this call.</summary>
    public void Schedule()
    {
        // Store-load ordering: the caller published ring updates (avail idx) before this doorbell; the full barrier keeps
        // our load of _state from passing those stores, pairing with the interlocked transition to Running in
        // Execute, so either we see Running (and ask for another run) or the run starts after the stores.
        Interlocked.MemoryBarrier();
        while (true)
        {
            int s = Volatile.Read(ref _state);
            switch (s)
            {
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Queued, Idle) == Idle)
                    {
                        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                        return;
                    }
                    break;
                case Running:
                    if (Interlocked.CompareExchange(ref _state, RunningRescheduled, Running) == Running) return;
                    break;
                default:
                    // Queued: the pending run has not started and will see the new state. RunningRescheduled: one more
                    // run is already promised.
                    return;
            }
        }
    }

    /// <summary>Waits until no run is queued or running (kthread_cancel_work_sync), unless called from the run itself.</summary>
    public void WaitIdle(TimeSpan timeout)
    {
        if (IsCurrentThreadRunning) return;
        var sw = new SpinWait();
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!IsIdle && Environment.TickCount64 < deadline) sw.SpinOnce(sleep1Threshold: 20);
    }

    void IThreadPoolWorkItem.Execute()
    {
        Interlocked.Exchange(ref _state, Running);
        t_current = this;
        try
        {
            _work();
        }
        catch
        {
            // The work is written not to throw; an escape here would take the process down from a pool thread.
        }
        finally
        {
            t_current = null;
        }
        if (Interlocked.CompareExchange(ref _state, Idle, Running) != Running)
        {
            // Rescheduled while running: requeue rather than loop, so one busy device cannot starve the others.
            Volatile.Write(ref _state, Queued);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }
}
