using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend;

/// <summary>
/// The <c>vhost_user_fe</c> management device: <c>dev add</c> with <c>opt socket=PATH</c> connects to an external
/// vhost-user blk back-end and registers it as a vDPA device (<see cref="VhostUserFrontendDevice"/>). Other options:
/// see <see cref="VhostUserFrontendOptions"/>. A back-end that cannot be reached or refuses the session fails the
/// add with EINVAL/EIO and a message saying why.
/// </summary>
public sealed class VhostUserFrontendManagementDevice : VdpaManagementDevice
{
    /// <summary>Management device name.</summary>
    public const string DeviceName = "vhost_user_fe";

    /// <summary>Creates the management device (blk devices only).</summary>
    public VhostUserFrontendManagementDevice() : base(DeviceName, null, [VirtioDeviceId.Block]) { }

    /// <inheritdoc />
    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(config);
        if (config.Mask != 0) throw new VdpaException(Errno.EINVAL, $"{DeviceName}: the device's attributes come from the back-end; none can be provisioned");
        var options = VhostUserFrontendOptions.Parse(config.Options, out string socket);
        VhostUserFrontendDevice ops;
        try
        {
            ops = VhostUserFrontendDevice.Connect(name, socket, VirtioDeviceId.Block, options);
        }
        catch (PlatformException e)
        {
            throw new VdpaException(e.Errno, $"{DeviceName}: cannot connect to '{socket}': {e.Message}");
        }
        catch (VhostUserException e)
        {
            throw new VdpaException(Errno.EIO, $"{DeviceName}: back-end at '{socket}': {e.Message}");
        }
        catch (NotSupportedException e)
        {
            throw new VdpaException(Errno.EOPNOTSUPP, $"{DeviceName}: {e.Message}");
        }
        return RegisterDevice(bus, name, ops, ops.QueueCount);
    }

    /// <inheritdoc />
    public override void DeleteDevice(VdpaBus bus, VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(device);
        bus.UnregisterDevice(device);
    }
}
