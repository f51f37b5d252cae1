using System.Globalization;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The <c>uvdpa</c> extension object (iproute2 has none, so nothing iproute2 prints changes): vdpad's "uvdpa" family
/// through <see cref="UvdpaClient"/>, with iproute2's grammar conventions (keyword/value pairs, prefix matching of
/// commands, <c>Unknown option</c>, <c>Error: argument … is wrong</c>) and its printing conventions (text
/// <c>DEV: key value …</c> with indented continuation lines; <c>-j</c>/<c>-p</c> JSON keyed by device). Commands return
/// 0 or a negative errno like <see cref="VdpaTool"/>'s. The family is resolved only once the command line parsed.
/// </summary>
internal sealed class UvdpaTool
{
    private const int EINVAL = 22;
    private const int ENOENT = 2;

    private readonly INetlinkTransport _transport;
    private readonly Func<uint> _clock;
    private readonly Printer _out;
    private readonly TextWriter _err;

    public UvdpaTool(INetlinkTransport transport, Func<uint> clock, Printer output, TextWriter stderr)
    {
        _transport = transport;
        _clock = clock;
        _out = output;
        _err = stderr;
    }

    /// <summary>The <see cref="VdpaTool.ExtensionObject"/> hook: null unless <paramref name="argv"/>[0] abbreviates "uvdpa".</summary>
    public int? TryRun(string[] argv)
    {
        if (argv.Length == 0 || !VdpaTool.Matches(argv[0], "uvdpa")) return null;
        return Run(argv[1..]);
    }

    private int Run(string[] argv)
    {
        if (argv.Length == 0 || VdpaTool.Matches(argv[0], "help"))
        {
            _err.Write(HelpText.Uvdpa);
            return 0;
        }
        if (VdpaTool.Matches(argv[0], "dev")) return CmdDev(argv[1..]);
        _err.Write($"Object \"{argv[0]}\" not found\n");
        return -ENOENT;
    }

    private int CmdDev(string[] argv)
    {
        if (argv.Length == 0) return CmdShow([]);
        string cmd = argv[0];
        string[] rest = argv[1..];
        if (VdpaTool.Matches(cmd, "help"))
        {
            _err.Write(HelpText.Uvdpa);
            return 0;
        }
        if (VdpaTool.Matches(cmd, "show") || VdpaTool.Matches(cmd, "list")) return CmdShow(rest);
        if (VdpaTool.Matches(cmd, "add")) return CmdAdd(rest);
        if (VdpaTool.Matches(cmd, "driver")) return CmdDriver(rest);
        if (VdpaTool.Matches(cmd, "counters")) return CmdCounters(rest);
        if (VdpaTool.Matches(cmd, "reset")) return CmdReset(rest);
        if (VdpaTool.Matches(cmd, "traffic")) return CmdTraffic(rest);
        _err.Write($"Command \"{cmd}\" not found\n");
        return -ENOENT;
    }

    // ---- dev add ----

