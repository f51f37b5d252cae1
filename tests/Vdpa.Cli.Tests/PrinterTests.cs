using Uvdpa.Vdpa.Netlink;
using static Uvdpa.Vdpa.Cli.Tests.ScriptedKernel;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>The output formats of reference §3.2 on replies the simulators never produce.</summary>
public sealed class PrinterTests
{
    private static void Mgmtdev(ref NetlinkWriter w, string? bus, string name, ulong classes, uint maxVqs, ulong features)
    {
        if (bus is not null) w.PutString((ushort)VdpaAttr.MgmtdevBusName, bus);
        w.PutString((ushort)VdpaAttr.MgmtdevDevName, name);
        w.PutU64((ushort)VdpaAttr.MgmtdevSupportedClasses, classes);
        w.PutU32((ushort)VdpaAttr.DevMgmtdevMaxVqs, maxVqs);
        w.PutU64((ushort)VdpaAttr.DevSupportedFeatures, features);
    }

    private const ulong OddBits = (1UL << 4) | (1UL << 26) | (1UL << 28) | (1UL << 39) | (1UL << 41) | (1UL << 42) | (1UL << 43) | (1UL << 57) | (1UL << 63);

    [Fact]
    public void Net_mgmtdev_features_use_the_net_table_and_bit_N_for_unnamed_bits()
    {
        var script = Doit(VdpaCommand.MgmtdevNew, (ref NetlinkWriter w) => Mgmtdev(ref w, "pci", "0000:65:00.2", (1UL << 1) | (1UL << 3), uint.MaxValue, OddBits));
        Assert.Equal(new CliResult(
            "pci/0000:65:00.2: \n  supported_classes net < unknown class >\n  max_supported_vqs -1\n" +
            "  dev_features bit_4 bit_26 RING_INDIRECT_DESC bit_39 bit_41 bit_42 bit_43 HASH_REPORT SPEED_DUPLEX\n", "", 0),
            Run(script, "mgmtdev", "show", "pci/0000:65:00.2"));
        Assert.Equal(new CliResult(
            "{\"mgmtdev\":{\"pci/0000:65:00.2\":{\"supported_classes\":[\"net\",\"< unknown class >\"],\"max_supported_vqs\":4294967295," +
            "\"dev_features\":[4,26,\"RING_INDIRECT_DESC\",39,41,42,43,\"HASH_REPORT\",\"SPEED_DUPLEX\"]}}}\n", "", 0),
            Run(script, "-j", "mgmtdev", "show", "pci/0000:65:00.2"));
    }

    [Fact]
    public void Block_mgmtdev_features_are_named_only_in_the_transport_range()
    {
        var script = Doit(VdpaCommand.MgmtdevNew, (ref NetlinkWriter w) => Mgmtdev(ref w, null, "vdpasim_blk", 1UL << 2, 1, 0x308007646));
        Assert.Equal(new CliResult(
            "vdpasim_blk: \n  supported_classes block\n  max_supported_vqs 1\n" +
            "  dev_features bit_1 bit_2 bit_6 bit_9 bit_10 bit_12 bit_13 bit_14 bit_27 VERSION_1 ACCESS_PLATFORM\n", "", 0),
            Run(script, "mgmtdev", "show", "vdpasim_blk"));
        Assert.Equal(new CliResult(
            "{\n    \"mgmtdev\": {\n        \"vdpasim_blk\": {\n            \"supported_classes\": [ \"block\" ],\n" +
            "            \"max_supported_vqs\": 1,\n            \"dev_features\": [ 1,2,6,9,10,12,13,14,27,\"VERSION_1\",\"ACCESS_PLATFORM\" ]\n        }\n    }\n}\n", "", 0),
            Run(script, "-jp", "mgmtdev", "show", "vdpasim_blk"));
    }

