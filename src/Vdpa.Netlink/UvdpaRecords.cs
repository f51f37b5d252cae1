using System.Net.NetworkInformation;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>What <see cref="UvdpaClient.AddDevice"/> creates (DEV_ADD).</summary>
public sealed record UvdpaDeviceSpec
{
    /// <summary>DEV_NAME.</summary>
    public required string Name { get; init; }

    /// <summary>The management device, <c>[bus/]name</c>.</summary>
    public required string ManagementDevice { get; init; }

    /// <summary>MAC to provision (net).</summary>
    public PhysicalAddress? Mac { get; init; }

    /// <summary>MTU to provision (net, ≥ 68).</summary>
    public ushort? Mtu { get; init; }

    /// <summary>Virtqueue pairs to provision (net, ≥ 1).</summary>
    public ushort? MaxVqPairs { get; init; }

    /// <summary>Device features to provision.</summary>
    public ulong? DeviceFeatures { get; init; }

    /// <summary>Management-device options in order (DEV_OPTION "key=value"), e.g. <c>file=/path/img</c> for vdpasim_blk.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> DeviceOptions { get; init; } = [];

    /// <summary>The bus driver to bind (null = the default rule).</summary>
    public string? Driver { get; init; }

    /// <summary>Bind options for the driver in order (DRIVER_OPTION "key=value").</summary>
    public IReadOnlyList<KeyValuePair<string, string>> DriverOptions { get; init; } = [];
}

/// <summary>One way a device is reachable once bound (EXPOSURE): kind ("virtio", "vhost-user", ...) and location.</summary>
/// <param name="Kind">EXPOSURE_KIND.</param>
/// <param name="Location">EXPOSURE_LOCATION (socket path, interface name, "net", ...).</param>
public readonly record struct UvdpaExposure(string Kind, string Location);

