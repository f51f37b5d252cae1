using System.Net.NetworkInformation;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>Writes request attributes for <see cref="VdpaClient.Request(byte, NetlinkMessageFlags, NetlinkAttributeWriterCallback?)"/>.</summary>
public delegate void NetlinkAttributeWriterCallback(ref NetlinkWriter writer);

/// <summary>Client settings.</summary>
public sealed class VdpaClientOptions
{
    /// <summary>
    /// Sequence number source. Default: seconds since the epoch, like iproute2 (seq = time(NULL) for every message).
    /// </summary>
    public Func<uint>? SequenceSource { get; init; }

    /// <summary>genlmsghdr.version of vdpa requests; iproute2 sends 0.</summary>
    public byte GenlVersion { get; init; } = VdpaFamily.Iproute2RequestVersion;

    /// <summary>The family to resolve (default "vdpa").</summary>
    public string FamilyName { get; init; } = VdpaFamily.Name;
}

/// <summary>
/// A management client for the vdpa generic netlink family, over the kernel or vdpad. Resolves the family id
/// with CTRL_CMD_GETFAMILY on connect. Operations throw <see cref="VdpaNetlinkException"/> when the peer answers
/// with an error, <see cref="NetlinkTransportException"/> when the channel fails and
/// <see cref="NetlinkFormatException"/> when a reply is malformed. Not thread-safe.
/// </summary>
public sealed class VdpaClient : IDisposable
{
    private readonly INetlinkTransport _transport;
    private readonly bool _ownsTransport;
    private readonly VdpaClientOptions _options;
    private readonly Func<uint> _sequence;

    private VdpaClient(INetlinkTransport transport, bool ownsTransport, VdpaClientOptions options, GenlFamilyInfo family)
    {
        _transport = transport;
        _ownsTransport = ownsTransport;
        _options = options;
        _sequence = options.SequenceSource ?? TimeSequence;
        Family = family;
    }

    /// <summary>The resolved family (id, maxattr, operations with their flags).</summary>
    public GenlFamilyInfo Family { get; }

    /// <summary>The dynamic family id (nlmsg_type of vdpa messages).</summary>
    public ushort FamilyId => Family.Id;

    /// <summary>The transport in use.</summary>
    public INetlinkTransport Transport => _transport;

    /// <summary>Connects over <paramref name="transport"/> and resolves the family.</summary>
    /// <exception cref="VdpaFamilyNotFoundException">The peer has no vdpa family.</exception>
    public static VdpaClient Connect(INetlinkTransport transport, VdpaClientOptions? options = null, bool ownsTransport = true)
    {
        ArgumentNullException.ThrowIfNull(transport);
        options ??= new VdpaClientOptions();
        try
        {
            GenlFamilyInfo family = ResolveFamily(transport, options.FamilyName, (options.SequenceSource ?? TimeSequence)());
            return new VdpaClient(transport, ownsTransport, options, family);
        }
        catch
        {
            if (ownsTransport) transport.Dispose();
            throw;
        }
    }

    /// <summary>Connects to the running kernel's vdpa family (needs the vdpa module and the initial network namespace).</summary>
    public static VdpaClient ConnectKernel(VdpaClientOptions? options = null, NetlinkTransportOptions? transportOptions = null) =>
        Connect(KernelNetlinkTransport.Open(transportOptions), options);

    /// <summary>Connects to vdpad (socket path: argument, else $UVDPA_SOCKET, else /run/uvdpa/vdpad.sock).</summary>
    public static VdpaClient ConnectDaemon(string? socketPath = null, VdpaClientOptions? options = null, NetlinkTransportOptions? transportOptions = null) =>
        Connect(UnixSeqpacketTransport.Connect(socketPath, transportOptions), options);

