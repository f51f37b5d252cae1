using Uvdpa.Vdpa.Core;
using Uvdpa.Vhost.User.Backend;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>The <c>vhost-user-poll</c> bind option: rings run in the device's poll mode even when the front-end kicks.</summary>
public sealed class BusyPollTests
{
    private static BindOptions Poll(string value) => new(new Dictionary<string, string> { [VhostUserDriverOptions.PollKey] = value });

    [Fact]
    public void WithPoll_FramesLoopBackWithoutAnyKick()
    {
        using var f = DeviceFixture.Net(Poll("1"));
        using var fe = f.Connect();
        fe.Negotiate((1UL << VirtioFeatures.Version1) | (1UL << NetFeatures.Mac));
        fe.SetupRing(0);
        fe.SetupRing(1);

        for (int i = 0; i < 3; i++)
        {
            var rx = fe.Alloc(2048);
            var frame = new byte[100];
            for (int b = 0; b < frame.Length; b++) frame[b] = (byte)(i * 31 + b);
            frame.AsSpan(0, 12).Clear();
            DeviceFixture.Mac.CopyTo(frame.AsSpan(12));
            // Published (avail idx) but never kicked: no kick eventfd is signalled, so only polling can find these.
            Assert.True(fe.Queues[0]!.TryAdd(fe.View, [new DescriptorSegment(rx, 2048, true)], 10 * i));
            fe.Queues[0]!.KickPrepare(fe.View);
            Assert.True(fe.Queues[1]!.TryAdd(fe.View, [new DescriptorSegment(fe.Put(frame), (uint)frame.Length, false)], 10 * i + 1));
            fe.Queues[1]!.KickPrepare(fe.View);
            Assert.Equal((10 * i, (uint)frame.Length), fe.WaitUsed(0));
            Assert.Equal((10 * i + 1, 0u), fe.WaitUsed(1));
            Assert.Equal(frame, fe.Get(rx, frame.Length));
        }
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("2")]
    [InlineData("")]
    public void BadPollValue_IsEinval(string value)
    {
        var e = Assert.Throws<VdpaException>(() => VhostUserDriverOptions.Parse(Poll(value)));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains(VhostUserDriverOptions.PollKey, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PollDefaultsOff_AndParses()
    {
        Assert.False(VhostUserDriverOptions.Parse(BindOptions.Empty).BusyPoll);
        Assert.True(VhostUserDriverOptions.Parse(Poll("1")).BusyPoll);
        Assert.False(VhostUserDriverOptions.Parse(Poll("0")).BusyPoll);
    }
}
