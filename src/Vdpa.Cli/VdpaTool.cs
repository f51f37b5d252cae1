using System.Text;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The OBJECT COMMAND part of iproute2 7.1's vdpa (vdpa/vdpa.c from vdpa_cmd down), re-implemented: the same
/// prefix matching (<c>matches()</c>) and exact words, the same argument parser with its quirks, the same requests
/// and the same printing. Each command returns 0 or a negative errno, as the C functions do.
/// </summary>
internal sealed class VdpaTool
{
    private const int EINVAL = 22;
    private const int ENOENT = 2;
    private const int MaxKeyLength = 200; // MAX_KEY_LEN of the vstats printer

    private readonly GenlSocket _nlg;
    private readonly Printer _out;
    private readonly TextWriter _err;
    private readonly VdpaOptions _opts = new();

    public VdpaTool(GenlSocket nlg, Printer output, TextWriter stderr)
    {
        _nlg = nlg;
        _out = output;
        _err = stderr;
    }

    /// <summary>
    /// An extension object (e.g. "uvdpa") dispatched before iproute2's "Object not found"; returns null when
    /// the first argument is not one.
    /// </summary>
    public Func<string[], int?>? ExtensionObject { get; init; }

    /// <summary>matches(prefix, word): a non-empty prefix of <paramref name="word"/>.</summary>
    public static bool Matches(string prefix, string word) =>
        prefix.Length > 0 && word.StartsWith(prefix, StringComparison.Ordinal);

    /// <summary>vdpa_cmd.</summary>
    public int Run(string[] argv)
    {
        if (argv.Length == 0 || Matches(argv[0], "help"))
        {
            _err.Write(HelpText.Main);
            return 0;
        }
        if (Matches(argv[0], "mgmtdev")) return CmdMgmtdev(argv[1..]);
        if (Matches(argv[0], "dev")) return CmdDev(argv[1..]);
        if (ExtensionObject?.Invoke(argv) is int extensionResult) return extensionResult;
        _err.Write($"Object \"{argv[0]}\" not found\n");
        return -ENOENT;
    }

    // ---- mgmtdev ----

    private int CmdMgmtdev(string[] argv)
    {
        if (argv.Length == 0 || Matches(argv[0], "help"))
        {
            _err.Write(HelpText.Mgmtdev);
            return 0;
        }
        if (Matches(argv[0], "show") || Matches(argv[0], "list")) return CmdMgmtdevShow(argv[1..]);
        _err.Write($"Command \"{argv[0]}\" not found\n");
        return -ENOENT;
    }

    private int CmdMgmtdevShow(string[] argv)
    {
        NetlinkMessageFlags flags = VdpaClient.DoFlags;
        if (argv.Length == 0) flags |= NetlinkMessageFlags.Dump;
        if (argv.Length > 0)
        {
            int err = ParseArguments(argv, VdpaOpt.MgmtdevHandle, VdpaOpt.None);
            if (err != 0) return err;
        }
        return ShowSection("mgmtdev", VdpaCommand.MgmtdevGet, flags, MgmtdevShowCallback);
    }

    private CallbackResult MgmtdevShowCallback(NlMsgHeader header, ReadOnlySpan<byte> attributes)
    {
        AttributeTable tb = AttributeTable.Parse(attributes);
        if (!tb.Has(VdpaAttr.MgmtdevDevName)) return CallbackResult.Error;

        HandleStart(MgmtdevHandle(tb));
        ulong classes = 0;
        if (tb.Has(VdpaAttr.MgmtdevSupportedClasses))
        {
            classes = tb.U64(VdpaAttr.MgmtdevSupportedClasses);
            ArrayStart("supported_classes");
            for (int i = 1; i < 64; i++)
            {
                if ((classes & (1UL << i)) == 0) continue;
                string cls = i switch { 1 => "net", 2 => "block", _ => "< unknown class >" };
                _out.String(null, " " + cls, cls);
            }
            ArrayEnd();
        }
        if (tb.Has(VdpaAttr.DevMgmtdevMaxVqs))
        {
            _out.NewLine();
            uint vqs = tb.U32(VdpaAttr.DevMgmtdevMaxVqs);
            _out.UInt("max_supported_vqs", "  max_supported_vqs " + Printer.SignedDecimal(vqs), vqs);
        }
        if (tb.Has(VdpaAttr.DevSupportedFeatures))
        {
            ulong features = tb.U64(VdpaAttr.DevSupportedFeatures);
            PrintFeatures(features, managementDevice: true, (classes & (1UL << 1)) != 0 ? 1u : 0u);
        }
        HandleEnd();
        return CallbackResult.Ok;
    }

