namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// Where a simulated block device keeps its data. Offsets and lengths are in bytes and already range-checked by the
/// device against <see cref="Capacity"/>. Methods may throw <see cref="IOException"/>; the device reports IOERR.
/// </summary>
internal interface IBlockBackend : IDisposable
{
    /// <summary>Size in bytes (a multiple of 512).</summary>
    long Capacity { get; }

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; unwritten ranges read as zeros.</summary>
    void Read(long offset, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>.</summary>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>VIRTIO_BLK_T_WRITE_ZEROES: the range reads back as zeros afterwards.</summary>
    void WriteZeroes(long offset, long length);

    /// <summary>VIRTIO_BLK_T_DISCARD: a hint; the contents of the range become unspecified.</summary>
    void Discard(long offset, long length);

    /// <summary>VIRTIO_BLK_T_FLUSH: returns once every completed write is durable.</summary>
    void Flush();
}
