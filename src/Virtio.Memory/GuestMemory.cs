namespace Uvdpa.Virtio.Memory;

/// <summary>An immutable set of non-overlapping <see cref="MemoryRegion"/>s forming one guest-physical address space.</summary>
public sealed class GuestMemory
{
    private readonly MemoryRegion[] _regions;

    private GuestMemory(MemoryRegion[] sorted) => _regions = sorted;

    /// <summary>An address space with no memory.</summary>
    public static GuestMemory Empty { get; } = new([]);

    /// <summary>The regions, sorted by start address.</summary>
    public IReadOnlyList<MemoryRegion> Regions => _regions;

    /// <summary>Builds an address space; regions must not overlap.</summary>
    public static GuestMemory Create(params IEnumerable<MemoryRegion> regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        var sorted = regions.OrderBy(r => r.Start.Value).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Start.Value <= sorted[i - 1].Last.Value)
                throw new ArgumentException($"regions overlap: {sorted[i - 1].Start}..{sorted[i - 1].Last} and {sorted[i].Start}", nameof(regions));
        }
        return new GuestMemory(sorted);
    }

    /// <summary>Returns a copy with <paramref name="region"/> added.</summary>
    public GuestMemory With(MemoryRegion region) => Create(_regions.Append(region));

    /// <summary>Returns a copy without <paramref name="region"/>.</summary>
    public GuestMemory Without(MemoryRegion region) => new(_regions.Where(r => !ReferenceEquals(r, region)).ToArray());

    /// <summary>Finds the region holding <paramref name="address"/>.</summary>
    public bool TryFind(GuestAddress address, out MemoryRegion region)
    {
        int lo = 0, hi = _regions.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _regions[mid];
            if (address.Value < r.Start.Value) hi = mid - 1;
            else if (address.Value > r.Last.Value) lo = mid + 1;
            else { region = r; return true; }
        }
        region = null!;
        return false;
    }

    /// <summary>Translates a front-end (vhost-user) virtual address to a guest address through the regions' <see cref="MemoryRegion.FrontendStart"/>.</summary>
    public bool TryTranslate(FrontendAddress address, ulong length, out GuestAddress result)
    {
        foreach (var r in _regions)
        {
            if (r.FrontendStart is not { } fs) continue;
            ulong off = address.Value - fs.Value;
            if (address.Value >= fs.Value && length <= (ulong)r.Size && off <= (ulong)r.Size - length)
            {
                result = new GuestAddress(r.Start.Value + off);
                return true;
            }
        }
        result = default;
        return false;
    }
}
