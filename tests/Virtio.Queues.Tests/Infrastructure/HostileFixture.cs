using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues.Tests.Infrastructure;

/// <summary>
/// Memory with a queue "A" whose rings a test writes by hand (a hostile driver), a well-behaved queue "B" elsewhere in
/// the same memory, a read-only alias of part of the memory and known unmapped addresses.
/// </summary>
internal sealed class HostileFixture : IDisposable
{
    public const ulong RamBase = 0x10_0000;
    public const long RamSize = 1 << 20;
    public const ulong ReadOnlyBase = 0x90_0000;          // read-only mapping of the last 64 KiB of RAM
    public const long ReadOnlySize = 64 * 1024;
    public const ulong Unmapped = 0x5000_0000;
    public const ulong DescA = RamBase, AvailA = RamBase + 0x1000, UsedA = RamBase + 0x2000;
    public const ulong Tables = RamBase + 0x3000;         // scratch for indirect tables
    public const ulong Buffers = RamBase + 0x8000;        // scratch for data buffers
    private const ulong RingB = RamBase + 0x4_0000;

    private readonly TestSpace _space;
    private ushort _availIdx;

    public HostileFixture(int size = 8, bool indirect = true, bool eventIndex = false)
    {
        var ram = MemoryRegion.Shared(new GuestAddress(RamBase), RamSize, "uvdpa-hostile");
        var ro = MemoryRegion.FromDescriptor(new GuestAddress(ReadOnlyBase), ram.Descriptor!.Duplicate(), RamSize - ReadOnlySize, ReadOnlySize, writable: false);
        _space = TestSpace.Over(GuestMemory.Create(ram, ro), null, ram, ro);
        Size = size;
        Device = new SplitDeviceQueue(Math.Max(size, 8)) { Size = size, IndirectDescriptors = indirect, EventIndex = eventIndex };
        Device.SetAddresses(new Iova(DescA), new Iova(AvailA), new Iova(UsedA));
        Device.Ready = true;
        Chain = new DescriptorChain(Device.MaxSize);
        Other = new LoopbackHarness(View, View, new Iova(RingB), new Iova(RingB + 0x1_0000), 0x4_0000, 16, indirect, eventIndex, seed: 3);
    }

    public int Size { get; }
    public DmaView View => _space.View;
    public SplitDeviceQueue Device { get; }
    public DescriptorChain Chain { get; }
    public LoopbackHarness Other { get; }

    public void WriteDesc(ulong table, int index, ulong addr, uint len, VirtqDescFlags flags, ushort next = 0)
    {
        var d = new VirtqDesc { Addr = addr, Len = len, Flags = (ushort)flags, Next = next };
        Assert.True(View.TryWrite(new Iova(table + 16UL * (ulong)index), in d));
    }

    public void Desc(int index, ulong addr, uint len, VirtqDescFlags flags, ushort next = 0) => WriteDesc(DescA, index, addr, len, flags, next);

    /// <summary>Appends heads to the avail ring and publishes the index.</summary>
    public void Publish(params ushort[] heads)
    {
        foreach (var h in heads)
        {
            Assert.True(View.TryWriteUInt16(new Iova(AvailA + 4 + 2UL * (ulong)(_availIdx % Size)), h));
            _availIdx++;
        }
        SetAvailIdx(_availIdx);
    }

    public void SetAvailIdx(ushort idx)
    {
        _availIdx = idx;
        Assert.True(View.TryWriteUInt16Release(new Iova(AvailA + 2), idx));
    }

    public PopStatus Pop() => Device.TryPop(View, Chain);

    /// <summary>Asserts queue A is broken with <paramref name="error"/>, stays broken, and queue B still works.</summary>
    public void AssertBroken(QueueError error)
    {
        Assert.Equal(PopStatus.Broken, Pop());
        Assert.True(Device.IsBroken);
        Assert.Equal(error, Device.Error);
        Assert.Equal(PopStatus.Broken, Pop());
        Assert.Equal(error, Device.Error);
        Assert.False(Device.TryPushUsed(View, 0, 0));
        Assert.False(Device.HasAvailable(View));
        AssertOtherQueueWorks();
    }

    public void AssertOtherQueueWorks()
    {
        Other.RunRounds(10, kickPerAdd: false, notifyPerPush: false);
        Assert.True(Other.Book.Verified >= 10);
    }

    public void Dispose() => _space.Dispose();
}
