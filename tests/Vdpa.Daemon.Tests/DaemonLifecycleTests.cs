using Uvdpa.Virtio.Platform.Linux;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>Start-up (modules, socket claiming, mode and group) and shutdown, in process.</summary>
public sealed class DaemonLifecycleTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly CapturingLoggerProvider _logs = new();

    public void Dispose()
    {
        output.WriteLine(_logs.Dump());
        _dir.Dispose();
    }

    private Task<TestDaemon> StartAsync(DaemonOptions options) => TestDaemon.StartAsync(options, _logs);

    private DaemonOptions Options => TestDaemon.OptionsFor(_dir);

    [Fact]
    public async Task ConfiguredManagementDevices_ExistInTheConfiguredOrder()
    {
        await using var daemon = await StartAsync(Options with { ManagementDevices = ["vdpasim_blk", "vdpasim_net"] });
        using var client = daemon.Connect();
        Assert.Equal(["vdpasim_blk", "vdpasim_net"], client.ListManagementDevices().Select(m => m.Name));
    }

    [Fact]
    public async Task ManagementDeviceNotConfigured_DoesNotExist()
    {
        await using var daemon = await StartAsync(Options with { ManagementDevices = ["vdpasim_net"] });
        using var client = daemon.Connect();
        Assert.Equal(["vdpasim_net"], client.ListManagementDevices().Select(m => m.Name));
        var e = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("blk0", "vdpasim_blk"));
        Assert.Equal(Errno.ENODEV, e.Errno);
    }

    [Fact]
    public async Task NoDrivers_DevicesStayUnbound_DefaultBindsVirtioVdpa()
    {
        await using (var daemon = await StartAsync(Options with { Drivers = [] }))
        {
            using var client = daemon.Connect();
            client.AddDevice("net0", "vdpasim_net");
            Assert.Null(Assert.Single(daemon.Bus.Devices).Driver);
            Assert.Empty(daemon.Bus.Drivers);
        }
        await using (var daemon = await StartAsync(Options))
        {
            using var client = daemon.Connect();
            client.AddDevice("net0", "vdpasim_net");
            Assert.Equal(["virtio_vdpa"], daemon.Bus.Drivers.Select(d => d.Name));
            Assert.Equal("virtio_vdpa", Assert.Single(daemon.Bus.Devices).Driver?.Name);
        }
    }

    [Fact]
    public async Task SocketDirectoryIsCreated_ModeAndGroupAreApplied()
    {
        string path = _dir.File("run/uvdpa/vdpad.sock");
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        await using var daemon = await StartAsync(Options with { SocketPath = path, SocketMode = mode, SocketGroup = "4242" });
        Assert.True(UnixFile.TryGetStatus(path, out UnixFileStatus st));
        Assert.True(st.IsSocket);
        Assert.Equal(mode, st.Permissions);
        Assert.Equal(4242u, st.GroupId);
        using var client = daemon.Connect();
        Assert.Equal(2, client.ListManagementDevices().Count);
    }

    [Fact]
    public async Task SecondDaemonOnALiveSocket_FailsClearly_AndTheFirstKeepsServing()
    {
        await using var first = await StartAsync(Options);
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => TestDaemon.StartAsync(Options));
        Assert.Contains($"another vdpad is already listening on {Options.SocketPath}", e.Message);
        Assert.True(File.Exists(Options.SocketPath));
        using var client = first.Connect();
        Assert.Equal(2, client.ListManagementDevices().Count);
    }

    [Fact]
    public async Task NonSocketFileAtThePath_IsNeverReplaced()
    {
        File.WriteAllText(Options.SocketPath, "precious");
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => StartAsync(Options));
        Assert.Contains("is not a socket", e.Message);
        Assert.Equal("precious", File.ReadAllText(Options.SocketPath));
    }

    [Fact]
    public async Task Shutdown_UnbindsAndDeletesEveryDevice_ClosesConnections_RemovesTheSocket()
    {
        var daemon = await StartAsync(Options);
        VdpaBus bus = daemon.Bus;
        var events = new List<string>();
        bus.DeviceUnbound += d => { lock (events) events.Add($"unbound {d.Name} registered={d.IsRegistered}"); };
        using var client = daemon.Connect();
        client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-07"));
        client.AddDevice("blk0", "vdpasim_blk");
        VdpaDevice net0 = bus.Devices[0];
        using var idle = new RawClient(daemon.SocketPath);

        await daemon.DisposeAsync();

        Assert.Empty(bus.Devices);
        Assert.False(net0.IsRegistered);
        Assert.Null(net0.Driver);
        lock (events) Assert.Equal(["unbound blk0 registered=True", "unbound net0 registered=True"], events); // unbound before removal, newest first
        Assert.Empty(bus.Drivers);
        Assert.Empty(bus.ManagementDevices);
        Assert.False(File.Exists(daemon.SocketPath));
        Assert.Equal(0, idle.ReadUntilClosed());
        Assert.Throws<NetlinkTransportException>(() => client.ListDevices());
    }

    [Fact]
    public async Task StartupFailure_LeavesNoSocketFileBehind()
    {
        string state = _dir.File("state.json");
        File.WriteAllText(state, "{ \"version\": 99, \"devices\": [] }");
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => StartAsync(Options with { StateFile = state }));
        Assert.Contains(state, e.Message);
        Assert.False(File.Exists(Options.SocketPath));
    }
}
