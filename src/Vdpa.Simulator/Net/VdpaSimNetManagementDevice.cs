using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// The <c>vdpasim_net</c> management device (vdpa_sim_net.c): creates loopback net devices with 3 queues
/// (RX, TX, CVQ), 2 groups and 2 address spaces. Provisioning: MAC (default all zero), MTU (default 1500) and
/// device_features (a subset of <see cref="SupportedFeatures"/>, else EINVAL). dev_set_attr changes the MAC.
/// </summary>
public sealed class VdpaSimNetManagementDevice : VdpaManagementDevice
{
    /// <summary>Management device name.</summary>
    public const string DeviceName = "vdpasim_net";

    private const ushort DefaultMtu = 1500;

    private readonly SimulatorOptions _options;

    /// <summary>Creates the management device with <paramref name="options"/> (the kernel's defaults when null).</summary>
    public VdpaSimNetManagementDevice(SimulatorOptions? options = null)
        : base(DeviceName, null, [VirtioDeviceId.Net])
        => _options = options ?? SimulatorOptions.Default;

    /// <inheritdoc />
    public override ulong ConfigAttrMask
        => VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) | VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu) | VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures);

    /// <inheritdoc />
    public override ulong SupportedFeatures => VdpaSimNetDevice.SupportedFeatureSet;

    /// <inheritdoc />
    public override uint MaxSupportedVqs => VdpaSimNetDevice.VqNum;

    /// <inheritdoc />
    public override bool SupportsSetAttr => true;

    /// <inheritdoc />
    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(config);
        if (config.Options.Count > 0)
            throw new VdpaException(Errno.EINVAL, detail: $"{DeviceName}: unknown option '{config.Options.Keys.First()}'");

        // vdpasim_create: provisioned features must be a subset and then replace the offered set (no extack).
        ulong features = VdpaSimNetDevice.SupportedFeatureSet;
        if (config.Has(VdpaConfigAttr.DevFeatures))
        {
            if ((config.DeviceFeatures & ~features) != 0)
                throw new VdpaException(Errno.EINVAL, detail: $"{DeviceName}: device features 0x{config.DeviceFeatures:x} are not a subset of 0x{features:x}");
            features = config.DeviceFeatures;
        }

        ReadOnlySpan<byte> mac = default;
        if (config.Has(VdpaConfigAttr.NetMacAddr))
        {
            if (config.Mac.Length != 6) throw new VdpaException(Errno.EINVAL, detail: $"{DeviceName}: a MAC address has 6 bytes");
            mac = config.Mac.Span;
        }
        ushort mtu = config.Has(VdpaConfigAttr.NetMtu) ? config.Mtu : DefaultMtu;

        var ops = new VdpaSimNetDevice(name, features, mac, mtu, _options);
        return RegisterDevice(bus, name, ops, VdpaSimNetDevice.VqNum);
    }

    /// <inheritdoc />
    public override void DeleteDevice(VdpaBus bus, VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(device);
        bus.UnregisterDevice(device);
    }

    /// <inheritdoc />
    public override void SetAttributes(VdpaDevice device, DeviceConfigRequest config)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        if (device.Ops is not VdpaSimNetDevice net || device.ManagementDevice != this)
            throw new VdpaException(Errno.EINVAL, detail: $"{device.Name} is not a {DeviceName} device");
        // vdpasim_net_set_attr: only the MAC is implemented; anything else is EOPNOTSUPP (no extack).
        if (!config.Has(VdpaConfigAttr.NetMacAddr) || !net.TrySetMac(config.Mac.Span))
            throw new VdpaException(Errno.EOPNOTSUPP);
    }
}
