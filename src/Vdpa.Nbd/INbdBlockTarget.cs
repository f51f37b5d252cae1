namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// What <see cref="NbdServer"/> serves: byte offsets and lengths, already validated by the server (in range, whole
/// sectors). <see cref="VirtioBlkTarget"/> is the one production implementation; tests add gated ones to force
/// completion orders.
/// </summary>
internal interface INbdBlockTarget
{
    /// <summary>Display name (the vDPA device).</summary>
    string Name { get; }

    /// <summary>Export size in bytes (a multiple of <see cref="BlockSize"/>).</summary>
    long SizeBytes { get; }

    /// <summary>Logical block size (a power of two, 512..4096).</summary>
    int BlockSize { get; }

    /// <summary>Writes are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>The device has a volatile cache (flush does something).</summary>
    bool SupportsFlush { get; }

    /// <summary>Discard (TRIM) is supported.</summary>
    bool SupportsDiscard { get; }

    /// <summary>Write-zeroes is supported.</summary>
    bool SupportsWriteZeroes { get; }

    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);

    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken);

    ValueTask FlushAsync(CancellationToken cancellationToken);

    ValueTask DiscardAsync(long offset, long length, CancellationToken cancellationToken);

    ValueTask WriteZeroesAsync(long offset, long length, bool mayUnmap, CancellationToken cancellationToken);
}
