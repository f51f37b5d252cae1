using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// The command-line rules of iproute2 7.1's vdpa (reference §3.1, vdpa/vdpa.c): prefix matching, exact words,
/// keyword rules, value parsing, the NEXT_ARG_OK trailing-token quirk, usage texts, getopt behaviour and exit codes.
/// </summary>
public sealed class GrammarTests
{
    private const string MainHelp =
        "Usage: vdpa [ OPTIONS ] OBJECT { COMMAND | help }\n" +
        "where  OBJECT := { mgmtdev | dev }\n" +
        "       OPTIONS := { -V[ersion] | -n[o-nice-names] | -j[son] | -p[retty] }\n";

    private const string DevHelp71 =
        "Usage: vdpa dev show [ DEV ]\n" +
        "       vdpa dev add name NAME mgmtdev MANAGEMENTDEV [ device_features DEVICE_FEATURES]\n" +
        "                                                    [ mac MACADDR ] [ mtu MTU ]\n" +
        "                                                    [ max_vqp MAX_VQ_PAIRS ]\n" +
        "       vdpa dev del DEV\n" +
        "Usage: vdpa dev config COMMAND [ OPTIONS ]\n" +
        "Usage: vdpa dev vstats COMMAND\n";

    // iproute2 6.1's cmd_dev_help, for the record: no device_features line.
    private const string DevHelp61 =
        "Usage: vdpa dev show [ DEV ]\n" +
        "       vdpa dev add name NAME mgmtdev MANAGEMENTDEV [ mac MACADDR ] [ mtu MTU ]\n" +
        "                                                    [ max_vqp MAX_VQ_PAIRS ]\n" +
        "       vdpa dev del DEV\n" +
        "Usage: vdpa dev config COMMAND [ OPTIONS ]\n" +
        "Usage: vdpa dev vstats COMMAND\n";

    private const string VstatsUsage = "Usage: vdpa dev vstats show DEV [qidx QUEUE_INDEX]\n";

    private static FakeVdpaKernel KernelWithDevices()
    {
        var k = new FakeVdpaKernel();
        Assert.Equal(0, CliRunner.Run(k.CreateTransport(), "dev", "add", "name", "a0", "mgmtdev", "vdpasim_net").Exit);
        Assert.Equal(0, CliRunner.Run(k.CreateTransport(), "dev", "add", "name", "a2", "mgmtdev", "vdpasim_blk").Exit);
        return k;
    }

    private static CliResult Run(FakeVdpaKernel k, params string[] args) => CliRunner.Run(k.CreateTransport(), args);

    private static CliResult Run(params string[] args) => CliRunner.Run(new FakeVdpaKernel().CreateTransport(), args);

    private static NetlinkAttributeList LastRequestAttributes(FakeVdpaKernel k, out NlMsgHeader header, out byte command)
    {
        byte[] r = k.Requests[^1];
        header = NlMsgHeader.Read(r);
        command = r[16];
        return NetlinkAttributeList.Parse(r.AsMemory(20, (int)header.Length - 20));
    }

    // ---- objects and commands: prefix matching and exact words ----

