namespace Uvdpa.Vdpa.Netlink;

/// <summary>Client settings for <see cref="UvdpaClient"/>.</summary>
public sealed class UvdpaClientOptions
{
    /// <summary>Sequence number source. Default: seconds since the epoch, like iproute2.</summary>
    public Func<uint>? SequenceSource { get; init; }
}

/// <summary>
/// A typed client for vdpad's "uvdpa" generic netlink family (UvdpaFamily.md): device add with driver and options,
/// driver change, details, per-queue counters, reset and the traffic test. The family id is resolved with
/// CTRL_CMD_GETFAMILY on connect; a peer without the family (the kernel) fails with
/// <see cref="UvdpaFamilyMissingException"/>. Operations throw <see cref="VdpaNetlinkException"/> when the peer
/// answers with an error, <see cref="NetlinkTransportException"/> when the channel fails and
/// <see cref="NetlinkFormatException"/> when a reply is malformed. Not thread-safe.
/// </summary>
public sealed class UvdpaClient : IDisposable
{
    private readonly VdpaClient _genl;

    private UvdpaClient(VdpaClient genl) => _genl = genl;

    /// <summary>The resolved family (id, maxattr, operations with their flags).</summary>
    public GenlFamilyInfo Family => _genl.Family;

    /// <summary>The dynamic family id.</summary>
    public ushort FamilyId => _genl.FamilyId;

    /// <summary>The transport in use.</summary>
    public INetlinkTransport Transport => _genl.Transport;

