namespace Uvdpa.Vdpa.Management;

/// <summary>
/// Everything needed to re-create a device after a daemon restart: what DEV_NEW (or the uvdpa family's add) asked
/// for, plus later changes (dev set MAC, driver choice). Persisted by an <see cref="IDeviceStore"/>.
/// </summary>
public sealed record DeviceDefinition
{
    /// <summary>Device name.</summary>
    public required string Name { get; init; }
    /// <summary>Management device bus name (null for bus-less parents).</summary>
    public string? ManagementBusName { get; init; }
    /// <summary>Management device name.</summary>
    public required string ManagementDeviceName { get; init; }
    /// <summary>Provisioned MAC (6 bytes) or null.</summary>
    public byte[]? Mac { get; init; }
    /// <summary>Provisioned MTU or null.</summary>
    public ushort? Mtu { get; init; }
    /// <summary>Provisioned max virtqueue pairs or null.</summary>
    public ushort? MaxVqPairs { get; init; }
    /// <summary>Provisioned device features or null.</summary>
    public ulong? DeviceFeatures { get; init; }
    /// <summary>Extension options (e.g. file=PATH for a file-backed blk device).</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
    /// <summary>driver_override chosen through the uvdpa family, or null for the default (first driver).</summary>
    public string? Driver { get; init; }
    /// <summary>Bind options for the driver.</summary>
    public IReadOnlyDictionary<string, string> DriverOptions { get; init; } = new Dictionary<string, string>();
}

/// <summary>Receives every successful change to the set of user-created devices (the opt-in state file).</summary>
public interface IDeviceStore
{
    /// <summary>A device was created, or its definition changed (MAC set, driver changed).</summary>
    void Put(DeviceDefinition definition);

    /// <summary>A device was deleted.</summary>
    void Remove(string name);
}
