using System.Buffers.Binary;
using System.Text;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.BlkRequests;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>vdpa_sim_blk over the sparse RAM disk: requests, validation, config, management values.</summary>
public sealed class BlkTests
{
    private const ulong Capacity = 0x40000;

    private static SimHarness Started(SimulatorOptions? options = null)
    {
        var h = SimHarness.Blk(options);
        Assert.Equal(0, h.Start(DriverFeatures));
        return h;
    }

    [Fact]
    public void WrittenData_ReadsBackIntact()
    {
        using var h = Started();
        var data = Pattern(8 * 512, 1);
        var w = Submit(h, BlkRequestType.Out, 100, dataOut: data, token: 1);
        Assert.Equal((BlkStatus.Ok, 1u), (w.Status, w.Used));
        var r = Submit(h, BlkRequestType.In, 100, dataIn: data.Length, token: 2);
        Assert.Equal((BlkStatus.Ok, (uint)data.Length + 1), (r.Status, r.Used));
        Assert.Equal(data, h.Guest.Get(r.In, data.Length));

        // Unwritten sectors read as zeros; a read straddling written and unwritten data is exact.
        var z = Submit(h, BlkRequestType.In, 99, dataIn: 2 * 512, token: 3);
        var got = h.Guest.Get(z.In, 1024);
        Assert.All(got[..512], b => Assert.Equal(0, b));
        Assert.Equal(data[..512], got[512..]);
    }

    [Fact]
    public void LargeScatteredIo_CrossesChunks()
    {
        using var h = Started();
        var data = Pattern(300 * 1024, 2);
        var hdr = h.Guest.Put(Header(BlkRequestType.Out, 120));
        var p1 = h.Guest.Put(data.AsSpan(0, 100_000));
        var p2 = h.Guest.Put(data.AsSpan(100_000));
        var st = h.Guest.Alloc(1);
        h.Add(0, [Readable(hdr, 16), Readable(p1, 100_000), Readable(p2, data.Length - 100_000), Writable(st, 1)], 1);
        Assert.Equal(1u, h.WaitUsed(0).Length);
        Assert.Equal(0, h.Guest.Get(st, 1)[0]);
        var r = Submit(h, BlkRequestType.In, 120, dataIn: data.Length, token: 2);
        Assert.Equal(data, h.Guest.Get(r.In, data.Length));
    }