    // ---- dev ----

    private int CmdDev(string[] argv)
    {
        if (argv.Length == 0) return CmdDevShow([]);
        string cmd = argv[0];
        string[] rest = argv[1..];
        if (Matches(cmd, "help"))
        {
            _err.Write(HelpText.Dev);
            return 0;
        }
        if (Matches(cmd, "show") || Matches(cmd, "list")) return CmdDevShow(rest);
        if (Matches(cmd, "add")) return CmdDevAdd(rest);
        if (Matches(cmd, "del")) return CmdDevDel(rest);
        if (Matches(cmd, "config")) return CmdDevConfig(rest);
        if (cmd == "vstats") return CmdDevVstats(rest);
        if (cmd == "set") return CmdDevSet(rest);
        _err.Write($"Command \"{cmd}\" not found\n");
        return -ENOENT;
    }

    private int CmdDevShow(string[] argv)
    {
        NetlinkMessageFlags flags = VdpaClient.DoFlags;
        if (argv.Length == 0) flags |= NetlinkMessageFlags.Dump;
        if (argv.Length > 0)
        {
            int err = ParseArguments(argv, VdpaOpt.VdevHandle, VdpaOpt.None);
            if (err != 0) return err;
        }
        return ShowSection("dev", VdpaCommand.DevGet, flags, DevShowCallback);
    }

    private CallbackResult DevShowCallback(NlMsgHeader header, ReadOnlySpan<byte> attributes)
    {
        AttributeTable tb = AttributeTable.Parse(attributes);
        if (!tb.Has(VdpaAttr.MgmtdevDevName) || !tb.Has(VdpaAttr.DevName) || !tb.Has(VdpaAttr.DevId))
            return CallbackResult.Error;
        string mgmtdev = MgmtdevHandle(tb);
        uint deviceId = tb.U32(VdpaAttr.DevId);
        HandleStart(tb.Str(VdpaAttr.DevName));
        string type = deviceId switch { 1 => "network", 2 => "block", _ => "<unknown type>" };
        _out.String("type", "type " + type, type);
        _out.String("mgmtdev", " mgmtdev " + mgmtdev, mgmtdev);
        if (tb.Has(VdpaAttr.DevVendorId))
        {
            uint v = tb.U32(VdpaAttr.DevVendorId);
            _out.UInt("vendor_id", " vendor_id " + Printer.Decimal(v), v);
        }
        if (tb.Has(VdpaAttr.DevMaxVqs))
        {
            uint v = tb.U32(VdpaAttr.DevMaxVqs);
            _out.UInt("max_vqs", " max_vqs " + Printer.Decimal(v), v);
        }
        if (tb.Has(VdpaAttr.DevMaxVqSize))
        {
            ushort v = tb.U16(VdpaAttr.DevMaxVqSize);
            _out.UInt("max_vq_size", " max_vq_size " + Printer.Decimal(v), v);
        }
        HandleEnd();
        return CallbackResult.Ok;
    }

