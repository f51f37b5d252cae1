using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vhost.User.Backend;

namespace Uvdpa.Vhost.User.Tests.Infrastructure;

/// <summary>A simulator device bound to <see cref="VhostUserBusDriver"/> in a private socket directory.</summary>
internal sealed class DeviceFixture : IDisposable
{
    public static readonly byte[] Mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    private readonly System.Collections.Concurrent.BlockingCollection<Exception?> _ended = [];
    private readonly System.Collections.Concurrent.BlockingCollection<string> _refused = [];

    private DeviceFixture(bool blk, BindOptions? extra, string? imageFile = null)
    {
        Directory = Path.Combine(Path.GetTempPath(), "uvdpa-vu-" + Guid.NewGuid().ToString("N")[..8]);
        Bus = new VdpaBus();
        Driver = new VhostUserBusDriver();
        Driver.SessionEnded += (_, e) => _ended.Add(e);
        Driver.ConnectionRefused += (_, r) => _refused.Add(r);
        Bus.RegisterDriver(Driver);
        VdpaManagementDevice mgmt = blk ? new VdpaSimBlkManagementDevice() : new VdpaSimNetManagementDevice();
        Bus.RegisterManagementDevice(mgmt);
        var options = new Dictionary<string, string> { [VhostUserDriverOptions.DirectoryKey] = Directory };
        if (extra is not null) foreach (var kv in extra.Values) options[kv.Key] = kv.Value;
        var config = blk ? new DeviceConfigRequest { Options = imageFile is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [VdpaSimBlkManagementDevice.FileOption] = imageFile } }
            : new DeviceConfigRequest { Mac = Mac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) };
        Device = Bus.AddDevice(mgmt, blk ? "blk0" : "net0", config, VhostUserBusDriver.DriverName, new BindOptions(options));
        Assert.Same(Driver, Device.Driver);
    }

    public static DeviceFixture Net(BindOptions? extra = null) => new(false, extra);
    public static DeviceFixture Blk(BindOptions? extra = null) => new(true, extra);
    public static DeviceFixture BlkFile(string imageFile) => new(true, null, imageFile);

    public string Directory { get; }
    public VdpaBus Bus { get; }
    public VhostUserBusDriver Driver { get; }
    public VdpaDevice Device { get; }
    public string SocketPath => VhostUserBusDriver.SocketPath(Directory, Device.Name);

    public TestFrontend Connect() => new(SocketPath);

    /// <summary>Waits for the end of the current session and returns its error (null = clean).</summary>
    public Exception? WaitSessionEnded()
    {
        Assert.True(_ended.TryTake(out var e, TestFrontend.Timeout), "session did not end");
        return e;
    }

    public string WaitRefused()
    {
        Assert.True(_refused.TryTake(out var r, TestFrontend.Timeout), "connection was not refused");
        return r;
    }

    public void Dispose()
    {
        if (Device.IsRegistered) Bus.DeleteDevice(Device.Name);
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
