using System.Globalization;
using System.Text.Json;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// Dumps larger than one datagram: iproute2 reads 4096-byte datagrams (MNL_SOCKET_BUFFER_SIZE) and fails on a
/// truncated one, and it checks every reply's sequence number and port id. Three hundred devices take dozens of
/// datagrams; iproute2 6.1 (redirected) and our CLI must both print all of them, identically.
/// </summary>
public sealed class ManyDevicesTests(ITestOutputHelper output)
{
    private const int Devices = 300;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    [Iproute2Fact]
    public async Task Iproute2AndOurCli_PrintEveryDeviceOfMultiDatagramDumps_Identically()
    {
        string shim = await NetlinkShim.BuildAsync();
        using VdpadProcess vdpad = await VdpadProcess.StartAsync();
        using (VdpaClient client = VdpaClient.ConnectDaemon(vdpad.SocketPath))
        {
            for (int i = 0; i < Devices; i++)
            {
                string mgmtdev = i % 10 == 9 ? "vdpasim_blk" : "vdpasim_net";
                client.AddDevice(Name(i), mgmtdev);
            }
            Assert.Equal(Devices, client.ListDevices().Count);
        }

        foreach (string[] args in (string[][])[["dev", "show"], ["-j", "dev", "show"], ["dev", "config", "show"], ["-jp", "dev", "config", "show"], ["-j", "mgmtdev", "show"]])
        {
            string command = "vdpa " + string.Join(' ', args);
            ProcessResult theirs = await ProcessRunner.RunAsync(TestEnvironment.Iproute2Vdpa, args, NetlinkShim.Environment(shim, vdpad.SocketPath), CommandTimeout);
            ProcessResult ours = await ProcessRunner.RunAsync("dotnet", [TestEnvironment.CliDll, .. args],
                new Dictionary<string, string?> { ["UVDPA_SOCKET"] = vdpad.SocketPath }, CommandTimeout);
            output.WriteLine($"{command}: iproute2 exit {theirs.Exit}, {theirs.Stdout.Length} bytes; ours exit {ours.Exit}, {ours.Stdout.Length} bytes");
            Assert.True(theirs.Exit == 0 && theirs.Stderr.Length == 0, $"iproute2 6.1 failed `{command}`:\n{Head(theirs)}\nvdpad's log:\n{vdpad.Log}");
            Assert.True(ours.Exit == 0 && ours.Stderr.Length == 0, $"our CLI failed `{command}`:\n{Head(ours)}");
            if (!theirs.Stdout.AsSpan().SequenceEqual(ours.Stdout))
                Assert.Fail($"`{command}` printed differently:\n{await Diff.UnifiedAsync(theirs.StdoutText, ours.StdoutText, "iproute2-6.1", "ours")}");

            if (args.Contains("mgmtdev")) continue;
            // Every device is there, once, in creation order (the kernel's dump walks the bus in that order).
            List<string> names = args[0].StartsWith('-')
                ? [.. JsonDocument.Parse(theirs.StdoutText).RootElement.EnumerateObject().Single().Value.EnumerateObject().Select(p => p.Name)]
                : [.. theirs.StdoutText.Split('\n').Where(l => l.Length > 0 && !l.StartsWith(' ')).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)])];
            Assert.Equal(Enumerable.Range(0, Devices).Select(Name), names);
        }
    }

    private static string Name(int i) => "d" + i.ToString(CultureInfo.InvariantCulture);

    private static string Head(ProcessResult r) => r.ToString() is { Length: > 4000 } s ? s[..4000] + "…" : r.ToString();
}
