using System.Threading.Tasks.Sources;

namespace Uvdpa.Vdpa.VirtioDriver.Internal;

/// <summary>
/// An allocation-free "something changed" signal for async waiters, with an epoch so that no wake-up is lost:
/// a waiter reads <see cref="Epoch"/>, checks its condition, and calls <see cref="WaitAsync"/> with the epoch it
/// read; the wait completes at once if <see cref="Set"/> ran in between. <see cref="Set"/> wakes every waiter
/// (they re-check their condition). Waiter objects are pooled IValueTaskSources, so a steady state allocates nothing.
/// Continuations always run on the thread pool, never on the thread that calls <see cref="Set"/> (the device worker).
/// </summary>
internal sealed class AsyncSignal
{
    private readonly object _lock = new();
    private readonly List<Waiter> _waiters = new(8);
    private readonly Stack<Waiter> _pool = new(8);
    private long _epoch;
    private Func<Exception>? _fault;

    /// <summary>Incremented by every <see cref="Set"/>.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>Wakes all current waiters (cheap; safe to call from the device worker).</summary>
    public void Set()
    {
        lock (_lock)
        {
            _epoch++;
            if (_waiters.Count == 0) return;
            foreach (var w in _waiters) w.Complete(null);
            _waiters.Clear();
        }
    }

    /// <summary>Makes every current and future wait fail with an exception from <paramref name="error"/> (one per waiter).</summary>
    public void Fault(Func<Exception> error)
    {
        lock (_lock)
        {
            _fault ??= error;
            _epoch++;
            foreach (var w in _waiters) w.Complete(_fault());
            _waiters.Clear();
        }
    }

    /// <summary>Waits until <see cref="Epoch"/> differs from <paramref name="epoch"/>; completes at once if it already does.</summary>
    public ValueTask WaitAsync(long epoch, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        Waiter w;
        lock (_lock)
        {
            if (_fault is not null) return ValueTask.FromException(_fault());
            if (_epoch != epoch) return ValueTask.CompletedTask;
            w = _pool.Count > 0 ? _pool.Pop() : new Waiter(this);
        }
        // Register before the waiter becomes visible to Set: once it is in the list it may complete and be recycled
        // by its consumer at any moment, so nothing may touch it afterwards.
        if (cancellationToken.CanBeCanceled) w.Register(cancellationToken);
        Func<Exception>? fault;
        lock (_lock)
        {
            fault = _fault;
            if (fault is null && _epoch == epoch && !cancellationToken.IsCancellationRequested)
            {
                _waiters.Add(w);
                return new ValueTask(w, w.Version);
            }
        }
        w.Unregister(); // waits for a cancellation callback that may be running, so the waiter can be reused
        Return(w);
        if (fault is not null) return ValueTask.FromException(fault());
        return cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled(cancellationToken) : ValueTask.CompletedTask;
    }

    private void OnCanceled(Waiter w, CancellationToken token)
    {
        lock (_lock)
        {
            if (!_waiters.Remove(w)) return; // already woken
        }
        w.Complete(new OperationCanceledException(token));
    }

    private void Return(Waiter w)
    {
        lock (_lock) _pool.Push(w);
    }

    private sealed class Waiter(AsyncSignal owner) : IValueTaskSource
    {
        private static readonly Action<object?, CancellationToken> s_cancel = static (s, t) =>
        {
            var w = (Waiter)s!;
            w._owner.OnCanceled(w, t);
        };

        private readonly AsyncSignal _owner = owner;
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private CancellationTokenRegistration _registration;

        public short Version => _core.Version;

        public void Register(CancellationToken token) => _registration = token.UnsafeRegister(s_cancel, this);

        public void Unregister()
        {
            _registration.Dispose();
            _registration = default;
        }

        public void Complete(Exception? error)
        {
            if (error is null) _core.SetResult(true);
            else _core.SetException(error);
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                Unregister();
                _core.Reset();
                _owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}
