using System.Globalization;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>Resolves a group given as a name (looked up in /etc/group) or a decimal gid.</summary>
internal static class UnixGroups
{
    /// <summary>The group database path (replaceable by tests).</summary>
    internal static string GroupFile { get; set; } = "/etc/group";

    /// <summary>Resolves <paramref name="group"/>; false when it is neither a gid nor a known group name.</summary>
    public static bool TryResolve(string group, out uint gid)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Length > 0 && group.All(char.IsAsciiDigit))
            return uint.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out gid);
        gid = 0;
        if (group.Length == 0 || !File.Exists(GroupFile)) return false;
        foreach (string line in File.ReadLines(GroupFile))
        {
            // name:password:GID:members
            string[] f = line.Split(':');
            if (f.Length >= 3 && f[0] == group && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out gid)) return true;
        }
        return false;
    }
}
