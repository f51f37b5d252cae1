namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// Commands of the "uvdpa" generic netlink family, uvdpa's own management extensions served by vdpad next to the
/// "vdpa" family (src/Vdpa.Management/UvdpaFamily.md). The client side's single copy of the numbers; a test
/// (tests/Vdpa.Cli.Tests UvdpaSchemaTests) pins them to the server's <c>Uvdpa.Vdpa.Management.UvdpaCommand</c>.
/// </summary>
public enum UvdpaGenlCommand : byte
{
    /// <summary>No handler.</summary>
    Unspec = 0,
    /// <summary>DEV_ADD: adds a device with extension options and a chosen bus driver (admin; ACK).</summary>
    DevAdd = 1,
    /// <summary>DEV_SET_DRIVER: driver_override + bind options, unbind, probe (admin; ACK).</summary>
    DevSetDriver = 2,
    /// <summary>DEV_GET: device details (do + dump; the reply uses the same command).</summary>
    DevGet = 3,
    /// <summary>QUEUE_STATS: per-queue counters (reply: same command).</summary>
    QueueStats = 4,
    /// <summary>DEV_RESET: unbind, reset if nothing was bound, probe again (admin; ACK).</summary>
    DevReset = 5,
    /// <summary>TRAFFIC: frames through the in-process virtio_net driver, verified on the way back (admin; reply: same command).</summary>
    Traffic = 6,
}

/// <summary>Attributes of the "uvdpa" family (UvdpaFamily.md, "Attributes"). Reply-only attributes are rejected in requests.</summary>
public enum UvdpaGenlAttr : ushort
{
    /// <summary>Unused.</summary>
    Unspec = 0,
    /// <summary>DEV_NAME: string.</summary>
    DevName = 1,
    /// <summary>MGMTDEV_BUS_NAME: NUL string (omitted for bus-less parents).</summary>
    MgmtdevBusName = 2,
    /// <summary>MGMTDEV_DEV_NAME: string.</summary>
    MgmtdevDevName = 3,
    /// <summary>MAC: binary, exactly 6 bytes.</summary>
    Mac = 4,
    /// <summary>MTU: u16 ≥ 68.</summary>
    Mtu = 5,
    /// <summary>MAX_VQP: u16.</summary>
    MaxVqp = 6,
    /// <summary>DEV_FEATURES: u64 features to provision.</summary>
    DevFeatures = 7,
    /// <summary>DEV_OPTION: string "key=value", repeatable (management-device option, e.g. file=PATH for vdpasim_blk).</summary>
    DevOption = 8,
    /// <summary>DRIVER: string bus driver name; absent or empty = default binding.</summary>
    Driver = 9,
    /// <summary>DRIVER_OPTION: string "key=value", repeatable (bind option).</summary>
    DriverOption = 10,
    /// <summary>DRIVER_OVERRIDE: string (reply).</summary>
    DriverOverride = 11,
    /// <summary>EXPOSURE: nested, repeatable (reply): <see cref="ExposureKind"/>, <see cref="ExposureLocation"/>.</summary>
    Exposure = 12,
    /// <summary>EXPOSURE_KIND: string (reply, in <see cref="Exposure"/>).</summary>
    ExposureKind = 13,
    /// <summary>EXPOSURE_LOCATION: string (reply, in <see cref="Exposure"/>).</summary>
    ExposureLocation = 14,
    /// <summary>STATUS: u8 virtio device status (reply).</summary>
    Status = 15,
    /// <summary>DEVICE_FEATURES: u64 get_device_features (reply).</summary>
    DeviceFeatures = 16,
    /// <summary>NEGOTIATED_FEATURES: u64 get_driver_features (reply).</summary>
    NegotiatedFeatures = 17,
    /// <summary>BROKEN_QUEUE: u32, repeatable (reply).</summary>
    BrokenQueue = 18,
    /// <summary>DEV_ID: u32 virtio device id (reply).</summary>
    DevId = 19,
    /// <summary>NUM_VQS: u32 (reply).</summary>
    NumVqs = 20,
    /// <summary>QUEUE: nested, repeatable (reply): <see cref="QueueIndex"/>, [<see cref="Errno"/>], <see cref="Counter"/>*.</summary>
    Queue = 21,
    /// <summary>QUEUE_INDEX: u32 (request filter; reply inside <see cref="Queue"/>).</summary>
    QueueIndex = 22,
    /// <summary>COUNTER: nested, repeatable (reply): <see cref="CounterName"/>, <see cref="CounterValue"/>.</summary>
    Counter = 23,
    /// <summary>COUNTER_NAME: string (reply).</summary>
    CounterName = 24,
    /// <summary>COUNTER_VALUE: u64 (reply).</summary>
    CounterValue = 25,
    /// <summary>ERRNO: u32 positive errno when a queue's counters could not be read (reply).</summary>
    Errno = 26,
    /// <summary>FRAME_COUNT: u32 (default 1).</summary>
    FrameCount = 27,
    /// <summary>FRAME_SIZE: u32, repeatable, used in turn (default 64).</summary>
    FrameSize = 28,
    /// <summary>TRAFFIC_TARGET: u8 <see cref="UvdpaTrafficDestination"/> (default own MAC).</summary>
    TrafficTarget = 29,
    /// <summary>TIMEOUT_MS: u32 (default 5000).</summary>
    TimeoutMs = 30,
    /// <summary>SENT: u32 (reply).</summary>
    Sent = 31,
    /// <summary>RECEIVED: u32 (reply).</summary>
    Received = 32,
    /// <summary>VERIFIED: u32 frames equal byte for byte to what was sent (reply).</summary>
    Verified = 33,
    /// <summary>ELAPSED_NS: u64 (reply).</summary>
    ElapsedNs = 34,
    /// <summary>FEATURES_VALID: u8 (reply).</summary>
    FeaturesValid = 35,
    /// <summary>BUS_INDEX: u32 (reply).</summary>
    BusIndex = 36,
    /// <summary>BOUND_DRIVER: string (reply).</summary>
    BoundDriver = 37,
}

/// <summary>Where a traffic run sends its frames (TRAFFIC_TARGET).</summary>
public enum UvdpaTrafficDestination : byte
{
    /// <summary>The device's own MAC (1).</summary>
    OwnMac = 1,
    /// <summary>ff:ff:ff:ff:ff:ff (2).</summary>
    Broadcast = 2,
    /// <summary>Alternating own MAC and broadcast (3).</summary>
    Both = 3,
}

/// <summary>Constants of the "uvdpa" family.</summary>
public static class UvdpaGenlFamily
{
    /// <summary>The family name resolved through nlctrl (the id is dynamic; never hard-code it).</summary>
    public const string Name = "uvdpa";

    /// <summary>Family version (nlctrl CTRL_ATTR_VERSION and the genlmsghdr.version of requests).</summary>
    public const byte Version = 1;

    /// <summary>Highest attribute number (CTRL_ATTR_MAXATTR).</summary>
    public const int MaxAttr = (int)UvdpaGenlAttr.BoundDriver;
}
