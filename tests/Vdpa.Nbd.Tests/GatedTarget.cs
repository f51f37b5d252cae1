using System.Collections.Concurrent;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>
/// An in-memory export whose operations on chosen offsets wait for a gate the test opens: lets a test decide the
/// completion order (the simulator completes in submission order) and see what the server does meanwhile.
/// </summary>
internal sealed class GatedTarget(long sizeBytes, bool readOnly = false) : INbdBlockTarget
{
    private readonly byte[] _data = new byte[sizeBytes];
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _gates = new();

    public string Name => "gated";
    public long SizeBytes => _data.LongLength;
    public int BlockSize => 512;
    public bool IsReadOnly { get; } = readOnly;
    public bool SupportsFlush => true;
    public bool SupportsDiscard => true;
    public bool SupportsWriteZeroes => true;
    public int Flushes;
    public int Started;

    public byte[] Data => _data;

    /// <summary>Operations at <paramref name="offset"/> wait until <see cref="Open"/>.</summary>
    public void Gate(long offset) => _gates[offset] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open(long offset)
    {
        if (_gates.TryRemove(offset, out var g)) g.SetResult();
    }

    private async ValueTask PassAsync(long offset, CancellationToken ct)
    {
        Interlocked.Increment(ref Started);
        if (_gates.TryGetValue(offset, out var g)) await g.Task.WaitAsync(ct);
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        await PassAsync(offset, ct);
        _data.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        await PassAsync(offset, ct);
        source.Span.CopyTo(_data.AsSpan((int)offset));
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref Flushes);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DiscardAsync(long offset, long length, CancellationToken ct)
    {
        await PassAsync(offset, ct);
        _data.AsSpan((int)offset, (int)length).Clear();
    }

    public async ValueTask WriteZeroesAsync(long offset, long length, bool mayUnmap, CancellationToken ct)
    {
        await PassAsync(offset, ct);
        _data.AsSpan((int)offset, (int)length).Clear();
    }
}
