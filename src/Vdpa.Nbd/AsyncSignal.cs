using System.Threading.Tasks.Sources;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// An auto-reset signal for one waiter at a time that allocates nothing: <see cref="Set"/> before
/// <see cref="WaitAsync"/> is remembered (once); a set wakes the waiter on the thread pool, never inline in the
/// setter. Spurious wake-ups are possible, so waiters re-check their condition.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource
{
    private const int Idle = 0, Signalled = 1, Waiting = 2;
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;

    /// <summary>Completes at once if signalled since the last wait, else at the next <see cref="Set"/>. One waiter only.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signalled) == Signalled) return default;
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // A Set landed between the two exchanges: consume it.
            Volatile.Write(ref _state, Idle);
            return default;
        }
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Wakes the waiter, or remembers the signal for the next wait.</summary>
    public void Set()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if (s == Signalled) return;
            if (s == Waiting)
            {
                if (Interlocked.CompareExchange(ref _state, Idle, Waiting) != Waiting) continue;
                _core.SetResult(true);
                return;
            }
            if (Interlocked.CompareExchange(ref _state, Signalled, Idle) == Idle) return;
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
