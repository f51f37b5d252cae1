using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// vdpa_sim_net (Linux 6.12): a loopback NIC. Frames the driver transmits on TX (vq 1) come back on RX (vq 0) when
/// they pass the receive filter; the CVQ (vq 2) handles VIRTIO_NET_CTRL_MAC_ADDR_SET. Counters are the kernel's
/// vendor stats, cumulative since creation (reset keeps them).
/// </summary>
internal sealed class VdpaSimNetDevice : VdpaSimDevice
{
    /// <summary>VDPASIM_NET_FEATURES: base | MAC | STATUS | MTU | CTRL_VQ | CTRL_MAC_ADDR (0x308830028).</summary>
    public const ulong SupportedFeatureSet = BaseFeatures
        | (1UL << NetFeatures.Mac) | (1UL << NetFeatures.Status) | (1UL << NetFeatures.Mtu)
        | (1UL << NetFeatures.CtrlVq) | (1UL << NetFeatures.CtrlMacAddr);

    /// <summary>VDPASIM_NET_VQ_NUM.</summary>
    public const int VqNum = 3;

    /// <summary>PAGE_SIZE: the bounce buffer, and so the largest frame that loops back whole.</summary>
    public const int BufferSize = 4096;

    private const int RxVq = 0;
    private const int TxVq = 1;
    private const int CtrlVq = 2;
    private const int EthAlen = 6;

    private readonly int _batch;
    private byte[]? _buffer; // net->buffer, allocated on first run so idle devices stay small

    // vdpasim_dataq_stats / vdpasim_cq_stats. Written only by the worker under the device lock; read lock-free.
    private long _rxPkts, _rxBytes, _rxErrors, _rxOverruns, _rxDrops;
    private long _txPkts, _txBytes, _txErrors, _txDrops;
    private long _cqRequests, _cqSuccesses, _cqErrors;

    public VdpaSimNetDevice(string name, ulong supportedFeatures, ReadOnlySpan<byte> mac, ushort mtu, SimulatorOptions options)
        : base(new VdpaSimDeviceAttributes
        {
            Name = name,
            DeviceId = (uint)VirtioDeviceId.Net,
            NumVqs = VqNum,
            NumGroups = 2,
            NumAddressSpaces = 2,
            SupportedFeatures = supportedFeatures,
            ConfigSize = VirtioNetConfig.Size,
            Batch = options.NetBatch,
        }, options)
    {
        _batch = Math.Max(1, Attributes.Batch);
        // vdpasim_net_setup_config.
        var config = ConfigBuffer;
        if (mac.Length == EthAlen) mac.CopyTo(config[VirtioNetConfig.MacOffset..]);
        BinaryPrimitives.WriteUInt16LittleEndian(config[VirtioNetConfig.MtuOffset..], mtu);
    }

