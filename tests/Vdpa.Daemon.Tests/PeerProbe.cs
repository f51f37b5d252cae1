using System.Globalization;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>
/// The probe client (see Program.cs): <c>probe SOCKET EXISTING NEW</c> lists management devices and devices, shows
/// EXISTING, adds NEW (vdpasim_net), deletes EXISTING and NEW. Prints one line per request:
/// <c>OP ok</c> or <c>OP errno N MESSAGE</c>; exit code 0 unless the connection itself failed.
/// </summary>
internal static class PeerProbe
{
    public const string Verb = "probe";

    public static int Run(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: probe SOCKET EXISTING NEW");
            return 2;
        }
        string socket = args[0], existing = args[1], added = args[2];
        try
        {
            using var client = TestDaemon.Connect(socket);
            Report("mgmtdev-list", () => client.ListManagementDevices().Count.ToString(CultureInfo.InvariantCulture));
            Report("dev-list", () => client.ListDevices().Count.ToString(CultureInfo.InvariantCulture));
            Report("dev-show", () => client.GetDevice(existing).Name);
            Report("dev-add", () => client.AddDevice(added, "vdpasim_net", PhysicalAddress.Parse("02:00:00:00:aa:01")) ?? "");
            Report("dev-del-existing", () => client.DeleteDevice(existing) ?? "");
            Report("dev-del-new", () => client.DeleteDevice(added) ?? "");
            return 0;
        }
        catch (Exception e) when (e is NetlinkTransportException or NetlinkFormatException or VdpaNetlinkException)
        {
            Console.Error.WriteLine($"probe failed: {e.Message}");
            return 1;
        }
    }

    private static void Report(string op, Func<string> action)
    {
        try
        {
            Console.Out.WriteLine($"{op} ok {action()}".TrimEnd());
        }
        catch (VdpaNetlinkException e)
        {
            Console.Out.WriteLine($"{op} errno {e.Errno} {e.ExtackMessage}".TrimEnd());
        }
    }

    /// <summary>Parses the probe's output into op → (errno or 0, rest).</summary>
    public static Dictionary<string, (int Errno, string Text)> ParseOutput(string output)
    {
        var result = new Dictionary<string, (int, string)>(StringComparer.Ordinal);
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.StartsWith("out: ", StringComparison.Ordinal) ? raw[5..].Trim() : raw.Trim();
            string[] f = line.Split(' ', 3);
            if (f.Length < 2) continue;
            if (f[1] == "ok") result[f[0]] = (0, f.Length > 2 ? f[2] : "");
            else if (f[1] == "errno" && f.Length > 2)
            {
                string[] g = f[2].Split(' ', 2);
                result[f[0]] = (int.Parse(g[0], CultureInfo.InvariantCulture), g.Length > 1 ? g[1] : "");
            }
        }
        return result;
    }
}
