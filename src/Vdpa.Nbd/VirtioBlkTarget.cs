using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// Serves a <see cref="VirtioBlkDevice"/>: bytes become 512-byte sectors. The export size is the capacity read at
/// creation, rounded down to the logical block size (the kernel's nbd exposes whole blocks only); a later capacity
/// change is not propagated (the NBD connection has no resize in the simple protocol).
/// </summary>
internal sealed class VirtioBlkTarget(VirtioBlkDevice device) : INbdBlockTarget
{
    private const int Sector = 512;

    public VirtioBlkDevice Device { get; } = device ?? throw new ArgumentNullException(nameof(device));

    public string Name => Device.Name;

    public long SizeBytes { get; } = ComputeSize(device);

    public int BlockSize => Device.BlockSize;

    public bool IsReadOnly => Device.IsReadOnly;

    public bool SupportsFlush => Device.SupportsFlush;

    public bool SupportsDiscard => Device.SupportsDiscard;

    public bool SupportsWriteZeroes => Device.SupportsWriteZeroes;

    private static long ComputeSize(VirtioBlkDevice d)
    {
        // Capacity is in 512-byte sectors whatever blk_size says (virtio 1.3 §5.2.4); cap so bytes fit a long.
        ulong sectors = Math.Min(d.Capacity, (ulong)(long.MaxValue / Sector));
        long bytes = (long)sectors * Sector;
        return bytes - bytes % d.BlockSize;
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        => Device.ReadAsync((ulong)(offset / Sector), destination, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
        => Device.WriteAsync((ulong)(offset / Sector), source, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => Device.FlushAsync(cancellationToken);

    public ValueTask DiscardAsync(long offset, long length, CancellationToken cancellationToken)
        => Device.DiscardAsync((ulong)(offset / Sector), (ulong)(length / Sector), cancellationToken);

    public ValueTask WriteZeroesAsync(long offset, long length, bool mayUnmap, CancellationToken cancellationToken)
        => Device.WriteZeroesAsync((ulong)(offset / Sector), (ulong)(length / Sector), mayUnmap, cancellationToken);
}
