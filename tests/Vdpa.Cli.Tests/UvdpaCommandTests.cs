using System.Text.Json;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// The <c>vdpa uvdpa …</c> extension commands end to end: the CLI against vdpad's real management service
/// (<see cref="ServiceStack"/>: NetlinkService over vdpasim_net, vdpasim_blk and virtio_vdpa), stdout, stderr and
/// exit codes.
/// </summary>
public sealed class UvdpaCommandTests : IDisposable
{
    private const string Net0Show =
        "net0: type network mgmtdev vdpasim_net bus_index 0 num_vqs 3 driver virtio_vdpa\n" +
        "  driver_override virtio_vdpa driver_opts queue_size=64\n" +
        "  exposure kind virtio location net\n" +
        "  status 0x0f ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK features_valid true\n" +
        "  device_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR ANY_LAYOUT VERSION_1 ACCESS_PLATFORM\n" +
        "  negotiated_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR VERSION_1 ACCESS_PLATFORM\n";

    private readonly ServiceStack _stack = new();
    private readonly TestDriver _testDriver = new();
    private readonly string _image = Path.GetTempFileName();

    public UvdpaCommandTests()
    {
        _stack.Bus.RegisterDriver(_testDriver); // after virtio_vdpa: the default rule still picks virtio_vdpa
        File.WriteAllBytes(_image, new byte[1 << 20]);
    }

    public void Dispose()
    {
        _stack.Dispose();
        File.Delete(_image);
    }

    private CliResult Vdpa(params string[] args) => CliRunner.Run(_stack.Connect(), args);

    private static void Ok(CliResult r, string stdout = "")
    {
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Equal(stdout, r.Stdout);
    }

    private static void Fails(CliResult r, string stderr)
    {
        Assert.Equal(new CliResult("", stderr, 1), r);
    }

    private void AddNet0() =>
        Ok(Vdpa("uvdpa", "dev", "add", "name", "net0", "mgmtdev", "vdpasim_net", "mac", "02:00:00:00:00:01",
            "driver", "virtio_vdpa", "driver-opt", "queue_size=64"));

    [Fact]
    public void Add_with_driver_and_bind_options_then_show()
    {
        AddNet0();
        Ok(Vdpa("uvdpa", "dev", "show", "net0"), Net0Show);
        // The iproute2 view of the same device is unchanged by the extension.
        Ok(Vdpa("dev", "config", "show", "net0"),
            "net0: mac 02:00:00:00:00:01 link up link_announce false mtu 1500 \n  negotiated_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR VERSION_1 ACCESS_PLATFORM\n");
    }

    [Fact]
    public void Abbreviated_object_and_commands()
    {
        AddNet0();
        Ok(Vdpa("u", "d", "s", "net0"), Net0Show);
        Ok(Vdpa("uv", "dev", "l", "net0"), Net0Show);
        CliResult t = Vdpa("uvdpa", "d", "tr", "net0", "c", "3", "s", "100", "d", "b");
        Assert.StartsWith("net0: sent 3 received 3 verified 3 bytes 300 elapsed ", t.Stdout);
        Assert.Equal(0, t.Exit);
    }

    [Fact]
    public void Show_json_is_keyed_by_device()
    {
        AddNet0();
        CliResult r = Vdpa("-j", "uvdpa", "dev", "show", "net0");
        Assert.Equal(0, r.Exit);
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        JsonElement d = doc.RootElement.GetProperty("dev").GetProperty("net0");
        Assert.Equal("network", d.GetProperty("type").GetString());
        Assert.Equal("vdpasim_net", d.GetProperty("mgmtdev").GetString());
        Assert.Equal(3, d.GetProperty("num_vqs").GetInt32());
        Assert.Equal("virtio_vdpa", d.GetProperty("driver").GetString());
        Assert.Equal("virtio_vdpa", d.GetProperty("driver_override").GetString());
        Assert.Equal("64", d.GetProperty("driver_opts").GetProperty("queue_size").GetString());
        JsonElement e = Assert.Single(d.GetProperty("exposures").EnumerateArray());
        Assert.Equal(("virtio", "net"), (e.GetProperty("kind").GetString(), e.GetProperty("location").GetString()));
        Assert.Equal(15, d.GetProperty("status").GetInt32());
        Assert.Equal(["ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK"], d.GetProperty("status_flags").EnumerateArray().Select(x => x.GetString()));
        Assert.True(d.GetProperty("features_valid").GetBoolean());
        Assert.Contains("VERSION_1", d.GetProperty("negotiated_features").EnumerateArray().Select(x => x.GetString()));
        Assert.False(d.TryGetProperty("broken_queues", out _));
        Assert.EndsWith("}\n", r.Stdout);

        CliResult pretty = Vdpa("-jp", "uvdpa", "dev", "show", "net0");
        Assert.StartsWith("{\n    \"dev\": {\n        \"net0\": {\n            \"type\": \"network\",\n", pretty.Stdout);
    }

