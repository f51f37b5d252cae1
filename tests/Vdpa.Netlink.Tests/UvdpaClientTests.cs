using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary><see cref="UvdpaClient"/> against a scripted vdpad: family lookup, request encoding, reply parsing, errors.</summary>
public sealed class UvdpaClientTests
{
    private const ushort FamilyId = 0x20;

    /// <summary>Answers GETFAMILY "uvdpa" (ENOENT for anything else) and hands uvdpa requests to <see cref="Reply"/>.</summary>
    private sealed class Peer
    {
        public Peer(bool hasFamily = true)
        {
            Transport = new FakeTransport(request =>
            {
                NlMsgHeader h = NlMsgHeader.Read(request);
                if (h.Type == Netlink.GenlIdCtrl)
                {
                    LookedUp.Add(GenlCtrl.ReadRequestedFamilyName(request.AsSpan(20)));
                    if (!hasFamily) return [Ack(request, Errno.ENOENT)];
                    var info = new GenlFamilyInfo(FamilyId, UvdpaGenlFamily.Name, UvdpaGenlFamily.Version, 0, UvdpaGenlFamily.MaxAttr,
                        [new GenlOperation(1, GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo)], []);
                    return [Write((ref NetlinkWriter w) => GenlCtrl.WriteFamilyReply(ref w, info, h.Sequence, 0)), Ack(request, 0)];
                }
                Requests.Add(request);
                return Reply(request);
            });
        }

        public FakeTransport Transport { get; }

        public List<string?> LookedUp { get; } = [];

        public List<byte[]> Requests { get; } = [];

        public Func<byte[], IReadOnlyList<byte[]>> Reply { get; set; } = r => [Ack(r, 0)];

        public UvdpaClient Connect() => UvdpaClient.Connect(Transport, new UvdpaClientOptions { SequenceSource = () => 99 });
    }

    private static byte[] Write(NetlinkAttributeWriterCallback body)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            body(ref w);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    private static byte[] Ack(byte[] request, int errno, string? message = null) =>
        Write((ref NetlinkWriter w) => NetlinkAckWriter.WriteAck(ref w, request, 0, errno, NetlinkAckOptions.Iproute2,
            message is null ? null : new NetlinkExtAckInfo { Message = message }));

    private static byte[] Message(byte[] request, UvdpaGenlCommand command, NetlinkAttributeWriterCallback attributes, NetlinkMessageFlags flags = NetlinkMessageFlags.None) =>
        Write((ref NetlinkWriter w) =>
        {
            NetlinkMessageToken m = w.BeginMessage(FamilyId, flags, NlMsgHeader.Read(request).Sequence, 0);
            w.PutGenlHeader((byte)command, UvdpaGenlFamily.Version);
            attributes(ref w);
            w.EndMessage(m);
        });

    private static List<(UvdpaGenlAttr Type, string Value)> Attributes(byte[] request) =>
        [.. NetlinkAttributeList.Parse(request.AsMemory(20)).Select(a => ((UvdpaGenlAttr)a.Type, Convert.ToHexString(a.Payload.Span)))];

