namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// The simulator's RAM disk (the kernel's <c>kvzalloc(capacity)</c> buffer), stored sparsely: 64 KiB chunks are
/// allocated on first write and unwritten ranges read as zeros, so a device that is never written costs a few bytes.
/// Thread-safe (the kernel's <c>shared_backend</c> lets several devices use one store).
/// </summary>
internal sealed class SparseMemoryBackend : IBlockBackend
{
    /// <summary>Chunk size in bytes.</summary>
    public const int ChunkSize = 64 * 1024;

    private readonly object _lock = new();
    private byte[]?[]? _chunks; // the chunk table itself is allocated on first write too

    public SparseMemoryBackend(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (capacity % 512 != 0) throw new ArgumentOutOfRangeException(nameof(capacity), "must be a multiple of 512");
        Capacity = capacity;
    }

    /// <inheritdoc />
    public long Capacity { get; }

    /// <summary>Number of chunks currently allocated (tests).</summary>
    public int AllocatedChunks
    {
        get
        {
            lock (_lock) return _chunks?.Count(c => c is not null) ?? 0;
        }
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        lock (_lock)
        {
            while (destination.Length > 0)
            {
                int index = (int)(offset / ChunkSize);
                int within = (int)(offset % ChunkSize);
                int n = Math.Min(destination.Length, ChunkSize - within);
                var chunk = _chunks?[index];
                if (chunk is null) destination[..n].Clear();
                else chunk.AsSpan(within, n).CopyTo(destination);
                destination = destination[n..];
                offset += n;
            }
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        lock (_lock)
        {
            while (source.Length > 0)
            {
                int index = (int)(offset / ChunkSize);
                int within = (int)(offset % ChunkSize);
                int n = Math.Min(source.Length, ChunkSize - within);
                var piece = source[..n];
                var chunks = _chunks;
                var chunk = chunks?[index];
                // Writing zeros into a hole changes nothing: keep it a hole.
                if (chunk is not null || piece.ContainsAnyExcept((byte)0))
                {
                    chunks ??= _chunks = new byte[]?[(int)((Capacity + ChunkSize - 1) / ChunkSize)];
                    chunk ??= chunks[index] = new byte[ChunkSize];
                    piece.CopyTo(chunk.AsSpan(within));
                }
                source = source[n..];
                offset += n;
            }
        }
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length)
    {
        CheckRange(offset, length);
        lock (_lock)
        {
            if (_chunks is null) return;
            while (length > 0)
            {
                int index = (int)(offset / ChunkSize);
                int within = (int)(offset % ChunkSize);
                int n = (int)Math.Min(length, ChunkSize - within);
                if (within == 0 && n == ChunkSize) _chunks[index] = null; // a whole chunk becomes a hole again
                else _chunks[index]?.AsSpan(within, n).Clear();
                length -= n;
                offset += n;
            }
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        // The kernel simulator ignores DISCARD (the data stays); so do we.
        CheckRange(offset, length);
    }

    /// <inheritdoc />
    public void Flush() { }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock) _chunks = null;
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Capacity || length > Capacity - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), "range outside the store");
    }
}
