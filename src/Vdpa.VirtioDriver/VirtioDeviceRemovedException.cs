namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// The virtio device went away (its vDPA device was unbound, deleted or reset by the driver's remove) while an
/// operation was outstanding, or an operation started afterwards. Nothing on the device is usable any more.
/// Derives from <see cref="ObjectDisposedException"/> so callers can treat it as "disposed".
/// </summary>
public sealed class VirtioDeviceRemovedException : ObjectDisposedException
{
    /// <summary>Creates the exception for device <paramref name="deviceName"/>.</summary>
    public VirtioDeviceRemovedException(string deviceName)
        : base(deviceName, $"device {deviceName} was removed")
    {
        DeviceName = deviceName;
    }

    /// <summary>Name of the vDPA device.</summary>
    public string DeviceName { get; }

    /// <summary>"device NAME was removed" (without ObjectDisposedException's "Object name" suffix).</summary>
    public override string Message => $"device {DeviceName} was removed";
}
