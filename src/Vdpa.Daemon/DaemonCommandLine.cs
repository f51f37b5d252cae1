using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.Simulator;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>What the command line asks for.</summary>
/// <param name="Options">The merged options (null with <paramref name="ShowHelp"/> or <paramref name="ShowVersion"/>).</param>
/// <param name="ShowHelp">--help was given.</param>
/// <param name="ShowVersion">--version was given.</param>
public sealed record DaemonCommand(DaemonOptions? Options, bool ShowHelp = false, bool ShowVersion = false);

/// <summary>
/// vdpad's command line. Precedence, highest first: command line, <c>--config</c> file, <c>$UVDPA_SOCKET</c>
/// (socket path only), defaults. Any error is a <see cref="DaemonConfigurationException"/> (exit code 2).
/// </summary>
public static class DaemonCommandLine
{
    /// <summary>Exit code for a bad command line or config file.</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code when the daemon cannot start or fails.</summary>
    public const int ExitFailure = 1;

    /// <summary>The usage text.</summary>
    public const string Usage = """
        Usage: vdpad [OPTIONS]
        Hosts the user-space vDPA bus and serves the vdpa generic netlink family on a Unix SOCK_SEQPACKET socket.

          --socket PATH             management socket (default: $UVDPA_SOCKET, else /run/uvdpa/vdpad.sock)
          --socket-mode MODE        octal permission bits of the socket file (default 0666)
          --socket-group GROUP      group name or gid given to the socket file (default: the daemon's group)
          --admin-group GROUP       members of GROUP (name or gid) may change devices, besides root; repeatable
          --state-file FILE         keep device definitions in FILE and re-create them at start (default: off)
          --mgmtdev LIST            management devices to register, comma-separated, in order: vdpasim_net,
                                    vdpasim_blk, vhost_user_fe (default vdpasim_net,vdpasim_blk; '' for none)
          --drivers LIST            bus drivers in probe order, comma-separated: virtio_vdpa, vhost_vdpa
                                    (default virtio_vdpa; '' for none)
          --vhost-user-dir DIR      directory of the vhost-user sockets of devices bound to vhost_vdpa
                                    (<DIR>/<device>.sock; default /run/uvdpa/vhost-user)
          --config FILE             JSON config file with the same settings (command-line flags win)
          --help                    show this text
          --version                 show the version

        Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the daemon cannot start, 2 for usage errors.
        """;