    private int CmdAdd(string[] argv)
    {
        string? name = null, mgmtdev = null, driver = null;
        PhysicalAddress? mac = null;
        ushort? mtu = null, maxVqp = null;
        ulong? features = null;
        var devOptions = new List<KeyValuePair<string, string>>();
        var driverOptions = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < argv.Length; i += 2)
        {
            string key = argv[i];
            if (!IsAddKeyword(key))
            {
                _err.Write($"Unknown option \"{key}\"\n");
                return -EINVAL;
            }
            if (i + 1 >= argv.Length) return Incomplete();
            string value = argv[i + 1];
            if (VdpaTool.Matches(key, "name"))
            {
                name = value;
            }
            else if (VdpaTool.Matches(key, "mgmtdev"))
            {
                if (!CheckHandle(value)) return -EINVAL;
                mgmtdev = value;
            }
            else if (key == "mac")
            {
                if (!TryParseMac(value, out PhysicalAddress m)) return InvalidArgument(value, "invalid MAC address, expected xx:xx:xx:xx:xx:xx");
                mac = m;
            }
            else if (key == "mtu")
            {
                if (!CLib.TryGetU16(value, 10, out ushort v)) return InvalidArgument(value, "invalid mtu");
                mtu = v;
            }
            else if (VdpaTool.Matches(key, "max_vqp"))
            {
                if (!CLib.TryGetU16(value, 10, out ushort v)) return InvalidArgument(value, "invalid max_vqp");
                maxVqp = v;
            }
            else if (key == "device_features")
            {
                if (!CLib.TryGetU64(value, 16, out ulong v)) return InvalidArgument(value, "invalid device_features (hexadecimal)");
                features = v;
            }
            else if (key == "driver")
            {
                if (value.Length == 0) return InvalidArgument(value, "empty driver name");
                driver = value;
            }
            else if (key == "driver-opt")
            {
                if (!AddOption(value, driverOptions)) return -EINVAL;
            }
            else
            {
                if (!AddOption(value, devOptions)) return -EINVAL;
            }
        }
        if (mgmtdev is null)
        {
            _err.Write("management device handle not set.\n");
            return -EINVAL;
        }
        if (name is null)
        {
            _err.Write("device name is not set.\n");
            return -EINVAL;
        }
        var spec = new UvdpaDeviceSpec
        {
            Name = name,
            ManagementDevice = mgmtdev,
            Mac = mac,
            Mtu = mtu,
            MaxVqPairs = maxVqp,
            DeviceFeatures = features,
            DeviceOptions = devOptions,
            Driver = driver,
            DriverOptions = driverOptions,
        };
        return WithClient(c => PrintWarning(c.AddDevice(spec)));
    }

    // Keyword order decides abbreviations as in vdpa_argv_parse: name, mgmtdev and max_vqp by prefix, the rest exact
    // ("opt" also by prefix: no other keyword starts with 'o').
    private static bool IsAddKeyword(string key) =>
        VdpaTool.Matches(key, "name") || VdpaTool.Matches(key, "mgmtdev") || key == "mac" || key == "mtu" ||
        VdpaTool.Matches(key, "max_vqp") || key == "device_features" || key == "driver" || key == "driver-opt" ||
        VdpaTool.Matches(key, "opt");

    // ---- dev driver ----

    private int CmdDriver(string[] argv)
    {
        if (argv.Length == 0) return NoDevice();
        string dev = argv[0];
        int i = 1;
        string? driver = null;
        if (i < argv.Length && argv[i] != "driver-opt") driver = argv[i++];
        var options = new List<KeyValuePair<string, string>>();
        for (; i < argv.Length; i += 2)
        {
            if (argv[i] != "driver-opt")
            {
                _err.Write($"Unknown option \"{argv[i]}\"\n");
                return -EINVAL;
            }
            if (i + 1 >= argv.Length) return Incomplete();
            if (!AddOption(argv[i + 1], options)) return -EINVAL;
        }
        return WithClient(c => PrintWarning(c.SetDriver(dev, driver, options)));
    }

    // ---- dev reset ----

    private int CmdReset(string[] argv)
    {
        if (argv.Length == 0) return NoDevice();
        if (argv.Length > 1)
        {
            _err.Write($"Unknown option \"{argv[1]}\"\n");
            return -EINVAL;
        }
        return WithClient(c => PrintWarning(c.ResetDevice(argv[0])));
    }

    // ---- dev show ----

    private int CmdShow(string[] argv)
    {
        if (argv.Length > 1)
        {
            _err.Write($"Unknown option \"{argv[1]}\"\n");
            return -EINVAL;
        }
        string? dev = argv.Length == 1 ? argv[0] : null;
        return WithClient(c =>
        {
            IReadOnlyList<UvdpaDeviceDetails> devices = dev is null ? c.ListDevices() : [c.GetDevice(dev)];
            _out.OpenObject(null);
            _out.OpenObject("dev");
            foreach (UvdpaDeviceDetails d in devices) PrintDetails(d);
            _out.CloseObject();
            _out.CloseObject();
            return 0;
        });
    }

    private void PrintDetails(UvdpaDeviceDetails d)
    {
        HandleStart(d.Name);
        string type = TypeName(d.DeviceId);
        _out.String("type", "type " + type, type);
        if (d.ManagementDevice is VdpaManagementDeviceHandle m)
        {
            string handle = m.ToString();
            _out.String("mgmtdev", " mgmtdev " + handle, handle);
        }
        _out.UInt("bus_index", " bus_index " + Printer.Decimal(d.BusIndex), d.BusIndex);
        _out.UInt("num_vqs", " num_vqs " + Printer.Decimal(d.NumVqs), d.NumVqs);
        if (d.BoundDriver is not null) _out.String("driver", " driver " + d.BoundDriver, d.BoundDriver);

        if (d.DriverOverride is not null || d.DriverOptions.Count > 0)
        {
            Line();
            string sep = "";
            if (d.DriverOverride is not null)
            {
                _out.String("driver_override", "driver_override " + d.DriverOverride, d.DriverOverride);
                sep = " ";
            }
            if (d.DriverOptions.Count > 0)
            {
                if (_out.IsJson) _out.OpenObject("driver_opts");
                else _out.Text(sep + "driver_opts");
                foreach (KeyValuePair<string, string> kv in d.DriverOptions) _out.String(kv.Key, " " + kv.Key + "=" + kv.Value, kv.Value);
                _out.CloseObject();
            }
        }

        if (_out.IsJson && d.Exposures.Count > 0) _out.OpenArray("exposures");
        foreach (UvdpaExposure e in d.Exposures)
        {
            Line();
            _out.OpenObject(null);
            _out.String("kind", "exposure kind " + e.Kind, e.Kind);
            _out.String("location", " location " + e.Location, e.Location);
            _out.CloseObject();
        }
        if (_out.IsJson && d.Exposures.Count > 0) _out.CloseArray();

        Line();
        _out.UInt("status", "status 0x" + d.Status.ToString("x2", CultureInfo.InvariantCulture), d.Status);
        if (_out.IsJson) _out.OpenArray("status_flags");
        for (int bit = 0; bit < 8; bit++)
        {
            if ((d.Status & (1 << bit)) == 0) continue;
            string flag = StatusFlagName(bit);
            _out.String(null, " " + flag, flag);
        }
        if (_out.IsJson) _out.CloseArray();
        _out.Bool("features_valid", " features_valid " + (d.FeaturesValid ? "true" : "false"), d.FeaturesValid);

        PrintFeatures("device_features", d.DeviceFeatures, d.DeviceId);
        PrintFeatures("negotiated_features", d.NegotiatedFeatures, d.DeviceId);

        if (d.BrokenQueues.Count > 0)
        {
            Line();
            _out.OpenArray("broken_queues");
            foreach (uint q in d.BrokenQueues) _out.UInt(null, " " + Printer.Decimal(q), q);
            _out.CloseArray();
        }
        HandleEnd();
    }

    // Spec: VIRTIO 1.3 §2.1 (device status field).
    private static string StatusFlagName(int bit) => bit switch
    {
        0 => "ACKNOWLEDGE",
        1 => "DRIVER",
        2 => "DRIVER_OK",
        3 => "FEATURES_OK",
        6 => "DEVICE_NEEDS_RESET",
        7 => "FAILED",
        _ => "bit_" + Printer.Decimal((uint)bit),
    };

    // As pr_out_dev's features array: named like iproute2 (transport bits for every class, the rest for net only),
    // an unnamed bit as bit_N (text) or N (JSON).
    private void PrintFeatures(string key, ulong features, uint deviceId)
    {
        Line();
        _out.OpenArray(key);
        for (int i = 0; i < 64; i++)
        {
            if ((features & (1UL << i)) == 0) continue;
            string? s = FeatureNames.Name(i, deviceId);
            if (s is null) _out.UInt(null, " bit_" + Printer.Decimal((uint)i), (uint)i);
            else _out.String(null, " " + s, s);
        }
        _out.CloseArray();
    }

    // ---- dev counters ----

    private int CmdCounters(string[] argv)
    {
        if (argv.Length == 0) return NoDevice();
        string dev = argv[0];
        uint? qidx = null;
        for (int i = 1; i < argv.Length; i += 2)
        {
            if (argv[i] != "qidx")
            {
                _err.Write($"Unknown option \"{argv[i]}\"\n");
                return -EINVAL;
            }
            if (i + 1 >= argv.Length) return Incomplete();
            if (!CLib.TryGetU32(argv[i + 1], 10, out uint q)) return InvalidArgument(argv[i + 1], "invalid qidx");
            qidx = q;
        }
        return WithClient(c =>
        {
            UvdpaQueueStats stats = c.GetQueueStats(dev, qidx);
            _out.OpenObject(null);
            _out.OpenObject("counters");
            HandleStart(stats.Name);
            string type = TypeName(stats.DeviceId);
            _out.String("type", "type " + type, type);
            if (_out.IsJson) _out.OpenArray("queues");
            foreach (UvdpaQueueCounters q in stats.Queues)
            {
                Line();
                _out.OpenObject(null);
                _out.UInt("index", "queue " + Printer.Decimal(q.Index), q.Index);
                if (q.Errno != 0)
                {
                    _out.UInt("errno", " error " + GenlSocket.StrError(q.Errno), (uint)q.Errno);
                }
                foreach (KeyValuePair<string, ulong> kv in q.Counters)
                    _out.UInt(kv.Key, " " + kv.Key + " " + Printer.Decimal(kv.Value), kv.Value);
                _out.CloseObject();
            }
            _out.CloseArray();
            HandleEnd();
            _out.CloseObject();
            _out.CloseObject();
            return 0;
        });
    }

    // ---- dev traffic ----

    private int CmdTraffic(string[] argv)
    {
        if (argv.Length == 0) return NoDevice();
        string dev = argv[0];
        uint? count = null, timeout = null;
        var sizes = new List<uint>();
        UvdpaTrafficDestination? dst = null;
        for (int i = 1; i < argv.Length; i += 2)
        {
            string key = argv[i];
            bool isCount = VdpaTool.Matches(key, "count"), isSize = VdpaTool.Matches(key, "size");
            bool isDst = VdpaTool.Matches(key, "dst"), isTimeout = VdpaTool.Matches(key, "timeout");
            if (!isCount && !isSize && !isDst && !isTimeout)
            {
                _err.Write($"Unknown option \"{key}\"\n");
                return -EINVAL;
            }
            if (i + 1 >= argv.Length) return Incomplete();
            string value = argv[i + 1];
            if (isCount)
            {
                if (!CLib.TryGetU32(value, 10, out uint n)) return InvalidArgument(value, "invalid count");
                count = n;
            }
            else if (isSize)
            {
                sizes.Clear();
                foreach (string part in value.Split(','))
                {
                    if (!CLib.TryGetU32(part, 10, out uint s)) return InvalidArgument(value, "invalid size, expected SIZE[,SIZE...]");
                    sizes.Add(s);
                }
            }
            else if (isDst)
            {
                if (VdpaTool.Matches(value, "mac")) dst = UvdpaTrafficDestination.OwnMac;
                else if (VdpaTool.Matches(value, "broadcast")) dst = UvdpaTrafficDestination.Broadcast;
                else if (value == "both") dst = UvdpaTrafficDestination.Both;
                else return InvalidArgument(value, "dst must be mac, broadcast or both");
            }
            else
            {
                if (!CLib.TryGetU32(value, 10, out uint t)) return InvalidArgument(value, "invalid timeout (milliseconds)");
                timeout = t;
            }
        }
        var options = new UvdpaTrafficOptions { FrameCount = count, FrameSizes = sizes, Destination = dst, TimeoutMs = timeout };
        return WithClient(c =>
        {
            UvdpaTrafficResult r = c.RunTraffic(dev, options);
            _out.OpenObject(null);
            _out.OpenObject("traffic");
            HandleStart(r.Name);
            _out.UInt("sent", "sent " + Printer.Decimal(r.Sent), r.Sent);
            _out.UInt("received", " received " + Printer.Decimal(r.Received), r.Received);
            _out.UInt("verified", " verified " + Printer.Decimal(r.Verified), r.Verified);
            _out.UInt("bytes", " bytes " + Printer.Decimal(r.SentBytes), r.SentBytes);
            string ms = (r.ElapsedNs / 1e6).ToString("0.000", CultureInfo.InvariantCulture);
            _out.UInt("elapsed_ns", " elapsed " + ms + "ms", r.ElapsedNs);
            ulong fps = (ulong)Math.Round(r.FramesPerSecond);
            ulong bps = (ulong)Math.Round(r.BitsPerSecond);
            _out.UInt("frames_per_sec", " rate " + Printer.Decimal(fps) + "pps", fps);
            _out.UInt("bits_per_sec", " " + BitRate(r.BitsPerSecond), bps);
            HandleEnd();
            _out.CloseObject();
            _out.CloseObject();
            if (r.AllVerified) return 0;
            if (r.Sent < r.Requested)
                _err.Write($"Error: timed out after {r.Sent} of {r.Requested} frames ({r.Verified} verified).\n");
            else
                _err.Write($"Error: {r.Requested - r.Verified} of {r.Requested} frames did not come back identical.\n");
            return -1;
        });
    }

    // iproute2's sprint_rate style: bit/s scaled by 1000 with the unit.
    private static string BitRate(double bps)
    {
        ReadOnlySpan<string> units = ["bit", "Kbit", "Mbit", "Gbit", "Tbit"];
        int u = 0;
        while (bps >= 1000 && u < units.Length - 1)
        {
            bps /= 1000;
            u++;
        }
        return bps.ToString(u == 0 ? "0" : "0.##", CultureInfo.InvariantCulture) + units[u];
    }

    // ---- shared ----

    /// <summary>Resolves the family and runs <paramref name="action"/>, turning peer errors into iproute2's two lines.</summary>
    private int WithClient(Func<UvdpaClient, int> action)
    {
        UvdpaClient client;
        try
        {
            client = UvdpaClient.Connect(_transport, new UvdpaClientOptions { SequenceSource = _clock }, ownsTransport: false);
        }
        catch (UvdpaFamilyMissingException e)
        {
            _err.Write($"Error: {e.Message}.\n");
            return -ENOENT;
        }
        catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException)
        {
            return Fail(e);
        }
        using (client)
        {
            try
            {
                return action(client);
            }
            catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException)
            {
                return Fail(e);
            }
        }
    }

    // The nl_dump_ext_ack + "kernel answers" pair of mnlu_gen_socket_sndrcv.
    private int Fail(Exception e)
    {
        int errno;
        switch (e)
        {
            case VdpaNetlinkException n:
                if (!string.IsNullOrEmpty(n.ExtackMessage)) _err.Write($"Error: {WithPeriod(n.ExtackMessage)}\n");
                errno = n.Errno;
                break;
            case NetlinkTransportException t:
                errno = t.Errno != 0 ? t.Errno : Errno.EIO;
                break;
            default:
                _err.Write($"Error: malformed reply: {WithPeriod(e.Message)}\n");
                errno = Errno.EPROTO;
                break;
        }
        _err.Write($"kernel answers: {GenlSocket.StrError(errno)}\n");
        return -(errno == 0 ? Errno.EIO : errno);
    }

    private int PrintWarning(string? warning)
    {
        if (!string.IsNullOrEmpty(warning)) _err.Write($"Warning: {WithPeriod(warning)}\n");
        return 0;
    }

    private static string WithPeriod(string s) => s.EndsWith('.') ? s : s + ".";

    private bool AddOption(string item, List<KeyValuePair<string, string>> options)
    {
        if (!UvdpaClient.TryParseOption(item, out KeyValuePair<string, string> kv))
        {
            InvalidArgument(item, "expected KEY=VALUE");
            return false;
        }
        options.Add(kv);
        return true;
    }

    // vdpa_argv_handle's check: at most one '/'.
    private bool CheckHandle(string s)
    {
        try
        {
            VdpaManagementDeviceHandle.Parse(s);
            return true;
        }
        catch (FormatException)
        {
            _err.Write("Wrong vdpa mgmtdev identification string format\n");
            _err.Write("Expected \"mgmtdev_bus_name/mgmtdev_name\"\n");
            _err.Write("Expected \"mgmtdev_name\"\n");
            return false;
        }
    }

    // Strict: six colon-separated parts of one or two hex digits (iproute2's parser accepts shorter forms).
    private static bool TryParseMac(string s, out PhysicalAddress mac)
    {
        mac = PhysicalAddress.None;
        string[] parts = s.Split(':');
        if (parts.Length != 6) return false;
        byte[] bytes = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            if (parts[i].Length is < 1 or > 2 ||
                !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
                return false;
        }
        mac = new PhysicalAddress(bytes);
        return true;
    }

    // iproute2 invarg(): "Error: argument \"%s\" is wrong: %s".
    private int InvalidArgument(string arg, string message)
    {
        _err.Write($"Error: argument \"{arg}\" is wrong: {message}\n");
        return -EINVAL;
    }

    // iproute2 incomplete_command().
    private int Incomplete()
    {
        _err.Write("Command line is not complete. Try option \"help\"\n");
        return -EINVAL;
    }

    private int NoDevice()
    {
        _err.Write("device name is not set.\n");
        return -EINVAL;
    }

    private static string TypeName(uint deviceId) => deviceId switch { 1 => "network", 2 => "block", _ => "<unknown type>" };

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

    // A continuation line: newline and two spaces in text, nothing in JSON.
    private void Line()
    {
        if (!_out.IsJson) _out.Text("\n  ");
    }
}
