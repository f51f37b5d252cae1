using System.Collections.Concurrent;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vhost.User.Backend;

namespace Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;

/// <summary>Our back-end in process: a vdpasim_blk device (RAM, or file-backed) served by vhost_vdpa in a private socket directory.</summary>
internal sealed class OurBackend : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly BlockingCollection<Exception?> _ended = [];

    public OurBackend(string? imageFile = null)
    {
        Directory = Path.Combine(Path.GetTempPath(), "uvdpa-fe-" + Guid.NewGuid().ToString("N")[..8]);
        Driver = new VhostUserBusDriver();
        Driver.SessionEnded += (_, e) => _ended.Add(e);
        Bus.RegisterDriver(Driver);
        var mgmt = new VdpaSimBlkManagementDevice();
        Bus.RegisterManagementDevice(mgmt);
        var devOptions = new Dictionary<string, string>();
        if (imageFile is not null) devOptions[VdpaSimBlkManagementDevice.FileOption] = imageFile;
        Device = Bus.AddDevice(mgmt, "blk0", new DeviceConfigRequest { Options = devOptions }, VhostUserBusDriver.DriverName,
            new BindOptions(new Dictionary<string, string> { [VhostUserDriverOptions.DirectoryKey] = Directory }));
    }

    public VdpaBus Bus { get; } = new();
    public VhostUserBusDriver Driver { get; }
    public VdpaDevice Device { get; }
    public string Directory { get; }
    public string SocketPath => VhostUserBusDriver.SocketPath(Directory, Device.Name);

    /// <summary>The back-end's view of how the last session ended (null = clean end of stream).</summary>
    public Exception? WaitSessionEnded()
    {
        Assert.True(_ended.TryTake(out var e, Timeout), "the back-end's session did not end");
        return e;
    }

    public void Dispose()
    {
        if (Device.IsRegistered) Bus.DeleteDevice(Device.Name);
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
