using System.Net.NetworkInformation;
using System.Runtime.CompilerServices;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver.Internal;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// The virtio_net driver's role for one device: Ethernet frames in and out through the RX (0) and TX (1) queues,
/// the control queue (2) when CTRL_VQ was negotiated, and MAC/MTU/link state from config space. The
/// virtio_net_hdr_v1 (12 bytes; 10 for legacy devices) is prepended on TX and stripped on RX.
/// </summary>
/// <remarks>
/// Buffers live in pre-allocated slots of the driver's DMA memory (one RX slot per RX descriptor, one TX slot per TX
/// descriptor), so the data path copies each frame once and allocates nothing. RX and TX have independent locks; the
/// device's callbacks only wake waiters, and the consumers reap the used rings themselves (as NAPI polling does).
/// All members are thread-safe.
/// </remarks>
public sealed class VirtioNetDevice
{
    /// <summary>Ethernet header length (ETH_HLEN).</summary>
    public const int EthernetHeaderLength = 14;

    /// <summary>The driver's feature table (virtio_net's features[] minus what this driver does not implement).</summary>
    internal static readonly ulong FeatureTable =
        VirtioFeatures.Bit(NetFeatures.Mac) | VirtioFeatures.Bit(NetFeatures.Mtu) | VirtioFeatures.Bit(NetFeatures.Status) |
        VirtioFeatures.Bit(NetFeatures.CtrlVq) | VirtioFeatures.Bit(NetFeatures.CtrlMacAddr);

    private const int RxQueue = 0;
    private const int TxQueue = 1;
    private const int ControlQueue = 2;
    private const int MinMtu = 68;          // ETH_MIN_MTU
    private const int MaxMtu = 65535;
    private const int VlanHeaderLength = 4; // room for one 802.1Q tag, as virtio_net sizes its buffers
    private const int CtrlBufferBytes = 64;

    private readonly VirtioDevice _dev;
    private readonly Virtqueue _rx;
    private readonly Virtqueue _tx;
    private readonly Virtqueue? _cvq;
    private readonly int _headerLength;
    private readonly int _slotBytes;
    private readonly Iova _rxBase;
    private readonly Iova _txBase;
    private readonly Iova _ctrlBase;
    private readonly int[] _txFree;
    private readonly AsyncSignal _rxSignal = new();
    private readonly AsyncSignal _txSignal = new();
    private readonly AsyncSignal _ctrlSignal = new();
    private readonly SemaphoreSlim _ctrlLock = new(1, 1);
    private readonly int _refillBatch;
    private byte[] _mac;
    private int _txFreeCount;
    private int _txUnpublished;
    private int _rxUnpublished;
    private int _rxPendingSlot = -1;
    private int _rxPendingLength;
    private volatile bool _linkUp;
    private volatile bool _removed;
    private long _txPackets, _txBytes, _txDropped, _rxPackets, _rxBytes, _rxDropped;

    private VirtioNetDevice(VirtioDevice device, Virtqueue rx, Virtqueue tx, Virtqueue? cvq, int mtu, byte[] mac, int slotBytes)
    {
        _dev = device;
        _rx = rx;
        _tx = tx;
        _cvq = cvq;
        Mtu = mtu;
        _mac = mac;
        // VERSION_1 (or MRG_RXBUF) devices use the 12-byte header with num_buffers; legacy ones the 10-byte header.
        _headerLength = device.HasFeature(VirtioFeatures.Version1) || device.HasFeature(NetFeatures.MrgRxbuf)
            ? VirtioNetHdrV1.Size : VirtioNetHdrV1.LegacySize;
        _slotBytes = slotBytes;
        MaxFrameLength = slotBytes - _headerLength;
        _rxBase = device.Arena.Allocate((long)rx.Size * slotBytes, 64);
        _txBase = device.Arena.Allocate((long)tx.Size * slotBytes, 64);
        _ctrlBase = cvq is null ? default : device.Arena.Allocate(CtrlBufferBytes, 64);
        _txFree = new int[tx.Size];
        for (int i = 0; i < _txFree.Length; i++) _txFree[i] = _txFree.Length - 1 - i;
        _txFreeCount = _txFree.Length;
        _refillBatch = Math.Max(1, Math.Min(32, rx.Size / 8));
    }

    /// <summary>The virtio device underneath (status, features, config).</summary>
    public VirtioDevice Device => _dev;

    /// <summary>Name of the vDPA device.</summary>
    public string Name => _dev.Name;

    /// <summary>MAC address: config space with VIRTIO_NET_F_MAC, else a random locally administered one; updated by <see cref="SetMacAsync"/>.</summary>
    public PhysicalAddress MacAddress => new(Volatile.Read(ref _mac));