/// <summary>A device's details (DEV_GET reply).</summary>
/// <param name="Name">DEV_NAME.</param>
/// <param name="ManagementDevice">MGMTDEV_BUS_NAME + MGMTDEV_DEV_NAME; null for devices no management device owns.</param>
/// <param name="DeviceId">DEV_ID (1 net, 2 block).</param>
/// <param name="BusIndex">BUS_INDEX.</param>
/// <param name="NumVqs">NUM_VQS.</param>
/// <param name="BoundDriver">BOUND_DRIVER, null when unbound.</param>
/// <param name="DriverOverride">DRIVER_OVERRIDE, null when none.</param>
/// <param name="DriverOptions">DRIVER_OPTION items in order.</param>
/// <param name="Exposures">EXPOSURE items in order.</param>
/// <param name="Status">STATUS: the virtio device status byte.</param>
/// <param name="FeaturesValid">FEATURES_VALID.</param>
/// <param name="DeviceFeatures">DEVICE_FEATURES.</param>
/// <param name="NegotiatedFeatures">NEGOTIATED_FEATURES (get_driver_features, whatever the status).</param>
/// <param name="BrokenQueues">BROKEN_QUEUE items.</param>
/// <param name="Attributes">All attributes in wire order.</param>
public sealed record UvdpaDeviceDetails(string Name, VdpaManagementDeviceHandle? ManagementDevice, uint DeviceId, uint BusIndex, uint NumVqs,
    string? BoundDriver, string? DriverOverride, IReadOnlyList<KeyValuePair<string, string>> DriverOptions, IReadOnlyList<UvdpaExposure> Exposures,
    byte Status, bool FeaturesValid, ulong DeviceFeatures, ulong NegotiatedFeatures, IReadOnlyList<uint> BrokenQueues, NetlinkAttributeList Attributes)
{
    /// <summary>Reads a DEV_GET reply message.</summary>
    public static UvdpaDeviceDetails FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        var options = new List<KeyValuePair<string, string>>();
        var exposures = new List<UvdpaExposure>();
        var broken = new List<uint>();
        foreach (NetlinkAttributeValue v in a)
        {
            switch ((UvdpaGenlAttr)v.Type)
            {
                case UvdpaGenlAttr.DriverOption:
                    string item = v.View.GetString();
                    options.Add(UvdpaClient.TryParseOption(item, out var kv) ? kv : new KeyValuePair<string, string>(item, ""));
                    break;
                case UvdpaGenlAttr.Exposure:
                    string kind = "", location = "";
                    foreach (NetlinkAttribute n in v.View.GetNested())
                    {
                        if (n.Type == (ushort)UvdpaGenlAttr.ExposureKind) kind = n.GetString();
                        else if (n.Type == (ushort)UvdpaGenlAttr.ExposureLocation) location = n.GetString();
                    }
                    exposures.Add(new UvdpaExposure(kind, location));
                    break;
                case UvdpaGenlAttr.BrokenQueue:
                    broken.Add(v.View.GetU32());
                    break;
            }
        }
        string? mgmt = a.GetString((ushort)UvdpaGenlAttr.MgmtdevDevName);
        return new UvdpaDeviceDetails(
            a.GetString((ushort)UvdpaGenlAttr.DevName) ?? throw Missing(UvdpaGenlAttr.DevName),
            mgmt is null ? null : new VdpaManagementDeviceHandle(a.GetString((ushort)UvdpaGenlAttr.MgmtdevBusName), mgmt),
            a.GetU32((ushort)UvdpaGenlAttr.DevId) ?? throw Missing(UvdpaGenlAttr.DevId),
            a.GetU32((ushort)UvdpaGenlAttr.BusIndex) ?? 0,
            a.GetU32((ushort)UvdpaGenlAttr.NumVqs) ?? 0,
            a.GetString((ushort)UvdpaGenlAttr.BoundDriver),
            a.GetString((ushort)UvdpaGenlAttr.DriverOverride),
            options,
            exposures,
            a.GetU8((ushort)UvdpaGenlAttr.Status) ?? throw Missing(UvdpaGenlAttr.Status),
            (a.GetU8((ushort)UvdpaGenlAttr.FeaturesValid) ?? 0) != 0,
            a.GetU64((ushort)UvdpaGenlAttr.DeviceFeatures) ?? 0,
            a.GetU64((ushort)UvdpaGenlAttr.NegotiatedFeatures) ?? 0,
            broken,
            a);
    }

    internal static NetlinkFormatException Missing(UvdpaGenlAttr attr) => new($"uvdpa reply lacks {attr} ({(ushort)attr})");
}

/// <summary>One queue's counters (a QUEUE nest of the QUEUE_STATS reply).</summary>
/// <param name="Index">QUEUE_INDEX.</param>
/// <param name="Errno">ERRNO: positive errno when the counters could not be read, else 0.</param>
/// <param name="Counters">COUNTER items (name, value) in order.</param>
public sealed record UvdpaQueueCounters(uint Index, int Errno, IReadOnlyList<KeyValuePair<string, ulong>> Counters);

/// <summary>The QUEUE_STATS reply.</summary>
/// <param name="Name">DEV_NAME.</param>
/// <param name="DeviceId">DEV_ID.</param>
/// <param name="Queues">One entry per queue asked for, in order.</param>
public sealed record UvdpaQueueStats(string Name, uint DeviceId, IReadOnlyList<UvdpaQueueCounters> Queues)
{
    /// <summary>Reads a QUEUE_STATS reply message.</summary>
    public static UvdpaQueueStats FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        var queues = new List<UvdpaQueueCounters>();
        foreach (NetlinkAttributeValue v in a)
        {
            if (v.Type != (ushort)UvdpaGenlAttr.Queue) continue;
            uint index = 0;
            int errno = 0;
            var counters = new List<KeyValuePair<string, ulong>>();
            foreach (NetlinkAttribute q in v.View.GetNested())
            {
                switch ((UvdpaGenlAttr)q.Type)
                {
                    case UvdpaGenlAttr.QueueIndex: index = q.GetU32(); break;
                    case UvdpaGenlAttr.Errno: errno = (int)q.GetU32(); break;
                    case UvdpaGenlAttr.Counter:
                        string name = "";
                        ulong value = 0;
                        foreach (NetlinkAttribute c in q.GetNested())
                        {
                            if (c.Type == (ushort)UvdpaGenlAttr.CounterName) name = c.GetString();
                            else if (c.Type == (ushort)UvdpaGenlAttr.CounterValue) value = c.GetU64();
                        }
                        counters.Add(new KeyValuePair<string, ulong>(name, value));
                        break;
                }
            }
            queues.Add(new UvdpaQueueCounters(index, errno, counters));
        }
        return new UvdpaQueueStats(
            a.GetString((ushort)UvdpaGenlAttr.DevName) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.DevName),
            a.GetU32((ushort)UvdpaGenlAttr.DevId) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.DevId),
            queues);
    }
}

