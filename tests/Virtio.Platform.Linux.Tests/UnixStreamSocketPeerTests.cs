namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary><see cref="UnixStreamSocket.IsPeerGone"/>: a hang-up check that neither blocks nor consumes data.</summary>
public sealed class UnixStreamSocketPeerTests
{
    [Fact]
    public void IsPeerGone_FalseWhileThePeerIsOpen_EvenWithUnreadData()
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using (a)
        using (b)
        {
            Assert.False(a.IsPeerGone());
            b.Send([1, 2, 3]);
            Assert.False(a.IsPeerGone());
            var buffer = new byte[8];
            Assert.Equal(3, a.Receive(buffer, [], out bool truncated)); // the check consumed nothing
            Assert.False(truncated);
        }
    }

    [Fact]
    public void IsPeerGone_TrueAfterThePeerClosesOrShutsDown_AndForAClosedSocket()
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using (a)
        {
            b.Dispose();
            Assert.True(a.IsPeerGone());
        }
        Assert.True(a.IsPeerGone());

        var (c, d) = UnixStreamSocket.CreatePair();
        using (c)
        using (d)
        {
            d.Shutdown();
            Assert.True(c.IsPeerGone());
        }
    }
}