    /// <summary>MTU from config space with VIRTIO_NET_F_MTU, else 1500.</summary>
    public int Mtu { get; }

    /// <summary>Largest frame (Ethernet header included, virtio-net header excluded) that fits a buffer.</summary>
    public int MaxFrameLength { get; }

    /// <summary>Length of the virtio-net header on this device (12, or 10 for a legacy device).</summary>
    public int HeaderLength => _headerLength;

    /// <summary>Link state: VIRTIO_NET_S_LINK_UP with VIRTIO_NET_F_STATUS, else always up.</summary>
    public bool IsLinkUp => _linkUp;

    /// <summary>True when the control queue can set the MAC (CTRL_VQ and CTRL_MAC_ADDR negotiated).</summary>
    public bool CanSetMac => _cvq is not null && _dev.HasFeature(NetFeatures.CtrlMacAddr);

    /// <summary>Number of RX buffers (the RX ring size).</summary>
    public int RxBufferCount => _rx.Size;

    /// <summary>Number of TX slots (the TX ring size).</summary>
    public int TxSlotCount => _tx.Size;

    /// <summary>Raised on the thread pool when the link state changes (a config-change interrupt).</summary>
    public event Action<VirtioNetDevice, bool>? LinkStateChanged;

    /// <summary>A snapshot of the counters.</summary>
    public VirtioNetStatistics Statistics => new(
        Volatile.Read(ref _txPackets), Volatile.Read(ref _txBytes), Volatile.Read(ref _txDropped),
        Volatile.Read(ref _rxPackets), Volatile.Read(ref _rxBytes), Volatile.Read(ref _rxDropped));

    // ---- probe (virtnet_probe) ----

    /// <summary>Feature selection: the table, minus features whose prerequisites the device lacks (virtnet_validate_features).</summary>
    internal static ulong SelectFeatures(ulong offered)
    {
        ulong f = offered & (FeatureTable | VirtioDevice.TransportFeatures);
        if (!VirtioFeatures.Has(f, NetFeatures.CtrlVq)) f &= ~VirtioFeatures.Bit(NetFeatures.CtrlMacAddr);
        return f;
    }

    /// <summary>Arena bytes this driver may need, before anything is known about the device but its queue limit.</summary>
    internal static long EstimateDmaBytes(int queueSize)
    {
        long slot = SlotBytesFor(MaxMtu, VirtioNetHdrV1.Size);
        return 3 * VirtioDevice.RingBytesUpperBound(queueSize, 0) + 2L * queueSize * slot + CtrlBufferBytes + 4096;
    }

    private static int SlotBytesFor(int mtu, int headerLength)
        => (int)DmaArena.AlignUp(headerLength + Math.Max(mtu, 1500) + EthernetHeaderLength + VlanHeaderLength, 64);

    /// <summary>virtnet_probe after FEATURES_OK: config, queues, buffers. DRIVER_OK is set by the caller, then <see cref="Start"/>.</summary>
    internal static VirtioNetDevice Probe(VirtioDevice dev, VirtioDriverOptions options)
    {
        byte[] mac = new byte[6];
        if (dev.HasFeature(NetFeatures.Mac))
        {
            dev.ReadConfig(VirtioNetConfig.MacOffset, mac);
        }
        else
        {
            // eth_hw_addr_random: locally administered, unicast.
            Random.Shared.NextBytes(mac);
            mac[0] = (byte)((mac[0] & 0xfe) | 0x02);
        }
        int mtu = 1500;
        if (dev.HasFeature(NetFeatures.Mtu))
        {
            int m = dev.ReadConfigUInt16(VirtioNetConfig.MtuOffset);
            if (m >= MinMtu) mtu = m; // virtnet_validate ignores an MTU below the minimum
        }
        int header = dev.HasFeature(VirtioFeatures.Version1) ? VirtioNetHdrV1.Size : VirtioNetHdrV1.LegacySize;

        VirtioNetDevice? net = null;
        Action rxCb = () => net?._rxSignal.Set();
        Action txCb = () => net?._txSignal.Set();
        Action ctrlCb = () => net?._ctrlSignal.Set();
        bool ctrl = dev.HasFeature(NetFeatures.CtrlVq);
        var vqs = dev.FindVqs(ctrl ? [rxCb, txCb, ctrlCb] : [rxCb, txCb], options.QueueSize, 0);
        net = new VirtioNetDevice(dev, vqs[RxQueue], vqs[TxQueue], ctrl ? vqs[ControlQueue] : null, mtu, mac, SlotBytesFor(mtu, header));
        net._linkUp = net.ReadLinkState();
        return net;
    }