    private int CmdDevAdd(string[] argv)
    {
        int err = ParseArguments(argv, VdpaOpt.VdevMgmtdevHandle | VdpaOpt.VdevName,
            VdpaOpt.VdevMac | VdpaOpt.VdevMtu | VdpaOpt.MaxVqp | VdpaOpt.VdevFeatures);
        if (err != 0) return err;
        return _nlg.SendReceive(Request(VdpaCommand.DevNew, VdpaClient.DoFlags), null);
    }

    private int CmdDevDel(string[] argv)
    {
        int err = ParseArguments(argv, VdpaOpt.VdevHandle, VdpaOpt.None);
        if (err != 0) return err;
        return _nlg.SendReceive(Request(VdpaCommand.DevDel, VdpaClient.DoFlags), null);
    }

    private int CmdDevSet(string[] argv)
    {
        int err = ParseArguments(argv, VdpaOpt.VdevName, VdpaOpt.VdevMac);
        if (err != 0) return err;
        return _nlg.SendReceive(Request(VdpaCommand.DevAttrSet, VdpaClient.DoFlags), null);
    }

    // ---- dev config ----

    private int CmdDevConfig(string[] argv)
    {
        if (argv.Length == 0) return CmdDevConfigShow([]);
        if (Matches(argv[0], "help"))
        {
            _err.Write(HelpText.DevConfig);
            return 0;
        }
        if (Matches(argv[0], "show")) return CmdDevConfigShow(argv[1..]);
        _err.Write($"Command \"{argv[0]}\" not found\n");
        return -ENOENT;
    }

    private int CmdDevConfigShow(string[] argv)
    {
        NetlinkMessageFlags flags = VdpaClient.DoFlags;
        if (argv.Length == 0) flags |= NetlinkMessageFlags.Dump;
        if (argv.Length > 0)
        {
            int err = ParseArguments(argv, VdpaOpt.VdevHandle, VdpaOpt.None);
            if (err != 0) return err;
        }
        return ShowSection("config", VdpaCommand.DevConfigGet, flags, DevConfigCallback);
    }

    private CallbackResult DevConfigCallback(NlMsgHeader header, ReadOnlySpan<byte> attributes)
    {
        AttributeTable tb = AttributeTable.Parse(attributes);
        if (!tb.Has(VdpaAttr.DevName) || !tb.Has(VdpaAttr.DevId)) return CallbackResult.Error;
        uint deviceId = tb.U32(VdpaAttr.DevId);
        HandleStart(tb.Str(VdpaAttr.DevName));
        if (deviceId == FeatureNames.NetDeviceId) PrintNetConfig(tb);
        HandleEnd();
        return CallbackResult.Ok;
    }

    // pr_out_dev_net_config: a fixed order whatever order the attributes came in; JSON keys "link " and
    // "link_announce " keep the tool's trailing space.
    private void PrintNetConfig(AttributeTable tb)
    {
        if (tb.Has(VdpaAttr.DevNetCfgMacAddr))
        {
            string mac = LinkLayerAddress.Format(tb.Payload(VdpaAttr.DevNetCfgMacAddr));
            _out.String("mac", "mac " + mac + " ", mac);
        }
        if (tb.Has(VdpaAttr.DevNetStatus))
        {
            ushort status = tb.U16(VdpaAttr.DevNetStatus);
            string link = (status & 1) != 0 ? "up" : "down";
            bool announce = (status & 2) != 0;
            _out.String("link ", "link " + link + " ", link);
            _out.Bool("link_announce ", "link_announce " + (announce ? "true" : "false") + " ", announce);
        }
        if (tb.Has(VdpaAttr.DevNetCfgMaxVqp))
        {
            ushort v = tb.U16(VdpaAttr.DevNetCfgMaxVqp);
            _out.UInt("max_vq_pairs", "max_vq_pairs " + Printer.Decimal(v) + " ", v);
        }
        if (tb.Has(VdpaAttr.DevNetCfgMtu))
        {
            ushort v = tb.U16(VdpaAttr.DevNetCfgMtu);
            _out.UInt("mtu", "mtu " + Printer.Decimal(v) + " ", v);
        }
        if (tb.Has(VdpaAttr.DevNegotiatedFeatures))
        {
            // uint16_t dev_id = mnl_attr_get_u32(...): the id is truncated to 16 bits here.
            uint devId = tb.Has(VdpaAttr.DevId) ? (ushort)tb.U32(VdpaAttr.DevId) : 0u;
            PrintFeatures(tb.U64(VdpaAttr.DevNegotiatedFeatures), managementDevice: false, devId);
        }
    }

