using System.Globalization;
using System.Text.RegularExpressions;

namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>
/// The output of the capture's <c>vhost.py</c>: vhost-vdpa GET ioctls before and after VHOST_SET_OWNER, and the raw
/// config space dump.
/// </summary>
internal sealed partial class VhostIoctls
{
    private readonly List<(string Name, string Result, bool AfterOwner)> _results = [];

    private VhostIoctls(byte[] config) => Config = config;

    /// <summary>VHOST_VDPA_GET_CONFIG (off=0, len=config size) bytes.</summary>
    public byte[] Config { get; }

    /// <summary>Parses the stdout of <c>python3 /tmp/vhost.py /dev/vhost-vdpa-N</c>.</summary>
    public static VhostIoctls Parse(GoldenCommand command)
    {
        var config = new List<byte>();
        var results = new List<(string, string, bool)>();
        bool afterOwner = false;
        foreach (string line in command.Stdout)
        {
            var dump = DumpLine().Match(line);
            if (dump.Success)
            {
                config.AddRange(dump.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                continue;
            }
            var m = ResultLine().Match(line);
            if (!m.Success) continue;
            if (m.Groups["name"].Value == "VHOST_SET_OWNER") afterOwner = true;
            results.Add((m.Groups["name"].Value, m.Groups["result"].Value, afterOwner));
        }
        var v = new VhostIoctls([.. config]);
        v._results.AddRange(results);
        return v;
    }

    /// <summary>
    /// The values an ioctl returned, or null on error: its first answer, or with <paramref name="afterOwner"/> its answer
    /// after VHOST_SET_OWNER.
    /// </summary>
    public ulong[]? Values(string name, bool afterOwner = false)
    {
        string r = Result(name, afterOwner);
        return r.StartsWith("error", StringComparison.Ordinal)
            ? null
            : [.. r.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Iproute2.Number)];
    }

    /// <summary>The single value an ioctl returned.</summary>
    public ulong Value(string name, bool afterOwner = false)
        => Values(name, afterOwner) is [ulong v] ? v : throw new InvalidDataException($"{name}: not a single value: {Result(name, afterOwner)}");

    /// <summary>The errno an ioctl failed with, or 0.</summary>
    public int Error(string name, bool afterOwner = false)
    {
        var m = ErrorResult().Match(Result(name, afterOwner));
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private string Result(string name, bool afterOwner)
    {
        foreach (var (n, r, after) in _results)
        {
            if (n == name && (after || !afterOwner)) return r;
        }
        throw new InvalidDataException($"vhost.py printed no {name} (after owner: {afterOwner})");
    }

    [GeneratedRegex(@"^(?<name>\S+)\s+req=0x[0-9a-f]+ -> (?<result>.*)$")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"^  [0-9a-f]{4}: ((?:[0-9a-f]{2} ?)+)$")]
    private static partial Regex DumpLine();

    [GeneratedRegex(@"^error (\d+)")]
    private static partial Regex ErrorResult();
}