    [Fact]
    public void Mgmtdev_without_the_optional_attributes_prints_only_the_handle()
    {
        var script = Doit(VdpaCommand.MgmtdevNew, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.MgmtdevDevName, "old"));
        Assert.Equal(new CliResult("old: \n", "", 0), Run(script, "mgmtdev", "show", "old"));
        Assert.Equal(new CliResult("{\"mgmtdev\":{\"old\":{}}}\n", "", 0), Run(script, "-j", "mgmtdev", "show", "old"));
    }

    private static void Dev(ref NetlinkWriter w, string name, uint id, uint vendor, string? bus = "pci", string mgmt = "0000:65:00.2")
    {
        if (bus is not null) w.PutString((ushort)VdpaAttr.MgmtdevBusName, bus);
        w.PutString((ushort)VdpaAttr.MgmtdevDevName, mgmt);
        w.PutString((ushort)VdpaAttr.DevName, name);
        w.PutU32((ushort)VdpaAttr.DevId, id);
        w.PutU32((ushort)VdpaAttr.DevVendorId, vendor);
        w.PutU32((ushort)VdpaAttr.DevMaxVqs, 9);
        w.PutU16((ushort)VdpaAttr.DevMaxVqSize, 32768);
        w.PutU16((ushort)VdpaAttr.DevMinVqSize, 1);
    }

    [Fact]
    public void Dev_show_names_types_and_prints_vendor_in_decimal()
    {
        var script = Dump(VdpaCommand.DevNew,
            (ref NetlinkWriter w) => Dev(ref w, "vdpa3", 1, 0x15b3),
            (ref NetlinkWriter w) => Dev(ref w, "vdpa4", 5, 0, null, "vduse"));
        Assert.Equal(new CliResult(
            "vdpa3: type network mgmtdev pci/0000:65:00.2 vendor_id 5555 max_vqs 9 max_vq_size 32768\n" +
            "vdpa4: type <unknown type> mgmtdev vduse vendor_id 0 max_vqs 9 max_vq_size 32768\n", "", 0),
            Run(script, "dev", "show"));
    }

    [Fact]
    public void Dev_show_attributes_are_optional_after_the_required_three()
    {
        var script = Doit(VdpaCommand.DevNew, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)VdpaAttr.MgmtdevDevName, "m");
            w.PutString((ushort)VdpaAttr.DevName, "d");
            w.PutU32((ushort)VdpaAttr.DevId, 2);
        });
        Assert.Equal(new CliResult("d: type block mgmtdev m\n", "", 0), Run(script, "dev", "show", "d"));
    }

    [Fact]
    public void Config_items_print_in_the_tool_order_whatever_the_wire_order()
    {
        var script = Doit(VdpaCommand.DevConfigGet, (ref NetlinkWriter w) =>
        {
            w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, (1UL << 0) | (1UL << 22) | (1UL << 32));
            w.PutU16((ushort)VdpaAttr.DevNetCfgMtu, 1500);
            w.PutU16((ushort)VdpaAttr.DevNetCfgMaxVqp, 4);
            w.PutU16((ushort)VdpaAttr.DevNetStatus, 2);
            w.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, [0x00, 0x11, 0x22, 0x33, 0x44, 0x77]);
            w.PutU32((ushort)VdpaAttr.DevId, 1);
            w.PutString((ushort)VdpaAttr.DevName, "vdpa3");
        });
        Assert.Equal(new CliResult(
            "vdpa3: mac 00:11:22:33:44:77 link down link_announce true max_vq_pairs 4 mtu 1500 \n  negotiated_features CSUM MQ VERSION_1\n", "", 0),
            Run(script, "dev", "config", "show", "vdpa3"));
        Assert.Equal(new CliResult(
            "{\"config\":{\"vdpa3\":{\"mac\":\"00:11:22:33:44:77\",\"link \":\"down\",\"link_announce \":true,\"max_vq_pairs\":4,\"mtu\":1500," +
            "\"negotiated_features\":[\"CSUM\",\"MQ\",\"VERSION_1\"]}}}\n", "", 0),
            Run(script, "-j", "dev", "config", "show", "vdpa3"));
    }

    [Fact]
    public void Config_of_a_block_device_prints_only_the_handle_and_ignores_block_attributes()
    {
        var script = Doit(VdpaCommand.DevConfigGet, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)VdpaAttr.DevName, "b");
            w.PutU32((ushort)VdpaAttr.DevId, 2);
            w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, 0x300007646);
            w.PutU64((ushort)VdpaAttr.DevBlkCfgCapacity, 0x40000);
        });
        Assert.Equal(new CliResult("b: \n", "", 0), Run(script, "dev", "config", "show", "b"));
        Assert.Equal(new CliResult("{\n    \"config\": {\n        \"b\": {}\n    }\n}\n", "", 0), Run(script, "-jp", "dev", "config", "show", "b"));
    }

    private static AttributesWriter Vstats(uint qidx, ushort? maxVqp, ulong features, params string[] names) => (ref NetlinkWriter w) =>
    {
        w.PutString((ushort)VdpaAttr.DevName, "vdpa3");
        w.PutU32((ushort)VdpaAttr.DevId, 1);
        w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, features);
        if (maxVqp is ushort m) w.PutU16((ushort)VdpaAttr.DevNetCfgMaxVqp, m);
        w.PutU32((ushort)VdpaAttr.DevQueueIndex, qidx);
        ulong v = 1;
        foreach (string n in names)
        {
            w.PutString((ushort)VdpaAttr.DevVendorAttrName, n);
            w.PutU64((ushort)VdpaAttr.DevVendorAttrValue, v++ * 1_000_000_000_000);
        }
    };

    [Theory]
    [InlineData(8u, (ushort)4, "control_vq")]
    [InlineData(0u, (ushort)4, "rx")]
    [InlineData(7u, (ushort)4, "tx")]
    [InlineData(0u, (ushort)0, "control_vq")]
    [InlineData(2u, (ushort)0, "rx")]
    public void Queue_type_rule(uint qidx, ushort maxVqp, string type)
    {
        const ulong CtrlVqMq = (1UL << 17) | (1UL << 22);
        var script = Doit(VdpaCommand.DevVstatsGet, Vstats(qidx, maxVqp == 0 ? null : maxVqp, CtrlVqMq, "received_desc", "completed desc"));
        Assert.Equal(new CliResult($"vdpa3: queue_type {type} received_desc 1000000000000 completed desc 2000000000000 \n", "", 0),
            Run(script, "dev", "vstats", "show", "vdpa3", "qidx", qidx.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Queue_type_without_ctrl_vq_is_never_control()
    {
        var script = Doit(VdpaCommand.DevVstatsGet, Vstats(0, null, 0, "x"));
        Assert.Equal("vdpa3: queue_type rx x 1000000000000 \n", Run(script, "dev", "vstats", "show", "vdpa3", "qidx", "0").Stdout);
    }

    [Fact]
    public void Vstats_json_keys_keep_spaces()
    {
        var script = Doit(VdpaCommand.DevVstatsGet, Vstats(1, null, 1UL << 17, "tx packets", "tx bytes"));
        Assert.Equal("{\"vstats\":{\"vdpa3\":{\"queue_type\":\"tx\",\"tx packets\":1000000000000,\"tx bytes\":2000000000000}}}\n",
            Run(script, "-j", "dev", "vstats", "show", "vdpa3", "qidx", "1").Stdout);
    }

    [Fact]
    public void A_vendor_name_longer_than_200_bytes_ends_the_vstats_line()
    {
        var script = Doit(VdpaCommand.DevVstatsGet, Vstats(1, null, 0, "a", new string('n', 201), "b"));
        Assert.Equal("vdpa3: queue_type tx a 1000000000000 \n", Run(script, "dev", "vstats", "show", "vdpa3", "qidx", "1").Stdout);
    }

    [Fact]
    public void Json_strings_are_escaped_like_json_writer()
    {
        var script = Doit(VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "a\"b\\c\td\u0001\u007fé/", 1, 0, null, "m"));
        CliResult text = Run(script, "dev", "show", "x");
        Assert.StartsWith("a\"b\\c\td\u0001\u007fé/: type network", text.Stdout, StringComparison.Ordinal);
        CliResult json = Run(script, "-j", "dev", "show", "x");
        Assert.StartsWith("{\"dev\":{\"a\\\"b\\\\c\\td\\u0001\\u007fé/\":{\"type\"", json.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_duplicate_attribute_wins()
    {
        var script = Doit(VdpaCommand.DevNew, (ref NetlinkWriter w) =>
        {
            Dev(ref w, "d", 1, 0, null, "m");
            w.PutU32((ushort)VdpaAttr.DevVendorId, 7);
        });
        Assert.Contains(" vendor_id 7 ", Run(script, "dev", "show", "d").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void An_attribute_failing_the_tool_policy_stops_the_parse()
    {
        // DEV_ID with a 2-byte payload fails MNL_TYPE_U32: everything from there on is dropped, the message lacks
        // DEV_ID, and the callback fails the command.
        var script = Doit(VdpaCommand.DevNew, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)VdpaAttr.MgmtdevDevName, "m");
            w.PutString((ushort)VdpaAttr.DevName, "d");
            w.PutU16((ushort)VdpaAttr.DevId, 1);
            w.PutU32((ushort)VdpaAttr.DevId, 1);
        });
        CliResult r = Run(script, "dev", "show", "d");
        Assert.Equal("", r.Stdout);
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("kernel answers: ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Messages_printed_before_a_failure_stay_printed()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req =>
        [
            Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d1", 1, 0, null, "m"), NetlinkMessageFlags.Multi),
            Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d2", 2, 0, null, "m"), NetlinkMessageFlags.Multi),
            Done(req, Errno.EMSGSIZE, "dump failed"),
        ];
        Assert.Equal(new CliResult(
            "d1: type network mgmtdev m vendor_id 0 max_vqs 9 max_vq_size 32768\nd2: type block mgmtdev m vendor_id 0 max_vqs 9 max_vq_size 32768\n",
            "Error: dump failed.\nkernel answers: Message too long\n", 1), Run(script, "dev", "show"));
    }

    [Fact]
    public void Extack_texts_ending_in_a_period_get_no_second_one_and_missing_types_are_reported()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req =>
            [Ack(req, Errno.EINVAL, new NetlinkExtAckInfo { Message = "Operation not supported by the device.", MissingType = 4 })];
        Assert.Equal(new CliResult("", "Missing required attribute type 4\nError: Operation not supported by the device.\nkernel answers: Invalid argument\n", 1),
            Run(script, "dev", "del", "x"));
    }

    [Fact]
    public void A_warning_on_an_ack_exits_0()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req => [Ack(req, 0, new NetlinkExtAckInfo { Message = "vdpa: careful" })];
        Assert.Equal(new CliResult("", "Warning: vdpa: careful.\n", 0), Run(script, "dev", "del", "x"));
    }

    [Fact]
    public void A_reply_with_another_sequence_number_is_a_protocol_error()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req =>
            [Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d", 1, 0), sequence: 42)];
        Assert.Equal(new CliResult("", "kernel answers: Protocol error\n", 1), Run(script, "dev", "show", "d"));
    }

    [Fact]
    public void An_interrupted_dump_fails_with_EINTR()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req =>
            [Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d", 1, 0), NetlinkMessageFlags.Multi | NetlinkMessageFlags.DumpInterrupted), Done(req)];
        Assert.Equal(new CliResult("", "kernel answers: Interrupted system call\n", 1), Run(script, "dev", "show"));
    }

    [Fact]
    public void A_dump_split_over_datagrams_is_read_to_the_end()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = req =>
        [
            Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d1", 1, 0, null, "m"), NetlinkMessageFlags.Multi),
            Message(req, VdpaCommand.DevNew, (ref NetlinkWriter w) => Dev(ref w, "d2", 1, 0, null, "m"), NetlinkMessageFlags.Multi),
            Done(req),
        ];
        Assert.Equal(2, Run(script, "dev", "show").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void A_peer_that_goes_away_is_reported()
    {
        Func<byte[], IReadOnlyList<byte[]>> script = _ => [];
        Assert.Equal(new CliResult("", "kernel answers: Connection timed out\n", 1), Run(script, "dev", "show"));
    }
}
