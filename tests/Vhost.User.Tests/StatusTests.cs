using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>PROTOCOL_F_STATUS: SET/GET_STATUS as VHOST_VDPA_SET/GET_STATUS, with the deferred reset of SET_STATUS(0).</summary>
public sealed class StatusTests
{
    private static readonly ulong Features = (1UL << VirtioFeatures.Version1) | (1UL << NetFeatures.Mac);
    private const ProtocolFeatures WithStatus = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Status;

    [Fact]
    public void StatusIsOffered_AndWithoutIt_TheBackendStillDrivesDriverOk()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        Assert.NotEqual(0ul, fe.GetU64(FrontendRequest.GetProtocolFeatures) & (ulong)ProtocolFeatures.Status);
        fe.Negotiate(Features); // STATUS not acked
        fe.SetupRing(0);
        Assert.NotEqual(0, f.Device.GetStatus() & (byte)DeviceStatus.DriverOk);
    }

    [Fact]
    public void WithStatus_DriverOkComesFromTheFrontend_AndStartsTheRings()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features, WithStatus);
        fe.SetupRing(0);
        fe.SetupRing(1);
        Assert.True(f.Device.Ops.GetVqReady(0));
        Assert.Equal(0, f.Device.GetStatus() & (byte)DeviceStatus.DriverOk);
        // A frame made available before DRIVER_OK is processed once the front-end sets it.
        var rx = fe.Alloc(2048);
        fe.Add(0, [new(rx, 2048, true)], 1);
        var frame = Io.Frame(100, 3);
        fe.Add(1, [new(fe.Put(frame), (uint)frame.Length, false)], 2);
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0x0fUL));
        Assert.Equal((1, (uint)frame.Length), fe.WaitUsed(0));
        Assert.Equal(0x0ful, fe.GetU64(FrontendRequest.GetStatus));
    }

    [Theory]
    [InlineData(0x0b, 0x03, "clears FEATURES_OK")]
    [InlineData(0x00, 0x07, "DRIVER_OK without FEATURES_OK")]
    public void SetStatus_RefusedTransitions_AreNacked_StatusUnchanged(int first, int second, string why)
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features, WithStatus); // the device is at 0x0b after SET_FEATURES
        if (first != 0) Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, (ulong)first));
        byte before = f.Device.GetStatus();
        Assert.True(1ul == fe.SendAck(FrontendRequest.SetStatus, (ulong)second), why);
        Assert.Equal(before, f.Device.GetStatus());
    }

    [Fact]
    public void SetStatusZero_WithNoRingRunning_ResetsAtOnce_AndFeaturesMustBeSetAgain()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features, WithStatus);
        Assert.NotEqual(0, f.Device.GetStatus());
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0UL));
        Assert.Equal(0, f.Device.GetStatus());
        Assert.Equal(0ul, f.Device.Ops.GetDriverFeatures());
        Assert.Equal(1ul, fe.SendAck(FrontendRequest.SetStatus, 0x0bUL)); // FEATURES_OK before SET_FEATURES
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetFeatures, Features | (1UL << 30)));
        Assert.Equal(0x0bul, fe.GetU64(FrontendRequest.GetStatus));
    }

    [Fact]
    public void SetStatusZero_ThenDisconnect_ResetsTheDevice()
    {
        using var f = DeviceFixture.Net();
        using (var fe = f.Connect())
        {
            fe.Negotiate(Features, WithStatus);
            fe.SetupRing(0);
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0x0fUL));
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0UL));
            Assert.True(f.Device.Ops.GetVqReady(0)); // deferred: ring 0 still runs
        }
        Assert.Null(f.WaitSessionEnded());
        Assert.Equal(0, f.Device.GetStatus());
        Assert.False(f.Device.Ops.GetVqReady(0));
    }
}