/// <summary>How <see cref="UvdpaClient.RunTraffic"/> runs (TRAFFIC request); null members take the server's defaults.</summary>
public sealed record UvdpaTrafficOptions
{
    /// <summary>FRAME_COUNT (server default 1; at most 10,000,000).</summary>
    public uint? FrameCount { get; init; }

    /// <summary>FRAME_SIZE items, used in turn (server default 64).</summary>
    public IReadOnlyList<uint> FrameSizes { get; init; } = [];

    /// <summary>TRAFFIC_TARGET (server default own MAC).</summary>
    public UvdpaTrafficDestination? Destination { get; init; }

    /// <summary>TIMEOUT_MS (server default 5000).</summary>
    public uint? TimeoutMs { get; init; }
}

/// <summary>A traffic run's outcome (TRAFFIC reply) with what was asked for.</summary>
/// <param name="Name">DEV_NAME.</param>
/// <param name="Requested">Frames asked for.</param>
/// <param name="Sent">SENT.</param>
/// <param name="Received">RECEIVED.</param>
/// <param name="Verified">VERIFIED: received frames equal byte for byte to what was sent.</param>
/// <param name="ElapsedNs">ELAPSED_NS.</param>
/// <param name="SentBytes">Bytes of the sent frames (from the sizes asked for, used in turn).</param>
public sealed record UvdpaTrafficResult(string Name, uint Requested, uint Sent, uint Received, uint Verified, ulong ElapsedNs, ulong SentBytes)
{
    /// <summary>Every frame asked for was sent, came back and was identical.</summary>
    public bool AllVerified => Sent == Requested && Verified == Requested;

    /// <summary>Sent frames per second (0 when no time elapsed).</summary>
    public double FramesPerSecond => ElapsedNs == 0 ? 0 : Sent * 1e9 / ElapsedNs;

    /// <summary>Sent bits per second (0 when no time elapsed).</summary>
    public double BitsPerSecond => ElapsedNs == 0 ? 0 : SentBytes * 8e9 / ElapsedNs;

    /// <summary>Reads a TRAFFIC reply message for a request of <paramref name="requested"/> frames of <paramref name="sizes"/>.</summary>
    public static UvdpaTrafficResult FromAttributes(NetlinkAttributeList a, uint requested, IReadOnlyList<uint> sizes)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(sizes);
        uint sent = a.GetU32((ushort)UvdpaGenlAttr.Sent) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.Sent);
        return new UvdpaTrafficResult(
            a.GetString((ushort)UvdpaGenlAttr.DevName) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.DevName),
            requested,
            sent,
            a.GetU32((ushort)UvdpaGenlAttr.Received) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.Received),
            a.GetU32((ushort)UvdpaGenlAttr.Verified) ?? throw UvdpaDeviceDetails.Missing(UvdpaGenlAttr.Verified),
            a.GetU64((ushort)UvdpaGenlAttr.ElapsedNs) ?? 0,
            BytesOf(sent, sizes));
    }

    // Frame i has size sizes[i % n]: whole rounds, then the first (sent % n) sizes.
    private static ulong BytesOf(uint frames, IReadOnlyList<uint> sizes)
    {
        if (sizes.Count == 0) return 0;
        ulong round = 0, partial = 0;
        uint rest = frames % (uint)sizes.Count;
        for (int i = 0; i < sizes.Count; i++)
        {
            round += sizes[i];
            if (i < rest) partial += sizes[i];
        }
        return round * (frames / (uint)sizes.Count) + partial;
    }
}
