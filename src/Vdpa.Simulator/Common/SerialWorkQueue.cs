namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// A per-device serial work queue: the analogue of the simulator's kthread worker ("vDPA sim worker: &lt;name&gt;").
/// At most one run at a time; a schedule request during a run makes exactly one more run; a request while a run is
/// already queued is absorbed by it. Three ways a run gets a thread, all under the same state machine:
/// <list type="bullet">
/// <item>the .NET thread pool (default): the queue is its own <see cref="IThreadPoolWorkItem"/>, scheduling allocates
/// nothing and an idle device has no thread; a rescheduled run is requeued, so one busy device cannot starve others;</item>
/// <item>a dedicated thread, once <see cref="UseDedicatedThread"/> was called (a device with polled rings, whose runs
/// follow each other back to back): rescheduled runs loop on it without a queue hop, the kernel's kthread;</item>
/// <item>the caller's own thread, through <see cref="RunOrSchedule"/>, when the queue is idle: for callers that are
/// themselves a worker dedicated to this device (vhost's kick worker), which saves a thread hop per kick.</item>
/// </list>
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
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private int _state;
    private volatile Thread? _thread;
    private volatile bool _stopping;

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

    /// <summary>True once runs go to a dedicated thread.</summary>
    public bool HasDedicatedThread => _thread is not null;

    /// <summary>kthread_queue_work: makes sure the work runs (again) after this call.</summary>
    public void Schedule()
    {
        // Store-load ordering: the caller published ring updates (avail idx) before this doorbell; the full barrier keeps
        // our load of _state from passing those stores, pairing with the interlocked transition to Running in
        // Execute, so either we see Running (and ask for another run) or the run starts after the stores.
        Interlocked.MemoryBarrier();
        ScheduleAfterBarrier();
    }

    private void ScheduleAfterBarrier()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            switch (s)
            {
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Queued, Idle) == Idle)
                    {
                        Dispatch();
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

    /// <summary>
    /// Runs the work on the calling thread when the queue is idle (and again while it is rescheduled), else schedules
    /// it. Only for a caller that is a thread dedicated to feeding this device: the work can take long.
    /// </summary>
    public void RunOrSchedule()
    {
        Interlocked.MemoryBarrier(); // as in Schedule: the doorbell's ring updates before our look at the state
        if (!_stopping && _thread is null && Interlocked.CompareExchange(ref _state, Running, Idle) == Idle)
        {
            RunLoop(onDedicatedThread: true);
            return;
        }
        ScheduleAfterBarrier(); // the barrier above already ordered the ring updates
    }

    /// <summary>From now on runs go to one dedicated background thread named <paramref name="name"/> (idempotent).</summary>
    public void UseDedicatedThread(string name)
    {
        if (_thread is not null || _stopping) return;
        lock (_wake)
        {
            if (_thread is not null || _stopping) return;
            var t = new Thread(DedicatedLoop) { IsBackground = true, Name = name };
            _thread = t;
            t.Start();
        }
        // A run queued on the pool before the switch still runs there; one queued now reaches the thread.
        _wake.Set();
    }

    /// <summary>Waits until no run is queued or running (kthread_cancel_work_sync), unless called from the run itself.</summary>
    public void WaitIdle(TimeSpan timeout)
    {
        if (IsCurrentThreadRunning) return;
        var sw = new SpinWait();
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!IsIdle && Environment.TickCount64 < deadline) sw.SpinOnce(sleep1Threshold: 20);
    }

    /// <summary>Stops the dedicated thread (after the run in progress) and waits for it, unless called from it.</summary>
    public void Stop()
    {
        Thread? t;
        lock (_wake)
        {
            _stopping = true;
            t = _thread;
        }
        _wake.Set();
        if (t is not null && t != Thread.CurrentThread) t.Join();
    }

    void IThreadPoolWorkItem.Execute()
    {
        // Only a still-queued run starts here: the dedicated thread may have taken it since it was queued.
        if (Interlocked.CompareExchange(ref _state, Running, Queued) != Queued) return;
        RunLoop(onDedicatedThread: false);
    }

    private void Dispatch()
    {
        if (_thread is not null && !_stopping) _wake.Set();
        else ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Runs the work (state Running); loops while rescheduled on a dedicated thread, else requeues.</summary>
    private void RunLoop(bool onDedicatedThread)
    {
        while (true)
        {
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
            if (Interlocked.CompareExchange(ref _state, Idle, Running) == Running) return;
            // Rescheduled while running.
            if (onDedicatedThread && !_stopping)
            {
                Volatile.Write(ref _state, Running);
                continue;
            }
            Volatile.Write(ref _state, Queued);
            Dispatch();
            return;
        }
    }

    private void DedicatedLoop()
    {
        while (!_stopping)
        {
            if (Interlocked.CompareExchange(ref _state, Running, Queued) == Queued)
            {
                RunLoop(onDedicatedThread: true);
                continue;
            }
            // Reset before the next look at the state: a Schedule in between set Queued before it set the event.
            _wake.Wait();
            _wake.Reset();
        }
        // Stopping: a run queued for this thread goes to the pool (the device's Free waits for idle first anyway).
        if (Volatile.Read(ref _state) == Queued) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }
}
