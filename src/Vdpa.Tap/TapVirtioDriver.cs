using System.Collections.Concurrent;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Tap;

/// <summary>
/// <see cref="VirtioVdpaDriver"/> plus TAP exposure of net devices (virtio_vdpa + virtio_net's register_netdev).
/// Register it on the bus instead of a bare <see cref="VirtioVdpaDriver"/> (it has the same driver name). Bind options
/// <c>tap=1</c> (interface named after the device) or <c>tap-name=NAME</c> create a <see cref="TapBridge"/> at probe
/// and record <c>DeviceExposure("netdev", ifname)</c> (handle: the bridge); remove tears the interface down before
/// the virtio device (as virtnet_remove unregisters the netdev first). Without those keys it behaves exactly like
/// <see cref="VirtioVdpaDriver"/>.
/// </summary>
public sealed class TapVirtioDriver : IVdpaBusDriver
{
    /// <summary>Bind option: "1"/"true" exposes a net device as a TAP interface named after the device.</summary>
    public const string TapKey = "tap";

    /// <summary>Bind option: exposes a net device as a TAP interface with this name.</summary>
    public const string TapNameKey = "tap-name";

    /// <summary>Exposure kind recorded for the TAP interface.</summary>
    public const string ExposureKind = "netdev";

    private readonly VirtioVdpaDriver _inner;
    private readonly ConcurrentDictionary<VdpaDevice, TapBridge> _bridges = new();

    /// <summary>Wraps <paramref name="inner"/> (or a new <see cref="VirtioVdpaDriver"/> with default options).</summary>
    public TapVirtioDriver(VirtioVdpaDriver? inner = null) => _inner = inner ?? new VirtioVdpaDriver();

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <summary>The TAP bridge of <paramref name="device"/>, or null.</summary>
    public static TapBridge? GetBridge(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var e in device.Exposures)
        {
            if (e.Kind == ExposureKind && e.Handle is TapBridge b) return b;
        }
        return null;
    }

    /// <inheritdoc />
    public void Probe(VdpaDevice device, BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        string? name = null;
        bool wanted = options.TryGet(TapNameKey, out var explicitName);
        if (wanted) name = explicitName;
        else if (options.TryGet(TapKey, out var tap))
        {
            wanted = tap switch
            {
                "1" or "true" or "on" => true,
                "0" or "false" or "off" => false,
                _ => throw new VdpaException(Errno.EINVAL, detail: $"bad {TapKey} '{tap}' (expected 1 or 0)"),
            };
        }

        _inner.Probe(device, options);
        if (!wanted) return;

        var net = VirtioVdpaDriver.GetNetDevice(device);
        TapBridge bridge;
        try
        {
            if (net is null) throw new VdpaException(Errno.EINVAL, detail: $"virtio_vdpa: {device.Name}: {TapKey} needs a net device");
            // Probe is synchronous in the bus; the only await is the control-queue round trip of MAC_ADDR_SET.
            bridge = Task.Run(() => TapBridge.CreateAsync(net, name)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ArgumentException or PlatformException or IOException or NotSupportedException or VdpaException)
        {
            _inner.Remove(device);
            device.ClearExposures();
            if (e is VdpaException) throw;
            int errno = e is PlatformException p ? p.Errno : Errno.EINVAL;
            throw new VdpaException(errno, detail: $"virtio_vdpa: {device.Name}: TAP: {e.Message}");
        }
        _bridges[device] = bridge;
        device.AddExposure(new DeviceExposure(ExposureKind, bridge.InterfaceName) { Handle = bridge });
    }

    /// <inheritdoc />
    public void Remove(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (_bridges.TryRemove(device, out var bridge)) bridge.Dispose();
        _inner.Remove(device);
    }
}