    // ---- dev vstats ----

    private int CmdDevVstats(string[] argv)
    {
        if (argv.Length < 1)
        {
            _err.Write(HelpText.DevVstats);
            return -EINVAL;
        }
        if (argv[0] == "help")
        {
            _err.Write(HelpText.DevVstats);
            return 0;
        }
        if (argv[0] == "show") return CmdDevVstatsShow(argv[1..]);
        _err.Write($"Command \"{argv[0]}\" not found\n");
        return -ENOENT;
    }

    private int CmdDevVstatsShow(string[] argv)
    {
        if (argv.Length != 1 && argv.Length != 3)
        {
            _err.Write(HelpText.DevVstats);
            return -EINVAL;
        }
        int err = ParseArguments(argv, VdpaOpt.VdevHandle, VdpaOpt.QueueIndex);
        if (err != 0) return err;
        return ShowSection("vstats", VdpaCommand.DevVstatsGet, VdpaClient.DoFlags, DevVstatsCallback);
    }

    private CallbackResult DevVstatsCallback(NlMsgHeader header, ReadOnlySpan<byte> attributes)
    {
        AttributeTable tb = AttributeTable.Parse(attributes);
        if (!tb.Has(VdpaAttr.DevName) || !tb.Has(VdpaAttr.DevId)) return CallbackResult.Error;
        uint deviceId = tb.U32(VdpaAttr.DevId);
        HandleStart(tb.Str(VdpaAttr.DevName));
        if (deviceId == FeatureNames.NetDeviceId) PrintNetVstats(attributes);
        HandleEnd();
        return CallbackResult.Ok;
    }

    // pr_out_dev_net_vstats: walks every attribute in wire order (raw nla_type, no validation), so max_vqp and the
    // negotiated features count only if they come before the queue index.
    private void PrintNetVstats(ReadOnlySpan<byte> attributes)
    {
        ulong features = 0;
        ushort maxVqp = 0;
        string? name = null;
        foreach (RawAttribute a in RawAttribute.Enumerate(attributes))
        {
            switch ((VdpaAttr)a.RawType)
            {
                case VdpaAttr.DevNetCfgMaxVqp:
                    maxVqp = (ushort)AttributeTable.ReadLittle(a.Payload, 2);
                    break;
                case VdpaAttr.DevNegotiatedFeatures:
                    features = AttributeTable.ReadLittle(a.Payload, 8);
                    break;
                case VdpaAttr.DevQueueIndex:
                    PrintQueueType((ushort)AttributeTable.ReadLittle(a.Payload, 2), maxVqp, features);
                    break;
                case VdpaAttr.DevVendorAttrName:
                    name = AttributeTable.CString(a.Payload);
                    if (Encoding.UTF8.GetByteCount(name) > MaxKeyLength) return;
                    break;
                case VdpaAttr.DevVendorAttrValue:
                    ulong v = AttributeTable.ReadLittle(a.Payload, 8);
                    // A value before any name has no format in the tool (undefined); print it bare in JSON only.
                    _out.UInt(name, name is null ? "" : name + " " + Printer.Decimal(v) + " ", v);
                    break;
            }
        }
    }