    /// <summary>vdpasim_net_set_attr: MAC only (returns false when the request has no MAC).</summary>
    public bool TrySetMac(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != EthAlen) return false;
        lock (SyncRoot) mac.CopyTo(ConfigBuffer[VirtioNetConfig.MacOffset..]);
        return true;
    }

    /// <inheritdoc />
    private protected override void RefreshConfig(Span<byte> config)
        // vdpasim_net_get_config: status is rewritten on every read.
        => BinaryPrimitives.WriteUInt16LittleEndian(config[VirtioNetConfig.StatusOffset..], VirtioNetConfig.StatusLinkUp);

    /// <inheritdoc />
    private protected override int GetStats(int index, List<VendorStat> stats)
    {
        switch (index)
        {
            case 0:
                stats.Add(new("rx packets", Read(ref _rxPkts)));
                stats.Add(new("rx bytes", Read(ref _rxBytes)));
                stats.Add(new("rx errors", Read(ref _rxErrors)));
                stats.Add(new("rx overruns", Read(ref _rxOverruns)));
                stats.Add(new("rx drops", Read(ref _rxDrops)));
                return 0;
            case 1:
                stats.Add(new("tx packets", Read(ref _txPkts)));
                stats.Add(new("tx bytes", Read(ref _txBytes)));
                stats.Add(new("tx errors", Read(ref _txErrors)));
                stats.Add(new("tx drops", Read(ref _txDrops)));
                return 0;
            case 2:
                stats.Add(new("cvq requests", Read(ref _cqRequests)));
                stats.Add(new("cvq successes", Read(ref _cqSuccesses)));
                stats.Add(new("cvq errors", Read(ref _cqErrors)));
                return 0;
            default:
                return -Errno.EINVAL;
        }

        static ulong Read(ref long counter) => (ulong)Volatile.Read(ref counter);
    }

    // Delivered frames between used->idx stores. Per frame (the kernel's vringh) bounces the polled cache line between
    // the CPUs for every frame; once per run serialises the two sides (the driver waits for the whole batch). Every 8
    // frames measured best in testpmd's io loop (docs/PERFORMANCE.md: 64 B ~6.1 Mpps per frame, ~5.3 per run, ~7 every 8).
    private const int PublishEvery = 8;

    /// <summary>vdpasim_net_work.</summary>
    private protected override bool ProcessQueues()
    {
        HandleCvq();

        var txq = Vq(TxVq);
        var rxq = Vq(RxVq);
        // A queue the driver broke stops being processed (until reset); the data path needs both.
        if (!txq.Ready || !rxq.Ready || txq.Queue.IsBroken || rxq.Queue.IsBroken) return false;

        var buffer = _buffer ??= new byte[BufferSize];
        var txView = ViewOf(txq);
        var rxView = ViewOf(rxq);
        var txChain = txq.Chain;
        var rxChain = rxq.Chain;
        long txPkts = 0, rxPkts = 0, txBytes = 0, rxBytes = 0, rxDrops = 0, rxOverruns = 0, rxErrors = 0, txErrors = 0;
        bool reschedule = false;

        while (true)
        {
            var popped = txq.Queue.TryPop(txView, txChain);
            if (popped != PopStatus.Chain)
            {
                if (popped == PopStatus.Broken) txErrors++;
                break;
            }
            if (txChain.ReadableCount != txChain.Count)
            {
                // vringh_getdesc with no write iov fails on a device-writable descriptor: a getdesc error.
                txq.Queue.MarkBroken(QueueError.ReadableAfterWritable);
                txErrors++;
                break;
            }

            txPkts++;
            var reader = txChain.CreateReader();
            // Frames longer than PAGE_SIZE are silently truncated to it.
            int read = reader.Read(txView, buffer);
            // The chain was validated as mapped when popped and the lease pins it, so -1 cannot happen; count it as
            // an empty frame (the filter then drops it) rather than add a negative length like the kernel would.
            if (read < 0) read = 0;
            txBytes += read;

            if (!ReceiveFilter(buffer, read))
            {
                rxDrops++;
                CompleteDeferred(txq, txChain.Head, 0);
                continue;
            }

            popped = rxq.Queue.TryPop(rxView, rxChain);
            if (popped == PopStatus.Chain && rxChain.ReadableCount != 0)
            {
                // vringh_getdesc with no read iov fails on a device-readable descriptor.
                rxq.Queue.MarkBroken(QueueError.ReadableAfterWritable);
                popped = PopStatus.Broken;
            }
            if (popped != PopStatus.Chain)
            {
                // No RX buffer (or a broken RX ring): the frame is lost, not retried, and the run stops; the kernel
                // then waits for the next kick, so a full RX ring costs one frame per kick. A polled TX ring has no
                // kicks to wait for: it goes on taking (and losing) frames as a NIC with a full RX ring drops at its
                // line rate, each counted as an overrun, the overruns counting towards the batch.
                rxOverruns++;
                CompleteDeferred(txq, txChain.Head, 0);
                if (popped == PopStatus.Empty && txq.Mode == VqNotificationMode.Poll)
                {
                    if (txPkts < _batch) continue;
                    reschedule = true;
                }
                break;
            }

            var writer = rxChain.CreateWriter();
            int written = writer.Write(rxView, buffer.AsSpan(0, read));
            if (written <= 0)
            {
                // Kernel quirk kept: neither chain is completed.
                rxErrors++;
                break;
            }

            rxPkts++;
            rxBytes += written;
            CompleteDeferred(txq, txChain.Head, 0);
            CompleteDeferred(rxq, rxChain.Head, (uint)written);
            if (rxPkts % PublishEvery == 0)
            {
                txq.Queue.PublishUsed(txView);
                rxq.Queue.PublishUsed(rxView);
            }

            // The kernel checks its batch (tx_pkts > 4) only here, after a delivered frame; drops do not count.
            if (txPkts >= _batch)
            {
                reschedule = true;
                break;
            }
        }

        // The rest of the run's completions (the kernel's vringh moves used->idx per frame; see PublishEvery).
        txq.Queue.PublishUsed(txView);
        rxq.Queue.PublishUsed(rxView);

        Add(ref _txPkts, txPkts);
        Add(ref _txBytes, txBytes);
        Add(ref _txErrors, txErrors);
        Add(ref _rxPkts, rxPkts);
        Add(ref _rxBytes, rxBytes);
        Add(ref _rxDrops, rxDrops);
        Add(ref _rxErrors, rxErrors);
        Add(ref _rxOverruns, rxOverruns);
        return reschedule;
    }

    /// <summary>
    /// receive_filter: at least a MAC after the header; broadcast and multicast pass; unicast passes when it matches
    /// the config MAC under <c>strncmp</c> semantics — the comparison stops at the first NUL byte, so e.g. with the
    /// default all-zero MAC every unicast destination starting with 00 passes. Kept for parity.
    /// </summary>
    private bool ReceiveFilter(ReadOnlySpan<byte> buffer, int length)
    {
        int hdrLen = HasFeature(VirtioFeatures.Version1) ? VirtioNetHdrV1.Size : VirtioNetHdrV1.LegacySize;
        if (length < EthAlen + hdrLen) return false;
        var dest = buffer.Slice(hdrLen, EthAlen);
        // is_broadcast_ether_addr || is_multicast_ether_addr (broadcast is multicast too).
        if ((dest[0] & 1) != 0) return true;
        var mac = ConfigBuffer.Slice(VirtioNetConfig.MacOffset, EthAlen);
        for (int i = 0; i < EthAlen; i++)
        {
            if (dest[i] != mac[i]) return false;
            if (dest[i] == 0) return true;
        }
        return true;
    }

    /// <summary>vdpasim_handle_cvq.</summary>
    private void HandleCvq()
    {
        if (!HasFeature(NetFeatures.CtrlVq)) return;
        var cvq = Vq(CtrlVq);
        if (!cvq.Ready || cvq.Queue.IsBroken) return;

        var view = ViewOf(cvq);
        var chain = cvq.Chain;
        // Kernel quirk kept: the ack is not reset between requests, so an unknown class after a success reuses OK.
        byte status = NetCtrl.Err;
        long requests = 0, errors = 0, successes = 0;
        Span<byte> ctrl = stackalloc byte[VirtioNetCtrlHdr.Size];
        Span<byte> ack = stackalloc byte[1];

        while (cvq.Queue.TryPop(view, chain) == PopStatus.Chain)
        {
            requests++;
            var reader = chain.CreateReader();
            if (reader.Read(view, ctrl) != ctrl.Length)
            {
                errors++;
                break;
            }

            if (ctrl[0] == NetCtrl.ClassMac)
            {
                // vdpasim_handle_ctrl_mac: pulls straight into the config MAC, so a short read still changes part of it.
                status = NetCtrl.Err;
                if (ctrl[1] == NetCtrl.MacAddrSet)
                {
                    int read = reader.Read(view, ConfigBuffer.Slice(VirtioNetConfig.MacOffset, EthAlen));
                    if (read == EthAlen) status = NetCtrl.Ok;
                }
            }

            if (status == NetCtrl.Ok) successes++;
            else errors++;

            ack[0] = status;
            var writer = chain.CreateWriter();
            int write = writer.Write(view, ack);
            Complete(cvq, chain.Head, write < 0 ? 0u : (uint)write);
            // The kernel calls the CVQ callback after every request, without the notification check.
            cvq.ForceNotify = true;
        }

        Add(ref _cqRequests, requests);
        Add(ref _cqErrors, errors);
        Add(ref _cqSuccesses, successes);
    }

    private static void Add(ref long counter, long delta)
    {
        // Single writer (the worker, under the device lock); the volatile store lets readers see whole values.
        if (delta != 0) Volatile.Write(ref counter, counter + delta);
    }
}
