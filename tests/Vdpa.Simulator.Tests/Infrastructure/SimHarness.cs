using System.Diagnostics;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator.Tests.Infrastructure;

/// <summary>One driver-side virtqueue: the mock ring and how often the device called back.</summary>
internal sealed class DriverVq
{
    private int _callbacks;
    public required SplitDriverQueue Queue { get; init; }
    public required int Index { get; init; }
    public int Callbacks => Volatile.Read(ref _callbacks);
    public void OnCallback() => Interlocked.Increment(ref _callbacks);
}

/// <summary>
/// A simulator device driven exactly as virtio_vdpa does it (reset, ACK|DRIVER, features, FEATURES_OK, per queue
/// cb/num/address/state/ready, DRIVER_OK), with <see cref="SplitDriverQueue"/> as the driver over shared memory.
/// </summary>
internal sealed class SimHarness : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly bool _ownsGuest;

    private SimHarness(VdpaBus bus, VdpaManagementDevice? mgmt, VdpaDevice device, Guest guest, bool ownsGuest)
    {
        Bus = bus;
        _management = mgmt;
        Device = device;
        Guest = guest;
        _ownsGuest = ownsGuest;
        Assert.Equal(0, Ops.BindMemory(guest.Memory));
    }

    public VdpaBus Bus { get; }
    public VdpaManagementDevice Management => _management ?? throw new InvalidOperationException("unmanaged device");
    private readonly VdpaManagementDevice? _management;
    public VdpaDevice Device { get; }
    public VdpaConfigOps Ops => Device.Ops;
    public Guest Guest { get; }
    public DriverVq[] Vqs { get; private set; } = [];
    public int ConfigCallbacks;

    public static SimHarness Net(SimulatorOptions? options = null, DeviceConfigRequest? config = null, Guest? guest = null, string name = "net0")
    {
        var bus = new VdpaBus();
        var mgmt = new VdpaSimNetManagementDevice(options);
        bus.RegisterManagementDevice(mgmt);
        var dev = bus.AddDevice(mgmt, name, config ?? new DeviceConfigRequest());
        return new SimHarness(bus, mgmt, dev, guest ?? new Guest(), guest is null);
    }

    public static SimHarness Blk(SimulatorOptions? options = null, DeviceConfigRequest? config = null, VdpaSimBlkManagementDevice? mgmt = null, VdpaBus? bus = null, string name = "blk0")
    {
        bus ??= new VdpaBus();
        if (mgmt is null)
        {
            mgmt = new VdpaSimBlkManagementDevice(options);
            bus.RegisterManagementDevice(mgmt);
        }
        var dev = bus.AddDevice(mgmt, name, config ?? new DeviceConfigRequest());
        return new SimHarness(bus, mgmt, dev, new Guest(), true);
    }

    /// <summary>An unmanaged device around <paramref name="ops"/> (for fault injection).</summary>
    public static SimHarness Unmanaged(VdpaConfigOps ops, int numVqs)
    {
        var bus = new VdpaBus();
        var dev = new VdpaDevice("raw0", ops, numVqs, null);
        bus.RegisterDevice(dev);
        return new SimHarness(bus, null, dev, new Guest(), true);
    }

    public static ulong Bit(int b) => 1UL << b;

    /// <summary>virtio_vdpa probe. <paramref name="wanted"/> is intersected with the device features (ACCESS_PLATFORM added unless told not to).</summary>
    public int Start(ulong wanted, int queueSize = 256, bool addAccessPlatform = true, int? numVqs = null)
    {
        Device.Reset();
        Device.SetStatus((byte)DeviceStatus.Acknowledge);
        Device.SetStatus((byte)(DeviceStatus.Acknowledge | DeviceStatus.Driver));
        ulong features = Ops.GetDeviceFeatures() & wanted;
        if (addAccessPlatform) features |= Bit(VirtioFeatures.AccessPlatform);
        int err = Device.SetFeatures(features);
        if (err != 0) return err;
        Device.SetStatus((byte)(Device.GetStatus() | (byte)DeviceStatus.FeaturesOk));
        if ((Device.GetStatus() & (byte)DeviceStatus.FeaturesOk) == 0) return -Errno.ENODEV;

        int n = numVqs ?? Device.NumVqs;
        var vqs = new DriverVq[n];
        for (int i = 0; i < n; i++)
        {
            Assert.False(Ops.GetVqReady(i));
            var layout = SplitDriverQueue.Layout(queueSize, indirect: false, maxIndirectSegments: 0);
            var block = Guest.Alloc(layout.TotalBytes, 4096);
            var desc = new Iova(block.Value + (ulong)layout.DescriptorTableOffset);
            var avail = new Iova(block.Value + (ulong)layout.AvailOffset);
            var used = new Iova(block.Value + (ulong)layout.UsedOffset);
            var q = new SplitDriverQueue(queueSize, desc, avail, used, eventIndex: (Ops.GetDriverFeatures() & Bit(VirtioFeatures.RingEventIdx)) != 0);
            q.Initialize(Guest.View);
            var dvq = new DriverVq { Queue = q, Index = i };
            vqs[i] = dvq;
            Ops.SetVqCallback(i, new VdpaCallback(dvq.OnCallback));
            Ops.SetVqNum(i, (uint)queueSize);
            Assert.Equal(0, Ops.SetVqAddress(i, desc, avail, used));
            Assert.Equal(0, Ops.SetVqState(i, new VqState(0)));
            Ops.SetVqReady(i, true);
        }
        Vqs = vqs;
        Ops.SetConfigCallback(new VdpaCallback(() => Interlocked.Increment(ref ConfigCallbacks)));
        Device.SetStatus((byte)(Device.GetStatus() | (byte)DeviceStatus.DriverOk));
        return 0;
    }

    /// <summary>Adds one buffer and publishes it; kicks when <paramref name="kick"/> and the ring asks for it.</summary>
    public void Add(int vq, ReadOnlySpan<DescriptorSegment> segments, int token, bool kick = true)
    {
        var q = Vqs[vq].Queue;
        Assert.True(q.TryAdd(Guest.View, segments, token));
        bool notify = q.KickPrepare(Guest.View);
        if (kick && notify) Ops.KickVq(vq);
    }

    public void Kick(int vq) => Ops.KickVq(vq);

    /// <summary>Waits for one used buffer on <paramref name="vq"/>.</summary>
    public (int Token, uint Length) WaitUsed(int vq)
    {
        Assert.True(TryWaitUsed(vq, Timeout, out var token, out var len), $"no used buffer on vq {vq}");
        return (token, len);
    }

    public bool TryWaitUsed(int vq, TimeSpan timeout, out int token, out uint length)
    {
        // No Stopwatch: allocation tests measure the whole process, so the wait itself must not allocate.
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        int spins = 0;
        while (true)
        {
            if (Vqs[vq].Queue.TryGetUsed(Guest.View, out token, out length)) return true;
            if (Environment.TickCount64 > deadline) return false;
            if (++spins < 100) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    /// <summary>Waits until the device's worker is idle (all kicked work done).</summary>
    public void Quiesce()
    {
        var sim = (VdpaSimDevice)Ops;
        long deadline = Environment.TickCount64 + (long)Timeout.TotalMilliseconds;
        // Two consecutive idle observations, a little apart, so a requeue in between is not missed.
        while (Environment.TickCount64 < deadline)
        {
            if (sim.IsWorkIdle)
            {
                Thread.Sleep(5);
                if (sim.IsWorkIdle) return;
            }
            Thread.Sleep(1);
        }
        Assert.Fail("device work did not go idle");
    }

    public static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > Timeout) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(1);
        }
    }

    public Dictionary<string, ulong> Stats(int qidx)
    {
        var list = new List<VendorStat>();
        Assert.Equal(0, Ops.GetVendorVqStats(qidx, list));
        return list.ToDictionary(s => s.Name, s => s.Value);
    }

    public void Dispose()
    {
        if (Device.IsRegistered)
        {
            if (_management is null) Bus.UnregisterDevice(Device);
            else Bus.DeleteDevice(Device.Name);
        }
        if (_ownsGuest) Guest.Dispose();
    }
}
