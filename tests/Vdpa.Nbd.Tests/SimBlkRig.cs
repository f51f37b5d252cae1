using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>A bus with vdpasim_blk and virtio_vdpa; devices (RAM or file-backed) with an NBD server on a socketpair.</summary>
internal sealed class SimBlkRig : IDisposable
{
    private readonly List<string> _files = [];

    public SimBlkRig()
    {
        Bus.RegisterManagementDevice(Management);
        Bus.RegisterDriver(new VirtioVdpaDriver());
    }

    public VdpaBus Bus { get; } = new();

    public VdpaSimBlkManagementDevice Management { get; } = new();

    public VirtioBlkDevice AddRam(string name = "blk0", ulong? features = null)
    {
        var config = features is ulong f
            ? new DeviceConfigRequest { DeviceFeatures = f, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures) }
            : new DeviceConfigRequest();
        var dev = Bus.AddDevice(Management, name, config);
        return VirtioVdpaDriver.GetBlkDevice(dev) ?? throw new InvalidOperationException($"{name} is not bound as blk");
    }

    /// <summary>A temporary raw image of <paramref name="bytes"/> (zeros) and a device on it.</summary>
    public (VirtioBlkDevice Blk, string Path) AddFile(string name, long bytes)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"uvdpa-nbd-{Environment.ProcessId}-{name}-{Guid.NewGuid():N}.raw");
        using (var f = File.Create(path)) f.SetLength(bytes);
        _files.Add(path);
        var config = new DeviceConfigRequest { Options = new Dictionary<string, string> { [VdpaSimBlkManagementDevice.FileOption] = path } };
        var dev = Bus.AddDevice(Management, name, config);
        return (VirtioVdpaDriver.GetBlkDevice(dev) ?? throw new InvalidOperationException($"{name} is not bound as blk"), path);
    }

    /// <summary>Starts a server for <paramref name="blk"/> on one end of a socketpair; the client gets the other.</summary>
    public static (NbdServer Server, NbdTestClient Client) Serve(VirtioBlkDevice blk, NbdServerOptions? options = null)
    {
        var (a, b) = LinuxSockets.CreateStreamPair();
        return (NbdServer.Start(a, blk, options), new NbdTestClient(b));
    }

    internal static (NbdServer Server, NbdTestClient Client) Serve(INbdBlockTarget target, NbdServerOptions? options = null)
    {
        var (a, b) = LinuxSockets.CreateStreamPair();
        return (NbdServer.Start(a, target, options), new NbdTestClient(b));
    }

    public void Dispose()
    {
        foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
        foreach (var f in _files) File.Delete(f);
    }
}
