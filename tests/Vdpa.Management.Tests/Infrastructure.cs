using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;
using CoreMgmt = Uvdpa.Vdpa.Core.VdpaManagementDevice;
using Errno = Uvdpa.Vdpa.Netlink.Errno;

namespace Uvdpa.Vdpa.Management.Tests;

/// <summary>Collects reply datagrams (checking the size limit of every one).</summary>
internal sealed class CollectingSink : INetlinkReplySink
{
    public List<byte[]> Datagrams { get; } = [];

    public bool Send(ReadOnlySpan<byte> datagram)
    {
        Assert.True(datagram.Length <= NetlinkService.MaxDatagramSize, $"datagram of {datagram.Length} bytes");
        Datagrams.Add(datagram.ToArray());
        return true;
    }
}

/// <summary>An in-memory INetlinkTransport whose peer is a NetlinkService.</summary>
internal sealed class LoopbackTransport(NetlinkService service, PeerCredentials peer) : INetlinkTransport, INetlinkReplySink
{
    private readonly Queue<byte[]> _pending = new();
    private byte[] _last = [];

    public int ReceiveBufferSize => NetlinkService.MaxDatagramSize;

    public NetlinkAckOptions AckOptions => NetlinkAckOptions.Iproute2;

    public List<byte[]> Received { get; } = [];

    public void Send(ReadOnlySpan<byte> datagram) => service.HandleDatagram(datagram, peer, this);

    public ReadOnlySpan<byte> Receive()
    {
        if (!_pending.TryDequeue(out byte[]? d)) throw new NetlinkTransportException("no reply queued", Errno.ETIMEDOUT);
        _last = d;
        return _last;
    }

    bool INetlinkReplySink.Send(ReadOnlySpan<byte> datagram)
    {
        Assert.True(datagram.Length <= NetlinkService.MaxDatagramSize);
        byte[] copy = datagram.ToArray();
        _pending.Enqueue(copy);
        Received.Add(copy);
        return true;
    }

    public void Dispose() { }
}

/// <summary>A "vduse"-like management device: net and block classes, nothing else filled in (as in the capture VM).</summary>
internal sealed class FakeVduse() : CoreMgmt("vduse", null, [VirtioDeviceId.Net, VirtioDeviceId.Block])
{
    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config) => throw new VdpaException(Errno.EINVAL);

    public override void DeleteDevice(VdpaBus bus, VdpaDevice device) => bus.UnregisterDevice(device);
}

/// <summary>A management device with a bus name (pci/0000:65:00.2 style) and every provisioning attribute.</summary>
internal sealed class FakePciMgmt(string name, string bus, params VirtioDeviceId[] ids) : CoreMgmt(name, bus, ids)
{
    public override ulong ConfigAttrMask => VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) | VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu)
        | VdpaConfigAttr.Bit(VdpaConfigAttr.NetMaxVqp) | VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures);

    public List<DeviceConfigRequest> Requests { get; } = [];

    public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config)
    {
        Requests.Add(config);
        var dev = new VdpaDevice(name, new FakeOps(), 3, this);
        bus.RegisterDevice(dev);
        return dev;
    }

    public override void DeleteDevice(VdpaBus bus, VdpaDevice device) => bus.UnregisterDevice(device);
}

/// <summary>Minimal ops for unmanaged / fake devices.</summary>
internal sealed class FakeOps(uint deviceId = 1) : VdpaConfigOps
{
    private byte _status;
    private ulong _driverFeatures;

    public override VdpaOptionalOps OptionalOps => VdpaOptionalOps.None;
    public override int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea) => 0;
    public override void SetVqNum(int index, uint num) { }
    public override void KickVq(int index) { }
    public override void SetVqCallback(int index, VdpaCallback? callback) { }
    public override void SetVqReady(int index, bool ready) { }
    public override bool GetVqReady(int index) => false;
    public override int SetVqState(int index, VqState state) => 0;
    public override int GetVqState(int index, out VqState state) { state = default; return 0; }
    public override uint GetVqAlign() => 4096;
    public override ushort GetVqNumMax() => 256;
    public override ulong GetDeviceFeatures() => VirtioFeatures.Bit(VirtioFeatures.Version1);
    public override int SetDriverFeatures(ulong features) { _driverFeatures = features; return 0; }
    public override ulong GetDriverFeatures() => _driverFeatures;
    public override void SetConfigCallback(VdpaCallback? callback) { }
    public override uint GetDeviceId() => deviceId;
    public override uint GetVendorId() => 0;
    public override byte GetStatus() => _status;
    public override void SetStatus(byte status) => _status = status;
    public override int Reset() { _status = 0; return 0; }
    public override int GetConfigSize() => 96;
    public override void GetConfig(int offset, Span<byte> buffer) => buffer.Clear();
    public override void SetConfig(int offset, ReadOnlySpan<byte> buffer) { }
    public override int BindMemory(GuestMemory memory) => 0;
}

/// <summary>Records store calls.</summary>
internal sealed class RecordingStore : IDeviceStore
{
    public List<string> Log { get; } = [];
    public Dictionary<string, DeviceDefinition> State { get; } = [];

