using System.Collections.Concurrent;
using System.Globalization;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;
using CoreErrno = Uvdpa.Vdpa.Core.Errno;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// A virtio_vdpa bus driver (normally <see cref="VirtioVdpaDriver"/>, possibly wrapped, e.g. by the TAP driver) plus
/// NBD exposure of block devices: the user-space counterpart of virtio_blk's add_disk. Register it on the bus instead
/// of the inner driver (it has the same name). Bind options <c>nbd=1</c> (the kernel picks /dev/nbdN) or
/// <c>nbd-index=N</c> connect an <see cref="NbdExport"/> at probe and record <c>DeviceExposure("blockdev",
/// "/dev/nbdN")</c> (handle: the export); remove disconnects it and waits for the kernel to release the device before
/// the inner driver resets the virtio device (as virtblk_remove deletes the disk first). Without those keys it
/// behaves exactly like the inner driver.
/// </summary>
public sealed class NbdVirtioDriver : IVdpaBusDriver
{
    /// <summary>Bind option: "1"/"true"/"on" exposes a blk device as /dev/nbdN, N chosen by the kernel.</summary>
    public const string NbdKey = "nbd";

    /// <summary>Bind option: exposes a blk device as /dev/nbd&lt;N&gt; with this index.</summary>
    public const string NbdIndexKey = "nbd-index";

    /// <summary>Exposure kind recorded for the block device.</summary>
    public const string ExposureKind = "blockdev";

    private readonly IVdpaBusDriver _inner;
    private readonly ConcurrentDictionary<VdpaDevice, NbdExport> _exports = new();

    /// <summary>
    /// Raised by <see cref="Remove"/> when the kernel did not release /dev/nbdN cleanly (still open or mounted at the
    /// deadline, disconnect refused): the device, its block device path and what went wrong. The virtio device is
    /// reset anyway; I/O still issued on the block device then fails.
    /// </summary>
    public event Action<VdpaDevice, string, string>? TeardownProblem;

    /// <summary>Wraps <paramref name="inner"/> (or a new <see cref="VirtioVdpaDriver"/>).</summary>
    public NbdVirtioDriver(IVdpaBusDriver? inner = null) => _inner = inner ?? new VirtioVdpaDriver();

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <summary>The NBD export of <paramref name="device"/>, or null.</summary>
    public static NbdExport? GetExport(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var e in device.Exposures)
        {
            if (e.Kind == ExposureKind && e.Handle is NbdExport x) return x;
        }
        return null;
    }

    /// <summary>Parses the nbd bind options: null (no export), or the requested index (-1: kernel's choice).</summary>
    internal static int? ParseOptions(BindOptions options)
    {
        if (options.TryGet(NbdIndexKey, out var idx))
        {
            if (!int.TryParse(idx, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 0)
                throw new VdpaException(CoreErrno.EINVAL, detail: $"bad {NbdIndexKey} '{idx}' (expected a device index 0, 1, ...)");
            if (options.TryGet(NbdKey, out var both) && IsOff(both))
                throw new VdpaException(CoreErrno.EINVAL, detail: $"{NbdKey}={both} contradicts {NbdIndexKey}={idx}");
            return n;
        }
        if (!options.TryGet(NbdKey, out var v)) return null;
        if (v is "1" or "true" or "on") return -1;
        if (IsOff(v)) return null;
        throw new VdpaException(CoreErrno.EINVAL, detail: $"bad {NbdKey} '{v}' (expected 1 or 0)");
    }

    private static bool IsOff(string v) => v is "0" or "false" or "off";

    /// <inheritdoc />
    public void Probe(VdpaDevice device, BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        int? wanted = ParseOptions(options);

        _inner.Probe(device, options);
        if (wanted is null) return;

        NbdExport export;
        try
        {
            var blk = VirtioVdpaDriver.GetBlkDevice(device)
                ?? throw new VdpaException(CoreErrno.EINVAL, detail: $"virtio_vdpa: {device.Name}: {NbdKey} needs a block device");
            export = NbdExport.Connect(blk, wanted < 0 ? null : wanted);
        }
        catch (Exception e) when (e is VdpaException or VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException
                                  or PlatformException or ArgumentException or IOException)
        {
            _inner.Remove(device);
            device.ClearExposures();
            throw e switch
            {
                VdpaException v => v,
                VdpaFamilyNotFoundException => new VdpaException(CoreErrno.EOPNOTSUPP,
                    detail: $"virtio_vdpa: {device.Name}: NBD: this kernel has no nbd driver (generic netlink family \"nbd\" not found; modprobe nbd)"),
                VdpaNetlinkException n => new VdpaException(n.Errno,
                    detail: $"virtio_vdpa: {device.Name}: NBD: the kernel refused NBD_CMD_CONNECT{(wanted >= 0 ? $" for /dev/nbd{wanted}" : "")}: {n.ErrnoName}{(n.ExtackMessage is null ? "" : ": " + n.ExtackMessage)}"),
                PlatformException p => new VdpaException(p.Errno, detail: $"virtio_vdpa: {device.Name}: NBD: {p.Message}"),
                NetlinkTransportException t => new VdpaException(t.Errno != 0 ? t.Errno : CoreErrno.EIO, detail: $"virtio_vdpa: {device.Name}: NBD: {t.Message}"),
                _ => new VdpaException(CoreErrno.EINVAL, detail: $"virtio_vdpa: {device.Name}: NBD: {e.Message}"),
            };
        }
        _exports[device] = export;
        device.AddExposure(new DeviceExposure(ExposureKind, export.DevicePath) { Handle = export });
    }

    /// <inheritdoc />
    public void Remove(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (_exports.TryRemove(device, out var export))
        {
            export.Dispose();
            if (export.TeardownProblem is { } problem) TeardownProblem?.Invoke(device, export.DevicePath, problem);
        }
        _inner.Remove(device);
    }
}
