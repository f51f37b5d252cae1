using System.Globalization;
using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>
/// Bind options of the vhost_vdpa (vhost-user) driver:
/// <list type="bullet">
/// <item><c>vhost-user-dir</c>: socket directory (default <see cref="DefaultDirectory"/>); the socket is <c>&lt;dir&gt;/&lt;device&gt;.sock</c>.</item>
/// <item><c>vhost-user-mode</c>: octal permissions of the socket (default 0600: a socket is read/write access to a disk).</item>
/// <item><c>vhost-user-gid</c>: numeric group given to the socket (default: unchanged).</item>
/// <item><c>vhost-user-allow-uid</c>: comma-separated uids allowed to connect besides root and the daemon's own uid (SO_PEERCRED).</item>
/// <item><c>vhost-user-poll</c>: <c>1</c> puts every ring in the device's poll mode even when the front-end passes a kick fd
/// (a busy-polling back-end, like DPDK's; kicks still wake it); default <c>0</c>.</item>
/// </list>
/// </summary>
public sealed class VhostUserDriverOptions
{
    /// <summary>Default socket directory.</summary>
    public const string DefaultDirectory = "/run/uvdpa/vhost-user";
    /// <summary>Option key: socket directory.</summary>
    public const string DirectoryKey = "vhost-user-dir";
    /// <summary>Option key: socket mode.</summary>
    public const string ModeKey = "vhost-user-mode";
    /// <summary>Option key: socket group.</summary>
    public const string GroupKey = "vhost-user-gid";
    /// <summary>Option key: extra allowed uids.</summary>
    public const string AllowUidKey = "vhost-user-allow-uid";
    /// <summary>Option key: busy-poll the rings.</summary>
    public const string PollKey = "vhost-user-poll";

    /// <summary>Socket directory.</summary>
    public string Directory { get; init; } = DefaultDirectory;

    /// <summary>Socket permissions.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Group of the socket, or null.</summary>
    public uint? GroupId { get; init; }

    /// <summary>Uids allowed besides 0 and the daemon's.</summary>
    public IReadOnlyList<uint> AllowedUserIds { get; init; } = [];

    /// <summary>Rings run in the device's poll mode whether or not the front-end kicks.</summary>
    public bool BusyPoll { get; init; }

    /// <summary>Parses bind options; EINVAL for malformed values.</summary>
    public static VhostUserDriverOptions Parse(BindOptions options, string? defaultDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var key in options.Values.Keys)
        {
            if (key.StartsWith("vhost-user-", StringComparison.Ordinal) && key is not (DirectoryKey or ModeKey or GroupKey or AllowUidKey or PollKey))
                throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: unknown option '{key}'");
        }
        var result = defaultDirectory is null ? new VhostUserDriverOptions() : new VhostUserDriverOptions { Directory = defaultDirectory };
        if (options.TryGet(DirectoryKey, out var dir))
        {
            if (string.IsNullOrEmpty(dir) || !Path.IsPathRooted(dir)) throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: {DirectoryKey} must be an absolute path");
            result = new VhostUserDriverOptions { Directory = dir };
        }
        UnixFileMode mode = result.Mode;
        if (options.TryGet(ModeKey, out var m))
        {
            try
            {
                int v = Convert.ToInt32(m, 8);
                if (v is < 0 or > 0x1ff) throw new FormatException();
                mode = (UnixFileMode)v;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: {ModeKey} '{m}' is not an octal mode");
            }
        }
        uint? gid = null;
        if (options.TryGet(GroupKey, out var g))
        {
            if (!uint.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out var gv)) throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: {GroupKey} '{g}' is not a numeric gid");
            gid = gv;
        }
        var uids = new List<uint>();
        if (options.TryGet(AllowUidKey, out var u))
        {
            foreach (var part in u.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var uv)) throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: {AllowUidKey} '{part}' is not a numeric uid");
                uids.Add(uv);
            }
        }
        bool poll = false;
        if (options.TryGet(PollKey, out var pv))
        {
            poll = pv switch
            {
                "1" => true,
                "0" => false,
                _ => throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: {PollKey} '{pv}' is not 0 or 1"),
            };
        }
        return new VhostUserDriverOptions { Directory = result.Directory, Mode = mode, GroupId = gid, AllowedUserIds = uids, BusyPoll = poll };
    }
}
