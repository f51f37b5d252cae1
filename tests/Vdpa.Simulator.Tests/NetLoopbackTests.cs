using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>vdpasim_net_work: every delivery and loss path, with the kernel's counters.</summary>
public sealed class NetLoopbackTests
{
    private static SimHarness Started(byte[]? mac = null, SimulatorOptions? options = null, ulong? features = null)
    {
        var config = new DeviceConfigRequest
        {
            Mac = mac ?? OwnMac,
            Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr),
        };
        var h = SimHarness.Net(options, config);
        Assert.Equal(0, h.Start(features ?? NetDriverFeatures));
        return h;
    }

    [Fact]
    public void FrameToOwnMac_ComesBackByteForByte_WithHeader()
    {
        using var h = Started();
        var rx = PostRx(h, 2048, token: 100);
        var frame = Make(OwnMac, 12 + 60);
        Transmit(h, frame, token: 7);

        var (rxToken, rxLen) = h.WaitUsed(0);
        var (txToken, txLen) = h.WaitUsed(1);
        Assert.Equal(100, rxToken);
        Assert.Equal((uint)frame.Length, rxLen);
        Assert.Equal(7, txToken);
        Assert.Equal(0u, txLen);
        Assert.Equal(frame, h.Guest.Get(rx, frame.Length));

        h.Quiesce();
        var rxs = h.Stats(0);
        var txs = h.Stats(1);
        Assert.Equal(1ul, rxs["rx packets"]);
        Assert.Equal((ulong)frame.Length, rxs["rx bytes"]);
        Assert.Equal(1ul, txs["tx packets"]);
        Assert.Equal((ulong)frame.Length, txs["tx bytes"]);
        Assert.Equal(0ul, rxs["rx drops"] + rxs["rx overruns"] + rxs["rx errors"] + txs["tx errors"] + txs["tx drops"]);
        Assert.True(h.Vqs[0].Callbacks >= 1);
        Assert.True(h.Vqs[1].Callbacks >= 1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BroadcastAndMulticast_AreAccepted(bool broadcast)
    {
        using var h = Started();
        var rx = PostRx(h, 2048, 1);
        var frame = Make(broadcast ? Broadcast : Multicast, 100);
        Transmit(h, frame, 2);
        Assert.Equal((uint)frame.Length, h.WaitUsed(0).Length);
        Assert.Equal(frame, h.Guest.Get(rx, frame.Length));
        h.Quiesce();
        Assert.Equal(0ul, h.Stats(0)["rx drops"]);
    }

    [Fact]
    public void ForeignUnicast_CountsRxDrop_CompletesTxWithZero_LeavesRxBuffer()
    {
        using var h = Started();
        PostRx(h, 2048, 1);
        Transmit(h, Make(Foreign, 80), 2);
        var (token, len) = h.WaitUsed(1);
        Assert.Equal(2, token);
        Assert.Equal(0u, len);
        h.Quiesce();
        Assert.False(h.Vqs[0].Queue.TryGetUsed(h.Guest.View, out _, out _));
        var rxs = h.Stats(0);
        Assert.Equal(1ul, rxs["rx drops"]);
        Assert.Equal(0ul, rxs["rx packets"]);
        Assert.Equal(1ul, h.Stats(1)["tx packets"]);
        Assert.Equal(80ul, h.Stats(1)["tx bytes"]);
    }

    [Fact]
    public void Quirk_MacComparedLikeStrncmp_StopsAtFirstZeroByte()
    {
        // Default MAC is all zero: strncmp sees two empty strings as soon as the destination starts with 00.
        using var h = SimHarness.Net();
        Assert.Equal(0, h.Start(NetDriverFeatures));
        PostRx(h, 2048, 1);
        Transmit(h, Make([0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee], 64), 2);
        Assert.Equal(64u, h.WaitUsed(0).Length);
        Transmit(h, Make([0x02, 0, 0, 0, 0, 0], 64), 3);
        h.WaitUsed(1);
        h.WaitUsed(1);
        h.Quiesce();
        Assert.Equal(1ul, h.Stats(0)["rx packets"]);
        Assert.Equal(1ul, h.Stats(0)["rx drops"]);
    }

    [Fact]
    public void NoRxBuffer_CountsOverrun_CompletesTx_AndStopsTheRun()
    {
        using var h = Started();
        Transmit(h, Make(OwnMac, 64), 1, kick: false);
        Transmit(h, Make(OwnMac, 64), 2, kick: true);
        Assert.Equal((1, 0u), h.WaitUsed(1));
        h.Quiesce();
        // The run stopped at the overrun: the second frame waits for the next kick.
        Assert.False(h.Vqs[1].Queue.TryGetUsed(h.Guest.View, out _, out _));
        Assert.Equal(1ul, h.Stats(0)["rx overruns"]);
        Assert.Equal(1ul, h.Stats(1)["tx packets"]);

        h.Kick(1);
        Assert.Equal((2, 0u), h.WaitUsed(1));
        h.Quiesce();
        Assert.Equal(2ul, h.Stats(0)["rx overruns"]);
        Assert.Equal(0ul, h.Stats(0)["rx packets"]);
    }

    [Fact]
    public void AKickFromAWorker_IsHandledOnThatThread_BeforeTheKickReturns()
    {
        using var h = Started();
        PostRx(h, 2048, token: 5, kick: false);
        h.Quiesce();
        var frame = Make(OwnMac, 12 + 60);
        Transmit(h, frame, token: 6, kick: false);
        h.Ops.KickVqFromWorker(1);
        // No waiting: the run happened inside the call.
        Assert.True(h.Vqs[0].Queue.TryGetUsed(h.Guest.View, out int rxToken, out uint rxLen));
        Assert.Equal((5, (uint)frame.Length), (rxToken, rxLen));
        Assert.True(h.Vqs[1].Queue.TryGetUsed(h.Guest.View, out int txToken, out _));
        Assert.Equal(6, txToken);
    }

    [Fact]
    public void PolledTx_WithNoRxBuffer_TakesEveryFrameAsAnOverrun_WithoutKicks()
    {
        // The kernel (and a kicked ring here) takes one frame per kick while RX is full; a polled ring has no kicks to
        // wait for and drops at its own pace, the overruns counting towards the batch.
        using var h = Started(options: new SimulatorOptions { NetBatch = 16 });
        const int frames = 100;
        for (int i = 0; i < frames; i++) Transmit(h, Make(OwnMac, 64), 1000 + i, kick: false);
        Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Poll));
        for (int i = 0; i < frames; i++) Assert.Equal((1000 + i, 0u), h.WaitUsed(1));
        // 100 frames in batches of 16: 7 runs that moved the ring (one frame per run would be 100).
        Assert.Equal(7, ((VdpaSimDevice)h.Ops).ProgressRuns);
        Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Kick));
        h.Quiesce();
        Assert.Equal((ulong)frames, h.Stats(0)["rx overruns"]);
        Assert.Equal((ulong)frames, h.Stats(1)["tx packets"]);
        Assert.Equal(0ul, h.Stats(0)["rx packets"]);
    }

    [Fact]
    public void FrameLongerThanPage_IsTruncatedTo4096()
    {
        using var h = Started();
        var rx = PostRx(h, 8192, 1);
        var frame = Make(OwnMac, 6000);
        Transmit(h, frame, 2);
        Assert.Equal(4096u, h.WaitUsed(0).Length);
        Assert.Equal(frame.AsSpan(0, 4096).ToArray(), h.Guest.Get(rx, 4096));
        h.Quiesce();
        Assert.Equal(4096ul, h.Stats(1)["tx bytes"]);
        Assert.Equal(4096ul, h.Stats(0)["rx bytes"]);
    }

    [Fact]
    public void FrameSplitOverSegments_IsGatheredAndScattered()
    {
        using var h = Started();
        var rxA = h.Guest.Alloc(40);
        var rxB = h.Guest.Alloc(2000);
        h.Add(0, [Writable(rxA, 40), Writable(rxB, 2000)], 1);
        var frame = Make(OwnMac, 300);
        var a = h.Guest.Put(frame.AsSpan(0, 10));
        var b = h.Guest.Put(frame.AsSpan(10, 290));
        h.Add(1, [Readable(a, 10), Readable(b, 290)], 2);
        Assert.Equal(300u, h.WaitUsed(0).Length);
        Assert.Equal(frame, h.Guest.Get(rxA, 40).Concat(h.Guest.Get(rxB, 260)).ToArray());
    }

    [Fact]
    public void TooShortFrame_IsDropped()
    {
        using var h = Started();
        PostRx(h, 2048, 1);
        Transmit(h, Make(OwnMac, 6 + 12 - 1), 2);
        Assert.Equal((2, 0u), h.WaitUsed(1));
        h.Quiesce();
        Assert.Equal(1ul, h.Stats(0)["rx drops"]);
        Assert.Equal(17ul, h.Stats(1)["tx bytes"]);
    }

    [Fact]
    public void WithoutVersion1_HeaderIs10Bytes()
    {
        using var h = Started(features: SimHarness.Bit(Virtio.Abi.NetFeatures.Mac));
        Assert.Equal(0ul, h.Ops.GetDriverFeatures() & SimHarness.Bit(VirtioFeatures.Version1));
        PostRx(h, 2048, 1);
        var frame = Make(OwnMac, 16, hdrLen: 10);
        Transmit(h, frame, 2);
        Assert.Equal(16u, h.WaitUsed(0).Length);
    }

    [Fact]
    public void RxBufferSmallerThanFrame_DeliversWhatFits()
    {
        using var h = Started();
        PostRx(h, 50, 1);
        Transmit(h, Make(OwnMac, 200), 2);
        Assert.Equal(50u, h.WaitUsed(0).Length);
        h.Quiesce();
        Assert.Equal(50ul, h.Stats(0)["rx bytes"]);
        Assert.Equal(200ul, h.Stats(1)["tx bytes"]);
    }

    [Fact]
    public void RxChainWithoutWritableBytes_CountsRxError_AndCompletesNeither()
    {
        using var h = Started();
        var rx = h.Guest.Alloc(16);
        h.Add(0, [Writable(rx, 0)], 1);
        Transmit(h, Make(OwnMac, 64), 2);
        SimHarness.WaitFor(() => h.Stats(0)["rx errors"] == 1, "rx errors");
        h.Quiesce();
        Assert.False(h.Vqs[0].Queue.TryGetUsed(h.Guest.View, out _, out _));
        Assert.False(h.Vqs[1].Queue.TryGetUsed(h.Guest.View, out _, out _));
        Assert.Equal(0ul, h.Stats(0)["rx packets"]);
    }

    [Fact]
    public void BadTxChain_CountsTxError_BreaksOnlyThatQueue_AndSetsNeedsReset()
    {
        using var h = Started();
        PostRx(h, 2048, 1);
        // A buffer outside every mapping: vringh_getdesc fails.
        h.Add(1, [Readable(new Iova(0x7_0000_0000), 64)], 2);
        SimHarness.WaitFor(() => h.Stats(1)["tx errors"] == 1, "tx errors");
        h.Quiesce();
        Assert.Equal([1], h.Ops.BrokenQueues);
        Assert.NotEqual(0, h.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);
        Assert.Equal(1, Volatile.Read(ref h.ConfigCallbacks));
        Assert.Equal(0ul, h.Stats(1)["tx drops"]);
        // A broken queue is no longer processed: more kicks change nothing.
        h.Kick(1);
        h.Quiesce();
        Assert.Equal(1ul, h.Stats(1)["tx errors"]);
        Assert.Equal(1, Volatile.Read(ref h.ConfigCallbacks));

        // Reset clears it; the counters stay.
        h.Device.Reset();
        Assert.Empty(h.Ops.BrokenQueues);
        Assert.Equal(1ul, h.Stats(1)["tx errors"]);
    }

    [Fact]
    public void Batch_RunsReschedule_UntilEverythingIsDelivered()
    {
        using var h = Started(options: new SimulatorOptions { NetBatch = 5 });
        const int n = 40;
        for (int i = 0; i < n; i++) PostRx(h, 256, 1000 + i, kick: false);
        for (int i = 0; i < n; i++) Transmit(h, Make(OwnMac, 100, seed: (byte)i), i, kick: i == n - 1);
        for (int i = 0; i < n; i++) Assert.Equal(1000 + i, h.WaitUsed(0).Token);
        h.Quiesce();
        Assert.Equal((ulong)n, h.Stats(0)["rx packets"]);
    }
}