    /// <summary>Connects over <paramref name="transport"/> and resolves the "uvdpa" family.</summary>
    /// <exception cref="UvdpaFamilyMissingException">The peer has no "uvdpa" family (e.g. the kernel).</exception>
    public static UvdpaClient Connect(INetlinkTransport transport, UvdpaClientOptions? options = null, bool ownsTransport = true)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var genlOptions = new VdpaClientOptions
        {
            FamilyName = UvdpaGenlFamily.Name,
            GenlVersion = UvdpaGenlFamily.Version,
            SequenceSource = options?.SequenceSource,
        };
        try
        {
            return new UvdpaClient(VdpaClient.Connect(transport, genlOptions, ownsTransport));
        }
        catch (VdpaFamilyNotFoundException e)
        {
            throw new UvdpaFamilyMissingException(e.Errno, e.ExtackMessage);
        }
    }

    /// <summary>Connects to vdpad (socket path: argument, else $UVDPA_SOCKET, else /run/uvdpa/vdpad.sock).</summary>
    public static UvdpaClient ConnectDaemon(string? socketPath = null, UvdpaClientOptions? options = null, NetlinkTransportOptions? transportOptions = null) =>
        Connect(UnixSeqpacketTransport.Connect(socketPath, transportOptions), options);

    /// <summary>
    /// Splits <c>key=value</c> at the first '=' (the key must not be empty; the value may be). The server's rule for
    /// DEV_OPTION and DRIVER_OPTION items.
    /// </summary>
    public static bool TryParseOption(string item, out KeyValuePair<string, string> option)
    {
        ArgumentNullException.ThrowIfNull(item);
        int eq = item.IndexOf('=', StringComparison.Ordinal);
        option = eq > 0 ? new KeyValuePair<string, string>(item[..eq], item[(eq + 1)..]) : default;
        return eq > 0;
    }

    /// <summary>DEV_ADD: creates <paramref name="spec"/>, binds it (to its driver, if one is named). Returns the ACK's warning, if any.</summary>
    public string? AddDevice(UvdpaDeviceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        VdpaManagementDeviceHandle mgmt = VdpaManagementDeviceHandle.Parse(spec.ManagementDevice);
        byte[]? mac = spec.Mac?.GetAddressBytes();
        return Do(UvdpaGenlCommand.DevAdd, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, spec.Name);
            if (mgmt.BusName is not null) w.PutString((ushort)UvdpaGenlAttr.MgmtdevBusName, mgmt.BusName);
            w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, mgmt.DeviceName);
            if (mac is not null) w.PutBinary((ushort)UvdpaGenlAttr.Mac, mac);
            if (spec.Mtu is ushort mtu) w.PutU16((ushort)UvdpaGenlAttr.Mtu, mtu);
            if (spec.MaxVqPairs is ushort vqp) w.PutU16((ushort)UvdpaGenlAttr.MaxVqp, vqp);
            if (spec.DeviceFeatures is ulong f) w.PutU64((ushort)UvdpaGenlAttr.DevFeatures, f);
            PutOptions(ref w, UvdpaGenlAttr.DevOption, spec.DeviceOptions);
            if (spec.Driver is not null) w.PutString((ushort)UvdpaGenlAttr.Driver, spec.Driver);
            PutOptions(ref w, UvdpaGenlAttr.DriverOption, spec.DriverOptions);
        }).Warning;
    }

    /// <summary>
    /// DEV_SET_DRIVER: driver_override := <paramref name="driver"/> (null or empty: cleared, default binding), bind
    /// options := <paramref name="options"/>, unbind, probe. Returns the ACK's warning, if any.
    /// </summary>
    public string? SetDriver(string name, string? driver, IReadOnlyList<KeyValuePair<string, string>>? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Do(UvdpaGenlCommand.DevSetDriver, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, name);
            if (!string.IsNullOrEmpty(driver)) w.PutString((ushort)UvdpaGenlAttr.Driver, driver);
            if (options is not null) PutOptions(ref w, UvdpaGenlAttr.DriverOption, options);
        }).Warning;
    }

    /// <summary>DEV_GET doit: one device's details.</summary>
    public UvdpaDeviceDetails GetDevice(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        NetlinkReply r = Do(UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => w.PutString((ushort)UvdpaGenlAttr.DevName, name));
        return Single(r, UvdpaGenlCommand.DevGet, UvdpaDeviceDetails.FromAttributes);
    }

    /// <summary>DEV_GET dump: every device on the bus, managed or not, in bus order.</summary>
    public IReadOnlyList<UvdpaDeviceDetails> ListDevices()
    {
        NetlinkReply r = _genl.Request((byte)UvdpaGenlCommand.DevGet, VdpaClient.DumpFlags, null);
        var list = new List<UvdpaDeviceDetails>();
        foreach (NetlinkReplyMessage m in r.Messages)
            if (m.Genl.Command == (byte)UvdpaGenlCommand.DevGet) list.Add(UvdpaDeviceDetails.FromAttributes(m.Attributes));
        return list;
    }

    /// <summary>QUEUE_STATS: the counters of every queue, or of <paramref name="queueIndex"/> only.</summary>
    public UvdpaQueueStats GetQueueStats(string name, uint? queueIndex = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        NetlinkReply r = Do(UvdpaGenlCommand.QueueStats, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, name);
            if (queueIndex is uint q) w.PutU32((ushort)UvdpaGenlAttr.QueueIndex, q);
        });
        return Single(r, UvdpaGenlCommand.QueueStats, UvdpaQueueStats.FromAttributes);
    }

    /// <summary>DEV_RESET: unbind, reset if nothing was bound, probe again. Returns the ACK's warning, if any.</summary>
    public string? ResetDevice(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Do(UvdpaGenlCommand.DevReset, (ref NetlinkWriter w) => w.PutString((ushort)UvdpaGenlAttr.DevName, name)).Warning;
    }

    /// <summary>
    /// TRAFFIC: sends frames through the device's virtio_net driver and verifies each one that loops back. Blocks
    /// for the run (at most the timeout, server default 5 s); a transport with a shorter receive timeout fails first.
    /// </summary>
    public UvdpaTrafficResult RunTraffic(string name, UvdpaTrafficOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        options ??= new UvdpaTrafficOptions();
        NetlinkReply r = Do(UvdpaGenlCommand.Traffic, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, name);
            if (options.FrameCount is uint n) w.PutU32((ushort)UvdpaGenlAttr.FrameCount, n);
            foreach (uint s in options.FrameSizes) w.PutU32((ushort)UvdpaGenlAttr.FrameSize, s);
            if (options.Destination is UvdpaTrafficDestination d) w.PutU8((ushort)UvdpaGenlAttr.TrafficTarget, (byte)d);
            if (options.TimeoutMs is uint t) w.PutU32((ushort)UvdpaGenlAttr.TimeoutMs, t);
        });
        uint requested = options.FrameCount ?? DefaultFrameCount;
        IReadOnlyList<uint> sizes = options.FrameSizes.Count > 0 ? options.FrameSizes : [DefaultFrameSize];
        return Single(r, UvdpaGenlCommand.Traffic, a => UvdpaTrafficResult.FromAttributes(a, requested, sizes));
    }

    /// <summary>The server's FRAME_COUNT default.</summary>
    public const uint DefaultFrameCount = 1;

    /// <summary>The server's FRAME_SIZE default.</summary>
    public const uint DefaultFrameSize = 64;

    /// <inheritdoc />
    public void Dispose() => _genl.Dispose();

    private NetlinkReply Do(UvdpaGenlCommand command, NetlinkAttributeWriterCallback attributes) =>
        _genl.Request((byte)command, VdpaClient.DoFlags, attributes);

    private static void PutOptions(ref NetlinkWriter w, UvdpaGenlAttr type, IReadOnlyList<KeyValuePair<string, string>> options)
    {
        foreach (KeyValuePair<string, string> kv in options) w.PutString((ushort)type, kv.Key + "=" + kv.Value);
    }

    private static T Single<T>(NetlinkReply reply, UvdpaGenlCommand command, Func<NetlinkAttributeList, T> parse)
    {
        foreach (NetlinkReplyMessage m in reply.Messages)
            if (m.Genl.Command == (byte)command) return parse(m.Attributes);
        throw new NetlinkFormatException($"no uvdpa {command} message in the reply");
    }
}

/// <summary>
/// The peer has no "uvdpa" generic netlink family (nlctrl answered ENOENT): the kernel, or anything but vdpad. The
/// extensions need vdpad.
/// </summary>
public sealed class UvdpaFamilyMissingException : VdpaNetlinkException
{
    /// <summary>The message: what is missing and what to use instead.</summary>
    public const string Text = "uvdpa extensions need vdpad (the peer has no \"uvdpa\" generic netlink family)";

    /// <summary>Creates the exception for nlctrl's answer <paramref name="errno"/>.</summary>
    public UvdpaFamilyMissingException(int errno, string? extackMessage)
        : base(errno, extackMessage, null, Text) { }
}
