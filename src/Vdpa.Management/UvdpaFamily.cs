namespace Uvdpa.Vdpa.Management;

/// <summary>Commands of the "uvdpa" generic netlink family (uvdpa's own numbering; see UvdpaFamily.md).</summary>
public enum UvdpaCommand : byte
{
    /// <summary>No handler.</summary>
    Unspec = 0,
    /// <summary>Adds a device with extension options and a chosen bus driver (admin).</summary>
    DevAdd = 1,
    /// <summary>Changes the bus driver of a device: driver_override + bind options, unbind, probe (admin).</summary>
    DevSetDriver = 2,
    /// <summary>Device details (doit + dump; the reply uses the same command).</summary>
    DevGet = 3,
    /// <summary>Per-queue counters of every queue (or one) of any device class (reply: same command).</summary>
    QueueStats = 4,
    /// <summary>Resets a device: unbind and probe again (admin).</summary>
    DevReset = 5,
    /// <summary>Sends frames through the in-process virtio_net driver and verifies what loops back (admin; reply: same command).</summary>
    Traffic = 6,
}

/// <summary>Attributes of the "uvdpa" family.</summary>
public enum UvdpaAttr : ushort
{
    /// <summary>Unused.</summary>
    Unspec = 0,
    /// <summary>string: device name.</summary>
    DevName = 1,
    /// <summary>NUL string: management device bus (omit for bus-less parents).</summary>
    MgmtdevBusName = 2,
    /// <summary>string: management device name.</summary>
    MgmtdevDevName = 3,
    /// <summary>binary (6): MAC to provision.</summary>
    Mac = 4,
    /// <summary>u16 (≥ 68): MTU to provision.</summary>
    Mtu = 5,
    /// <summary>u16: max virtqueue pairs to provision.</summary>
    MaxVqp = 6,
    /// <summary>u64: device features to provision.</summary>
    DevFeatures = 7,
    /// <summary>string "key=value", repeatable: management-device extension option (e.g. file=PATH for vdpasim_blk).</summary>
    DevOption = 8,
    /// <summary>string: bus driver name (virtio_vdpa, vhost_vdpa, ...); empty = default binding.</summary>
    Driver = 9,
    /// <summary>string "key=value", repeatable: bind option passed to the driver.</summary>
    DriverOption = 10,
    /// <summary>string (reply): driver_override.</summary>
    DriverOverride = 11,
    /// <summary>nested, repeatable (reply): one exposure (<see cref="ExposureKind"/>, <see cref="ExposureLocation"/>).</summary>
    Exposure = 12,
    /// <summary>string (in <see cref="Exposure"/>): kind ("virtio", "vhost-user", "netdev", ...).</summary>
    ExposureKind = 13,
    /// <summary>string (in <see cref="Exposure"/>): location (socket path, interface name, ...).</summary>
    ExposureLocation = 14,
    /// <summary>u8 (reply): virtio device status byte.</summary>
    Status = 15,
    /// <summary>u64 (reply): get_device_features.</summary>
    DeviceFeatures = 16,
    /// <summary>u64 (reply): get_driver_features.</summary>
    NegotiatedFeatures = 17,
    /// <summary>u32, repeatable (reply): index of a broken queue.</summary>
    BrokenQueue = 18,
    /// <summary>u32 (reply): virtio device id.</summary>
    DevId = 19,
    /// <summary>u32 (reply): number of virtqueues.</summary>
    NumVqs = 20,
    /// <summary>nested, repeatable (reply): one queue's counters (<see cref="QueueIndex"/>, <see cref="Errno"/>, <see cref="Counter"/>*).</summary>
    Queue = 21,
    /// <summary>u32: queue index (request: only this queue; reply: inside <see cref="Queue"/>).</summary>
    QueueIndex = 22,
    /// <summary>nested, repeatable (in <see cref="Queue"/>): <see cref="CounterName"/>, <see cref="CounterValue"/>.</summary>
    Counter = 23,
    /// <summary>string: counter name.</summary>
    CounterName = 24,
    /// <summary>u64: counter value.</summary>
    CounterValue = 25,
    /// <summary>u32 (in <see cref="Queue"/>): positive errno when the queue's counters could not be read.</summary>
    Errno = 26,
    /// <summary>u32: frames to send (default 1).</summary>
    FrameCount = 27,
    /// <summary>u32, repeatable: frame sizes in bytes, used in turn (default 64).</summary>
    FrameSize = 28,
    /// <summary>u8: <see cref="UvdpaTrafficTarget"/> (default own MAC).</summary>
    TrafficTarget = 29,
    /// <summary>u32: overall timeout in milliseconds (default 5000).</summary>
    TimeoutMs = 30,
    /// <summary>u32 (reply): frames sent.</summary>
    Sent = 31,
    /// <summary>u32 (reply): frames received.</summary>
    Received = 32,
    /// <summary>u32 (reply): frames received equal byte for byte to what was sent.</summary>
    Verified = 33,
    /// <summary>u64 (reply): elapsed nanoseconds.</summary>
    ElapsedNs = 34,
    /// <summary>u8 (reply): features_valid of the vdpa core.</summary>
    FeaturesValid = 35,
    /// <summary>u32 (reply): bus index.</summary>
    BusIndex = 36,
    /// <summary>string (reply): bound driver.</summary>
    BoundDriver = 37,
}

/// <summary>Where <see cref="UvdpaCommand.Traffic"/> sends frames.</summary>
public enum UvdpaTrafficTarget : byte
{
    /// <summary>The device's own MAC.</summary>
    OwnMac = 1,
    /// <summary>ff:ff:ff:ff:ff:ff.</summary>
    Broadcast = 2,
    /// <summary>Alternating: own MAC, broadcast, own MAC, ...</summary>
    Both = 3,
}

/// <summary>Constants of the "uvdpa" family.</summary>
public static class UvdpaFamily
{
    /// <summary>Family name resolved through nlctrl.</summary>
    public const string Name = "uvdpa";

    /// <summary>Family version.</summary>
    public const byte Version = 1;

    /// <summary>Highest attribute number (CTRL_ATTR_MAXATTR).</summary>
    public const int MaxAttr = (int)UvdpaAttr.BoundDriver;
}
