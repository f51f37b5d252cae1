namespace Uvdpa.Vdpa.Management;

/// <summary>Settings of a <see cref="NetlinkService"/>.</summary>
public sealed record ManagementOptions
{
    /// <summary>Besides root (uid 0), members of these gids (primary or supplementary) are privileged (CAP_NET_ADMIN).</summary>
    public IReadOnlyList<uint> AdminGroups { get; init; } = [];

    /// <summary>Tests only: every peer is privileged.</summary>
    public bool AllowAll { get; init; }

    /// <summary>State file hook: told about every successful change, under the bus lock.</summary>
    public IDeviceStore? Store { get; init; }
}