    [Fact]
    public void GetId_ReturnsTheKernelString()
    {
        using var h = Started();
        var r = Submit(h, BlkRequestType.GetId, 0, dataIn: 20);
        Assert.Equal((BlkStatus.Ok, 21u), (r.Status, r.Used));
        var id = h.Guest.Get(r.In, 20);
        Assert.Equal("vdpa_blk_sim", Encoding.ASCII.GetString(id, 0, 12));
        Assert.All(id[12..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void GetId_IntoAShortBuffer_OverrunsTheStatusSlot_AndEndsAsStructuralError()
    {
        using var h = Started();
        // 5 writable bytes in all: the 20-byte id fills them, the status has nowhere to go (the kernel's wrap).
        var status = Issue(h, BlkRequestType.GetId, 0, null, dataIn: 4, token: 1, out var inAt);
        Assert.Equal((1, 5u), h.WaitUsed(0));
        Assert.Equal("vdpa_", Encoding.ASCII.GetString([.. h.Guest.Get(inAt, 4), .. h.Guest.Get(status, 1)]));
    }

    [Fact]
    public void Flush_Completes()
    {
        using var h = Started();
        Assert.Equal((BlkStatus.Ok, 1u), (Submit(h, BlkRequestType.Flush, 0).Status, 1u));
    }

    [Theory]
    [InlineData(BlkRequestType.Flush)]
    [InlineData(BlkRequestType.GetId)]
    [InlineData(BlkRequestType.Discard)]
    public void NonIoRequest_WithNonZeroSector_IsIoErr(BlkRequestType type)
    {
        using var h = Started();
        var r = Submit(h, type, 1, dataOut: type == BlkRequestType.Discard ? Range(0, 1, 0) : null, dataIn: type == BlkRequestType.GetId ? 20 : 0);
        Assert.Equal(BlkStatus.IoErr, r.Status);
        Assert.Equal(1u, r.Used); // nothing pushed; the status lands in the last byte
    }

    [Fact]
    public void WriteZeroes_ZeroesTheRange_WithOrWithoutUnmap()
    {
        using var h = Started();
        var data = Pattern(16 * 512, 3);
        Submit(h, BlkRequestType.Out, 0, dataOut: data, token: 1);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.WriteZeroes, 0, dataOut: Range(2, 4, 0), token: 2).Status);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.WriteZeroes, 0, dataOut: Range(10, 2, VirtioBlkDiscardWriteZeroes.FlagUnmap), token: 3).Status);
        var got = h.Guest.Get(Submit(h, BlkRequestType.In, 0, dataIn: data.Length, token: 4).In, data.Length);
        var expected = (byte[])data.Clone();
        Array.Clear(expected, 2 * 512, 4 * 512);
        Array.Clear(expected, 10 * 512, 2 * 512);
        Assert.Equal(expected, got);
    }

    [Fact]
    public void Discard_IsOk_AndKeepsTheData_LikeTheKernel()
    {
        using var h = Started();
        var data = Pattern(512, 4);
        Submit(h, BlkRequestType.Out, 5, dataOut: data, token: 1);
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.Discard, 0, dataOut: Range(5, 1, 0), token: 2).Status);
        Assert.Equal(data, h.Guest.Get(Submit(h, BlkRequestType.In, 5, dataIn: 512, token: 3).In, 512));
    }

    [Theory]
    [InlineData(BlkRequestType.Discard, 1u, BlkStatus.Unsupp)]
    [InlineData(BlkRequestType.WriteZeroes, 2u, BlkStatus.Unsupp)]
    [InlineData(BlkRequestType.WriteZeroes, 3u, BlkStatus.Unsupp)]
    public void DiscardWriteZeroes_UnexpectedFlags_AreUnsupp(BlkRequestType type, uint flags, BlkStatus expected)
    {
        using var h = Started();
        Assert.Equal(expected, Submit(h, type, 0, dataOut: Range(0, 1, flags)).Status);
    }

    [Theory]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(32)]
    public void DiscardWriteZeroes_PayloadNotExactly16Bytes_IsIoErr(int length)
    {
        using var h = Started();
        Assert.Equal(BlkStatus.IoErr, Submit(h, BlkRequestType.WriteZeroes, 0, dataOut: new byte[length]).Status);
    }

    [Theory]
    [InlineData(Capacity - 1, 1u, BlkStatus.Ok)]
    [InlineData(Capacity - 1, 2u, BlkStatus.IoErr)]
    [InlineData(Capacity, 0u, BlkStatus.Ok)]
    [InlineData(Capacity + 1, 0u, BlkStatus.IoErr)] // 6.17 underflow: start past the end must fail
    [InlineData(ulong.MaxValue / 512, 1u, BlkStatus.IoErr)]
    public void WriteZeroes_RangeChecks(ulong start, uint num, BlkStatus expected)
    {
        using var h = Started();
        Assert.Equal(expected, Submit(h, BlkRequestType.WriteZeroes, 0, dataOut: Range(start, num, 0)).Status);
    }

    [Theory]
    [InlineData(Capacity - 1, 512, BlkStatus.Ok)]
    [InlineData(Capacity - 1, 1024, BlkStatus.IoErr)]
    [InlineData(Capacity, 512, BlkStatus.IoErr)]
    [InlineData(Capacity + 10, 512, BlkStatus.IoErr)]
    [InlineData(Capacity - 1, 700, BlkStatus.IoErr)] // not a whole sector, and the tail would be past the end
    public void ReadPastTheEnd_IsIoErr_AndSkipsToTheStatusByte(ulong sector, int length, BlkStatus expected)
    {
        using var h = Started();
        var r = Submit(h, BlkRequestType.In, sector, dataIn: length);
        Assert.Equal(expected, r.Status);
        // Used length = data pushed + status; on error nothing is pushed and the data buffer is left as it was.
        Assert.Equal(expected == BlkStatus.Ok ? (uint)length + 1 : 1u, r.Used);
        if (expected != BlkStatus.Ok) Assert.All(h.Guest.Get(r.In, length), b => Assert.Equal(0xCC, b));
    }

    [Fact]
    public void WritePastTheEnd_IsIoErr()
    {
        using var h = Started();
        Assert.Equal(BlkStatus.IoErr, Submit(h, BlkRequestType.Out, Capacity, dataOut: new byte[512]).Status);
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(10u)]
    [InlineData(14u)]
    [InlineData(0xffffu)]
    public void UnknownType_IsIoErr(uint type)
    {
        using var h = Started();
        Assert.Equal(BlkStatus.IoErr, Submit(h, (BlkRequestType)type, 0, dataIn: 8).Status);
    }

    [Fact]
    public void StructuralErrors_CompleteWithZero_AndStopTheRun()
    {
        using var h = Started();
        // No writable part at all.
        var hdr = h.Guest.Put(Header(BlkRequestType.In, 0));
        h.Add(0, [Readable(hdr, 16)], 1, kick: false);
        // A good request behind it in the same run.
        Issue(h, BlkRequestType.GetId, 0, null, 20, token: 2, out _, kick: true);
        Assert.Equal((1, 0u), h.WaitUsed(0));
        h.Quiesce();
        Assert.False(h.Vqs[0].Queue.TryGetUsed(h.Guest.View, out _, out _));
        h.Kick(0);
        Assert.Equal((2, 21u), h.WaitUsed(0));

        // Header shorter than 16 bytes.
        var shortHdr = h.Guest.Put(new byte[8]);
        var st = h.Guest.Alloc(1);
        h.Add(0, [Readable(shortHdr, 8), Writable(st, 1)], 3);
        Assert.Equal((3, 0u), h.WaitUsed(0));

        // No readable part.
        var st2 = h.Guest.Alloc(4);
        h.Add(0, [Writable(st2, 4)], 4);
        Assert.Equal((4, 0u), h.WaitUsed(0));
        Assert.Empty(h.Ops.BrokenQueues);
        Assert.Equal(0, h.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);
    }

    [Fact]
    public void Config_IsTheKernelsValues_RebuiltOnEveryRead()
    {
        using var h = Started();
        Assert.Equal(96, h.Ops.GetConfigSize());
        h.Ops.SetConfig(0, new byte[96].Select(_ => (byte)0x5A).ToArray());
        var c = new byte[96];
        h.Device.GetConfig(0, c);
        Assert.Equal(Capacity, BinaryPrimitives.ReadUInt64LittleEndian(c.AsSpan(VirtioBlkConfig.CapacityOffset)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.SizeMaxOffset)));
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.SegMaxOffset)));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.BlkSizeOffset)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(VirtioBlkConfig.NumQueuesOffset)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(VirtioBlkConfig.MinIoSizeOffset)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.OptIoSizeOffset)));
        Assert.Equal(0xFFFFFFFFu, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.MaxDiscardSectorsOffset)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.MaxDiscardSegOffset)));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.DiscardSectorAlignmentOffset)));
        Assert.Equal(0xFFFFFFFFu, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.MaxWriteZeroesSectorsOffset)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(VirtioBlkConfig.MaxWriteZeroesSegOffset)));
        Assert.Equal(0, c[VirtioBlkConfig.WritebackOffset]);
        Assert.Equal(0, c[VirtioBlkConfig.PhysicalBlockExpOffset]);
        Assert.All(c[VirtioBlkConfig.WriteZeroesMayUnmapOffset..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void ManagementDevice_FillsNothing_LikeTheKernel()
    {
        var m = new VdpaSimBlkManagementDevice();
        Assert.Equal("vdpasim_blk", m.Name);
        Assert.Equal(0ul, m.ConfigAttrMask);
        Assert.Equal(0ul, m.SupportedFeatures);
        Assert.Equal(0u, m.MaxSupportedVqs);
        Assert.Equal(1ul << 2, m.SupportedClasses);
        Assert.False(m.SupportsSetAttr);
        using var h = SimHarness.Blk();
        Assert.Equal(0x308007646ul, h.Ops.GetDeviceFeatures());
        Assert.Equal(2u, h.Ops.GetDeviceId());
        Assert.Equal(1, h.Device.NumVqs);
        Assert.Equal(-Errno.EOPNOTSUPP, h.Ops.GetVendorVqStats(0, []));
        Assert.Equal(-Errno.EINVAL, h.Ops.SetGroupAsid(0, 1));
        Assert.Equal(0, h.Ops.SetGroupAsid(1, 0));
        Assert.Throws<VdpaException>(() => m.SetAttributes(h.Device, new DeviceConfigRequest()));
    }

    [Fact]
    public void UnknownOption_IsEinval()
    {
        var bus = new VdpaBus();
        var m = new VdpaSimBlkManagementDevice();
        bus.RegisterManagementDevice(m);
        var e = Assert.Throws<VdpaException>(() => bus.AddDevice(m, "b", new DeviceConfigRequest { Options = new Dictionary<string, string> { ["size"] = "1" } }));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void SharedBackend_IsSeenByEveryDevice()
    {
        var options = new SimulatorOptions { BlkSharedBackend = true };
        var bus = new VdpaBus();
        var m = new VdpaSimBlkManagementDevice(options);
        bus.RegisterManagementDevice(m);
        using var a = SimHarness.Blk(mgmt: m, bus: bus, name: "a");
        using var b = SimHarness.Blk(mgmt: m, bus: bus, name: "b");
        Assert.Equal(0, a.Start(DriverFeatures));
        Assert.Equal(0, b.Start(DriverFeatures));
        var data = Pattern(512, 9);
        Submit(a, BlkRequestType.Out, 42, dataOut: data);
        Assert.Equal(data, b.Guest.Get(Submit(b, BlkRequestType.In, 42, dataIn: 512).In, 512));
        a.Dispose(); // deleting one device keeps the shared store
        Assert.Equal(data, b.Guest.Get(Submit(b, BlkRequestType.In, 42, dataIn: 512, token: 2).In, 512));
    }

    [Fact]
    public void Batch_ManyRequests_AllComplete()
    {
        using var h = Started(new SimulatorOptions { BlkBatch = 5 });
        for (int i = 0; i < 50; i++) Issue(h, BlkRequestType.Out, (ulong)i, Pattern(512, i), 0, i, out _, kick: i == 49);
        for (int i = 0; i < 50; i++) Assert.Equal(i, h.WaitUsed(0).Token);
        var c = new List<VendorStat>();
        h.Quiesce();
        Assert.Equal(0, h.Ops.GetQueueCounters(0, c));
        Assert.Equal(50ul, c.Single(s => s.Name == "requests").Value);
        Assert.Equal(50ul * 512, c.Single(s => s.Name == "written bytes").Value);
    }

    [Fact]
    public void InflightTracker_SeesTakenCompletingCompleted_InOrder()
    {
        using var h = Started();
        var log = new List<string>();
        var tracker = new RecordingTracker(log);
        Assert.True(h.Ops.Supports(VdpaOptionalOps.InflightTracking));
        Assert.Equal(0, h.Ops.SetInflightTracker(tracker));
        Submit(h, BlkRequestType.GetId, 0, dataIn: 20);
        h.Quiesce();
        lock (log) Assert.Equal(["taken 0", "completing 0", "completed 0"], log);
    }

    private sealed class RecordingTracker(List<string> log) : IInflightTracker
    {
        public void OnTaken(int queue, ushort head) { lock (log) log.Add($"taken {head}"); }
        public void OnCompleting(int queue, ushort head) { lock (log) log.Add($"completing {head}"); }
        public void OnCompleted(int queue, ushort head) { lock (log) log.Add($"completed {head}"); }
    }
}
