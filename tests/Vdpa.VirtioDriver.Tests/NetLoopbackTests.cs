using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>virtio_net driver against vdpasim_net's loopback.</summary>
public sealed class NetLoopbackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    internal static byte[] Frame(ReadOnlySpan<byte> dst, int length, int seed)
    {
        var f = new byte[length];
        dst.CopyTo(f);
        SimulatorBus.DefaultMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x88b5); // local experimental ethertype
        for (int i = 14; i < length; i++) f[i] = (byte)(i * 31 + seed);
        return f;
    }

    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    [Fact]
    public void DevAdd_ExposesANetDevice_WithTheProvisionedMac()
    {
        using var sim = new SimulatorBus();
        var (dev, net) = sim.AddNet(mtu: 1500);
        var exposure = Assert.Single(dev.Exposures);
        Assert.Equal(("virtio", "net"), (exposure.Kind, exposure.Location));
        Assert.Same(net, exposure.Handle);
        Assert.Equal(new PhysicalAddress(SimulatorBus.DefaultMac), net.MacAddress);
        Assert.Equal(1500, net.Mtu);
        Assert.True(net.IsLinkUp);
        Assert.True(net.CanSetMac);
        Assert.Equal(12, net.HeaderLength);
        Assert.Equal((byte)0x0f, dev.Ops.GetStatus());
        Assert.Equal(new[] { 256, 256, 256 }, net.Device.QueueSizes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Frames_ComeBackByteForByte(bool broadcast)
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        var rx = new byte[net.MaxFrameLength];
        int[] sizes = [14, 60, 64, 100, 511, 512, 1000, 1514, 1518];
        for (int round = 0; round < 20; round++)
        {
            foreach (int size in sizes)
            {
                var frame = Frame(broadcast ? Broadcast : SimulatorBus.DefaultMac, size, round);
                await net.SendAsync(frame).AsTask().WaitAsync(Timeout);
                int n = await net.ReceiveAsync(rx).AsTask().WaitAsync(Timeout);
                Assert.Equal(size, n);
                Assert.True(frame.AsSpan().SequenceEqual(rx.AsSpan(0, n)), $"frame of {size} bytes differs");
            }
        }
        var stats = net.Statistics;
        Assert.Equal(20 * sizes.Length, stats.TxPackets);
        Assert.Equal(20 * sizes.Length, stats.RxPackets);
        Assert.Equal(stats.TxBytes, stats.RxBytes);
        Assert.Equal(20L * sizes.Sum(), stats.RxBytes);
    }

    [Fact]
    public async Task BatchedTrySend_ThenFlush_DeliversAllInOrder()
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        const int N = 100; // below the RX ring size, so the loopback never overruns
        var frames = Enumerable.Range(0, N).Select(i => Frame(SimulatorBus.DefaultMac, 60 + i * 7, i)).ToArray();
        foreach (var f in frames) Assert.True(net.TrySend(f));
        net.Flush();
        var rx = new byte[2048];
        for (int i = 0; i < N; i++)
        {
            int n = await net.ReceiveAsync(rx).AsTask().WaitAsync(Timeout);
            Assert.True(frames[i].AsSpan().SequenceEqual(rx.AsSpan(0, n)), $"frame {i} differs");
        }
        Assert.False(net.TryReceive(rx, out _));
    }

    [Fact]
    public async Task FramesForAnotherMac_AreFilteredByTheDevice()
    {
        using var sim = new SimulatorBus();
        var (dev, net) = sim.AddNet();
        await net.SendAsync(Frame([0x02, 1, 2, 3, 4, 5], 64, 0));
        var good = Frame(SimulatorBus.DefaultMac, 64, 1);
        await net.SendAsync(good);
        var rx = new byte[2048];
        int n = await net.ReceiveAsync(rx).AsTask().WaitAsync(Timeout);
        Assert.True(good.AsSpan().SequenceEqual(rx.AsSpan(0, n)));
        var stats = new List<VendorStat>();
        Assert.Equal(0, dev.Ops.GetVendorVqStats(0, stats));
        Assert.Equal(1UL, stats.Single(s => s.Name == "rx drops").Value);
    }

    [Fact]
    public async Task SetMac_ChangesTheConfigMac_AndTheReceiveFilter()
    {
        using var sim = new SimulatorBus();
        var (dev, net) = sim.AddNet();
        byte[] newMac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        await net.SetMacAsync(new PhysicalAddress(newMac)).WaitAsync(Timeout);
        Assert.Equal(new PhysicalAddress(newMac), net.MacAddress);
        var cfg = new byte[6];
        dev.GetConfig(VirtioNetConfig.MacOffset, cfg);
        Assert.Equal(newMac, cfg);

        var rx = new byte[2048];
        await net.SendAsync(Frame(SimulatorBus.DefaultMac, 64, 0)); // old MAC: filtered now
        var f = Frame(newMac, 128, 3);
        await net.SendAsync(f);
        int n = await net.ReceiveAsync(rx).AsTask().WaitAsync(Timeout);
        Assert.True(f.AsSpan().SequenceEqual(rx.AsSpan(0, n)));
        var stats = new List<VendorStat>();
        dev.Ops.GetVendorVqStats(2, stats);
        Assert.Equal(1UL, stats.Single(s => s.Name == "cvq successes").Value);
    }

    [Fact]
    public async Task SendAsync_WaitsForTxSlots_WhenTheRingIsFull()
    {
        // A 4-entry TX ring and 200 frames: SendAsync must wait for reclaimed slots instead of failing.
        using var sim = new SimulatorBus(new VirtioDriverOptions { QueueSize = 4 });
        var (_, net) = sim.AddNet();
        Assert.Equal(4, net.TxSlotCount);
        var rx = new byte[2048];
        var receiver = Task.Run(async () =>
        {
            int got = 0;
            while (got < 200)
            {
                await net.ReceiveAsync(rx);
                got++;
            }
            return got;
        });
        for (int i = 0; i < 200; i++) await net.SendAsync(Frame(SimulatorBus.DefaultMac, 80, i)).AsTask().WaitAsync(Timeout);
        // Some frames may be lost when the 4-entry RX ring overflows (the simulator drops on overrun), so count TX only.
        Assert.Equal(200, net.Statistics.TxPackets);
        _ = receiver;
    }

    [Fact]
    public async Task ReceiveAsync_IsCancellable()
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await net.ReceiveAsync(new byte[2048], cts.Token));
        // The device still works afterwards.
        var f = Frame(SimulatorBus.DefaultMac, 70, 0);
        await net.SendAsync(f);
        Assert.Equal(70, await net.ReceiveAsync(new byte[2048]).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public void TrySend_RejectsFramesOutsideTheLimits()
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        Assert.Throws<ArgumentOutOfRangeException>(() => net.TrySend(new byte[13]));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.TrySend(new byte[net.MaxFrameLength + 1]));
    }

    [Fact]
    public async Task TooSmallDestination_Throws_AndKeepsTheFrame()
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        var f = Frame(SimulatorBus.DefaultMac, 300, 0);
        await net.SendAsync(f);
        var small = new byte[100];
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                if (!net.TryReceive(small, out _)) { await Task.Delay(1); Assert.True(DateTime.UtcNow < deadline); continue; }
                Assert.Fail("a 300-byte frame fit in 100 bytes");
            }
            catch (ArgumentException)
            {
                break;
            }
        }
        var big = new byte[2048];
        Assert.True(net.TryReceive(big, out int n));
        Assert.True(f.AsSpan().SequenceEqual(big.AsSpan(0, n)));
    }

    [Fact]
    public async Task Removal_FailsPendingReceives_WithTheDeviceRemovedError()
    {
        using var sim = new SimulatorBus();
        var (_, net) = sim.AddNet();
        var pending = net.ReceiveAsync(new byte[2048]).AsTask();
        await Task.Delay(20);
        Assert.False(pending.IsCompleted);
        sim.Bus.DeleteDevice("net0");
        var e = await Assert.ThrowsAsync<VirtioDeviceRemovedException>(() => pending.WaitAsync(Timeout));
        Assert.Equal("device net0 was removed", e.Message);
        Assert.ThrowsAny<ObjectDisposedException>(() => net.TrySend(new byte[64]));
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await net.SendAsync(new byte[64]));
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await net.ReceiveAsync(new byte[64]));
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(() => net.SetMacAsync(new PhysicalAddress(new byte[6])));
        Assert.True(net.Device.IsRemoved);
    }

    [Fact]
    public async Task Unbind_ResetsTheSimulator_AndRebindWorks()
    {
        using var sim = new SimulatorBus();
        var (dev, net) = sim.AddNet();
        Assert.True(sim.Bus.Unbind("net0"));
        Assert.Equal((byte)0, dev.Ops.GetStatus());
        Assert.False(dev.Ops.GetVqReady(0) || dev.Ops.GetVqReady(1) || dev.Ops.GetVqReady(2));
        Assert.True(sim.Bus.Probe("net0"));
        var net2 = VirtioVdpaDriver.GetNetDevice(dev)!;
        Assert.NotSame(net, net2);
        var f = Frame(SimulatorBus.DefaultMac, 99, 9);
        await net2.SendAsync(f);
        Assert.Equal(99, await net2.ReceiveAsync(new byte[2048]).AsTask().WaitAsync(Timeout));
    }
}