    [Fact]
    public void Show_without_a_device_dumps_the_bus()
    {
        AddNet0();
        Ok(Vdpa("uvdpa", "dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk", "opt", "file=" + _image));
        CliResult all = Vdpa("uvdpa", "dev", "show");
        Assert.Equal(0, all.Exit);
        Assert.StartsWith(Net0Show + "blk0: type block mgmtdev vdpasim_blk bus_index 1 num_vqs 1 driver virtio_vdpa\n  exposure kind virtio location blk\n", all.Stdout);
        Assert.Equal(all, Vdpa("uvdpa", "dev"));
        using JsonDocument doc = JsonDocument.Parse(Vdpa("-j", "uvdpa", "dev", "show").Stdout);
        Assert.Equal(["net0", "blk0"], doc.RootElement.GetProperty("dev").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Traffic_sends_frames_that_come_back_verified()
    {
        AddNet0();
        CliResult r = Vdpa("uvdpa", "dev", "traffic", "net0", "count", "100", "size", "64,128,1514", "dst", "both");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        // 34 × 64 + 33 × 128 + 33 × 1514 bytes.
        Assert.Matches(@"^net0: sent 100 received 100 verified 100 bytes 56362 elapsed \d+\.\d{3}ms rate \d+pps [\d.]+[KMGT]?bit\n$", r.Stdout);

        CliResult j = Vdpa("-j", "uvdpa", "dev", "traffic", "net0", "count", "32", "dst", "broadcast");
        Assert.Equal(0, j.Exit);
        using JsonDocument doc = JsonDocument.Parse(j.Stdout);
        JsonElement t = doc.RootElement.GetProperty("traffic").GetProperty("net0");
        Assert.Equal((32, 32, 32, 32 * 64), (t.GetProperty("sent").GetInt32(), t.GetProperty("received").GetInt32(), t.GetProperty("verified").GetInt32(), t.GetProperty("bytes").GetInt32()));
        Assert.True(t.GetProperty("elapsed_ns").GetUInt64() > 0);
        Assert.True(t.GetProperty("frames_per_sec").GetUInt64() > 0);
        Assert.True(t.GetProperty("bits_per_sec").GetUInt64() > 0);
    }

    [Fact]
    public void Counters_show_every_queue()
    {
        AddNet0();
        Assert.Equal(0, Vdpa("uvdpa", "dev", "traffic", "net0", "count", "5").Exit);
        Ok(Vdpa("uvdpa", "dev", "counters", "net0"),
            "net0: type network\n" +
            "  queue 0 rx packets 5 rx bytes 380 rx errors 0 rx overruns 0 rx drops 0\n" +
            "  queue 1 tx packets 5 tx bytes 380 tx errors 0 tx drops 0\n" +
            "  queue 2 cvq requests 0 cvq successes 0 cvq errors 0\n");
        Ok(Vdpa("uvdpa", "dev", "counters", "net0", "qidx", "1"),
            "net0: type network\n  queue 1 tx packets 5 tx bytes 380 tx errors 0 tx drops 0\n");

        using JsonDocument doc = JsonDocument.Parse(Vdpa("-j", "uvdpa", "dev", "counters", "net0").Stdout);
        JsonElement queues = doc.RootElement.GetProperty("counters").GetProperty("net0").GetProperty("queues");
        Assert.Equal([0, 1, 2], queues.EnumerateArray().Select(q => q.GetProperty("index").GetInt32()));
        Assert.Equal(5, queues[1].GetProperty("tx packets").GetInt32());

        Fails(Vdpa("uvdpa", "dev", "counters", "net0", "qidx", "3"), "Error: uvdpa: queue index exceeds the number of queues.\nkernel answers: Numerical result out of range\n");
    }

    [Fact]
    public void Block_device_with_a_file_image()
    {
        Ok(Vdpa("uvdpa", "dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk", "opt", "file=" + _image));
        CliResult show = Vdpa("uvdpa", "dev", "show", "blk0");
        Assert.StartsWith("blk0: type block mgmtdev vdpasim_blk bus_index 0 num_vqs 1 driver virtio_vdpa\n  exposure kind virtio location blk\n  status 0x0f", show.Stdout);
        Assert.Contains("  negotiated_features bit_1 ", show.Stdout); // block bits are unnamed, as in iproute2
        Ok(Vdpa("uvdpa", "dev", "counters", "blk0"), "blk0: type block\n  queue 0 requests 0 errors 0 unsupported 0 read bytes 0 written bytes 0\n");
        Fails(Vdpa("uvdpa", "dev", "traffic", "blk0"), "Error: uvdpa: device is not a net device bound to virtio_vdpa.\nkernel answers: Operation not supported\n");
    }

    [Fact]
    public void Add_with_another_driver_then_change_driver()
    {
        Ok(Vdpa("uvdpa", "dev", "add", "name", "net0", "mgmtdev", "vdpasim_net", "driver", "test_drv", "driver-opt", "socket=/tmp/s", "driver-opt", "mode=x"));
        Assert.Equal(["probe net0 socket=/tmp/s,mode=x"], _testDriver.Log);
        CliResult show = Vdpa("uvdpa", "dev", "show", "net0");
        Assert.StartsWith(
            "net0: type network mgmtdev vdpasim_net bus_index 0 num_vqs 3 driver test_drv\n" +
            "  driver_override test_drv driver_opts socket=/tmp/s mode=x\n" +
            "  exposure kind test location /run/net0\n" +
            "  status 0x00 features_valid false\n", show.Stdout);
        Fails(Vdpa("uvdpa", "dev", "traffic", "net0"), "Error: uvdpa: device is not a net device bound to virtio_vdpa.\nkernel answers: Operation not supported\n");

        Ok(Vdpa("uvdpa", "dev", "driver", "net0", "virtio_vdpa", "driver-opt", "queue_size=64"));
        Assert.Equal("remove net0", _testDriver.Log[^1]);
        Ok(Vdpa("uvdpa", "dev", "show", "net0"), Net0Show);
        Assert.Equal(0, Vdpa("uvdpa", "dev", "traffic", "net0", "count", "4").Exit);

        // No driver: the override is cleared and the default rule binds virtio_vdpa again.
        Ok(Vdpa("uvdpa", "dev", "driver", "net0"));
        CliResult back = Vdpa("uvdpa", "dev", "show", "net0");
        Assert.StartsWith("net0: type network mgmtdev vdpasim_net bus_index 0 num_vqs 3 driver virtio_vdpa\n  exposure kind virtio location net\n", back.Stdout);

        Fails(Vdpa("uvdpa", "dev", "driver", "net0", "nosuch"), "Error: uvdpa: no driver nosuch.\nkernel answers: No such device\n");
    }

    [Fact]
    public void Reset_rebinds_with_the_same_driver_and_options()
    {
        AddNet0();
        Assert.Equal(0, Vdpa("uvdpa", "dev", "traffic", "net0", "count", "3").Exit);
        Ok(Vdpa("uvdpa", "dev", "reset", "net0"));
        Ok(Vdpa("uvdpa", "dev", "show", "net0"), Net0Show);
        Assert.Equal(0, Vdpa("uvdpa", "dev", "traffic", "net0", "count", "3").Exit);
        Fails(Vdpa("uvdpa", "dev", "reset", "nosuch"), "Error: vdpa: device not found.\nkernel answers: No such device\n");
    }

    public static TheoryData<string[], string> BadInputs() => new()
    {
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "colour", "red"], "Unknown option \"colour\"\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "mac", "zz"], "Error: argument \"zz\" is wrong: invalid MAC address, expected xx:xx:xx:xx:xx:xx\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "mac", "02:00:00:00:01"], "Error: argument \"02:00:00:00:01\" is wrong: invalid MAC address, expected xx:xx:xx:xx:xx:xx\n" },
        { ["uvdpa", "dev", "add", "mgmtdev", "vdpasim_net"], "device name is not set.\n" },
        { ["uvdpa", "dev", "add", "name", "x"], "management device handle not set.\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "a/b/c"], "Wrong vdpa mgmtdev identification string format\nExpected \"mgmtdev_bus_name/mgmtdev_name\"\nExpected \"mgmtdev_name\"\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "driver", "nosuch"], "Error: uvdpa: no driver nosuch.\nkernel answers: No such device\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "nosuch"], "Error: vdpa: Fail to find the specified management device.\nkernel answers: No such device\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "mtu", "abc"], "Error: argument \"abc\" is wrong: invalid mtu\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "mtu", "60"], "Error: integer out of range.\nkernel answers: Numerical result out of range\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_net", "driver-opt", "novalue"], "Error: argument \"novalue\" is wrong: expected KEY=VALUE\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev", "vdpasim_blk", "opt", "colour=red"], "Error: vdpasim_blk: unknown option 'colour'.\nkernel answers: Invalid argument\n" },
        { ["uvdpa", "dev", "add", "name", "x", "mgmtdev"], "Command line is not complete. Try option \"help\"\n" },
        { ["uvdpa", "dev", "frob"], "Command \"frob\" not found\n" },
        { ["uvdpa", "frob"], "Object \"frob\" not found\n" },
        { ["uvdpa", "dev", "show", "nosuch"], "Error: vdpa: device not found.\nkernel answers: No such device\n" },
        { ["uvdpa", "dev", "show", "a", "b"], "Unknown option \"b\"\n" },
        { ["uvdpa", "dev", "counters"], "device name is not set.\n" },
        { ["uvdpa", "dev", "counters", "net0", "qidx", "x1"], "Error: argument \"x1\" is wrong: invalid qidx\n" },
        { ["uvdpa", "dev", "reset"], "device name is not set.\n" },
        { ["uvdpa", "dev", "driver"], "device name is not set.\n" },
        { ["uvdpa", "dev", "driver", "net0", "virtio_vdpa", "opt", "a=b"], "Unknown option \"opt\"\n" },
        { ["uvdpa", "dev", "traffic"], "device name is not set.\n" },
        { ["uvdpa", "dev", "traffic", "net0", "count", "many"], "Error: argument \"many\" is wrong: invalid count\n" },
        { ["uvdpa", "dev", "traffic", "net0", "size", "64,,128"], "Error: argument \"64,,128\" is wrong: invalid size, expected SIZE[,SIZE...]\n" },
        { ["uvdpa", "dev", "traffic", "net0", "dst", "moon"], "Error: argument \"moon\" is wrong: dst must be mac, broadcast or both\n" },
        { ["uvdpa", "dev", "traffic", "net0", "size", "10"], "Error: uvdpa: frame size 10 out of range 14..1524.\nkernel answers: Numerical result out of range\n" },
        { ["uvdpa", "dev", "traffic", "net0", "speed", "1"], "Unknown option \"speed\"\n" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_fails_with_a_clear_error(string[] args, string stderr)
    {
        AddNet0();
        Fails(Vdpa(args), stderr);
    }

    [Fact]
    public void Duplicate_name_is_refused()
    {
        AddNet0();
        Fails(Vdpa("uvdpa", "dev", "add", "name", "net0", "mgmtdev", "vdpasim_net"), "kernel answers: File exists\n");
    }

    [Fact]
    public void Help_goes_to_stderr()
    {
        CliResult help = Vdpa("uvdpa", "help");
        Assert.Equal(0, help.Exit);
        Assert.Equal("", help.Stdout);
        Assert.StartsWith("Usage: vdpa uvdpa dev show [ DEV ]\n", help.Stderr);
        Assert.Contains("vdpa uvdpa dev traffic DEV [ count COUNT ] [ size SIZE[,SIZE...] ]", help.Stderr);
        Assert.Equal(help, Vdpa("uvdpa"));
        Assert.Equal(help, Vdpa("uvdpa", "dev", "help"));
        // iproute2's own help does not mention the extension.
        Assert.Equal("Usage: vdpa [ OPTIONS ] OBJECT { COMMAND | help }\nwhere  OBJECT := { mgmtdev | dev }\n       OPTIONS := { -V[ersion] | -n[o-nice-names] | -j[son] | -p[retty] }\n", Vdpa("help").Stderr);
    }

    [Fact]
    public void The_kernel_has_no_uvdpa_family()
    {
        var kernel = new FakeVdpaKernel();
        Fails(CliRunner.Run(kernel.CreateTransport(), "uvdpa", "dev", "show"),
            "Error: uvdpa extensions need vdpad (the peer has no \"uvdpa\" generic netlink family).\n");
        // Parse errors are reported before the family is looked up.
        Fails(CliRunner.Run(kernel.CreateTransport(), "uvdpa", "dev", "add", "name", "x"), "management device handle not set.\n");
    }

    [Fact]
    public void A_frame_that_does_not_come_back_identical_fails_the_run()
    {
        var peer = new ScriptedUvdpaPeer(sent: 10, received: 10, verified: 9);
        CliResult r = CliRunner.Run(peer.Transport, "uvdpa", "dev", "traffic", "net0", "count", "10");
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("net0: sent 10 received 10 verified 9 bytes 640 elapsed 1.000ms rate 10000pps 5.12Mbit\n", r.Stdout);
        Assert.Equal("Error: 1 of 10 frames did not come back identical.\n", r.Stderr);

        var slow = new ScriptedUvdpaPeer(sent: 4, received: 3, verified: 3);
        CliResult t = CliRunner.Run(slow.Transport, "uvdpa", "dev", "traffic", "net0", "count", "10", "timeout", "1");
        Assert.Equal("Error: timed out after 4 of 10 frames (3 verified).\n", t.Stderr);
        Assert.Equal(1, t.Exit);
        // The request carried what was asked for.
        NetlinkAttributeList a = NetlinkAttributeList.Parse(slow.LastRequest.AsMemory(20));
        Assert.Equal((10u, 1u), (a.GetU32((ushort)UvdpaGenlAttr.FrameCount), a.GetU32((ushort)UvdpaGenlAttr.TimeoutMs)));
    }

    /// <summary>A bus driver that records probes and exposes the device at /run/NAME.</summary>
    private sealed class TestDriver : IVdpaBusDriver
    {
        public string Name => "test_drv";

        public List<string> Log { get; } = [];

        public void Probe(VdpaDevice device, BindOptions options)
        {
            Log.Add($"probe {device.Name} {string.Join(',', options.Values.Select(kv => kv.Key + "=" + kv.Value))}");
            device.AddExposure(new DeviceExposure("test", "/run/" + device.Name));
        }

        public void Remove(VdpaDevice device) => Log.Add($"remove {device.Name}");
    }

    /// <summary>A peer with both families whose TRAFFIC answer is fixed (1 ms elapsed).</summary>
    private sealed class ScriptedUvdpaPeer
    {
        private const ushort UvdpaId = 0x20;

        public ScriptedUvdpaPeer(uint sent, uint received, uint verified)
        {
            Transport = new FuncTransport(request =>
            {
                LastRequest = request;
                NlMsgHeader h = NlMsgHeader.Read(request);
                var w = NetlinkWriter.CreateGrowable();
                try
                {
                    if (h.Type == Netlink.Netlink.GenlIdCtrl)
                    {
                        string? name = GenlCtrl.ReadRequestedFamilyName(request.AsSpan(20));
                        GenlFamilyInfo family = name == VdpaFamily.Name
                            ? VdpaFamily.Describe(0x1f)
                            : new GenlFamilyInfo(UvdpaId, UvdpaGenlFamily.Name, UvdpaGenlFamily.Version, 0, UvdpaGenlFamily.MaxAttr, [], []);
                        GenlCtrl.WriteFamilyReply(ref w, family, h.Sequence, 0);
                    }
                    else
                    {
                        NetlinkMessageToken m = w.BeginMessage(UvdpaId, NetlinkMessageFlags.None, h.Sequence, 0);
                        w.PutGenlHeader((byte)UvdpaGenlCommand.Traffic, UvdpaGenlFamily.Version);
                        w.PutString((ushort)UvdpaGenlAttr.DevName, "net0");
                        w.PutU32((ushort)UvdpaGenlAttr.Sent, sent);
                        w.PutU32((ushort)UvdpaGenlAttr.Received, received);
                        w.PutU32((ushort)UvdpaGenlAttr.Verified, verified);
                        w.PutU64((ushort)UvdpaGenlAttr.ElapsedNs, 1_000_000);
                        w.EndMessage(m);
                    }
                    byte[] reply = w.ToArray();
                    w.Rewind(0);
                    NetlinkAckWriter.WriteAck(ref w, request, 0, 0, NetlinkAckOptions.Iproute2);
                    return [reply, w.ToArray()];
                }
                finally
                {
                    w.Dispose();
                }
            });
        }

        public FuncTransport Transport { get; }

        public byte[] LastRequest { get; private set; } = [];
    }
}