    private static string Hex(string s) => Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(s + "\0"));

    [Fact]
    public void Connect_resolves_the_uvdpa_family_by_name()
    {
        var peer = new Peer();
        using UvdpaClient c = peer.Connect();
        Assert.Equal(["uvdpa"], peer.LookedUp);
        Assert.Equal(FamilyId, c.FamilyId);
        Assert.Equal((uint)UvdpaGenlFamily.MaxAttr, c.Family.MaxAttr);
    }

    [Fact]
    public void A_peer_without_the_family_needs_vdpad()
    {
        var peer = new Peer(hasFamily: false);
        var e = Assert.Throws<UvdpaFamilyMissingException>(peer.Connect);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("uvdpa extensions need vdpad", e.Message);
        Assert.IsAssignableFrom<VdpaNetlinkException>(e);
        Assert.True(peer.Transport.Disposed);
    }

    [Fact]
    public void AddDevice_writes_every_attribute_in_schema_order()
    {
        var peer = new Peer { Reply = r => [Ack(r, 0, "uvdpa: something to note")] };
        using UvdpaClient c = peer.Connect();
        string? warning = c.AddDevice(new UvdpaDeviceSpec
        {
            Name = "net0",
            ManagementDevice = "pci/0000:01:00.0",
            Mac = PhysicalAddress.Parse("02-00-00-00-00-07"),
            Mtu = 9000,
            MaxVqPairs = 2,
            DeviceFeatures = 0x1_0000_0020,
            DeviceOptions = [new("file", "/img"), new("ro", "")],
            Driver = "vhost_user",
            DriverOptions = [new("socket", "/run/s.sock")],
        });
        Assert.Equal("uvdpa: something to note", warning);
        byte[] req = Assert.Single(peer.Requests);
        NlMsgHeader h = NlMsgHeader.Read(req);
        Assert.Equal((FamilyId, NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack, 99u), (h.Type, h.Flags, h.Sequence));
        Assert.Equal(((byte)UvdpaGenlCommand.DevAdd, UvdpaGenlFamily.Version), (req[16], req[17]));
        Assert.Equal(
        [
            (UvdpaGenlAttr.DevName, Hex("net0")),
            (UvdpaGenlAttr.MgmtdevBusName, Hex("pci")),
            (UvdpaGenlAttr.MgmtdevDevName, Hex("0000:01:00.0")),
            (UvdpaGenlAttr.Mac, "020000000007"),
            (UvdpaGenlAttr.Mtu, "2823"),
            (UvdpaGenlAttr.MaxVqp, "0200"),
            (UvdpaGenlAttr.DevFeatures, "2000000001000000"),
            (UvdpaGenlAttr.DevOption, Hex("file=/img")),
            (UvdpaGenlAttr.DevOption, Hex("ro=")),
            (UvdpaGenlAttr.Driver, Hex("vhost_user")),
            (UvdpaGenlAttr.DriverOption, Hex("socket=/run/s.sock")),
        ], Attributes(req));
    }

    [Fact]
    public void AddDevice_sends_only_what_is_set()
    {
        var peer = new Peer();
        using UvdpaClient c = peer.Connect();
        Assert.Null(c.AddDevice(new UvdpaDeviceSpec { Name = "blk0", ManagementDevice = "vdpasim_blk" }));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("blk0")), (UvdpaGenlAttr.MgmtdevDevName, Hex("vdpasim_blk"))], Attributes(peer.Requests[0]));
    }

    [Fact]
    public void SetDriver_ResetDevice_and_their_attributes()
    {
        var peer = new Peer();
        using UvdpaClient c = peer.Connect();
        c.SetDriver("net0", "virtio_vdpa", [new("queue_size", "64")]);
        c.SetDriver("net0", null);
        c.SetDriver("net0", "");
        c.ResetDevice("net0");
        Assert.Equal([2, 2, 2, 5], peer.Requests.Select(r => (int)r[16]));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0")), (UvdpaGenlAttr.Driver, Hex("virtio_vdpa")), (UvdpaGenlAttr.DriverOption, Hex("queue_size=64"))], Attributes(peer.Requests[0]));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0"))], Attributes(peer.Requests[1]));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0"))], Attributes(peer.Requests[2]));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0"))], Attributes(peer.Requests[3]));
    }

    private static void Details(ref NetlinkWriter w, string name, bool managed)
    {
        w.PutString((ushort)UvdpaGenlAttr.DevName, name);
        if (managed)
        {
            w.PutString((ushort)UvdpaGenlAttr.MgmtdevBusName, "pci");
            w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, "0000:01:00.0");
        }
        w.PutU32((ushort)UvdpaGenlAttr.DevId, 1);
        w.PutU32((ushort)UvdpaGenlAttr.BusIndex, 4);
        w.PutU32((ushort)UvdpaGenlAttr.NumVqs, 3);
        if (managed) PutBinding(ref w);
        w.PutU8((ushort)UvdpaGenlAttr.Status, 0x4f);
        w.PutU8((ushort)UvdpaGenlAttr.FeaturesValid, 1);
        w.PutU64((ushort)UvdpaGenlAttr.DeviceFeatures, 0x3_0000_0020);
        w.PutU64((ushort)UvdpaGenlAttr.NegotiatedFeatures, 0x1_0000_0020);
        if (!managed) return;
        w.PutU32((ushort)UvdpaGenlAttr.BrokenQueue, 0);
        w.PutU32((ushort)UvdpaGenlAttr.BrokenQueue, 2);
    }

    private static void PutBinding(ref NetlinkWriter w)
    {
        w.PutString((ushort)UvdpaGenlAttr.BoundDriver, "virtio_vdpa");
        w.PutString((ushort)UvdpaGenlAttr.DriverOverride, "virtio_vdpa");
        w.PutString((ushort)UvdpaGenlAttr.DriverOption, "queue_size=64");
        w.PutString((ushort)UvdpaGenlAttr.DriverOption, "a=b=c");
        NetlinkNestToken n = w.BeginNested((ushort)UvdpaGenlAttr.Exposure);
        w.PutString((ushort)UvdpaGenlAttr.ExposureKind, "virtio");
        w.PutString((ushort)UvdpaGenlAttr.ExposureLocation, "net");
        w.EndNested(n);
        n = w.BeginNested((ushort)UvdpaGenlAttr.Exposure);
        w.PutString((ushort)UvdpaGenlAttr.ExposureKind, "netdev");
        w.PutString((ushort)UvdpaGenlAttr.ExposureLocation, "tap0");
        w.EndNested(n);
    }

    [Fact]
    public void GetDevice_reads_every_detail()
    {
        var peer = new Peer { Reply = r => [Message(r, UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => Details(ref w, "net0", managed: true)), Ack(r, 0)] };
        using UvdpaClient c = peer.Connect();
        UvdpaDeviceDetails d = c.GetDevice("net0");
        Assert.Equal("net0", d.Name);
        Assert.Equal(new VdpaManagementDeviceHandle("pci", "0000:01:00.0"), d.ManagementDevice);
        Assert.Equal((1u, 4u, 3u), (d.DeviceId, d.BusIndex, d.NumVqs));
        Assert.Equal(("virtio_vdpa", "virtio_vdpa"), (d.BoundDriver, d.DriverOverride));
        Assert.Equal([new("queue_size", "64"), new("a", "b=c")], d.DriverOptions);
        Assert.Equal([new UvdpaExposure("virtio", "net"), new UvdpaExposure("netdev", "tap0")], d.Exposures);
        Assert.Equal((byte)0x4f, d.Status);
        Assert.True(d.FeaturesValid);
        Assert.Equal((0x3_0000_0020ul, 0x1_0000_0020ul), (d.DeviceFeatures, d.NegotiatedFeatures));
        Assert.Equal([0u, 2u], d.BrokenQueues);
        Assert.Equal((byte)UvdpaGenlCommand.DevGet, peer.Requests[0][16]);
        Assert.Equal(VdpaClient.DoFlags, NlMsgHeader.Read(peer.Requests[0]).Flags);
    }

    [Fact]
    public void ListDevices_dumps_managed_and_unmanaged_devices()
    {
        var peer = new Peer
        {
            Reply = r =>
            [
                [.. Message(r, UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => Details(ref w, "net0", managed: true), NetlinkMessageFlags.Multi),
                    .. Message(r, UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => Details(ref w, "raw0", managed: false), NetlinkMessageFlags.Multi)],
                Write((ref NetlinkWriter w) => NetlinkAckWriter.WriteDone(ref w, NlMsgHeader.Read(r).Sequence, 0)),
            ],
        };
        using UvdpaClient c = peer.Connect();
        IReadOnlyList<UvdpaDeviceDetails> all = c.ListDevices();
        Assert.Equal(["net0", "raw0"], all.Select(d => d.Name));
        Assert.Null(all[1].ManagementDevice);
        Assert.Null(all[1].BoundDriver);
        Assert.Empty(all[1].Exposures);
        Assert.Empty(all[1].BrokenQueues);
        Assert.Equal((byte)0x4f, all[1].Status);
        Assert.Equal(VdpaClient.DumpFlags, NlMsgHeader.Read(peer.Requests[0]).Flags);
        Assert.Empty(Attributes(peer.Requests[0]));
    }

    [Fact]
    public void GetQueueStats_reads_each_queue()
    {
        var peer = new Peer
        {
            Reply = r => [Message(r, UvdpaGenlCommand.QueueStats, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "net0");
                w.PutU32((ushort)UvdpaGenlAttr.DevId, 1);
                NetlinkNestToken q = w.BeginNested((ushort)UvdpaGenlAttr.Queue);
                w.PutU32((ushort)UvdpaGenlAttr.QueueIndex, 0);
                foreach ((string n, ulong v) in new[] { ("rx packets", 5ul), ("rx bytes", 380ul) })
                {
                    NetlinkNestToken c = w.BeginNested((ushort)UvdpaGenlAttr.Counter);
                    w.PutString((ushort)UvdpaGenlAttr.CounterName, n);
                    w.PutU64((ushort)UvdpaGenlAttr.CounterValue, v);
                    w.EndNested(c);
                }
                w.EndNested(q);
                q = w.BeginNested((ushort)UvdpaGenlAttr.Queue);
                w.PutU32((ushort)UvdpaGenlAttr.QueueIndex, 1);
                w.PutU32((ushort)UvdpaGenlAttr.Errno, (uint)Errno.EOPNOTSUPP);
                w.EndNested(q);
            }), Ack(r, 0)],
        };
        using UvdpaClient c = peer.Connect();
        UvdpaQueueStats s = c.GetQueueStats("net0");
        Assert.Equal(("net0", 1u, 2), (s.Name, s.DeviceId, s.Queues.Count));
        Assert.Equal([new("rx packets", 5ul), new("rx bytes", 380ul)], s.Queues[0].Counters);
        Assert.Equal((1u, Errno.EOPNOTSUPP, 0), (s.Queues[1].Index, s.Queues[1].Errno, s.Queues[1].Counters.Count));
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0"))], Attributes(peer.Requests[0]));

        c.GetQueueStats("net0", 2);
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0")), (UvdpaGenlAttr.QueueIndex, "02000000")], Attributes(peer.Requests[1]));
    }

    [Fact]
    public void RunTraffic_encodes_the_run_and_reads_the_result()
    {
        var peer = new Peer
        {
            Reply = r => [Message(r, UvdpaGenlCommand.Traffic, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "net0");
                w.PutU32((ushort)UvdpaGenlAttr.Sent, 5);
                w.PutU32((ushort)UvdpaGenlAttr.Received, 5);
                w.PutU32((ushort)UvdpaGenlAttr.Verified, 5);
                w.PutU64((ushort)UvdpaGenlAttr.ElapsedNs, 500_000_000);
            }), Ack(r, 0)],
        };
        using UvdpaClient c = peer.Connect();
        UvdpaTrafficResult t = c.RunTraffic("net0", new UvdpaTrafficOptions { FrameCount = 5, FrameSizes = [64, 1000], Destination = UvdpaTrafficDestination.Both, TimeoutMs = 100 });
        Assert.Equal(
        [
            (UvdpaGenlAttr.DevName, Hex("net0")),
            (UvdpaGenlAttr.FrameCount, "05000000"),
            (UvdpaGenlAttr.FrameSize, "40000000"),
            (UvdpaGenlAttr.FrameSize, "E8030000"),
            (UvdpaGenlAttr.TrafficTarget, "03"),
            (UvdpaGenlAttr.TimeoutMs, "64000000"),
        ], Attributes(peer.Requests[0]));
        Assert.True(t.AllVerified);
        Assert.Equal(3 * 64ul + 2 * 1000ul, t.SentBytes);
        Assert.Equal(10.0, t.FramesPerSecond, 6);
        Assert.Equal(2192 * 8 * 2.0, t.BitsPerSecond, 6);

        // Defaults: only the name is sent; the result is judged against one frame of 64 bytes.
        UvdpaTrafficResult d = c.RunTraffic("net0");
        Assert.Equal([(UvdpaGenlAttr.DevName, Hex("net0"))], Attributes(peer.Requests[1]));
        Assert.Equal((1u, 5 * 64ul), (d.Requested, d.SentBytes));
        Assert.False(d.AllVerified);
    }

    [Fact]
    public void Errors_carry_errno_and_extack()
    {
        var peer = new Peer { Reply = r => [Ack(r, Errno.ENODEV, "uvdpa: no driver nosuch")] };
        using UvdpaClient c = peer.Connect();
        var e = Assert.Throws<VdpaNetlinkException>(() => c.SetDriver("net0", "nosuch"));
        Assert.Equal((Errno.ENODEV, "uvdpa: no driver nosuch"), (e.Errno, e.ExtackMessage));
        Assert.IsNotType<UvdpaFamilyMissingException>(e);
    }

    [Fact]
    public void A_reply_without_the_expected_message_is_malformed()
    {
        var peer = new Peer();
        using UvdpaClient c = peer.Connect();
        Assert.Throws<NetlinkFormatException>(() => c.GetDevice("net0"));
    }

    [Theory]
    [InlineData("a=b", true, "a", "b")]
    [InlineData("file=/x=y", true, "file", "/x=y")]
    [InlineData("ro=", true, "ro", "")]
    [InlineData("=b", false, null, null)]
    [InlineData("novalue", false, null, null)]
    public void Options_are_key_equals_value(string item, bool ok, string? key, string? value)
    {
        Assert.Equal(ok, UvdpaClient.TryParseOption(item, out KeyValuePair<string, string> kv));
        Assert.Equal((key, value), (kv.Key, kv.Value));
    }
}
