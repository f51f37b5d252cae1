using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>
/// Regression (seen with QEMU 7.2): a front-end that closes its connection and connects again at once must be served.
/// QEMU's vhost-user-blk-pci realize does exactly that after an error (it retries up to three times) and so does
/// <c>reconnect=</c>; the new connection can arrive before the old session has seen end of stream and reset the
/// device, and was then refused as "another front-end is connected" (QEMU: "Failed to write msg ... Protocol error").
/// </summary>
public sealed class ImmediateReconnectTests
{
    private static readonly ulong BlkFeatures = 1UL << VirtioFeatures.Version1;

    [Fact]
    public void FrontendReconnectingAtOnce_IsServed_NotRefused()
    {
        using var f = DeviceFixture.Blk();
        for (int round = 0; round < 25; round++)
        {
            using (var first = f.Connect())
            {
                // QEMU's realize: features, protocol features, queue count, memory table, then it gives up and closes.
                first.Negotiate(BlkFeatures);
                Assert.Equal(1UL, first.GetU64(FrontendRequest.GetQueueNum));
            }
            using var again = f.Connect();
            ulong offered = again.GetU64(FrontendRequest.GetFeatures);
            Assert.NotEqual(0UL, offered & BlkFeatures);
            again.Negotiate(BlkFeatures);
        }
    }

    [Fact]
    public void SecondFrontend_WhileTheFirstIsAlive_IsStillRefused()
    {
        using var f = DeviceFixture.Blk();
        using var first = f.Connect();
        first.Negotiate(BlkFeatures);
        using var second = f.Connect();
        Assert.Contains("another front-end", f.WaitRefused());
        Assert.True(second.WaitClosed());
        Assert.Equal(1UL, first.GetU64(FrontendRequest.GetQueueNum));
    }
}
