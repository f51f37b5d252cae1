using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// vdpad with the uvdpa family: a net device added with <c>driver-opt tap-name=X</c> appears as interface X and is
/// listed as a netdev exposure; <c>vdpa dev del</c> removes the interface, and so does stopping vdpad (SIGTERM) for a
/// device still bound. Needs root and /dev/net/tun.
/// </summary>
public sealed class TapTeardownTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static bool InterfaceExists(string name) => Directory.Exists($"/sys/class/net/{name}");

    private static async Task<ProcessResult> Cli(VdpadProcess vdpad, params string[] args)
        => await ProcessRunner.RunAsync("dotnet", [TestEnvironment.CliDll, .. args],
            new Dictionary<string, string?> { ["UVDPA_SOCKET"] = vdpad.SocketPath }, CommandTimeout);

    [TapFact]
    public async Task TapInterfaces_GoAway_WithTheirDevice_AndWhenVdpadStops()
    {
        string a = $"uvtd{Environment.ProcessId % 100000}", b = $"uvte{Environment.ProcessId % 100000}";
        var vdpad = await VdpadProcess.StartAsync();
        try
        {
            foreach (var (dev, ifname) in new[] { ("tnet0", a), ("tnet1", b) })
            {
                var add = await Cli(vdpad, "uvdpa", "dev", "add", "name", dev, "mgmtdev", "vdpasim_net", "driver", "virtio_vdpa", "driver-opt", $"tap-name={ifname}");
                Assert.True(add.Exit == 0, $"uvdpa dev add {dev}: {add}\nvdpad:\n{vdpad.Log}");
                Assert.True(InterfaceExists(ifname), $"{ifname} does not exist after adding {dev}\nvdpad:\n{vdpad.Log}");
            }
            var show = await Cli(vdpad, "uvdpa", "dev", "show", "tnet0");
            output.WriteLine(show.StdoutText);
            Assert.Contains($"exposure kind netdev location {a}", show.StdoutText, StringComparison.Ordinal);

            var del = await Cli(vdpad, "dev", "del", "tnet0");
            Assert.True(del.Exit == 0, $"dev del tnet0: {del}");
            Assert.False(InterfaceExists(a), $"{a} still exists after vdpa dev del tnet0");
            Assert.True(InterfaceExists(b), $"{b} vanished although tnet1 was not deleted");
        }
        finally
        {
            int? exit = vdpad.Terminate();
            output.WriteLine($"vdpad exit {exit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(killed)"}\n{vdpad.Log}");
            bool left = InterfaceExists(b);
            vdpad.Dispose();
            Assert.False(left, $"{b} still exists after vdpad stopped (SIGTERM)");
            Assert.Equal(0, exit);
        }
    }
}

/// <summary>Needs root and /dev/net/tun (TAP interfaces); skipped with the reason otherwise.</summary>
internal sealed class TapFactAttribute : FactAttribute
{
    public TapFactAttribute()
    {
        if (GetEuid() != 0)
            Skip = "SKIPPED: TAP interfaces need root (CAP_NET_ADMIN)";
        else if (!File.Exists("/dev/net/tun"))
            Skip = "SKIPPED: /dev/net/tun is missing (modprobe tun)";
    }

    private static uint GetEuid()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        return uint.MaxValue;
    }
}
