using Microsoft.Win32.SafeHandles;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// The <c>vdpasim_blk</c> management device (vdpa_sim_blk.c): creates 128 MiB RAM-disk block devices (one queue).
/// Like the kernel it fills no config_attr_mask, supported_features or max_supported_vqs. uvdpa extension: the
/// option <c>file=&lt;path&gt;</c> backs the device with an existing raw image instead (capacity = its size rounded
/// down to 512 bytes); such a device also offers VIRTIO_RING_F_INDIRECT_DESC (<see cref="VdpaSimBlkDevice.FileBackedFeatureSet"/>).
/// </summary>
public sealed class VdpaSimBlkManagementDevice : VdpaManagementDevice
{
    /// <summary>Management device name.</summary>
    public const string DeviceName = "vdpasim_blk";

    /// <summary>Option naming a raw image file.</summary>
    public const string FileOption = "file";

    private readonly SimulatorOptions _options;
    private readonly object _sharedLock = new();
    private SparseMemoryBackend? _shared;

    /// <summary>Creates the management device with <paramref name="options"/> (the kernel's defaults when null).</summary>
    public VdpaSimBlkManagementDevice(SimulatorOptions? options = null)
        : base(DeviceName, null, [VirtioDeviceId.Block])
        => _options = options ?? SimulatorOptions.Default;

    /// <summary>How FLUSH makes a file-backed device durable (fdatasync). Replaceable for tests.</summary>
    internal Action<SafeFileHandle> DataSync { get; set; } = RawFile.DataSync;

    /// <inheritdoc />
    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(config);
        foreach (var key in config.Options.Keys)
        {
            if (key != FileOption) throw new VdpaException(Errno.EINVAL, $"{DeviceName}: unknown option '{key}'");
        }

        // vdpasim_create: provisioned features must be a subset (the netlink layer already refuses them for blk,
        // whose config_attr_mask is empty).
        bool fileBacked = config.Options.ContainsKey(FileOption);
        ulong features = fileBacked ? VdpaSimBlkDevice.FileBackedFeatureSet : VdpaSimBlkDevice.SupportedFeatureSet;
        if (config.Has(VdpaConfigAttr.DevFeatures))
        {
            if ((config.DeviceFeatures & ~features) != 0)
                throw new VdpaException(Errno.EINVAL, detail: $"{DeviceName}: device features 0x{config.DeviceFeatures:x} are not a subset of 0x{features:x}");
            features = config.DeviceFeatures;
        }

        IBlockBackend backend;
        bool owns;
        if (config.Options.TryGetValue(FileOption, out var path))
        {
            backend = OpenImage(path);
            owns = true;
        }
        else if (_options.BlkSharedBackend)
        {
            lock (_sharedLock) backend = _shared ??= new SparseMemoryBackend((long)VdpaSimBlkDevice.DefaultCapacitySectors << VirtioBlkConfig.SectorShift);
            owns = false;
        }
        else
        {
            backend = new SparseMemoryBackend((long)VdpaSimBlkDevice.DefaultCapacitySectors << VirtioBlkConfig.SectorShift);
            owns = true;
        }

        var ops = new VdpaSimBlkDevice(name, features, backend, owns, _options);
        return RegisterDevice(bus, name, ops, VdpaSimBlkDevice.VqNum);
    }

    /// <inheritdoc />
    public override void DeleteDevice(VdpaBus bus, VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(device);
        bus.UnregisterDevice(device);
    }

    private FileBackend OpenImage(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new VdpaException(Errno.EINVAL, $"{DeviceName}: option '{FileOption}' needs a path");
        try
        {
            return FileBackend.Open(path, DataSync);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VdpaException(Errno.EINVAL, $"{DeviceName}: image file '{path}' does not exist");
        }
        catch (InvalidDataException)
        {
            throw new VdpaException(Errno.EINVAL, $"{DeviceName}: image file '{path}' is smaller than one 512-byte sector");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VdpaException(Errno.EINVAL, $"{DeviceName}: cannot open image file '{path}': {e.Message}");
        }
    }
}