    /// <summary>
    /// CTRL_CMD_GETFAMILY for <paramref name="familyName"/>, as iproute2 sends it. An ENOENT answer becomes
    /// <see cref="VdpaFamilyNotFoundException"/>.
    /// </summary>
    public static GenlFamilyInfo ResolveFamily(INetlinkTransport transport, string familyName, uint sequence)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(familyName);
        var w = NetlinkWriter.CreateGrowable(64);
        try
        {
            GenlCtrl.WriteGetFamilyRequest(ref w, familyName, sequence);
            NetlinkReply reply;
            try
            {
                reply = NetlinkExchange.Execute(transport, w.WrittenSpan);
            }
            catch (VdpaNetlinkException e) when (e.Errno == Errno.ENOENT)
            {
                throw new VdpaFamilyNotFoundException(familyName, e.Errno, e.ExtackMessage);
            }
            foreach (NetlinkReplyMessage m in reply.Messages)
            {
                if (m.Header.Type == Netlink.GenlIdCtrl && m.Genl.Command == (byte)CtrlCommand.NewFamily)
                    return GenlCtrl.ParseFamily(m.Raw.AsSpan(m.AttributeAreaOffset));
            }
            throw new NetlinkFormatException($"nlctrl answered the lookup of '{familyName}' without a family message");
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>
    /// Sends a vdpa request with iproute2's attribute order and collects the raw reply. <paramref name="flags"/>
    /// are the full nlmsg_flags (iproute2: REQUEST|ACK, plus DUMP for show-all).
    /// </summary>
    public NetlinkReply Request(VdpaCommand command, NetlinkMessageFlags flags, VdpaRequestAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            VdpaRequestWriter.Write(ref w, FamilyId, (byte)command, flags, _sequence(), attributes, _options.GenlVersion);
            return NetlinkExchange.Execute(_transport, w.WrittenSpan, (int)Family.HeaderSize);
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>Sends a request whose attributes <paramref name="writeAttributes"/> writes, and collects the raw reply.</summary>
    public NetlinkReply Request(byte command, NetlinkMessageFlags flags, NetlinkAttributeWriterCallback? writeAttributes)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkMessageToken m = w.BeginMessage(FamilyId, flags, _sequence(), 0);
            w.PutGenlHeader(command, _options.GenlVersion);
            writeAttributes?.Invoke(ref w);
            if (!w.EndMessage(m)) throw new InvalidOperationException("The request does not fit in a netlink message.");
            return NetlinkExchange.Execute(_transport, w.WrittenSpan, (int)Family.HeaderSize);
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>All management devices (MGMTDEV_GET dump).</summary>
    public IReadOnlyList<VdpaManagementDevice> ListManagementDevices() =>
        Select(Request(VdpaCommand.MgmtdevGet, DumpFlags, VdpaRequestAttributes.None), VdpaCommand.MgmtdevNew, VdpaManagementDevice.FromAttributes);

    /// <summary>One management device by <c>[bus/]name</c>.</summary>
    public VdpaManagementDevice GetManagementDevice(string handle) =>
        Single(Request(VdpaCommand.MgmtdevGet, DoFlags, VdpaRequestAttributes.None.WithManagementDevice(VdpaManagementDeviceHandle.Parse(handle))),
            VdpaCommand.MgmtdevNew, VdpaManagementDevice.FromAttributes);

    /// <summary>
    /// Creates a device (DEV_NEW). <paramref name="managementDevice"/> is <c>[bus/]name</c>. Returns the ACK's
    /// warning, if any.
    /// </summary>
    public string? AddDevice(string name, string managementDevice, PhysicalAddress? mac = null, ushort? mtu = null,
        ushort? maxVqPairs = null, ulong? deviceFeatures = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        VdpaRequestAttributes a = new VdpaRequestAttributes
        {
            DeviceName = name,
            MacAddress = mac?.GetAddressBytes(),
            Mtu = mtu,
            MaxVqPairs = maxVqPairs,
            DeviceFeatures = deviceFeatures,
        }.WithManagementDevice(VdpaManagementDeviceHandle.Parse(managementDevice));
        return Request(VdpaCommand.DevNew, DoFlags, a).Warning;
    }

    /// <summary>Deletes a device (DEV_DEL). Returns the ACK's warning, if any.</summary>
    public string? DeleteDevice(string name) =>
        Request(VdpaCommand.DevDel, DoFlags, new VdpaRequestAttributes { DeviceName = name ?? throw new ArgumentNullException(nameof(name)) }).Warning;

    /// <summary>All managed devices (DEV_GET dump).</summary>
    public IReadOnlyList<VdpaDeviceInfo> ListDevices() =>
        Select(Request(VdpaCommand.DevGet, DumpFlags, VdpaRequestAttributes.None), VdpaCommand.DevNew, VdpaDeviceInfo.FromAttributes);

    /// <summary>One device (DEV_GET doit).</summary>
    public VdpaDeviceInfo GetDevice(string name) =>
        Single(Request(VdpaCommand.DevGet, DoFlags, new VdpaRequestAttributes { DeviceName = name ?? throw new ArgumentNullException(nameof(name)) }),
            VdpaCommand.DevNew, VdpaDeviceInfo.FromAttributes);

    /// <summary>The configuration of every device (DEV_CONFIG_GET dump; a failing device silently ends the dump, as in the kernel).</summary>
    public IReadOnlyList<VdpaDeviceConfig> GetConfig() =>
        Select(Request(VdpaCommand.DevConfigGet, DumpFlags, VdpaRequestAttributes.None), VdpaCommand.DevConfigGet, VdpaDeviceConfig.FromAttributes);

    /// <summary>The configuration of one device (DEV_CONFIG_GET doit).</summary>
    public VdpaDeviceConfig GetConfig(string name) =>
        Single(Request(VdpaCommand.DevConfigGet, DoFlags, new VdpaRequestAttributes { DeviceName = name ?? throw new ArgumentNullException(nameof(name)) }),
            VdpaCommand.DevConfigGet, VdpaDeviceConfig.FromAttributes);

    /// <summary>Vendor statistics of queue <paramref name="queueIndex"/> (DEV_VSTATS_GET).</summary>
    public VdpaVendorStats GetVendorStats(string name, uint queueIndex) =>
        Single(Request(VdpaCommand.DevVstatsGet, DoFlags, new VdpaRequestAttributes { DeviceName = name ?? throw new ArgumentNullException(nameof(name)), QueueIndex = queueIndex }),
            VdpaCommand.DevVstatsGet, VdpaVendorStats.FromAttributes);

    /// <summary>Sets a device attribute (DEV_ATTR_SET, 6.12+; only the MAC is implemented by the kernel). Returns the ACK's warning (e.g. "vdpa: blk0 device not supported").</summary>
    public string? SetDevice(string name, PhysicalAddress? mac) =>
        Request(VdpaCommand.DevAttrSet, DoFlags, new VdpaRequestAttributes { DeviceName = name ?? throw new ArgumentNullException(nameof(name)), MacAddress = mac?.GetAddressBytes() }).Warning;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsTransport) _transport.Dispose();
    }

    /// <summary>REQUEST|ACK, iproute2's flags for a doit.</summary>
    public const NetlinkMessageFlags DoFlags = NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack;

    /// <summary>REQUEST|ACK|DUMP, iproute2's flags for show-all.</summary>
    public const NetlinkMessageFlags DumpFlags = NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack | NetlinkMessageFlags.Dump;

    private static uint TimeSequence() => unchecked((uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private static List<T> Select<T>(NetlinkReply reply, VdpaCommand replyCommand, Func<NetlinkAttributeList, T> parse)
    {
        var list = new List<T>();
        foreach (NetlinkReplyMessage m in reply.Messages)
            if (m.Genl.Command == (byte)replyCommand) list.Add(parse(m.Attributes));
        return list;
    }

    private static T Single<T>(NetlinkReply reply, VdpaCommand replyCommand, Func<NetlinkAttributeList, T> parse)
    {
        List<T> list = Select(reply, replyCommand, parse);
        return list.Count > 0 ? list[0] : throw new NetlinkFormatException($"no {replyCommand} message in the reply");
    }
}
