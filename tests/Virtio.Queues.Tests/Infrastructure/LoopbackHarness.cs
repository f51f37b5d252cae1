using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>
/// vringh_test-style lockstep loopback: our driver queue against our device queue over the same memory (possibly seen
/// through two different views). The device runs only when kicked and the driver harvests only when interrupted, so a
/// lost notification shows up as buffers left in flight at the end of a round.
/// </summary>
internal sealed class LoopbackHarness
{
    private readonly DmaView _dv;
    private readonly DmaView _vv;
    private readonly DescriptorChain _chain;
    private readonly byte[] _in = new byte[64 * 1024];
    private readonly byte[] _out = new byte[64 * 1024];
    private readonly Random _rng;

    public LoopbackHarness(DmaView driverView, DmaView deviceView, Iova ringBase, Iova bufferBase, ulong bufferBytes,
                           int size, bool indirect, bool eventIndex, int seed, int maxSegments = 8, int align = 4096)
    {
        _dv = driverView;
        _vv = deviceView;
        _rng = new Random(seed);
        Layout = SplitDriverQueue.Layout(size, indirect, maxSegments, align);
        if (Layout.TotalBytes > (long)(bufferBase.Value - ringBase.Value) && bufferBase.Value > ringBase.Value)
            throw new ArgumentException("rings overlap buffers");
        ulong b = ringBase.Value;
        Driver = new SplitDriverQueue(size, new Iova(b + (ulong)Layout.DescriptorTableOffset), new Iova(b + (ulong)Layout.AvailOffset),
            new Iova(b + (ulong)Layout.UsedOffset), eventIndex, indirect ? new Iova(b + (ulong)Layout.IndirectPoolOffset) : null,
            indirect ? maxSegments : 0);
        Driver.Initialize(driverView);
        Device = new SplitDeviceQueue(size) { EventIndex = eventIndex, IndirectDescriptors = indirect };
        Device.SetAddresses(new Iova(b + (ulong)Layout.DescriptorTableOffset), new Iova(b + (ulong)Layout.AvailOffset), new Iova(b + (ulong)Layout.UsedOffset));
        Device.Ready = true;
        _chain = new DescriptorChain(size);
        Book = new BufferBook(driverView, bufferBase, bufferBytes, size, Math.Min(maxSegments, size), seed);
    }

    public SplitRingLayoutInfo Layout { get; }
    public SplitDriverQueue Driver { get; }
    public SplitDeviceQueue Device { get; }
    public BufferBook Book { get; }
    public int Kicks { get; private set; }
    public int Interrupts { get; private set; }
    public int Added { get; private set; }
    public int Pushed { get; private set; }
    public int RoundsWithWork { get; private set; }

    public void RunRounds(int rounds, bool kickPerAdd, bool notifyPerPush)
    {
        for (int r = 0; r < rounds; r++)
        {
            int batch = _rng.Next(1, Driver.Size + 1);
            bool kicked = false;
            int added = 0;
            for (int i = 0; i < batch; i++)
            {
                if (!Book.TryTake(out int slot)) break;
                Book.SegmentLimit = Driver.FreeCount;
                var segs = Book.Prepare(slot);
                if (!Driver.TryAdd(_dv, segs, slot))
                {
                    Book.Release(slot);
                    break;
                }
                added++;
                if (kickPerAdd && Driver.KickPrepare(_dv)) { Kicks++; kicked = true; }
            }
            if (!kickPerAdd && Driver.KickPrepare(_dv)) { Kicks++; kicked = true; }
            Added += added;
            if (added > 0) RoundsWithWork++;
            Assert.True(added == 0 || kicked, $"round {r}: {added} buffers added but no kick");

            bool irq = false;
            if (kicked) RunDevice(notifyPerPush, ref irq);
            if (irq) Harvest();

            Assert.False(Device.IsBroken, $"device broken: {Device.Error}");
            Assert.False(Driver.IsBroken, $"driver broken: {Driver.Error}");
            Assert.Equal(0, Driver.InFlight);
            Assert.Equal(Driver.Size, Driver.FreeCount);
        }
    }

    public void RunDevice(bool notifyPerPush, ref bool irq)
    {
        while (true)
        {
            Device.DisableNotifications(_vv);
            PopStatus st;
            while ((st = Device.TryPop(_vv, _chain)) == PopStatus.Chain)
            {
                uint written = Workload.Serve(_vv, _chain, _in, _out);
                Assert.True(Device.TryPushUsed(_vv, _chain.Head, written));
                Pushed++;
                if (notifyPerPush && Device.ShouldNotifyDriver(_vv)) { Interrupts++; irq = true; }
            }
            Assert.Equal(PopStatus.Empty, st);
            if (!notifyPerPush && Device.ShouldNotifyDriver(_vv)) { Interrupts++; irq = true; }
            if (!Device.EnableNotifications(_vv)) break;
        }
    }

    public void Harvest()
    {
        Driver.DisableCallbacks(_dv);
        do
        {
            while (Driver.TryGetUsed(_dv, out int token, out uint len))
            {
                Book.Verify(token, len);
                Book.Release(token);
            }
        }
        while (!Driver.EnableCallbacks(_dv));
    }
}
