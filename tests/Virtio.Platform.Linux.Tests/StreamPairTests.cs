using System.Net.Sockets;

namespace Uvdpa.Virtio.Platform.Linux.Tests;

public sealed class StreamPairTests
{
    [Fact]
    public async Task CreateStreamPair_GivesConnectedUnixStreamSockets_WithEndOfStreamOnClose()
    {
        var (a, b) = LinuxSockets.CreateStreamPair();
        using (b)
        {
            Assert.Equal(AddressFamily.Unix, a.AddressFamily);
            Assert.Equal(SocketType.Stream, b.SocketType);
            await a.SendAsync(new byte[] { 1, 2, 3 });
            byte[] got = new byte[3];
            int n = 0;
            while (n < 3) n += await b.ReceiveAsync(got.AsMemory(n));
            Assert.Equal(new byte[] { 1, 2, 3 }, got);
            await b.SendAsync(new byte[] { 9 });
            Assert.Equal(1, await a.ReceiveAsync(got.AsMemory(0, 1)));
            Assert.Equal(9, got[0]);
            a.Dispose();
            Assert.Equal(0, await b.ReceiveAsync(got.AsMemory()));
        }
    }
}
