using System.Net.NetworkInformation;
using System.Text.Json;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>The opt-in state file through the daemon: devices survive a restart; bad files stop the start.</summary>
public sealed class StatePersistenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly CapturingLoggerProvider _logs = new();

    public void Dispose()
    {
        output.WriteLine(_logs.Dump());
        _dir.Dispose();
    }

    private string StatePath => _dir.File("lib/devices.json");

    private DaemonOptions Options => TestDaemon.OptionsFor(_dir) with { StateFile = StatePath };

    private Task<TestDaemon> StartAsync(DaemonOptions? options = null) => TestDaemon.StartAsync(options ?? Options, _logs);

    [Fact]
    public async Task DevicesSurviveARestart_WithTheirMacAndMtu()
    {
        await using (var daemon = await StartAsync())
        {
            using var client = daemon.Connect();
            client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-01"), mtu: 1400);
            client.AddDevice("blk0", "vdpasim_blk");
            client.AddDevice("net1", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-02"));
            client.AddDevice("tmp0", "vdpasim_net");
            client.DeleteDevice("tmp0");
            client.SetDevice("net1", PhysicalAddress.Parse("02-00-00-00-00-22")); // dev set mac is remembered too
        }
        Assert.False(File.Exists(Options.SocketPath));

        await using (var daemon = await StartAsync())
        {
            using var client = daemon.Connect();
            Assert.Equal(["net0", "blk0", "net1"], client.ListDevices().Select(d => d.Name));
            VdpaDeviceConfig net0 = client.GetConfig("net0");
            Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-01"), net0.MacAddress);
            Assert.Equal((ushort)1400, net0.Mtu);
            Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-22"), client.GetConfig("net1").MacAddress);
            Assert.Equal((ushort)1500, client.GetConfig("net1").Mtu);
            Assert.Equal(2u, client.GetDevice("blk0").DeviceId);
            Assert.All(daemon.Bus.Devices, d => Assert.Equal("virtio_vdpa", d.Driver?.Name));
            Assert.Contains(_logs.Lines, l => l.Id.Id == 10 && l.Text.Contains("restored 3 of 3", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task DefinitionThatCannotBeApplied_IsLoggedAndKept()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, """
            {
              "version": 1,
              "devices": [
                { "name": "blk0", "managementDeviceName": "vdpasim_blk", "options": { "file": "/nonexistent/disk.img" } },
                { "name": "net0", "managementDeviceName": "vdpasim_net", "mac": "02:00:00:00:00:05" },
                { "name": "gone0", "managementDeviceName": "vdpasim_blk" }
              ]
            }
            """);
        // vdpasim_blk is not configured this time: its device cannot be created either.
        await using (var daemon = await StartAsync(Options with { ManagementDevices = ["vdpasim_net"] }))
        {
            using var client = daemon.Connect();
            Assert.Equal(["net0"], client.ListDevices().Select(d => d.Name));
            Assert.Equal(2, _logs.Lines.Count(l => l.Id.Id == 11));
            Assert.Contains(_logs.Lines, l => l.Id.Id == 11 && l.Text.Contains("blk0", StringComparison.Ordinal));
            client.AddDevice("net1", "vdpasim_net"); // a later write keeps the failed definitions
        }
        using (var doc = JsonDocument.Parse(File.ReadAllText(StatePath)))
        {
            Assert.Equal(["blk0", "net0", "gone0", "net1"],
                doc.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        }

        // With vdpasim_blk back, the one that only lacked its parent returns; the bad image still fails and stays.
        await using (var daemon = await StartAsync())
        {
            using var client = daemon.Connect();
            Assert.Equal(["net0", "gone0", "net1"], client.ListDevices().Select(d => d.Name));
        }
    }

    [Fact]
    public async Task CrashDuringAWrite_LosesNothing()
    {
        await using (var daemon = await StartAsync())
        {
            using var client = daemon.Connect();
            client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-01"));
        }
        // The crash: a torn temp file (the rename never happened).
        File.WriteAllText(StateFileStore.TempPathFor(StatePath), "{\"version\":1,\"devices\":[{\"na");
        await using (var daemon = await StartAsync())
        {
            using var client = daemon.Connect();
            Assert.Equal(["net0"], client.ListDevices().Select(d => d.Name));
        }
        Assert.False(File.Exists(StateFileStore.TempPathFor(StatePath)));
        Assert.Contains(_logs.Lines, l => l.Id.Id == 12);
    }

    [Fact]
    public async Task CorruptStateFile_RefusesToStart_AndIsLeftAlone()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        const string Corrupt = "{\"version\":1,\"devices\":[{\"name\":\"net0\",";
        File.WriteAllText(StatePath, Corrupt);
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => StartAsync());
        Assert.Contains(StatePath, e.Message);
        Assert.Contains("corrupt", e.Message);
        Assert.Equal(Corrupt, File.ReadAllText(StatePath));
        Assert.False(File.Exists(Options.SocketPath));
    }

    [Fact]
    public async Task WithoutStateFile_NothingSurvives()
    {
        var options = TestDaemon.OptionsFor(_dir);
        await using (var daemon = await StartAsync(options))
        {
            using var client = daemon.Connect();
            client.AddDevice("net0", "vdpasim_net");
        }
        await using (var daemon = await StartAsync(options))
        {
            using var client = daemon.Connect();
            Assert.Empty(client.ListDevices());
        }
    }
}
