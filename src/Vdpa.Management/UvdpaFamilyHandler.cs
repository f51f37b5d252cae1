using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management;

/// <summary>The "uvdpa" extension family (UvdpaFamily.md): strict validation for every command, as a new kernel family gets.</summary>
internal sealed class UvdpaFamilyHandler(NetlinkService service) : GenlFamilyHandler
{
    private const int DefaultFrameSize = 64;
    private const uint DefaultTimeoutMs = 5000;
    private const uint MaxFrameCount = 10_000_000;
    private const ushort TrafficEtherType = 0x88b5; // IEEE 802 local experimental

    private static readonly ConditionalWeakTable<VirtioNetDevice, object> TrafficLocks = [];

    private readonly VdpaBus _bus = service.Bus;

    private static readonly AttrPolicy[] UPolicy = BuildPolicy();

    /// <inheritdoc />
    public override GenlFamilyInfo Info { get; } = new(NetlinkService.UvdpaFamilyId, UvdpaGenlFamily.Name, UvdpaGenlFamily.Version, 0, UvdpaGenlFamily.MaxAttr,
    [
        new GenlOperation((uint)UvdpaGenlCommand.DevAdd, GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy),
        new GenlOperation((uint)UvdpaGenlCommand.DevSetDriver, GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy),
        new GenlOperation((uint)UvdpaGenlCommand.DevGet, GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapDump | GenlOpFlags.CmdCapHasPolicy),
        new GenlOperation((uint)UvdpaGenlCommand.QueueStats, GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy),
        new GenlOperation((uint)UvdpaGenlCommand.DevReset, GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy),
        new GenlOperation((uint)UvdpaGenlCommand.Traffic, GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy),
    ], []);

    /// <inheritdoc />
    public override int ReservedStartOp => 0;

    /// <inheritdoc />
    public override AttrPolicy[]? Policy(byte command, bool dump) => UPolicy;

    /// <inheritdoc />
    public override bool Strict(byte command, bool dump) => true;

    private static AttrPolicy[] BuildPolicy()
    {
        var p = new AttrPolicy[UvdpaGenlFamily.MaxAttr + 1];
        p[(int)UvdpaGenlAttr.DevName] = AttrPolicy.String;
        p[(int)UvdpaGenlAttr.MgmtdevBusName] = AttrPolicy.NulString;
        p[(int)UvdpaGenlAttr.MgmtdevDevName] = AttrPolicy.String;
        p[(int)UvdpaGenlAttr.Mac] = AttrPolicy.EthAddr;
        p[(int)UvdpaGenlAttr.Mtu] = new AttrPolicy(PolicyKind.U16, Min: 68);
        p[(int)UvdpaGenlAttr.MaxVqp] = AttrPolicy.U16;
        p[(int)UvdpaGenlAttr.DevFeatures] = AttrPolicy.U64;
        p[(int)UvdpaGenlAttr.DevOption] = AttrPolicy.String;
        p[(int)UvdpaGenlAttr.Driver] = AttrPolicy.String;
        p[(int)UvdpaGenlAttr.DriverOption] = AttrPolicy.String;
        p[(int)UvdpaGenlAttr.QueueIndex] = AttrPolicy.U32;
        p[(int)UvdpaGenlAttr.FrameCount] = AttrPolicy.U32;
        p[(int)UvdpaGenlAttr.FrameSize] = AttrPolicy.U32;
        p[(int)UvdpaGenlAttr.TrafficTarget] = AttrPolicy.U8;
        p[(int)UvdpaGenlAttr.TimeoutMs] = AttrPolicy.U32;
        return p;
    }

    /// <inheritdoc />
    public override int Doit(ref GenlRequest request, ReplyChannel reply) => (UvdpaGenlCommand)request.Genl.Command switch
    {
        UvdpaGenlCommand.DevAdd => DevAdd(ref request),
        UvdpaGenlCommand.DevSetDriver => DevSetDriver(ref request),
        UvdpaGenlCommand.DevGet => DevGet(ref request, reply),
        UvdpaGenlCommand.QueueStats => QueueStats(ref request, reply),
        UvdpaGenlCommand.DevReset => DevReset(ref request),
        UvdpaGenlCommand.Traffic => Traffic(ref request, reply),
        _ => Errno.EOPNOTSUPP,
    };