    /// <summary>virtnet_open after DRIVER_OK: fill the RX ring and tell the device.</summary>
    internal void Start()
    {
        var view = _dev.View;
        bool kick;
        lock (_rx.Lock)
        {
            for (int slot = 0; slot < _rx.Size; slot++)
            {
                if (!PostRxUnsynchronized(view, slot)) throw new InvalidOperationException($"virtio_net: {Name}: cannot post RX buffer {slot}");
            }
            _rxUnpublished = 0;
            kick = _rx.Ring.KickPrepare(view);
        }
        if (kick) _rx.Notify();
        _dev.EnableConfig(OnConfigChanged);
    }

    // ---- TX ----

    /// <summary>
    /// Queues <paramref name="frame"/> (an Ethernet frame without virtio-net header) without notifying the device;
    /// call <see cref="Flush"/> after a batch. Returns false when every TX slot is in flight.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frame) => TrySendCore(frame, countDrop: true);

    /// <summary>Publishes the queued frames and notifies the device if it asked for notifications (virtqueue_kick).</summary>
    public void Flush()
    {
        bool kick;
        lock (_tx.Lock)
        {
            if (_txUnpublished == 0 || _removed) return;
            _txUnpublished = 0;
            if (!_dev.Arena.TryEnter()) return;
            try
            {
                kick = _tx.Ring.KickPrepare(_dev.View);
            }
            finally
            {
                _dev.Arena.Exit();
            }
        }
        if (kick) _tx.Notify();
    }

