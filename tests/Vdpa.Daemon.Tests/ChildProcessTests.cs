using Uvdpa.Virtio.Platform.Linux;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>The daemon as its own process (the built vdpad.dll and bin/vdpad): sd_notify, signals, exit codes.</summary>
public sealed class ChildProcessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan LauncherTimeout = TimeSpan.FromMinutes(5); // may build the daemon first

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ChildProcess StartDll(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
        => ChildProcess.Start("dotnet", [TestEnvironment.DaemonDll, .. args], env);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadyAfterTheSocketAccepts_StoppingOnSigterm_ThenCleanExit(bool abstractNamespace)
    {
        string socket = _dir.File("vdpad.sock");
        using var notify = new NotifyListener(abstractNamespace ? $"@uvdpa-test-{Guid.NewGuid():N}" : _dir.File("notify.sock"));
        using var daemon = StartDll(["--socket", socket], new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address });

        string ready = await notify.WaitForAsync("READY=1", TestDaemon.Timeout, () => daemon.Output);
        output.WriteLine($"notification: {ready}");
        Assert.Contains("STATUS=serving on " + socket, ready);
        using (var client = TestDaemon.Connect(socket)) // connectable the moment READY=1 arrives
        {
            Assert.Equal(2, client.ListManagementDevices().Count);
            client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-01"));
        }

        daemon.Signal("TERM");
        string stopping = await notify.WaitForAsync("STOPPING=1", TestDaemon.Timeout, () => daemon.Output);
        output.WriteLine($"notification: {stopping}");
        Assert.Equal(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
        output.WriteLine(daemon.Output);
        Assert.False(File.Exists(socket), "the socket file was left behind");
        Assert.Contains("vdpad stopped", daemon.Output);
    }

    [Fact]
    public async Task Sigint_AlsoShutsDownCleanly()
    {
        string socket = _dir.File("vdpad.sock");
        using var notify = new NotifyListener(_dir.File("notify.sock"));
        using var daemon = StartDll(["--socket", socket], new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address });
        await notify.WaitForAsync("READY=1", TestDaemon.Timeout, () => daemon.Output);
        daemon.Signal("INT");
        Assert.Equal(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task UnknownFlag_ExitsWith2_AndSaysWhy()
    {
        var (code, text) = await ChildProcess.RunAsync("dotnet", [TestEnvironment.DaemonDll, "--socket", _dir.File("s"), "--frobnicate"], null, TestDaemon.Timeout);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("vdpad: unknown option '--frobnicate'", text);
        Assert.False(File.Exists(_dir.File("s")));
    }

    [Fact]
    public async Task CorruptStateFile_ExitsWith1_NamingTheFile()
    {
        string state = _dir.File("devices.json");
        File.WriteAllText(state, "{ broken");
        var (code, text) = await ChildProcess.RunAsync("dotnet",
            [TestEnvironment.DaemonDll, "--socket", _dir.File("s"), "--state-file", state], null, TestDaemon.Timeout);
        output.WriteLine(text);
        Assert.Equal(1, code);
        Assert.Contains($"vdpad: state file {state} is corrupt", text);
        Assert.Equal("{ broken", File.ReadAllText(state));
    }

    [Fact]
    public async Task StateFile_AcrossProcessRestarts()
    {
        string socket = _dir.File("vdpad.sock"), state = _dir.File("devices.json");
        for (int run = 0; run < 2; run++)
        {
            using var notify = new NotifyListener(_dir.File($"notify{run}.sock"));
            using var daemon = StartDll(["--socket", socket, "--state-file", state], new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address });
            await notify.WaitForAsync("READY=1", TestDaemon.Timeout, () => daemon.Output);
            using (var client = TestDaemon.Connect(socket))
            {
                if (run == 0) client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-42"), mtu: 1280);
                else
                {
                    VdpaDeviceConfig c = client.GetConfig("net0");
                    Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-42"), c.MacAddress);
                    Assert.Equal((ushort)1280, c.Mtu);
                }
            }
            daemon.Signal("TERM");
            Assert.Equal(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
            output.WriteLine(daemon.Output);
        }
    }

    [Fact]
    public async Task AfterACrash_TheStaleSocketIsReplaced_AndTheDevicesComeBack()
    {
        string socket = _dir.File("vdpad.sock"), state = _dir.File("devices.json");
        using (var notify = new NotifyListener(_dir.File("notify0.sock")))
        using (var daemon = StartDll(["--socket", socket, "--state-file", state], new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address }))
        {
            await notify.WaitForAsync("READY=1", TestDaemon.Timeout, () => daemon.Output);
            using (var client = TestDaemon.Connect(socket))
            {
                client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-43"), mtu: 9000);
                client.AddDevice("blk0", "vdpasim_blk");
            }
            daemon.Signal("KILL");
            Assert.NotEqual(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
        }
        Assert.True(UnixFile.TryGetStatus(socket, out UnixFileStatus st) && st.IsSocket, "SIGKILL should leave the socket file behind");

        using (var notify = new NotifyListener(_dir.File("notify1.sock")))
        using (var daemon = StartDll(["--socket", socket, "--state-file", state], new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address }))
        {
            await notify.WaitForAsync("READY=1", TestDaemon.Timeout, () => daemon.Output);
            using (var client = TestDaemon.Connect(socket))
            {
                Assert.Equal(["net0", "blk0"], client.ListDevices().Select(d => d.Name));
                Assert.Equal((ushort)9000, client.GetConfig("net0").Mtu);
            }
            daemon.Signal("TERM");
            Assert.Equal(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
            output.WriteLine(daemon.Output);
            Assert.Contains("removing stale socket file " + socket, daemon.Output);
        }
    }

    [Fact]
    public async Task Launcher_BuildsIfNeeded_AndExecsTheDaemon()
    {
        string socket = _dir.File("vdpad.sock");
        using var notify = new NotifyListener(_dir.File("notify.sock"));
        // UVDPA_SOCKET is the default socket path for the daemon as for clients.
        using var daemon = ChildProcess.Start(TestEnvironment.Launcher, ["--mgmtdev", "vdpasim_blk"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = notify.Address, ["UVDPA_SOCKET"] = socket });
        await notify.WaitForAsync("READY=1", LauncherTimeout, () => daemon.Output);
        using (var client = VdpaClient.ConnectDaemon(socket))
            Assert.Equal(["vdpasim_blk"], client.ListManagementDevices().Select(m => m.Name));
        daemon.Signal("TERM"); // the launcher exec'd: this pid is the daemon
        Assert.Equal(0, await daemon.WaitForExitAsync(TestDaemon.Timeout));
        Assert.False(File.Exists(socket));

        var (code, text) = await ChildProcess.RunAsync(TestEnvironment.Launcher, ["--help"], null, LauncherTimeout);
        Assert.Equal(0, code);
        Assert.Contains("Usage: vdpad", text);
    }
}