    public void Put(DeviceDefinition definition)
    {
        lock (Log)
        {
            Log.Add("put " + definition.Name);
            State[definition.Name] = definition;
        }
    }

    public void Remove(string name)
    {
        lock (Log)
        {
            Log.Add("remove " + name);
            State.Remove(name);
        }
    }
}

/// <summary>The capture VM: vdpa_sim_net, vdpa_sim_blk, vduse and virtio_vdpa loaded, in that order.</summary>
internal sealed class TestStack : IDisposable
{
    public static readonly PeerCredentials Root = new(1, 0, 0);
    public static readonly PeerCredentials User = new(Environment.ProcessId, 4242, 4242);

    public TestStack(bool withDriver = true, ManagementOptions? options = null)
    {
        Bus.RegisterManagementDevice(Net);
        Bus.RegisterManagementDevice(Blk);
        Bus.RegisterManagementDevice(Vduse);
        if (withDriver) Bus.RegisterDriver(new VirtioVdpaDriver());
        Service = new NetlinkService(Bus, options ?? new ManagementOptions { Store = Store });
    }

    public VdpaBus Bus { get; } = new();
    public VdpaSimNetManagementDevice Net { get; } = new();
    public VdpaSimBlkManagementDevice Blk { get; } = new();
    public FakeVduse Vduse { get; } = new();
    public RecordingStore Store { get; } = new();
    public NetlinkService Service { get; }

    public VdpaClient Client(PeerCredentials? peer = null, uint seq = 1000) =>
        VdpaClient.Connect(new LoopbackTransport(Service, peer ?? Root), new VdpaClientOptions { SequenceSource = () => seq });

    public VdpaClient UvdpaClient(PeerCredentials? peer = null) =>
        VdpaClient.Connect(new LoopbackTransport(Service, peer ?? Root), new VdpaClientOptions { FamilyName = UvdpaGenlFamily.Name, SequenceSource = () => 7 });

    /// <summary>Sends raw bytes, returns the reply datagrams.</summary>
    public List<byte[]> Raw(ReadOnlySpan<byte> datagram, PeerCredentials? peer = null)
    {
        var sink = new CollectingSink();
        Service.HandleDatagram(datagram, peer ?? Root, sink);
        return sink.Datagrams;
    }

    public void Dispose()
    {
        foreach (var d in Bus.Devices)
        {
            try { Bus.DeleteDevice(d.Name); } catch (VdpaException) { }
        }
    }
}

internal static class Wire
{
    /// <summary>Builds one vdpa/uvdpa request message.</summary>
    public static byte[] Request(ushort family, byte cmd, NetlinkMessageFlags flags, NetlinkAttributeWriterCallback? attrs = null, uint seq = 1, ushort reserved = 0)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            var m = w.BeginMessage(family, flags, seq, 0);
            w.PutGenlHeader(cmd, 0, reserved);
            attrs?.Invoke(ref w);
            w.EndMessage(m);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    public const NetlinkMessageFlags Do = NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack;
    public const NetlinkMessageFlags Dump = Do | NetlinkMessageFlags.Dump;

    /// <summary>Parses an NLMSG_ERROR datagram: errno (positive), message TLV, offset TLV, policy TLV bytes.</summary>
    public static (int Errno, string? Message, uint? Offset, byte[]? Policy, NetlinkMessageFlags Flags) Error(byte[] datagram)
    {
        var h = NlMsgHeader.Read(datagram);
        Assert.Equal(NetlinkMessageType.Error, h.Type);
        int err = -MemoryMarshal.Read<int>(datagram.AsSpan(16));
        string? msg = null;
        uint? off = null;
        byte[]? pol = null;
        int tlvStart = 16 + 4 + 16;
        if ((h.Flags & NetlinkMessageFlags.Capped) == 0) tlvStart = 16 + 4 + (int)MemoryMarshal.Read<uint>(datagram.AsSpan(20));
        if ((h.Flags & NetlinkMessageFlags.AckTlvs) != 0)
        {
            foreach (NetlinkAttribute a in NetlinkParser.Attributes(datagram.AsSpan(tlvStart, (int)h.Length - tlvStart)))
            {
                switch ((NetlinkErrorAttribute)a.Type)
                {
                    case NetlinkErrorAttribute.Message: msg = a.GetString(); break;
                    case NetlinkErrorAttribute.Offset: off = a.GetU32(); break;
                    case NetlinkErrorAttribute.Policy: pol = a.Payload.ToArray(); break;
                }
            }
        }
        return (err, msg, off, pol, h.Flags);
    }
}

/// <summary>A bus driver that accepts everything and records an exposure.</summary>
internal sealed class RecordingDriver(string name) : IVdpaBusDriver
{
    public string Name { get; } = name;
    public List<string> Log { get; } = [];

    public void Probe(VdpaDevice device, BindOptions options)
    {
        Log.Add($"probe {device.Name} {string.Join(',', options.Values.Select(kv => kv.Key + "=" + kv.Value))}");
        device.AddExposure(new DeviceExposure("test", "/run/" + device.Name));
    }

    public void Remove(VdpaDevice device) => Log.Add($"remove {device.Name}");
}