    [Theory]
    [InlineData("m", "s")]
    [InlineData("m", "l")]
    [InlineData("mgmt", "li")]
    [InlineData("mgmtdev", "show")]
    public void Mgmtdev_show_and_list_match_by_prefix(string obj, string cmd)
    {
        CliResult r = Run(obj, cmd);
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("vdpasim_net: \n  supported_classes net\n", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("d")]
    [InlineData("d", "s")]
    [InlineData("dev", "l")]
    [InlineData("de", "sh")]
    public void Dev_show_forms_list_all_devices(params string[] args)
    {
        FakeVdpaKernel k = KernelWithDevices();
        CliResult r = Run(k, args);
        Assert.Equal(new CliResult(
            "a0: type network mgmtdev vdpasim_net vendor_id 0 max_vqs 3 max_vq_size 256\n" +
            "a2: type block mgmtdev vdpasim_blk vendor_id 0 max_vqs 1 max_vq_size 256\n", "", 0), r);
        LastRequestAttributes(k, out NlMsgHeader h, out byte cmd);
        Assert.Equal((byte)VdpaCommand.DevGet, cmd);
        Assert.Equal(VdpaClient.DumpFlags, h.Flags);
    }

    [Fact]
    public void Dev_add_and_del_match_by_prefix_and_keywords_name_mgmtdev_max_vqp_too()
    {
        var k = new FakeVdpaKernel();
        Assert.Equal(new CliResult("", "", 0), Run(k, "d", "a", "n", "x0", "mg", "vdpasim_net"));
        Assert.Equal(new CliResult("", "", 0), Run(k, "d", "de", "x0"));
        // "ma" is not "mac" and not "mtu", so it is a prefix of max_vqp.
        CliResult r = Run(k, "d", "a", "na", "x1", "mgmtdev", "vduse", "ma", "4");
        Assert.Equal(1, r.Exit);
        NetlinkAttributeList a = LastRequestAttributes(k, out _, out byte cmd);
        Assert.Equal((byte)VdpaCommand.DevNew, cmd);
        Assert.Equal((ushort)4, a.GetU16((ushort)VdpaAttr.DevNetCfgMaxVqp));
    }

    [Fact]
    public void Dev_config_bare_and_prefix_show_all()
    {
        FakeVdpaKernel k = KernelWithDevices();
        CliResult bare = Run(k, "dev", "config");
        CliResult prefix = Run(k, "d", "c", "s");
        Assert.Equal(0, bare.Exit);
        Assert.Equal(bare, prefix);
        Assert.EndsWith("a2: \n", bare.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vstat")]
    [InlineData("vs")]
    public void Vstats_needs_the_exact_word(string word)
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", $"Command \"{word}\" not found\n", 1), Run(k, "dev", word, "show", "a0", "qidx", "1"));
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("h")]
    public void Vstats_subcommands_need_exact_words(string word)
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", $"Command \"{word}\" not found\n", 1), Run(k, "dev", "vstats", word, "a0"));
    }

    [Fact]
    public void Set_needs_the_exact_word_while_s_is_a_prefix_of_show()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "Command \"se\" not found\n", 1), Run(k, "dev", "se", "name", "a0", "mac", "02:00:00:00:00:01"));
        // "s" → dev show with the handle "name", then "a0" is an unknown keyword.
        Assert.Equal(new CliResult("", "Unknown option \"a0\"\n", 1), Run(k, "dev", "s", "name", "a0", "mac", "02:00:00:00:00:01"));
    }

    [Fact]
    public void Unknown_object_and_commands()
    {
        Assert.Equal(new CliResult("", "Object \"foo\" not found\n", 1), Run("foo"));
        Assert.Equal(new CliResult("", "Command \"foo\" not found\n", 1), Run("dev", "foo"));
        Assert.Equal(new CliResult("", "Command \"foo\" not found\n", 1), Run("mgmtdev", "foo"));
        Assert.Equal(new CliResult("", "Command \"foo\" not found\n", 1), Run("dev", "config", "foo"));
        Assert.Equal(new CliResult("", "Command \"\" not found\n", 1), Run("dev", ""));
        Assert.Equal(new CliResult("", "Object \"uvdpax\" not found\n", 1), Run("uvdpax"));
    }

    // ---- help texts (stderr, exit 0) ----

    [Theory]
    [InlineData("help")]
    [InlineData("h")]
    [InlineData("he")]
    public void Object_help_prints_the_main_usage(string word) =>
        Assert.Equal(new CliResult("", MainHelp, 0), Run(word));

    [Fact]
    public void No_object_prints_the_main_usage() => Assert.Equal(new CliResult("", MainHelp, 0), Run());

    [Fact]
    public void Dev_help_is_the_7_1_text_which_differs_from_6_1()
    {
        Assert.Equal(new CliResult("", DevHelp71, 0), Run("dev", "help"));
        Assert.Equal(new CliResult("", DevHelp71, 0), Run("d", "h"));
        Assert.NotEqual(DevHelp61, DevHelp71);
        Assert.DoesNotContain("dev set", DevHelp71, StringComparison.Ordinal);
    }

    [Fact]
    public void Mgmtdev_help_and_bare_mgmtdev()
    {
        Assert.Equal(new CliResult("", "Usage: vdpa mgmtdev show [ DEV ]\n", 0), Run("mgmtdev", "help"));
        Assert.Equal(new CliResult("", "Usage: vdpa mgmtdev show [ DEV ]\n", 0), Run("mgmtdev"));
    }

    [Fact]
    public void Config_and_vstats_help()
    {
        Assert.Equal(new CliResult("", "Usage: vdpa dev config show [ DEV ]\n", 0), Run("dev", "config", "help"));
        Assert.Equal(new CliResult("", VstatsUsage, 0), Run("dev", "vstats", "help"));
        Assert.Equal(new CliResult("", VstatsUsage, 1), Run("dev", "vstats"));
    }

    // ---- vstats show: exactly 1 or 3 arguments ----

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    public void Vstats_show_with_a_wrong_argument_count_prints_usage(int count)
    {
        FakeVdpaKernel k = KernelWithDevices();
        string[] args = ["dev", "vstats", "show", .. new[] { "a0", "qidx", "1", "x" }[..count]];
        int before = k.Requests.Count;
        Assert.Equal(new CliResult("", VstatsUsage, 1), Run(k, args));
        Assert.Equal(before + 1, k.Requests.Count); // only the family lookup
    }

    [Fact]
    public void Vstats_show_without_qidx_is_sent_and_the_kernel_says_EINVAL()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "kernel answers: Invalid argument\n", 1), Run(k, "dev", "vstats", "show", "a0"));
        NetlinkAttributeList a = LastRequestAttributes(k, out _, out byte cmd);
        Assert.Equal((byte)VdpaCommand.DevVstatsGet, cmd);
        Assert.False(a.Contains((ushort)VdpaAttr.DevQueueIndex));
    }

    [Fact]
    public void Vstats_with_a_json_error_still_prints_the_skeleton()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("{\"vstats\":{}}\n", "kernel answers: Operation not supported\n", 1), Run(k, "-j", "dev", "vstats", "show", "a2", "qidx", "0"));
    }

    // ---- keyword and value rules ----

    [Theory]
    [InlineData("mt")]
    [InlineData("macaddr")]
    [InlineData("device_feature")]
    [InlineData("names")]
    [InlineData("")]
    public void Exact_keywords_and_unknown_words_are_rejected(string keyword)
    {
        Assert.Equal(new CliResult("", $"Unknown option \"{keyword}\"\n", 1),
            Run("dev", "add", "name", "z", "mgmtdev", "vdpasim_net", keyword, "1"));
    }

    [Fact]
    public void Keywords_not_allowed_for_a_command_are_unknown()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "Unknown option \"qidx\"\n", 1), Run(k, "dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "qidx", "1"));
        Assert.Equal(new CliResult("", "Unknown option \"name\"\n", 1), Run(k, "dev", "vstats", "show", "a0", "name", "x"));
        Assert.Equal(new CliResult("", "Unknown option \"mtu\"\n", 1), Run(k, "dev", "set", "name", "a0", "mtu", "1500"));
    }

    [Theory]
    [InlineData("mtu", "abc")]
    [InlineData("mtu", "70000")]
    [InlineData("mtu", "0x10")]
    [InlineData("mtu", "15 ")]
    [InlineData("max_vqp", "x")]
    [InlineData("max_vqp", "65536")]
    [InlineData("device_features", "0xg")]
    [InlineData("device_features", "1ffffffffffffffff")]
    public void Bad_numbers_fail_silently(string keyword, string value) =>
        Assert.Equal(new CliResult("", "", 1), Run("dev", "add", "name", "z", "mgmtdev", "vdpasim_net", keyword, value));

    [Fact]
    public void Bad_qidx_fails_silently()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "", 1), Run(k, "dev", "vstats", "show", "a0", "qidx", "4294967296"));
        Assert.Equal(new CliResult("", "", 1), Run(k, "dev", "vstats", "show", "a0", "qidx", ""));
    }

    [Fact]
    public void Numbers_follow_strtoul_leading_space_and_plus_sign_are_accepted()
    {
        var k = new FakeVdpaKernel();
        Assert.Equal(0, Run(k, "dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "mtu", " +1400").Exit);
        Assert.Equal((ushort)1400, LastRequestAttributes(k, out _, out _).GetU16((ushort)VdpaAttr.DevNetCfgMtu));
    }

    [Theory]
    [InlineData("300020020", 0x300020020UL)]
    [InlineData("0x300020020", 0x300020020UL)]
    [InlineData("0X1", 1UL)]
    public void Device_features_are_read_as_hex(string text, ulong value)
    {
        var k = new FakeVdpaKernel();
        Run(k, "dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "device_features", text);
        Assert.Equal(value, LastRequestAttributes(k, out _, out _).GetU64((ushort)VdpaAttr.DevFeatures));
    }

    [Fact]
    public void A_negative_number_is_taken_for_an_option_by_getopt()
    {
        Assert.Equal(new CliResult("", "vdpa: invalid option -- '1'\nUnknown option.\n" + MainHelp, 1),
            Run("dev", "vstats", "show", "a0", "qidx", "-1"));
    }

    [Theory]
    [InlineData("zz", "\"zz\" is invalid lladdr.\n")]
    [InlineData("02:zz:00:00:00:01", "\"zz\" is invalid lladdr.\n")]
    [InlineData("02:100:00:00:00:01", "\"100\" is invalid lladdr.\n")]
    [InlineData("02::00:00:00:01", "\"\" is invalid lladdr.\n")]
    [InlineData("1.2.3.256", "\"1.2.3.256\" is invalid lladdr.\n")]
    public void Bad_mac_addresses(string mac, string stderr) =>
        Assert.Equal(new CliResult("", stderr, 1), Run("dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "mac", mac));

    [Theory]
    [InlineData("02:aa:bb:cc:dd:01", "02aabbccdd01")]
    [InlineData("2:3", "020300000000")]
    [InlineData("1:2:3:4:5:6:7", "010203040506")]
    [InlineData("1.2.3.4", "010203040000")]
    [InlineData("0x2:1g:0:0:0:1", "020100000001")]
    public void Mac_addresses_are_parsed_like_ll_addr_a2n(string mac, string hex)
    {
        var k = new FakeVdpaKernel();
        Run(k, "dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "mac", mac);
        byte[]? sent = LastRequestAttributes(k, out _, out _).GetBinary((ushort)VdpaAttr.DevNetCfgMacAddr);
        Assert.Equal(hex, Convert.ToHexString(sent!).ToLowerInvariant());
    }

    [Fact]
    public void A_handle_with_two_slashes_prints_three_lines()
    {
        const string Err = "Wrong vdpa mgmtdev identification string format\nExpected \"mgmtdev_bus_name/mgmtdev_name\"\nExpected \"mgmtdev_name\"\n";
        Assert.Equal(new CliResult("", Err, 1), Run("mgmtdev", "show", "a/b/c"));
        Assert.Equal(new CliResult("", Err, 1), Run("dev", "add", "name", "z", "mgmtdev", "a/b/c"));
    }

    [Fact]
    public void A_bus_handle_sends_the_bus_name_first()
    {
        var k = new FakeVdpaKernel();
        CliResult r = Run(k, "dev", "add", "mgmtdev", "pci/0000:65:00.2", "name", "z");
        Assert.Equal("Error: vdpa: Fail to find the specified management device.\nkernel answers: No such device\n", r.Stderr);
        NetlinkAttributeList a = LastRequestAttributes(k, out _, out _);
        Assert.Equal([(ushort)VdpaAttr.MgmtdevBusName, (ushort)VdpaAttr.MgmtdevDevName, (ushort)VdpaAttr.DevName], a.Select(x => x.Type));
        Assert.Equal("pci", a.GetString((ushort)VdpaAttr.MgmtdevBusName));
        Assert.Equal("0000:65:00.2", a.GetString((ushort)VdpaAttr.MgmtdevDevName));
    }

    [Fact]
    public void Request_attributes_follow_iproute2_order_whatever_the_command_line_order()
    {
        var k = new FakeVdpaKernel();
        Run(k, "dev", "add", "device_features", "308830028", "max_vqp", "1", "mtu", "1500", "mac", "02:00:00:00:00:01", "mgmtdev", "vduse", "name", "z");
        NetlinkAttributeList a = LastRequestAttributes(k, out NlMsgHeader h, out byte cmd);
        Assert.Equal((byte)VdpaCommand.DevNew, cmd);
        Assert.Equal(VdpaClient.DoFlags, h.Flags);
        Assert.Equal(CliRunner.Clock, h.Sequence);
        Assert.Equal(
            new ushort[] { 2, 4, 10, 13, 12, 20 },
            a.Select(x => x.Type).ToArray());
    }

    [Fact]
    public void Missing_required_items()
    {
        Assert.Equal(new CliResult("", "management device handle not set.\n", 1), Run("dev", "add", "name", "z"));
        Assert.Equal(new CliResult("", "device name is not set.\n", 1), Run("dev", "add", "mgmtdev", "vdpasim_net"));
        Assert.Equal(new CliResult("", "management device handle not set.\n", 1), Run("dev", "add"));
        Assert.Equal(new CliResult("", "device name is not set.\n", 1), Run("dev", "set", "mac", "02:00:00:00:00:01"));
        Assert.Equal(new CliResult("", "String parameter expected\n", 1), Run("dev", "del"));
    }

    // ---- the NEXT_ARG_OK quirk: one trailing token is ignored ----

    [Fact]
    public void A_single_trailing_token_is_ignored()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("a0: type network mgmtdev vdpasim_net vendor_id 0 max_vqs 3 max_vq_size 256\n", "", 0), Run(k, "dev", "show", "a0", "extra"));
        Assert.Equal(0, Run(k, "dev", "add", "name", "t1", "mgmtdev", "vdpasim_net", "mtu").Exit);
        Assert.Equal(0, Run(k, "dev", "add", "name", "t2", "mgmtdev", "vdpasim_net", "bogus").Exit);
        Assert.Equal(0, Run(k, "mgmtdev", "show", "vdpasim_blk", "x").Exit);
        Assert.Equal(new CliResult("", "Unknown option \"x\"\n", 1), Run(k, "dev", "show", "a0", "x", "y"));
    }

    // ---- getopt: options, -n and -s, -p, permutation ----

    [Fact]
    public void Version_needs_no_kernel()
    {
        Assert.Equal(new CliResult("vdpa utility, uvdpa-0.1.0\n", "", 0), CliRunner.Run(new NoPeerTransport(), "-V"));
        Assert.Equal(new CliResult("vdpa utility, uvdpa-0.1.0\n", "", 0), CliRunner.Run(new NoPeerTransport(), "--Version"));
        Assert.Equal(new CliResult("vdpa utility, uvdpa-0.1.0\n", "", 0), CliRunner.Run(new NoPeerTransport(), "-jV", "dev"));
    }

    [Fact]
    public void Help_option_needs_no_kernel_but_help_object_does()
    {
        Assert.Equal(new CliResult("", MainHelp, 0), CliRunner.Run(new NoPeerTransport(), "-h"));
        Assert.Equal(new CliResult("", MainHelp, 0), CliRunner.Run(new NoPeerTransport(), "--he"));
        Assert.Equal(new CliResult("", "Failed to connect to vdpa Netlink\n", 1), CliRunner.Run(new NoPeerTransport(), "help"));
        Assert.Equal(new CliResult("", "Failed to connect to vdpa Netlink\n", 1), CliRunner.Run(new NoPeerTransport(), "dev", "show"));
        Assert.Equal(new CliResult("", "Failed to connect to vdpa Netlink\n", 1), CliRunner.Run(new NoPeerTransport(), "-j", "dev", "bogus"));
    }

    [Fact]
    public void No_nice_names_is_advertised_but_not_implemented()
    {
        Assert.Equal(new CliResult("", "vdpa: invalid option -- 'n'\nUnknown option.\n" + MainHelp, 1), Run("-n", "dev", "show"));
        Assert.Equal(new CliResult("", "vdpa: unrecognized option '--no-nice-names'\nUnknown option.\n" + MainHelp, 1), Run("--no-nice-names"));
    }

    [Fact]
    public void S_is_in_the_option_string_but_unhandled()
    {
        Assert.Equal(new CliResult("", "Unknown option.\n" + MainHelp, 1), Run("-s", "dev", "show"));
        Assert.Equal(new CliResult("", "Unknown option.\n" + MainHelp, 1), Run("-js"));
    }

    [Fact]
    public void Long_option_errors_use_glibc_texts()
    {
        Assert.Equal(new CliResult("", "vdpa: option '--json' doesn't allow an argument\nUnknown option.\n" + MainHelp, 1), Run("--js=1"));
        Assert.Equal(new CliResult("", "vdpa: unrecognized option '--x=1'\nUnknown option.\n" + MainHelp, 1), Run("--x=1"));
    }

    [Fact]
    public void Pretty_without_json_has_no_effect()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(Run(k, "dev", "show"), Run(k, "-p", "dev", "show"));
        Assert.Equal(Run(k, "-jp", "dev", "show"), Run(k, "--json", "--pretty", "dev", "show"));
    }

    [Fact]
    public void Options_are_permuted_like_gnu_getopt()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(Run(k, "-j", "dev", "show", "a0"), Run(k, "dev", "show", "a0", "-j"));
        // After "--" a dash word is a plain argument: here the device name.
        Assert.Equal(new CliResult("", "Error: vdpa: device not found.\nkernel answers: No such device\n", 1), Run(k, "dev", "show", "--", "-j"));
    }

    [Fact]
    public void Kernel_option_is_accepted_anywhere_and_abbreviated()
    {
        FakeVdpaKernel k = KernelWithDevices();
        CliResult plain = Run(k, "dev", "show");
        Assert.Equal(plain, Run(k, "--kernel", "dev", "show"));
        Assert.Equal(plain, Run(k, "dev", "show", "--ker"));
    }

    // ---- JSON framing ----

    [Fact]
    public void Json_stdout_always_ends_with_a_newline()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("\n", "", 0), Run(k, "-j", "dev", "add", "name", "j0", "mgmtdev", "vdpasim_net"));
        Assert.Equal(new CliResult("\n", "", 0), Run(k, "-j", "dev", "del", "j0"));
        Assert.Equal(new CliResult("\n", MainHelp, 0), Run(k, "-j", "help"));
        Assert.Equal(new CliResult("\n", "device name is not set.\n", 1), Run(k, "-j", "dev", "add", "mgmtdev", "vdpasim_net"));
        Assert.Equal(new CliResult("{\"dev\":{}}\n", "Error: vdpa: device not found.\nkernel answers: No such device\n", 1), Run(k, "-j", "dev", "show", "a9"));
        Assert.Equal(new CliResult("{\n    \"dev\": {}\n}\n", "Error: vdpa: device not found.\nkernel answers: No such device\n", 1), Run(k, "-jp", "dev", "show", "a9"));
    }

    // ---- dev set (6.13+), warnings ----

    [Fact]
    public void Dev_set_mac_on_net_then_config_shows_it()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "", 0), Run(k, "dev", "set", "name", "a0", "mac", "02:00:00:00:00:09"));
        NetlinkAttributeList a = LastRequestAttributes(k, out _, out byte cmd);
        Assert.Equal((byte)VdpaCommand.DevAttrSet, cmd);
        Assert.Equal([(ushort)VdpaAttr.DevName, (ushort)VdpaAttr.DevNetCfgMacAddr], a.Select(x => x.Type));
        Assert.StartsWith("a0: mac 02:00:00:00:00:09 link up", Run(k, "dev", "config", "show", "a0").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Dev_set_on_block_is_a_warning_with_exit_0()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "Warning: vdpa: a2 device not supported.\n", 0), Run(k, "dev", "set", "name", "a2", "mac", "02:00:00:00:00:09"));
    }

    [Fact]
    public void Dev_set_with_a_multicast_mac_is_an_error()
    {
        FakeVdpaKernel k = KernelWithDevices();
        Assert.Equal(new CliResult("", "Error: vdpa: Invalid MAC address.\nkernel answers: Operation not supported\n", 1),
            Run(k, "dev", "set", "name", "a0", "mac", "01:00:00:00:00:09"));
    }

    [Fact]
    public void Device_features_without_mac_feature_is_refused_by_the_kernel()
    {
        Assert.Equal(new CliResult("", "Error: vdpa: Missing features 0x20 for provided attributes.\nkernel answers: Invalid argument\n", 1),
            Run("dev", "add", "name", "z", "mgmtdev", "vdpasim_net", "device_features", "300000000", "mac", "02:00:00:00:00:01"));
    }
}
