using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>
/// The CAP_NET_ADMIN rule through SO_PEERCRED, with real foreign peers: this test assembly runs as a probe client
/// (Program.cs, PeerProbe) under <c>setpriv</c> as uid/gid 65534, with or without a supplementary admin group.
/// Needs root (to switch users); the socket is 0666 and its directory traversable.
/// </summary>
public sealed class PeerPrivilegeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string AdminGid = "4242";
    private readonly TempDirectory _dir = new();
    private TestDaemon _daemon = null!;

    public async Task InitializeAsync()
    {
        Assert.True(TestEnvironment.IsRoot, "the privilege tests switch users with setpriv and must run as root");
        _dir.MakeTraversable();
        _daemon = await TestDaemon.StartAsync(TestDaemon.OptionsFor(_dir) with { AdminGroups = [AdminGid] });
        using var client = _daemon.Connect();
        client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-01"));
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_daemon is not null) await _daemon.DisposeAsync();
        }
        finally
        {
            if (_daemon is not null) output.WriteLine(_daemon.Logs.Dump());
            _dir.Dispose();
        }
    }

    private async Task<Dictionary<string, (int Errno, string Text)>> ProbeAsync(params string[] setprivGroups)
    {
        string[] args = ["--reuid=65534", "--regid=65534", .. setprivGroups, "--",
            "dotnet", TestEnvironment.TestAssembly, PeerProbe.Verb, _daemon.SocketPath, "net0", "probe0"];
        var (code, text) = await ChildProcess.RunAsync("setpriv", args,
            new Dictionary<string, string?> { ["HOME"] = "/tmp", ["DOTNET_CLI_HOME"] = "/tmp" }, TestDaemon.Timeout);
        output.WriteLine($"setpriv {string.Join(' ', args)} → {code}\n{text}");
        Assert.True(code == 0, $"probe exit code {code}:\n{text}");
        return PeerProbe.ParseOutput(text);
    }

    [Fact]
    public async Task UnprivilegedPeer_MayQuery_ButNotChange()
    {
        var r = await ProbeAsync("--clear-groups");
        Assert.Equal(0, r["mgmtdev-list"].Errno);
        Assert.Equal("2", r["mgmtdev-list"].Text);
        Assert.Equal(0, r["dev-list"].Errno);
        Assert.Equal((0, "net0"), r["dev-show"]);
        Assert.Equal(Errno.EPERM, r["dev-add"].Errno);
        Assert.Equal(Errno.EPERM, r["dev-del-existing"].Errno);
        Assert.Equal(["net0"], _daemon.Bus.Devices.Select(d => d.Name));
    }

    [Fact]
    public async Task MemberOfAnAdminGroup_MayChange()
    {
        var r = await ProbeAsync("--groups=" + AdminGid);
        Assert.Equal(0, r["dev-add"].Errno);
        Assert.Equal(0, r["dev-del-existing"].Errno);
        Assert.Equal(0, r["dev-del-new"].Errno);
        Assert.Empty(_daemon.Bus.Devices);
    }
}
