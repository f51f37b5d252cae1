namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// struct vdpasim_dev_attr: the constant shape of one simulated device. The per-class behaviour (work_fn, get_config,
/// set_config, get_stats, free) is supplied by overriding the hooks of <see cref="VdpaSimDevice"/>.
/// </summary>
internal sealed record VdpaSimDeviceAttributes
{
    /// <summary>Device name (for diagnostics).</summary>
    public required string Name { get; init; }

    /// <summary>Virtio device id (dev_attr.id).</summary>
    public required uint DeviceId { get; init; }

    /// <summary>Number of virtqueues (nvqs).</summary>
    public required int NumVqs { get; init; }

    /// <summary>Number of virtqueue groups (ngroups).</summary>
    public required uint NumGroups { get; init; }

    /// <summary>Number of address spaces (nas).</summary>
    public required uint NumAddressSpaces { get; init; }

    /// <summary>Features offered (supported_features, possibly narrowed by provisioning).</summary>
    public required ulong SupportedFeatures { get; init; }

    /// <summary>Config space length (config_size).</summary>
    public required int ConfigSize { get; init; }

    /// <summary>Units of work per run before the work function reschedules itself.</summary>
    public int Batch { get; init; } = 64;
}
