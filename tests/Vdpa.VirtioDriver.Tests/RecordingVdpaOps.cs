using System.Globalization;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>
/// A vDPA parent that logs every op call ("set_status 0x3", "set_vq_num 0 256", ...) and behaves like a minimal device:
/// status/features/vq state are stored, reset clears them. Knobs make it refuse FEATURES_OK, fail set_driver_features,
/// report a vq size of 0, bump the config generation, and (with <see cref="RequestHandler"/>) serve requests from
/// the rings on the thread pool, completing them with whatever the handler wrote.
/// </summary>
internal sealed class RecordingVdpaOps : VdpaConfigOps
{
    private readonly object _lock = new();
    private readonly List<string> _log = [];
    private readonly bool[] _ready;
    private readonly uint[] _num;
    private readonly (Iova Desc, Iova Avail, Iova Used)[] _addr;
    private readonly VdpaCallback?[] _callbacks;
    private readonly SplitDeviceQueue[] _deviceQueues;
    private byte _status;
    private ulong _driverFeatures;
    private DmaSpace? _space;

    public RecordingVdpaOps(uint deviceId, ulong deviceFeatures, int numVqs, int configSize)
    {
        DeviceId = deviceId;
        DeviceFeatures = deviceFeatures;
        NumVqs = numVqs;
        Config = new byte[configSize];
        _ready = new bool[numVqs];
        _num = new uint[numVqs];
        _addr = new (Iova, Iova, Iova)[numVqs];
        _callbacks = new VdpaCallback?[numVqs];
        _deviceQueues = new SplitDeviceQueue[numVqs];
        for (int i = 0; i < numVqs; i++) _deviceQueues[i] = new SplitDeviceQueue(32768);
    }

    public uint DeviceId { get; set; }
    public ulong DeviceFeatures { get; set; }
    public int NumVqs { get; }
    public byte[] Config { get; }
    public ushort NumMax { get; set; } = 256;
    public bool RefuseFeaturesOk { get; set; }
    public int SetFeaturesResult { get; set; }
    public int SetVqStateResult { get; set; }
    public Func<int, ushort>? VqSize { get; set; }
    public int GenerationBumps { get; set; }
    public VdpaOptionalOps Optional { get; set; } = VdpaOptionalOps.Generation;
    public VdpaCallback? ConfigCallback { get; private set; }
    public GuestMemory? BoundMemory { get; private set; }
    public int Kicks;
    private uint _generation;

    /// <summary>Serves one popped request: returns the used length, or null to keep it pending (never complete).</summary>
    public Func<int, DescriptorChain, DmaView, uint?>? RequestHandler { get; set; }

    /// <summary>Chains the handler saw (copies of the segments).</summary>
    public List<(int Queue, DescriptorSegment[] Segments)> Requests { get; } = [];

    public string[] Log { get { lock (_lock) return [.. _log]; } }

    public void ClearLog() { lock (_lock) _log.Clear(); }

    public byte Status { get { lock (_lock) return _status; } }

    public bool IsReady(int i) { lock (_lock) return _ready[i]; }

    public uint Num(int i) { lock (_lock) return _num[i]; }

    public void RaiseConfigChange() => ConfigCallback?.Invoke();

    private void Add(string entry) { lock (_lock) _log.Add(entry); }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    public override VdpaOptionalOps OptionalOps => Optional | (VqSize is null ? 0 : VdpaOptionalOps.VqSize);

    public override int SetVqAddress(int index, Iova descArea, Iova driverArea, Iova deviceArea)
    {
        Add($"set_vq_address {index}");
        lock (_lock) _addr[index] = (descArea, driverArea, deviceArea);
        return 0;
    }

    public override void SetVqNum(int index, uint num)
    {
        Add($"set_vq_num {index} {num}");
        lock (_lock) _num[index] = num;
    }

    public override void KickVq(int index)
    {
        Interlocked.Increment(ref Kicks);
        if (RequestHandler is null) return;
        ThreadPool.QueueUserWorkItem(_ => Serve(index));
    }

    private void Serve(int index)
    {
        lock (_lock)
        {
            if (!_ready[index] || _space is null || (_status & (byte)DeviceStatus.DriverOk) == 0) return;
            using var lease = _space.Acquire();
            var q = _deviceQueues[index];
            var chain = new DescriptorChain(32768);
            bool completed = false;
            while (q.TryPop(lease.View, chain) == PopStatus.Chain)
            {
                Requests.Add((index, chain.Segments.ToArray()));
                uint? len = RequestHandler!(index, chain, lease.View);
                if (len is { } l)
                {
                    q.TryPushUsed(lease.View, chain.Head, l);
                    completed = true;
                }
            }
            if (!completed) return;
        }
        _callbacks[index]?.Invoke();
    }

    /// <summary>Completes a request the handler left pending.</summary>
    public void CompleteLater(int index, ushort head, uint length)
    {
        lock (_lock)
        {
            using var lease = _space!.Acquire();
            _deviceQueues[index].TryPushUsed(lease.View, head, length);
        }
        _callbacks[index]?.Invoke();
    }

    public override void SetVqCallback(int index, VdpaCallback? callback)
    {
        Add($"set_vq_cb {index}");
        lock (_lock) _callbacks[index] = callback;
    }

