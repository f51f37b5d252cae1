using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Uvdpa.Vdpa.Management;

namespace Uvdpa.Vdpa.Daemon.Tests;

public sealed class StateFileStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string StatePath => _dir.File("state/devices.json");

    private StateFileStore Open() => StateFileStore.Open(StatePath, NullLogger.Instance);

    internal static DeviceDefinition Net(string name, byte last = 1, ushort? mtu = 1400) => new()
    {
        Name = name,
        ManagementDeviceName = "vdpasim_net",
        Mac = [0x02, 0, 0, 0, 0, last],
        Mtu = mtu,
    };

    [Fact]
    public void MissingFile_IsCreatedEmpty_Version1_Mode0600()
    {
        using (var store = Open()) Assert.Empty(store.Devices);
        using var doc = JsonDocument.Parse(File.ReadAllText(StatePath));
        Assert.Equal(1, doc.RootElement.GetProperty("version").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("devices").GetArrayLength());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StatePath));
    }

    [Fact]
    public void PutAndRemove_AreOnDiskAtOnce_AndReadBack()
    {
        using (var store = Open())
        {
            store.Put(Net("net0", 1));
            store.Put(new DeviceDefinition
            {
                Name = "blk0",
                ManagementDeviceName = "vdpasim_blk",
                Options = new Dictionary<string, string> { ["file"] = "/tmp/disk.img" },
                Driver = "virtio_vdpa",
                DriverOptions = new Dictionary<string, string> { ["k"] = "v" },
            });
            store.Put(Net("net1", 2, mtu: null));
            store.Put(Net("net0", 9, mtu: 9000)); // a change keeps the position
            store.Remove("net1");
            store.Remove("never-existed");

            string text = File.ReadAllText(StatePath);
            Assert.Contains("\"mac\": \"02:00:00:00:00:09\"", text);
        }
        using var again = Open();
        Assert.Equal(["net0", "blk0"], again.Devices.Select(d => d.Name));
        DeviceDefinition net0 = again.Devices[0];
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 9 }, net0.Mac);
        Assert.Equal((ushort)9000, net0.Mtu);
        Assert.Equal("vdpasim_net", net0.ManagementDeviceName);
        DeviceDefinition blk0 = again.Devices[1];
        Assert.Equal("/tmp/disk.img", blk0.Options["file"]);
        Assert.Equal("virtio_vdpa", blk0.Driver);
        Assert.Equal("v", blk0.DriverOptions["k"]);
        Assert.Null(blk0.Mac);
    }

    [Fact]
    public void EveryField_RoundTrips()
    {
        var full = new DeviceDefinition
        {
            Name = "n",
            ManagementBusName = "pci",
            ManagementDeviceName = "0000:00:01.0",
            Mac = [1, 2, 3, 4, 5, 6],
            Mtu = 1500,
            MaxVqPairs = 4,
            DeviceFeatures = 0xffff_ffff_ffff_fffful,
        };
        using (var store = Open()) store.Put(full);
        using var again = Open();
        DeviceDefinition d = Assert.Single(again.Devices);
        Assert.Equal(full.ManagementBusName, d.ManagementBusName);
        Assert.Equal(full.MaxVqPairs, d.MaxVqPairs);
        Assert.Equal(full.DeviceFeatures, d.DeviceFeatures);
        Assert.Equal(full.Mac, d.Mac);
    }

    [Fact]
    public void MinimalEntries_GetEmptyOptionMaps()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, "{ \"version\": 1, \"devices\": [ { \"name\": \"net0\", \"managementDeviceName\": \"vdpasim_net\" } ] }");
        using var store = Open();
        DeviceDefinition d = Assert.Single(store.Devices);
        Assert.NotNull(d.Options);
        Assert.Empty(d.Options);
        Assert.NotNull(d.DriverOptions);
        Assert.Null(d.Mac);
        Assert.Null(d.Mtu);
    }

    [Fact]
    public void InterruptedWrite_LeavesTheFileIntact_AndTheTempFileIsRemoved()
    {
        using (var store = Open()) store.Put(Net("net0"));
        byte[] before = File.ReadAllBytes(StatePath);
        // A crash between "write temp" and "rename": a torn temp file next to the intact state file.
        string temp = StateFileStore.TempPathFor(StatePath);
        File.WriteAllText(temp, "{\"version\":1,\"devices\":[{\"name\":\"ne");

        using (var store = Open())
        {
            Assert.Equal(["net0"], store.Devices.Select(d => d.Name));
            Assert.False(File.Exists(temp));
            Assert.Equal(before, File.ReadAllBytes(StatePath));
            store.Put(Net("net1"));
        }
        Assert.False(File.Exists(temp)); // a completed write leaves no temp file
        using var again = Open();
        Assert.Equal(["net0", "net1"], again.Devices.Select(d => d.Name));
    }

    [Theory]
    [InlineData("{ \"version\": 1, \"devices\": [ { \"name\": \"net0\" ", "corrupt")]                      // torn
    [InlineData("", "corrupt")]
    [InlineData("[]", "no \"version\"")]
    [InlineData("{ \"devices\": [] }", "no \"version\"")]
    [InlineData("{ \"version\": 1, \"devices\": [ { \"managementDeviceName\": \"x\" } ] }", "corrupt")]      // name missing
    [InlineData("{ \"version\": 1, \"devices\": [], \"extra\": true }", "corrupt")]                         // a key we do not know
    [InlineData("{ \"version\": 1, \"devices\": [ { \"name\": \"a\", \"managementDeviceName\": \"x\", \"mac\": \"zz\" } ] }", "corrupt")]
    [InlineData("{ \"version\": 1, \"devices\": [ { \"name\": \"a\", \"managementDeviceName\": \"x\" }, { \"name\": \"a\", \"managementDeviceName\": \"x\" } ] }", "appears twice")]
    [InlineData("{ \"version\": 2, \"devices\": [] }", "has version 2, this vdpad understands version 1")]
    public void FileWeDoNotUnderstand_RefusesToStart_NamesTheFile_AndIsNeverTouched(string content, string expected)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, content);
        var e = Assert.Throws<DaemonStartupException>(Open);
        Assert.Contains(StatePath, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Equal(content, File.ReadAllText(StatePath));
    }

    [Fact]
    public void SecondStoreOnTheSameFile_IsRefused()
    {
        using var first = Open();
        var e = Assert.Throws<DaemonStartupException>(Open);
        Assert.Contains("in use by another vdpad", e.Message);
        first.Put(Net("net0")); // the first keeps working
        Assert.Single(first.Devices);
    }
}
