using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.Simulator;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// Everything vdpad is configured with, after merging (highest first) the command line, the JSON config file,
/// <c>$UVDPA_SOCKET</c> (socket path only) and the built-in defaults. Paths are absolute.
/// </summary>
public sealed record DaemonOptions
{
    /// <summary>Default socket mode: like the kernel's family, anyone may query; changes need privilege (checked per request).</summary>
    public const UnixFileMode DefaultSocketMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>The management socket (SOCK_SEQPACKET). Default <see cref="UnixSeqpacketTransport.DefaultSocketPath"/>.</summary>
    public string SocketPath { get; init; } = UnixSeqpacketTransport.DefaultSocketPath;

    /// <summary>Permission bits of the socket file (default 0666).</summary>
    public UnixFileMode SocketMode { get; init; } = DefaultSocketMode;

    /// <summary>Group (name or gid) the socket file is given, or null to keep the daemon's group.</summary>
    public string? SocketGroup { get; init; }

    /// <summary>Groups (names or gids) whose members may change devices, besides root.</summary>
    public IReadOnlyList<string> AdminGroups { get; init; } = [];

    /// <summary>The opt-in state file, or null (devices do not survive a restart).</summary>
    public string? StateFile { get; init; }

    /// <summary>Management devices to register, in order (the kernel's Kconfig: which parents exist).</summary>
    public IReadOnlyList<string> ManagementDevices { get; init; } = BusModules.DefaultManagementDevices;

    /// <summary>Bus drivers to register, in order; the first that matches and probes binds a new device (module load order).</summary>
    public IReadOnlyList<string> Drivers { get; init; } = BusModules.DefaultDrivers;

    /// <summary>Directory for vhost-user sockets (stored for the vhost-user bus driver; unused so far).</summary>
    public string? VhostUserDirectory { get; init; }

    /// <summary>Simulator module parameters (vdpa_sim / vdpa_sim_blk).</summary>
    public SimulatorOptions Simulator { get; init; } = SimulatorOptions.Default;

    /// <summary>The config file the options were read from, if any (for messages).</summary>
    public string? ConfigFile { get; init; }
}
