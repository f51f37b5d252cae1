namespace Uvdpa.Vdpa.Core;

/// <summary>
/// One thing a bound device is exposed as: <see cref="Kind"/> is e.g. "vhost-user" (Location = socket path),
/// "netdev" (interface name), "blockdev" (a /dev node, e.g. /dev/nbd0), "virtio" (an in-process driver object).
/// </summary>
public sealed record DeviceExposure(string Kind, string Location)
{
    /// <summary>The in-process object (for "virtio": the driver's device API), not serialised.</summary>
    public object? Handle { get; init; }
}

/// <summary>Options a bus driver receives at bind time (e.g. a socket directory, a TAP name). Immutable.</summary>
public sealed class BindOptions
{
    private readonly Dictionary<string, string> _values;

    /// <summary>Creates options from key/value pairs.</summary>
    public BindOptions(IEnumerable<KeyValuePair<string, string>> values)
        => _values = new Dictionary<string, string>(values, StringComparer.Ordinal);

    /// <summary>No options.</summary>
    public static BindOptions Empty { get; } = new([]);

    /// <summary>All options.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Looks up one option.</summary>
    public bool TryGet(string key, out string value) => _values.TryGetValue(key, out value!);
}