    /// <summary>Sends one frame, waiting for a free TX slot when the ring is full, and notifies the device.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default)
    {
        long epoch = _txSignal.Epoch;
        if (TrySendCore(frame.Span, countDrop: false))
        {
            Flush();
            return ValueTask.CompletedTask;
        }
        return SendSlowAsync(frame, epoch, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendSlowAsync(ReadOnlyMemory<byte> frame, long epoch, CancellationToken cancellationToken)
    {
        while (true)
        {
            Flush(); // the device must see what is queued, or no slot would ever come back
            await _txSignal.WaitAsync(epoch, cancellationToken).ConfigureAwait(false);
            epoch = _txSignal.Epoch;
            if (TrySendCore(frame.Span, countDrop: false))
            {
                Flush();
                return;
            }
        }
    }

    private bool TrySendCore(ReadOnlySpan<byte> frame, bool countDrop)
    {
        if (frame.Length < EthernetHeaderLength || frame.Length > MaxFrameLength)
            throw new ArgumentOutOfRangeException(nameof(frame), frame.Length, $"frame length must be {EthernetHeaderLength}..{MaxFrameLength}");
        EnterOrThrow();
        try
        {
            var view = _dev.View;
            lock (_tx.Lock)
            {
                ThrowIfRemovedUnsynchronized();
                ReclaimTxUnsynchronized(view);
                if (_txFreeCount == 0)
                {
                    if (countDrop) _txDropped++;
                    return false;
                }
                int slot = _txFree[--_txFreeCount];
                var addr = new Iova(_txBase.Value + (ulong)slot * (ulong)_slotBytes);
                // virtio_net_hdr_v1 all zero: no checksum offload, GSO_NONE, num_buffers 0 (ignored on TX).
                if (!view.TryFill(addr, (ulong)_headerLength, 0) || !view.TryWrite(new Iova(addr.Value + (ulong)_headerLength), frame))
                    throw new InvalidOperationException($"virtio_net: {Name}: TX slot {slot} is not writable");
                var seg = new DescriptorSegment(addr, (uint)(_headerLength + frame.Length), DeviceWritable: false);
                if (!_tx.Ring.TryAdd(view, new ReadOnlySpan<DescriptorSegment>(in seg), slot))
                {
                    _txFree[_txFreeCount++] = slot;
                    if (_tx.Ring.IsBroken) throw QueueBroken(_tx);
                    if (countDrop) _txDropped++;
                    return false;
                }
                _txUnpublished++;
                _txPackets++;
                _txBytes += frame.Length;
                return true;
            }
        }
        finally
        {
            _dev.Arena.Exit();
        }
    }

    private void ReclaimTxUnsynchronized(DmaView view)
    {
        // free_old_xmit: the device is done with these slots.
        while (_tx.Ring.TryGetUsed(view, out int slot, out _))
        {
            _txFree[_txFreeCount++] = slot;
        }
    }

    // ---- RX ----

    /// <summary>
    /// Copies the next received frame (virtio-net header stripped) into <paramref name="destination"/>. Returns false
    /// when none is pending. Throws <see cref="ArgumentException"/> (and keeps the frame) when the destination is
    /// smaller than the frame; <see cref="MaxFrameLength"/> bytes always suffice.
    /// </summary>
    public bool TryReceive(Span<byte> destination, out int length)
    {
        EnterOrThrow();
        bool kick = false;
        try
        {
            var view = _dev.View;
            lock (_rx.Lock)
            {
                ThrowIfRemovedUnsynchronized();
                while (_rxPendingSlot < 0)
                {
                    if (!_rx.Ring.TryGetUsed(view, out int slot, out uint used))
                    {
                        if (_rx.Ring.IsBroken) throw QueueBroken(_rx);
                        length = 0;
                        return false;
                    }
                    if (used < (uint)_headerLength || used > (uint)_slotBytes)
                    {
                        // The device wrote less than a header or more than the buffer: drop it (virtnet "length error").
                        _rxDropped++;
                        kick |= RepostRxUnsynchronized(view, slot);
                        continue;
                    }
                    _rxPendingSlot = slot;
                    _rxPendingLength = (int)used - _headerLength;
                }
                int n = _rxPendingLength;
                if (destination.Length < n)
                    throw new ArgumentException($"destination holds {destination.Length} bytes, the frame has {n}", nameof(destination));
                var data = new Iova(_rxBase.Value + (ulong)_rxPendingSlot * (ulong)_slotBytes + (ulong)_headerLength);
                if (!view.TryRead(data, destination[..n]))
                    throw new InvalidOperationException($"virtio_net: {Name}: RX slot {_rxPendingSlot} is not readable");
                int done = _rxPendingSlot;
                _rxPendingSlot = -1;
                _rxPackets++;
                _rxBytes += n;
                kick |= RepostRxUnsynchronized(view, done);
                length = n;
                return true;
            }
        }
        finally
        {
            _dev.Arena.Exit();
            if (kick) _rx.Notify();
        }
    }

    /// <summary>Receives the next frame into <paramref name="destination"/>, waiting for one; returns its length.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        long epoch = _rxSignal.Epoch;
        if (TryReceive(destination.Span, out int n)) return new ValueTask<int>(n);
        return ReceiveSlowAsync(destination, epoch, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveSlowAsync(Memory<byte> destination, long epoch, CancellationToken cancellationToken)
    {
        while (true)
        {
            FlushRefill();
            await _rxSignal.WaitAsync(epoch, cancellationToken).ConfigureAwait(false);
            epoch = _rxSignal.Epoch;
            if (TryReceive(destination.Span, out int n)) return n;
        }
    }

    private bool PostRxUnsynchronized(DmaView view, int slot)
    {
        var seg = new DescriptorSegment(new Iova(_rxBase.Value + (ulong)slot * (ulong)_slotBytes), (uint)_slotBytes, DeviceWritable: true);
        return _rx.Ring.TryAdd(view, new ReadOnlySpan<DescriptorSegment>(in seg), slot);
    }

    /// <summary>Gives an RX buffer back; publishes a batch of refills at a time. Returns true when the device must be kicked.</summary>
    private bool RepostRxUnsynchronized(DmaView view, int slot)
    {
        if (!PostRxUnsynchronized(view, slot))
        {
            if (_rx.Ring.IsBroken) throw QueueBroken(_rx);
            throw new InvalidOperationException($"virtio_net: {Name}: RX ring has no room for its own buffer {slot}");
        }
        if (++_rxUnpublished < _refillBatch) return false;
        _rxUnpublished = 0;
        return _rx.Ring.KickPrepare(view);
    }

    /// <summary>Publishes RX refills still held back by batching (before waiting for more frames).</summary>
    private void FlushRefill()
    {
        if (!_dev.Arena.TryEnter()) return;
        bool kick = false;
        try
        {
            lock (_rx.Lock)
            {
                if (_rxUnpublished == 0 || _removed) return;
                _rxUnpublished = 0;
                kick = _rx.Ring.KickPrepare(_dev.View);
            }
        }
        finally
        {
            _dev.Arena.Exit();
            if (kick) _rx.Notify();
        }
    }

    // ---- control queue ----

    /// <summary>
    /// Changes the MAC through the control queue (VIRTIO_NET_CTRL_MAC_ADDR_SET, virtnet_set_mac_address) and checks the
    /// device's ack. Throws <see cref="NotSupportedException"/> without CTRL_MAC_ADDR and <see cref="IOException"/>
    /// when the device answers VIRTIO_NET_ERR.
    /// </summary>
    public async Task SetMacAsync(PhysicalAddress mac, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mac);
        byte[] bytes = mac.GetAddressBytes();
        if (bytes.Length != 6) throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        if (!CanSetMac) throw new NotSupportedException($"virtio_net: {Name}: the device does not offer VIRTIO_NET_F_CTRL_MAC_ADDR");
        byte ack = await SendCommandAsync(NetCtrl.ClassMac, NetCtrl.MacAddrSet, bytes, cancellationToken).ConfigureAwait(false);
        if (ack != NetCtrl.Ok)
            throw new IOException($"virtio_net: {Name}: device rejected VIRTIO_NET_CTRL_MAC_ADDR_SET (ack {ack})");
        Volatile.Write(ref _mac, bytes);
    }

    /// <summary>virtnet_send_command: one request at a time; returns the ack byte.</summary>
    private async Task<byte> SendCommandAsync(byte cls, byte cmd, byte[] data, CancellationToken cancellationToken)
    {
        var cvq = _cvq!;
        await _ctrlLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnterOrThrow();
            try
            {
                var view = _dev.View;
                var ack = new Iova(_ctrlBase.Value + CtrlBufferBytes - 1);
                bool kick;
                lock (cvq.Lock)
                {
                    ThrowIfRemovedUnsynchronized();
                    Span<byte> request = stackalloc byte[VirtioNetCtrlHdr.Size + data.Length];
                    request[0] = cls;
                    request[1] = cmd;
                    data.CopyTo(request[VirtioNetCtrlHdr.Size..]);
                    if (!view.TryWrite(_ctrlBase, request) || !view.TryFill(ack, 1, 0xff))
                        throw new InvalidOperationException($"virtio_net: {Name}: control buffer is not writable");
                    ReadOnlySpan<DescriptorSegment> segs =
                    [
                        new(_ctrlBase, (uint)request.Length, DeviceWritable: false),
                        new(ack, 1, DeviceWritable: true),
                    ];
                    if (!cvq.Ring.TryAdd(view, segs, 0))
                        throw cvq.Ring.IsBroken ? QueueBroken(cvq) : new InvalidOperationException($"virtio_net: {Name}: control queue is full");
                    kick = cvq.Ring.KickPrepare(view);
                }
                if (kick) cvq.Notify();

                // Not cancellable from here: the device owns the buffer until it returns it.
                while (true)
                {
                    long epoch = _ctrlSignal.Epoch;
                    lock (cvq.Lock)
                    {
                        ThrowIfRemovedUnsynchronized();
                        if (cvq.Ring.TryGetUsed(view, out _, out _))
                        {
                            Span<byte> status = stackalloc byte[1];
                            if (!view.TryRead(ack, status)) throw new InvalidOperationException($"virtio_net: {Name}: control ack is not readable");
                            return status[0];
                        }
                        if (cvq.Ring.IsBroken) throw QueueBroken(cvq);
                    }
                    await _ctrlSignal.WaitAsync(epoch, CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                _dev.Arena.Exit();
            }
        }
        finally
        {
            _ctrlLock.Release();
        }
    }

    // ---- config and lifetime ----

    private bool ReadLinkState()
    {
        if (!_dev.HasFeature(NetFeatures.Status)) return true; // no STATUS: the link is always up
        return (_dev.ReadConfigUInt16(VirtioNetConfig.StatusOffset) & VirtioNetConfig.StatusLinkUp) != 0;
    }

    /// <summary>virtnet_config_changed_work: re-read the link state.</summary>
    private void OnConfigChanged()
    {
        bool up = ReadLinkState();
        if (up == _linkUp) return;
        _linkUp = up;
        LinkStateChanged?.Invoke(this, up);
    }

    /// <summary>After the device was reset by remove: fail every waiter; later calls throw.</summary>
    internal void OnRemoved()
    {
        lock (_rx.Lock) _removed = true;
        lock (_tx.Lock) { }
        if (_cvq is not null) lock (_cvq.Lock) { }
        _rxSignal.Fault(_dev.CreateRemovedError);
        _txSignal.Fault(_dev.CreateRemovedError);
        _ctrlSignal.Fault(_dev.CreateRemovedError);
    }

    private void EnterOrThrow()
    {
        if (_removed || !_dev.Arena.TryEnter()) throw _dev.CreateRemovedError();
    }

    private void ThrowIfRemovedUnsynchronized()
    {
        if (_removed) throw _dev.CreateRemovedError();
    }

    private IOException QueueBroken(Virtqueue vq)
        => new($"virtio_net: {Name}: virtqueue {vq.Index} is broken ({vq.Ring.Error})");

    /// <inheritdoc />
    public override string ToString() => $"virtio_net {Name} {MacAddress}";
}
