using System.Buffers.Binary;
using System.Net.Sockets;
using Uvdpa.Vdpa.Nbd;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Benchmarks;

/// <summary>
/// 4 KiB random reads or writes through <see cref="NbdServer"/> (socketpair) into vdpasim_blk, the path the kernel's
/// nbd driver takes. The client is a blocking loop that keeps <c>depth</c> requests outstanding (one new request per
/// reply) and allocates nothing per request, so the allocation figure is the server's and the driver's.
/// </summary>
internal sealed class NbdRandom : IDisposable
{
    private readonly NbdServer _server;
    private readonly Socket _client;
    private readonly byte[] _request = new byte[NbdRequestHeader.Size + 4096];
    private readonly byte[] _reply = new byte[NbdSimpleReply.Size + 4096];
    private readonly ulong[] _offsets;

    public NbdRandom(VirtioBlkDevice blk)
    {
        var (a, b) = LinuxSockets.CreateStreamPair();
        _server = NbdServer.Start(a, blk);
        _client = b;
        var rnd = new Random(7);
        long blocks = _server.SizeBytes / 4096;
        _offsets = Enumerable.Range(0, 1 << 16).Select(_ => (ulong)rnd.NextInt64(blocks) * 4096).ToArray();
    }

    /// <summary>Runs <paramref name="count"/> requests at <paramref name="depth"/>; returns the count.</summary>
    public long Run(int count, int depth, bool write)
    {
        int sent = 0, done = 0;
        for (; sent < Math.Min(depth, count); sent++) Send(sent, write);
        while (done < count)
        {
            Receive(NbdSimpleReply.Size);
            if (BinaryPrimitives.ReadUInt32BigEndian(_reply.AsSpan(4)) != 0) throw new IOException("NBD error reply");
            if (!write) Receive(4096);
            done++;
            if (sent < count) Send(sent++, write);
        }
        return count;
    }

    private void Send(int i, bool write)
    {
        var cmd = write ? NbdCommand.Write : NbdCommand.Read;
        new NbdRequestHeader(NbdCommandFlags.None, cmd, (ulong)i, _offsets[i & (_offsets.Length - 1)], 4096).Write(_request);
        var data = _request.AsSpan(0, write ? _request.Length : NbdRequestHeader.Size);
        while (!data.IsEmpty) data = data[_client.Send(data)..];
    }

    private void Receive(int bytes)
    {
        var span = _reply.AsSpan(0, bytes);
        while (!span.IsEmpty)
        {
            int n = _client.Receive(span);
            if (n == 0) throw new EndOfStreamException("server closed");
            span = span[n..];
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Completion.Wait(TimeSpan.FromSeconds(10));
    }
}
