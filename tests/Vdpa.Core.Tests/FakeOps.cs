using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;

namespace Uvdpa.Vdpa.Core.Tests;

/// <summary>A minimal op table that records calls, for core/bus tests.</summary>
internal sealed class FakeOps(uint deviceId = 1, ushort numMax = 256, ushort numMin = 1) : VdpaConfigOps
{
    private byte _status;
    private ulong _driverFeatures;
    public List<string> Calls { get; } = [];
    public bool Freed { get; private set; }
    public byte[] Config { get; } = new byte[8];

    public override VdpaOptionalOps OptionalOps => VdpaOptionalOps.VqNumMin | VdpaOptionalOps.CompatReset;
    public override int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea) => 0;
    public override void SetVqNum(int index, uint num) { }
    public override void KickVq(int index) { }
    public override void SetVqCallback(int index, VdpaCallback? callback) { }
    public override void SetVqReady(int index, bool ready) { }
    public override bool GetVqReady(int index) => false;
    public override int SetVqState(int index, VqState state) => 0;
    public override int GetVqState(int index, out VqState state) { state = default; return 0; }
    public override uint GetVqAlign() => 4096;
    public override ushort GetVqNumMax() => numMax;
    public override ushort GetVqNumMin() => numMin;
    public override ulong GetDeviceFeatures() => VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.AccessPlatform);
    public override int SetDriverFeatures(ulong features) { Calls.Add($"set_driver_features {features:x}"); _driverFeatures = features; return 0; }
    public override ulong GetDriverFeatures() => _driverFeatures;
    public override void SetConfigCallback(VdpaCallback? callback) { }
    public override uint GetDeviceId() => deviceId;
    public override uint GetVendorId() => 0;
    public override byte GetStatus() => _status;
    public override void SetStatus(byte status) { Calls.Add($"set_status {status:x}"); _status = status; }
    public override int Reset() { Calls.Add("reset"); _status = 0; _driverFeatures = 0; return 0; }
    public override int CompatReset(uint flags) { Calls.Add($"compat_reset {flags}"); return Reset(); }
    public override int GetConfigSize() => Config.Length;
    public override void GetConfig(int offset, Span<byte> buffer) { Calls.Add("get_config"); Config.AsSpan(offset, buffer.Length).CopyTo(buffer); }
    public override void SetConfig(int offset, ReadOnlySpan<byte> buffer) => buffer.CopyTo(Config.AsSpan(offset));
    public override int BindMemory(GuestMemory memory) => 0;
    public override void Free() => Freed = true;
}

internal sealed class FakeManagementDevice(string name, string? bus = null, params VirtioDeviceId[] ids)
    : VdpaManagementDevice(name, bus, ids.Length == 0 ? [VirtioDeviceId.Net] : ids)
{
    public List<string> Deleted { get; } = [];

    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config)
    {
        var dev = new VdpaDevice(name, new FakeOps(), 3, this);
        bus.RegisterDevice(dev);
        return dev;
    }

    public override void DeleteDevice(VdpaBus bus, VdpaDevice device)
    {
        Deleted.Add(device.Name);
        bus.UnregisterDevice(device);
    }
}

internal sealed class FakeDriver(string name, Func<VdpaDevice, bool>? accept = null) : IVdpaBusDriver
{
    public string Name { get; } = name;
    public List<string> Log { get; } = [];

    public void Probe(VdpaDevice device, BindOptions options)
    {
        if (accept is not null && !accept(device)) throw new VdpaException(Errno.ENODEV, detail: "refused");
        Log.Add($"probe {device.Name} {string.Join(',', options.Values.Select(kv => kv.Key + "=" + kv.Value))}");
        device.AddExposure(new DeviceExposure(Name, device.Name));
    }

    public void Remove(VdpaDevice device) => Log.Add($"remove {device.Name}");
}