    /// <summary>Parses <paramref name="args"/>; <paramref name="environment"/> reads environment variables.</summary>
    public static DaemonCommand Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        environment ??= Environment.GetEnvironmentVariable;
        string? socket = null, socketMode = null, socketGroup = null, stateFile = null, config = null, vhostUserDir = null;
        List<string>? adminGroups = null, mgmtdevs = null, drivers = null;

        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }
            switch (name)
            {
                case "--help" or "-h":
                    return new DaemonCommand(null, ShowHelp: true);
                case "--version":
                    return new DaemonCommand(null, ShowVersion: true);
                case "--socket": socket = Value(); break;
                case "--socket-mode": socketMode = Value(); break;
                case "--socket-group": socketGroup = Value(); break;
                case "--admin-group": (adminGroups ??= []).AddRange(SplitList(Value())); break;
                case "--state-file": stateFile = Value(); break;
                case "--config": config = Value(); break;
                case "--mgmtdev": (mgmtdevs ??= []).AddRange(SplitList(Value())); break;
                case "--drivers": (drivers ??= []).AddRange(SplitList(Value())); break;
                case "--vhost-user-dir": vhostUserDir = Value(); break;
                default:
                    throw new DaemonConfigurationException(arg.StartsWith('-')
                        ? $"unknown option '{name}' (see vdpad --help)"
                        : $"unexpected argument '{arg}' (see vdpad --help)");
            }

            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Count) throw new DaemonConfigurationException($"option '{name}' needs a value (see vdpad --help)");
                return args[++i];
            }
        }

        DaemonConfigFile? file = null;
        string cwd = Directory.GetCurrentDirectory();
        string fileDir = cwd;
        if (config is not null)
        {
            config = Path.GetFullPath(config, cwd);
            file = DaemonConfigFile.Load(config);
            fileDir = Path.GetDirectoryName(config) ?? cwd;
        }

        string? envSocket = environment(UnixSeqpacketTransport.SocketPathEnvironmentVariable);
        string socketPath = socket is not null ? FullPath(socket, cwd, "--socket")
            : file?.Socket is not null ? FullPath(file.Socket, fileDir, "socket")
            : !string.IsNullOrEmpty(envSocket) ? FullPath(envSocket, cwd, UnixSeqpacketTransport.SocketPathEnvironmentVariable)
            : UnixSeqpacketTransport.DefaultSocketPath;

        string? modeText = socketMode ?? file?.SocketMode;
        var options = new DaemonOptions
        {
            SocketPath = socketPath,
            SocketMode = modeText is null ? DaemonOptions.DefaultSocketMode : ParseMode(modeText),
            SocketGroup = CheckGroup(socketGroup ?? file?.SocketGroup),
            AdminGroups = (adminGroups ?? file?.AdminGroups ?? []).Select(g => CheckGroup(g)!).ToArray(),
            StateFile = stateFile is not null ? FullPath(stateFile, cwd, "--state-file")
                : file?.StateFile is not null ? FullPath(file.StateFile, fileDir, "stateFile") : null,
            ManagementDevices = CheckModules(mgmtdevs ?? file?.ManagementDevices ?? [.. BusModules.DefaultManagementDevices],
                "management device", BusModules.IsManagementDevice, BusModules.ManagementDeviceNames),
            Drivers = CheckModules(drivers ?? file?.Drivers ?? [.. BusModules.DefaultDrivers],
                "driver", BusModules.IsDriver, BusModules.DriverNames),
            VhostUserDirectory = vhostUserDir is not null ? FullPath(vhostUserDir, cwd, "--vhost-user-dir")
                : file?.VhostUserDirectory is not null ? FullPath(file.VhostUserDirectory, fileDir, "vhostUserDirectory") : null,
            Simulator = Simulator(file?.Simulator),
            ConfigFile = config,
        };
        return new DaemonCommand(options);
    }

    private static IEnumerable<string> SplitList(string value)
        => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string FullPath(string path, string baseDirectory, string what)
    {
        if (path.Length == 0) throw new DaemonConfigurationException($"{what}: empty path");
        if (path.Contains('\0', StringComparison.Ordinal)) throw new DaemonConfigurationException($"{what}: the path contains a NUL byte");
        return Path.GetFullPath(path, baseDirectory);
    }

    private static UnixFileMode ParseMode(string text)
    {
        string digits = text.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        int mode = 0;
        if (digits.Length is 0 or > 4 || digits.Any(c => c is < '0' or > '7'))
            throw new DaemonConfigurationException($"socket mode '{text}' is not an octal mode such as 0660");
        foreach (char c in digits) mode = mode * 8 + (c - '0');
        if (mode > 0x1ff) throw new DaemonConfigurationException($"socket mode '{text}': only permission bits (at most 0777) are allowed");
        return (UnixFileMode)mode;
    }

    private static string? CheckGroup(string? group)
    {
        if (group is null) return null;
        if (!UnixGroups.TryResolve(group, out _))
            throw new DaemonConfigurationException($"unknown group '{group}' (give a group name from /etc/group or a numeric gid)");
        return group;
    }

    private static string[] CheckModules(IEnumerable<string> names, string kind, Func<string, bool> known, IEnumerable<string> all)
    {
        string[] list = [.. names];
        foreach (string n in list)
        {
            if (!known(n)) throw new DaemonConfigurationException($"unknown {kind} '{n}' (known: {string.Join(", ", all)})");
        }
        string? dup = list.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (dup is not null) throw new DaemonConfigurationException($"{kind} '{dup}' is listed twice");
        return list;
    }

    private static SimulatorOptions Simulator(DaemonConfigFile.SimulatorSection? s)
    {
        if (s is null) return SimulatorOptions.Default;
        var d = SimulatorOptions.Default;
        var o = new SimulatorOptions
        {
            BatchMapping = s.BatchMapping ?? d.BatchMapping,
            MaxIotlbEntries = s.MaxIotlbEntries ?? d.MaxIotlbEntries,
            NetBatch = s.NetBatch ?? d.NetBatch,
            BlkBatch = s.BlkBatch ?? d.BlkBatch,
            BlkSharedBackend = s.BlkSharedBackend ?? d.BlkSharedBackend,
        };
        if (o.MaxIotlbEntries < 0) throw new DaemonConfigurationException("simulator.maxIotlbEntries must be 0 (unlimited) or positive");
        if (o.NetBatch < 1 || o.BlkBatch < 1) throw new DaemonConfigurationException("simulator.netBatch and simulator.blkBatch must be at least 1");
        return o;
    }

    internal static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8).PadLeft(3, '0');

    internal static string Describe(IReadOnlyList<string> list) => list.Count == 0 ? "(none)" : string.Join(",", list);
}
