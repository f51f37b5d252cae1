using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.BlkRequests;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>Device-side failures stay inside the device: NEEDS_RESET, a config notification, nothing thrown.</summary>
public sealed class FaultTests
{
    private sealed class ExplodingBackend : IBlockBackend
    {
        public long Capacity => 1 << 20;
        public void Read(long offset, Span<byte> destination) => throw new InvalidOperationException("device bug");
        public void Write(long offset, ReadOnlySpan<byte> source) { }
        public void WriteZeroes(long offset, long length) { }
        public void Discard(long offset, long length) { }
        public void Flush() => throw new IOException("EIO");
        public void Dispose() { }
    }

    [Fact]
    public void UnexpectedException_InTheWork_SetsNeedsReset_AndNotifiesConfig()
    {
        var ops = new VdpaSimBlkDevice("x", VdpaSimBlkDevice.SupportedFeatureSet, new ExplodingBackend(), ownsBackend: true, SimulatorOptions.Default);
        using var h = SimHarness.Unmanaged(ops, 1);
        Assert.Equal(0, h.Start(DriverFeatures));
        // An I/O error is a request failure, not a device failure.
        Assert.Equal(BlkStatus.IoErr, Submit(h, BlkRequestType.Flush, 0).Status);
        Assert.Equal(0, h.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);

        Issue(h, BlkRequestType.In, 0, null, 512, token: 2, out _);
        SimHarness.WaitFor(() => (h.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset) != 0, "NEEDS_RESET");
        SimHarness.WaitFor(() => Volatile.Read(ref h.ConfigCallbacks) == 1, "config callback");
        Assert.Equal(0x4f, h.Ops.GetStatus());

        // Reset + probe brings it back.
        Assert.Equal(0, h.Start(DriverFeatures));
        Assert.Equal(BlkStatus.Ok, Submit(h, BlkRequestType.GetId, 0, dataIn: 20, token: 3).Status);
    }
}