    /// <inheritdoc />
    public override void Dump(ref GenlRequest request, ReplyChannel reply)
    {
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        if ((UvdpaGenlCommand)request.Genl.Command != UvdpaGenlCommand.DevGet)
        {
            NetlinkService.SendDone(reply, seq, pid);
            return;
        }
        NetlinkService.RunDump(reply, seq, pid, (buffer, start) => _bus.WithLock(() =>
        {
            var w = new NetlinkWriter(buffer.AsSpan(0, NetlinkService.MaxDatagramSize));
            var devices = _bus.Devices;
            int idx = start;
            for (; idx < devices.Count; idx++)
                if (FillDetails(ref w, devices[idx], seq, pid, NetlinkMessageFlags.Multi) != 0) break;
            return (w.Position, idx);
        }));
    }

    // ---------------------------------------------------------------- helpers

    private static List<string> All(ref GenlRequest request, UvdpaGenlAttr type)
    {
        var list = new List<string>();
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(request.AttributeArea))
            if (a.Type == (ushort)type) list.Add(a.GetString());
        return list;
    }

    private static List<uint> AllU32(ref GenlRequest request, UvdpaGenlAttr type)
    {
        var list = new List<uint>();
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(request.AttributeArea))
            if (a.Type == (ushort)type) list.Add(a.GetU32());
        return list;
    }

    private static int ParseOptions(List<string> items, ExtAck extack, out Dictionary<string, string> options)
    {
        options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in items)
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                extack.Set($"uvdpa: option '{item}' is not key=value");
                return Errno.EINVAL;
            }
            options[item[..eq]] = item[(eq + 1)..];
        }
        return 0;
    }

    private static int WithReply(ReplyChannel reply, Func<byte[], (int Errno, int Length)> run)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkService.MaxDatagramSize);
        try
        {
            (int err, int length) = run(buffer);
            if (err != 0) return err;
            reply.Send(buffer.AsSpan(0, length));
            return 0;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int End(ref NetlinkWriter w, NetlinkMessageToken msg, int start)
    {
        if (w.EndMessage(msg)) return 0;
        w.Rewind(start);
        return Errno.EMSGSIZE;
    }

    // ---------------------------------------------------------------- DEV_ADD

    private int DevAdd(ref GenlRequest request)
    {
        var extack = request.ExtAck;
        if (!request.Has((int)UvdpaGenlAttr.DevName) || !request.Has((int)UvdpaGenlAttr.MgmtdevDevName))
        {
            extack.Set("uvdpa: device name and management device are required");
            return Errno.EINVAL;
        }
        int err = ParseOptions(All(ref request, UvdpaGenlAttr.DevOption), extack, out var devOptions);
        if (err != 0) return err;
        err = ParseOptions(All(ref request, UvdpaGenlAttr.DriverOption), extack, out var driverOptions);
        if (err != 0) return err;
        var definition = new DeviceDefinition
        {
            Name = request.GetString((int)UvdpaGenlAttr.DevName),
            ManagementBusName = request.Has((int)UvdpaGenlAttr.MgmtdevBusName) ? request.GetString((int)UvdpaGenlAttr.MgmtdevBusName) : null,
            ManagementDeviceName = request.GetString((int)UvdpaGenlAttr.MgmtdevDevName),
            Mac = request.Has((int)UvdpaGenlAttr.Mac) ? request.Payload((int)UvdpaGenlAttr.Mac).ToArray() : null,
            Mtu = request.Has((int)UvdpaGenlAttr.Mtu) ? request.GetU16((int)UvdpaGenlAttr.Mtu) : null,
            MaxVqPairs = request.Has((int)UvdpaGenlAttr.MaxVqp) ? request.GetU16((int)UvdpaGenlAttr.MaxVqp) : null,
            DeviceFeatures = request.Has((int)UvdpaGenlAttr.DevFeatures) ? request.GetU64((int)UvdpaGenlAttr.DevFeatures) : null,
            Options = devOptions,
            Driver = request.Has((int)UvdpaGenlAttr.Driver) && request.GetString((int)UvdpaGenlAttr.Driver).Length > 0 ? request.GetString((int)UvdpaGenlAttr.Driver) : null,
            DriverOptions = driverOptions,
        };
        if (definition.MaxVqPairs == 0)
        {
            extack.SetVdpa("At least one pair of VQs is required");
            return Errno.EINVAL;
        }
        return _bus.WithLock(() =>
        {
            if (definition.Name.Length == 0) return Errno.EINVAL;
            if (!_bus.TryFindManagementDevice(definition.ManagementBusName, definition.ManagementDeviceName, out var mgmt))
            {
                extack.SetVdpa("Fail to find the specified management device");
                return Errno.ENODEV;
            }
            var config = DeviceFactory.ToRequest(definition);
            if ((config.Mask & mgmt.ConfigAttrMask) != config.Mask)
            {
                extack.SetVdpaFormatted($"Some provided attributes are not supported: 0x{config.Mask & ~mgmt.ConfigAttrMask:x}");
                return Errno.EOPNOTSUPP;
            }
            if (definition.Driver is not null && _bus.Drivers.All(d => d.Name != definition.Driver))
            {
                extack.Set($"uvdpa: no driver {definition.Driver}");
                return Errno.ENODEV;
            }
            try
            {
                var device = DeviceFactory.Add(_bus, mgmt, definition, config);
                DeviceFactory.Remember(device, definition);
            }
            catch (VdpaException e)
            {
                if (e.Extack is not null) extack.Set(e.Extack);
                return e.Errno;
            }
            service.StorePut(definition, extack);
            return 0;
        });
    }

    // ---------------------------------------------------------------- DEV_SET_DRIVER

    private int DevSetDriver(ref GenlRequest request)
    {
        var extack = request.ExtAck;
        if (!request.Has((int)UvdpaGenlAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)UvdpaGenlAttr.DevName);
        string? driver = request.Has((int)UvdpaGenlAttr.Driver) ? request.GetString((int)UvdpaGenlAttr.Driver) : null;
        if (driver is { Length: 0 }) driver = null;
        int err = ParseOptions(All(ref request, UvdpaGenlAttr.DriverOption), extack, out var options);
        if (err != 0) return err;
        return _bus.WithLock(() =>
        {
            int e = DeviceLookup.Find(_bus, name, extack, "unmanaged vdpa device", out var dev);
            if (e != 0) return e;
            try
            {
                _bus.Rebind(name, driver, new BindOptions(options));
            }
            catch (VdpaException x)
            {
                extack.Set(x.Extack ?? $"uvdpa: {x.Message}");
                return x.Errno;
            }
            var definition = DeviceFactory.DefinitionOf(dev) with { Driver = driver, DriverOptions = options };
            DeviceFactory.Remember(dev, definition);
            service.StorePut(definition, extack);
            return 0;
        });
    }

    // ---------------------------------------------------------------- DEV_GET

    private int DevGet(ref GenlRequest request, ReplyChannel reply)
    {
        if (!request.Has((int)UvdpaGenlAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)UvdpaGenlAttr.DevName);
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int err = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (err != 0) return (err, 0);
            var w = new NetlinkWriter(buffer.AsSpan(0, NetlinkService.MaxDatagramSize));
            err = FillDetails(ref w, dev, seq, pid, NetlinkMessageFlags.None);
            return (err, w.Position);
        }));
    }

    private readonly record struct DetailSnapshot(uint DeviceId, byte Status, ulong DeviceFeatures, ulong DriverFeatures, bool FeaturesValid);

    private static int FillDetails(ref NetlinkWriter w, VdpaDevice dev, uint seq, uint pid, NetlinkMessageFlags flags)
    {
        var snap = dev.WithConfigLock(d => new DetailSnapshot(d.Ops.GetDeviceId(), d.Ops.GetStatus(), d.Ops.GetDeviceFeatures(), d.Ops.GetDriverFeatures(), d.FeaturesValid));
        int start = w.Position;
        var msg = w.BeginMessage(NetlinkService.UvdpaFamilyId, flags, seq, pid);
        w.PutGenlHeader((byte)UvdpaGenlCommand.DevGet, UvdpaGenlFamily.Version);
        w.PutString((ushort)UvdpaGenlAttr.DevName, dev.Name);
        if (dev.ManagementDevice is { } m)
        {
            if (m.BusName is not null) w.PutString((ushort)UvdpaGenlAttr.MgmtdevBusName, m.BusName);
            w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, m.Name);
        }
        w.PutU32((ushort)UvdpaGenlAttr.DevId, snap.DeviceId);
        w.PutU32((ushort)UvdpaGenlAttr.BusIndex, (uint)Math.Max(dev.Index, 0));
        w.PutU32((ushort)UvdpaGenlAttr.NumVqs, (uint)dev.NumVqs);
        if (dev.Driver is { } drv) w.PutString((ushort)UvdpaGenlAttr.BoundDriver, drv.Name);
        if (dev.DriverOverride is not null) w.PutString((ushort)UvdpaGenlAttr.DriverOverride, dev.DriverOverride);
        foreach (var kv in dev.BindOptions.Values) w.PutString((ushort)UvdpaGenlAttr.DriverOption, $"{kv.Key}={kv.Value}");
        foreach (var e in dev.Exposures)
        {
            var n = w.BeginNested((ushort)UvdpaGenlAttr.Exposure);
            w.PutString((ushort)UvdpaGenlAttr.ExposureKind, e.Kind);
            w.PutString((ushort)UvdpaGenlAttr.ExposureLocation, e.Location);
            w.EndNested(n);
        }
        w.PutU8((ushort)UvdpaGenlAttr.Status, snap.Status);
        w.PutU8((ushort)UvdpaGenlAttr.FeaturesValid, snap.FeaturesValid ? (byte)1 : (byte)0);
        w.PutU64((ushort)UvdpaGenlAttr.DeviceFeatures, snap.DeviceFeatures);
        w.PutU64((ushort)UvdpaGenlAttr.NegotiatedFeatures, snap.DriverFeatures);
        foreach (int q in dev.Ops.BrokenQueues) w.PutU32((ushort)UvdpaGenlAttr.BrokenQueue, (uint)q);
        return End(ref w, msg, start);
    }

    // ---------------------------------------------------------------- QUEUE_STATS

    private sealed record QueueCounters(int Index, int Errno, List<VendorStat> Counters);

    private int QueueStats(ref GenlRequest request, ReplyChannel reply)
    {
        if (!request.Has((int)UvdpaGenlAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)UvdpaGenlAttr.DevName);
        uint? only = request.Has((int)UvdpaGenlAttr.QueueIndex) ? request.GetU32((int)UvdpaGenlAttr.QueueIndex) : null;
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int err = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (err != 0) return (err, 0);
            if (only is uint q && q >= (uint)dev.NumVqs)
            {
                extack.Set("uvdpa: queue index exceeds the number of queues");
                return (Errno.ERANGE, 0);
            }
            var queues = dev.WithConfigLock(d =>
            {
                var list = new List<QueueCounters>();
                for (int i = 0; i < d.NumVqs; i++)
                {
                    if (only is uint o && o != (uint)i) continue;
                    var counters = new List<VendorStat>();
                    int ret = d.Ops.GetQueueCounters(i, counters);
                    list.Add(new QueueCounters(i, ret < 0 ? -ret : 0, counters));
                }
                return list;
            });
            var w = new NetlinkWriter(buffer.AsSpan(0, NetlinkService.MaxDatagramSize));
            var msg = w.BeginMessage(NetlinkService.UvdpaFamilyId, NetlinkMessageFlags.None, seq, pid);
            w.PutGenlHeader((byte)UvdpaGenlCommand.QueueStats, UvdpaGenlFamily.Version);
            w.PutString((ushort)UvdpaGenlAttr.DevName, dev.Name);
            w.PutU32((ushort)UvdpaGenlAttr.DevId, dev.Ops.GetDeviceId());
            foreach (var qc in queues)
            {
                var qn = w.BeginNested((ushort)UvdpaGenlAttr.Queue);
                w.PutU32((ushort)UvdpaGenlAttr.QueueIndex, (uint)qc.Index);
                if (qc.Errno != 0) w.PutU32((ushort)UvdpaGenlAttr.Errno, (uint)qc.Errno);
                foreach (var c in qc.Counters)
                {
                    var cn = w.BeginNested((ushort)UvdpaGenlAttr.Counter);
                    w.PutString((ushort)UvdpaGenlAttr.CounterName, c.Name);
                    w.PutU64((ushort)UvdpaGenlAttr.CounterValue, c.Value);
                    w.EndNested(cn);
                }
                w.EndNested(qn);
            }
            return (End(ref w, msg, 0), w.Position);
        }));
    }

    // ---------------------------------------------------------------- DEV_RESET

    private int DevReset(ref GenlRequest request)
    {
        if (!request.Has((int)UvdpaGenlAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)UvdpaGenlAttr.DevName);
        var extack = request.ExtAck;
        return _bus.WithLock(() =>
        {
            int err = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (err != 0) return err;
            _bus.Unbind(name);
            if (dev.Driver is null) dev.Reset(); // nothing was bound: reset the device itself (vdpa_reset)
            _bus.Probe(name);
            return 0;
        });
    }

    // ---------------------------------------------------------------- TRAFFIC

    private int Traffic(ref GenlRequest request, ReplyChannel reply)
    {
        var extack = request.ExtAck;
        if (!request.Has((int)UvdpaGenlAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)UvdpaGenlAttr.DevName);
        uint count = request.Has((int)UvdpaGenlAttr.FrameCount) ? request.GetU32((int)UvdpaGenlAttr.FrameCount) : 1;
        var sizes = AllU32(ref request, UvdpaGenlAttr.FrameSize);
        if (sizes.Count == 0) sizes.Add(DefaultFrameSize);
        var target = request.Has((int)UvdpaGenlAttr.TrafficTarget) ? (UvdpaTrafficDestination)request.GetU8((int)UvdpaGenlAttr.TrafficTarget) : UvdpaTrafficDestination.OwnMac;
        uint timeoutMs = request.Has((int)UvdpaGenlAttr.TimeoutMs) ? request.GetU32((int)UvdpaGenlAttr.TimeoutMs) : DefaultTimeoutMs;
        if (target is < UvdpaTrafficDestination.OwnMac or > UvdpaTrafficDestination.Both)
        {
            extack.Set("uvdpa: traffic target must be 1 (own MAC), 2 (broadcast) or 3 (both)");
            return Errno.EINVAL;
        }
        if (count > MaxFrameCount)
        {
            extack.Set($"uvdpa: at most {MaxFrameCount} frames");
            return Errno.ERANGE;
        }

        VirtioNetDevice? net = null;
        int err = _bus.WithLock(() =>
        {
            int e = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (e != 0) return e;
            net = dev.Driver?.Name == VirtioVdpaDriver.DriverName ? VirtioVdpaDriver.GetNetDevice(dev) : null;
            if (net is null)
            {
                extack.Set("uvdpa: device is not a net device bound to virtio_vdpa");
                return Errno.EOPNOTSUPP;
            }
            return 0;
        });
        if (err != 0) return err;
        foreach (uint s in sizes)
        {
            if (s < VirtioNetDevice.EthernetHeaderLength || s > (uint)net!.MaxFrameLength)
            {
                extack.Set($"uvdpa: frame size {s} out of range {VirtioNetDevice.EthernetHeaderLength}..{net!.MaxFrameLength}");
                return Errno.ERANGE;
            }
        }

        object gate = TrafficLocks.GetValue(net!, _ => new object());
        if (!Monitor.TryEnter(gate))
        {
            extack.Set($"uvdpa: traffic is already running on {name}");
            return Errno.EBUSY;
        }
        TrafficResult result;
        try
        {
            result = RunTraffic(net!, count, sizes, target, TimeSpan.FromMilliseconds(timeoutMs));
        }
        catch (VirtioDeviceRemovedException)
        {
            extack.Set($"uvdpa: {name} was removed during the traffic run");
            return Errno.ENODEV;
        }
        finally
        {
            Monitor.Exit(gate);
        }

        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        Span<byte> buf = stackalloc byte[NetlinkService.MaxDatagramSize];
        var w = new NetlinkWriter(buf);
        var msg = w.BeginMessage(NetlinkService.UvdpaFamilyId, NetlinkMessageFlags.None, seq, pid);
        w.PutGenlHeader((byte)UvdpaGenlCommand.Traffic, UvdpaGenlFamily.Version);
        w.PutString((ushort)UvdpaGenlAttr.DevName, name);
        w.PutU32((ushort)UvdpaGenlAttr.Sent, result.Sent);
        w.PutU32((ushort)UvdpaGenlAttr.Received, result.Received);
        w.PutU32((ushort)UvdpaGenlAttr.Verified, result.Verified);
        w.PutU64((ushort)UvdpaGenlAttr.ElapsedNs, result.ElapsedNs);
        if (!w.EndMessage(msg)) return Errno.EMSGSIZE;
        reply.Send(w.WrittenSpan);
        return 0;
    }

    private readonly record struct TrafficResult(uint Sent, uint Received, uint Verified, ulong ElapsedNs);

    /// <summary>Sends each frame and waits for it to loop back (the simulator keeps order), comparing byte for byte.</summary>
    private static TrafficResult RunTraffic(VirtioNetDevice net, uint count, List<uint> sizes, UvdpaTrafficDestination target, TimeSpan timeout)
    {
        byte[] own = net.MacAddress.GetAddressBytes();
        int max = (int)sizes.Max();
        byte[] frame = new byte[max];
        byte[] rx = new byte[net.MaxFrameLength];
        uint sent = 0, received = 0, verified = 0;
        using var cts = new CancellationTokenSource(timeout);
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            for (uint i = 0; i < count; i++)
            {
                int size = (int)sizes[(int)(i % (uint)sizes.Count)];
                bool broadcast = target == UvdpaTrafficDestination.Broadcast || (target == UvdpaTrafficDestination.Both && (i & 1) == 1);
                BuildFrame(frame.AsSpan(0, size), broadcast ? null : own, own, i);
                net.SendAsync(frame.AsMemory(0, size), cts.Token).AsTask().GetAwaiter().GetResult();
                sent++;
                int n = net.ReceiveAsync(rx, cts.Token).AsTask().GetAwaiter().GetResult();
                received++;
                if (rx.AsSpan(0, n).SequenceEqual(frame.AsSpan(0, size))) verified++;
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out: report what was done so far.
        }
        ulong ns = (ulong)(Stopwatch.GetElapsedTime(t0).Ticks * 100);
        return new TrafficResult(sent, received, verified, ns);
    }

    private static void BuildFrame(Span<byte> frame, byte[]? destination, byte[] source, uint sequence)
    {
        if (destination is null) frame[..6].Fill(0xff);
        else destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], TrafficEtherType);
        for (int j = 14; j < frame.Length; j++) frame[j] = (byte)(sequence + (uint)j);
        if (frame.Length >= 18) BinaryPrimitives.WriteUInt32BigEndian(frame[14..], sequence);
    }
}