    // print_queue_type: CVQ when CTRL_VQ was negotiated and qidx == 2 * max_vqp (max_vqp is 0 without MQ, so the
    // simulator's queue 0 reads as control_vq); otherwise odd = tx, even = rx. qidx is read as a u16.
    private void PrintQueueType(ushort qidx, ushort maxVqp, ulong features)
    {
        const int CtrlVqBit = 17;
        bool isCtrl = (features & (1UL << CtrlVqBit)) != 0 && qidx == 2 * maxVqp;
        string type = isCtrl ? "control_vq" : (qidx & 1) != 0 ? "tx" : "rx";
        _out.String("queue_type", "queue_type " + type + " ", type);
    }

    // ---- shared printing ----

    private int ShowSection(string section, VdpaCommand command, NetlinkMessageFlags flags, MessageCallback callback)
    {
        byte[] request = Request(command, flags);
        _out.OpenObject(null);
        _out.OpenObject(section);
        int err = _nlg.SendReceive(request, callback);
        _out.CloseObject();
        _out.CloseObject();
        return err;
    }

    private byte[] Request(VdpaCommand command, NetlinkMessageFlags flags) =>
        _nlg.Prepare((byte)command, flags, _opts.ToRequestAttributes());

    private static string MgmtdevHandle(AttributeTable tb)
    {
        string name = tb.Str(VdpaAttr.MgmtdevDevName);
        return tb.Has(VdpaAttr.MgmtdevBusName) ? tb.Str(VdpaAttr.MgmtdevBusName) + "/" + name : name;
    }

    private void HandleStart(string handle)
    {
        if (_out.IsJson) _out.OpenObject(handle);
        else _out.Text(handle + ": ");
    }

    private void HandleEnd()
    {
        if (_out.IsJson) _out.CloseObject();
        else _out.NewLine();
    }

    private void ArrayStart(string name)
    {
        if (!_out.IsJson)
        {
            _out.NewLine();
            _out.IncreaseIndent();
            _out.WriteIndent();
        }
        _out.OpenArray(name);
    }

    private void ArrayEnd()
    {
        _out.CloseArray();
        if (!_out.IsJson) _out.DecreaseIndent();
    }

    private void PrintFeatures(ulong features, bool managementDevice, uint deviceId)
    {
        ArrayStart(managementDevice ? "dev_features" : "negotiated_features");
        for (int i = 0; i < 64; i++)
        {
            if ((features & (1UL << i)) == 0) continue;
            string? s = FeatureNames.Name(i, deviceId);
            if (s is null) _out.UInt(null, " bit_" + Printer.Decimal((uint)i), (uint)i);
            else _out.String(null, " " + s, s);
        }
        ArrayEnd();
    }

    // ---- argument parsing (vdpa_argv_parse and helpers) ----