    public override void SetVqReady(int index, bool ready)
    {
        Add($"set_vq_ready {index} {(ready ? 1 : 0)}");
        lock (_lock)
        {
            _ready[index] = ready;
            var q = _deviceQueues[index];
            if (ready)
            {
                q.Size = (int)_num[index];
                q.SetAddresses(_addr[index].Desc, _addr[index].Avail, _addr[index].Used);
                q.IndirectDescriptors = true;
                q.EventIndex = (_driverFeatures & (1UL << VirtioFeatures.RingEventIdx)) != 0;
                q.Ready = true;
            }
            else
            {
                q.Ready = false;
            }
        }
    }

    public bool ReadyAlready { get; set; }

    public override bool GetVqReady(int index)
    {
        Add($"get_vq_ready {index}");
        lock (_lock) return _ready[index] || ReadyAlready;
    }

    public override int SetVqState(int index, VqState state)
    {
        Add($"set_vq_state {index} {state.AvailIndex}");
        if (SetVqStateResult == 0) lock (_lock) _deviceQueues[index].LastAvailIndex = state.AvailIndex;
        return SetVqStateResult;
    }

    public override int GetVqState(int index, out VqState state)
    {
        Add($"get_vq_state {index}");
        state = default;
        return 0;
    }

    public override uint GetVqAlign() { Add("get_vq_align"); return 4096; }

    public override ushort GetVqNumMax() { Add("get_vq_num_max"); return NumMax; }

    public override ushort GetVqSize(int index) { Add($"get_vq_size {index}"); return VqSize!(index); }

    public override ulong GetDeviceFeatures() { Add("get_device_features"); return DeviceFeatures; }

    public override int SetDriverFeatures(ulong features)
    {
        Add($"set_driver_features {Hex(features)}");
        if (SetFeaturesResult != 0) return SetFeaturesResult;
        lock (_lock) _driverFeatures = features;
        return 0;
    }

    public override ulong GetDriverFeatures() { lock (_lock) return _driverFeatures; }

    public override void SetConfigCallback(VdpaCallback? callback)
    {
        Add("set_config_cb");
        ConfigCallback = callback;
    }

    public override uint GetDeviceId() { Add("get_device_id"); return DeviceId; }

    public override uint GetVendorId() { Add("get_vendor_id"); return 0x1af4; }

    public override byte GetStatus()
    {
        Add("get_status");
        lock (_lock) return _status;
    }

    public override void SetStatus(byte status)
    {
        Add($"set_status {Hex(status)}");
        lock (_lock)
        {
            if (RefuseFeaturesOk) status &= unchecked((byte)~DeviceStatus.FeaturesOk);
            _status = status;
        }
    }

    public override int Reset()
    {
        Add("reset");
        lock (_lock)
        {
            _status = 0;
            _driverFeatures = 0;
            for (int i = 0; i < NumVqs; i++)
            {
                _ready[i] = false;
                _callbacks[i] = null;
                _deviceQueues[i].Reset();
            }
            ConfigCallback = null;
            _generation++;
        }
        return 0;
    }

    public override int GetConfigSize() => Config.Length;

    public override void GetConfig(int offset, Span<byte> buffer)
    {
        Add($"get_config {offset} {buffer.Length}");
        if (offset < 0 || offset + buffer.Length > Config.Length) return;
        lock (_lock) Config.AsSpan(offset, buffer.Length).CopyTo(buffer);
    }

    public override void SetConfig(int offset, ReadOnlySpan<byte> buffer)
    {
        Add($"set_config {offset} {buffer.Length}");
        lock (_lock) buffer.CopyTo(Config.AsSpan(offset));
    }

    public override uint GetGeneration()
    {
        lock (_lock)
        {
            if (GenerationBumps > 0)
            {
                GenerationBumps--;
                _generation++;
            }
            return _generation;
        }
    }

    public override int BindMemory(GuestMemory memory)
    {
        Add(memory.Regions.Count == 0 ? "bind_memory empty" : "bind_memory");
        lock (_lock)
        {
            BoundMemory = memory;
            _space?.Dispose();
            _space = memory.Regions.Count == 0 ? null : new DmaSpace(memory);
        }
        return 0;
    }

    public override void Free()
    {
        lock (_lock) _space?.Dispose();
    }

    /// <summary>A net config: MAC, status, MTU.</summary>
    public static RecordingVdpaOps Net(ulong features, byte[]? mac = null, ushort mtu = 1500, ushort status = 1)
    {
        var ops = new RecordingVdpaOps((uint)VirtioDeviceId.Net, features, 3, VirtioNetConfig.Size);
        (mac ?? [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]).CopyTo(ops.Config, VirtioNetConfig.MacOffset);
        BitConverter.TryWriteBytes(ops.Config.AsSpan(VirtioNetConfig.StatusOffset), status);
        BitConverter.TryWriteBytes(ops.Config.AsSpan(VirtioNetConfig.MtuOffset), mtu);
        return ops;
    }

    /// <summary>A blk config like vdpa_sim_blk's.</summary>
    public static RecordingVdpaOps Blk(ulong features, ulong capacity = 0x40000, uint sizeMax = 4096, uint segMax = 32)
    {
        var ops = new RecordingVdpaOps((uint)VirtioDeviceId.Block, features, 1, VirtioBlkConfig.Size);
        var c = ops.Config.AsSpan();
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.CapacityOffset..], capacity);
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.SizeMaxOffset..], sizeMax);
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.SegMaxOffset..], segMax);
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.BlkSizeOffset..], 512u);
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.MaxDiscardSectorsOffset..], uint.MaxValue);
        BitConverter.TryWriteBytes(c[VirtioBlkConfig.MaxWriteZeroesSectorsOffset..], uint.MaxValue);
        return ops;
    }
}