    /// <summary>
    /// vdpa_argv_parse: an optional leading handle, then keyword/value pairs while at least two tokens remain
    /// (NEXT_ARG_OK: a single trailing token is silently ignored), then the required-items check.
    /// </summary>
    internal int ParseArguments(string[] argv, VdpaOpt required, VdpaOpt optional)
    {
        VdpaOpt all = required | optional;
        VdpaOpt found = VdpaOpt.None;
        int i = 0;
        int argc = argv.Length;

        if ((required & VdpaOpt.MgmtdevHandle) != 0)
        {
            int err = ParseHandle(argv, i);
            if (err != 0) return err;
            i++;
            found |= VdpaOpt.MgmtdevHandle;
        }
        else if ((required & VdpaOpt.VdevHandle) != 0)
        {
            if (argc - i <= 0)
            {
                _err.Write("String parameter expected\n");
                return -EINVAL;
            }
            _opts.DeviceName = argv[i];
            i++;
            found |= VdpaOpt.VdevHandle;
        }

        while (argc - i - 1 > 0)
        {
            string key = argv[i];
            if (Matches(key, "name") && (all & VdpaOpt.VdevName) != 0)
            {
                _opts.DeviceName = argv[i + 1];
                found |= VdpaOpt.VdevName;
            }
            else if (Matches(key, "mgmtdev") && (all & VdpaOpt.VdevMgmtdevHandle) != 0)
            {
                int err = ParseHandle(argv, i + 1);
                if (err != 0) return err;
                found |= VdpaOpt.VdevMgmtdevHandle;
            }
            else if (key == "mac" && (all & VdpaOpt.VdevMac) != 0)
            {
                if (!LinkLayerAddress.TryParse(argv[i + 1], _opts.Mac, _err)) return -EINVAL;
                found |= VdpaOpt.VdevMac;
            }
            else if (key == "mtu" && (all & VdpaOpt.VdevMtu) != 0)
            {
                if (!CLib.TryGetU16(argv[i + 1], 10, out ushort mtu)) return -1;
                _opts.Mtu = mtu;
                found |= VdpaOpt.VdevMtu;
            }
            else if (Matches(key, "max_vqp") && (optional & VdpaOpt.MaxVqp) != 0)
            {
                if (!CLib.TryGetU16(argv[i + 1], 10, out ushort vqp)) return -1;
                _opts.MaxVqp = vqp;
                found |= VdpaOpt.MaxVqp;
            }
            else if (key == "qidx" && (optional & VdpaOpt.QueueIndex) != 0)
            {
                if (!CLib.TryGetU32(argv[i + 1], 10, out uint q)) return -1;
                _opts.QueueIndex = q;
                found |= VdpaOpt.QueueIndex;
            }
            else if (key == "device_features" && (optional & VdpaOpt.VdevFeatures) != 0)
            {
                if (!CLib.TryGetU64(argv[i + 1], 16, out ulong f)) return -1;
                _opts.DeviceFeatures = f;
                found |= VdpaOpt.VdevFeatures;
            }
            else
            {
                _err.Write($"Unknown option \"{key}\"\n");
                return -EINVAL;
            }
            i += 2;
        }

        _opts.Present = found;
        return ValidateRequired(required, found);
    }

    // vdpa_argv_handle: [bus/]name; more than one '/' is rejected with three lines.
    private int ParseHandle(string[] argv, int i)
    {
        if (i >= argv.Length)
        {
            _err.Write("vdpa identification (\"mgmtdev_bus_name/mgmtdev_name\") expected\n");
            return -EINVAL;
        }
        string s = argv[i];
        int slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && s.IndexOf('/', slash + 1) >= 0)
        {
            _err.Write("Wrong vdpa mgmtdev identification string format\n");
            _err.Write("Expected \"mgmtdev_bus_name/mgmtdev_name\"\n");
            _err.Write("Expected \"mgmtdev_name\"\n");
            return -EINVAL;
        }
        if (slash < 0)
        {
            _opts.MgmtdevBusName = null;
            _opts.MgmtdevName = s;
        }
        else
        {
            _opts.MgmtdevBusName = s[..slash];
            _opts.MgmtdevName = s[(slash + 1)..];
        }
        return 0;
    }

    // vdpa_args_finding_required_validate, in the table's order.
    private int ValidateRequired(VdpaOpt required, VdpaOpt found)
    {
        ReadOnlySpan<(VdpaOpt Flag, string Message)> table =
        [
            (VdpaOpt.VdevMgmtdevHandle, "management device handle not set."),
            (VdpaOpt.VdevName, "device name is not set."),
            (VdpaOpt.VdevHandle, "device name is not set."),
            (VdpaOpt.QueueIndex, "queue index is not set."),
        ];
        foreach ((VdpaOpt flag, string message) in table)
        {
            if ((required & flag) != 0 && (found & flag) == 0)
            {
                _err.Write(message + "\n");
                return -EINVAL;
            }
        }
        if ((required & ~found) != 0)
        {
            _err.Write("BUG: unknown argument required but not found\n");
            return -EINVAL;
        }
        return 0;
    }
}
