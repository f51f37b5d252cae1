using System.Net.Sockets;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>
/// The client side of an NBD transmission phase, as the kernel's nbd driver speaks it: requests are written
/// back to back without waiting, replies are matched by handle (a READ reply carries the length its request asked
/// for). Every receive has a deadline so a broken server fails the test instead of hanging it.
/// </summary>
internal sealed class NbdTestClient : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly Dictionary<ulong, int> _readLengths = [];
    private ulong _nextHandle = 0x1000;

    public NbdTestClient(Socket socket) => _socket = socket;

    public Socket Socket => _socket;

    public ulong Send(NbdCommand command, ulong offset, uint length, ReadOnlySpan<byte> payload = default, NbdCommandFlags flags = NbdCommandFlags.None, ulong? handle = null)
    {
        ulong h = handle ?? _nextHandle++;
        byte[] buf = new byte[NbdRequestHeader.Size + payload.Length];
        new NbdRequestHeader(flags, command, h, offset, length).Write(buf);
        payload.CopyTo(buf.AsSpan(NbdRequestHeader.Size));
        SendRaw(buf);
        if (command == NbdCommand.Read) _readLengths[h] = (int)length;
        return h;
    }

    public void SendRaw(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int n = _socket.Send(bytes);
            bytes = bytes[n..];
        }
    }

    public ulong Write(ulong offset, byte[] data, NbdCommandFlags flags = NbdCommandFlags.None) => Send(NbdCommand.Write, offset, (uint)data.Length, data, flags);

    public ulong Read(ulong offset, int length) => Send(NbdCommand.Read, offset, (uint)length);

    /// <summary>The next reply; its data when it is a successful READ reply.</summary>
    public async Task<(NbdSimpleReply Reply, byte[]? Data)> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(Deadline);
        byte[] header = new byte[NbdSimpleReply.Size];
        int got = await ReadExactAsync(header, cts.Token);
        if (got == 0) throw new EndOfStreamException("the server closed the connection instead of replying");
        if (got < header.Length) throw new EndOfStreamException($"reply header cut after {got} bytes");
        Assert.True(NbdSimpleReply.TryRead(header, out var reply), $"bad reply magic: {Convert.ToHexString(header)}");
        bool isRead = _readLengths.Remove(reply.Handle, out int len);
        if (!isRead || reply.Error != NbdError.None) return (reply, null);
        byte[] data = new byte[len];
        got = await ReadExactAsync(data, cts.Token);
        if (got < len) throw new EndOfStreamException($"READ reply data cut after {got} of {len} bytes");
        return (reply, data);
    }

    /// <summary>Replies for every handle in <paramref name="handles"/> (any order), keyed by handle.</summary>
    public async Task<Dictionary<ulong, (NbdSimpleReply Reply, byte[]? Data)>> ReceiveAllAsync(IReadOnlyCollection<ulong> handles)
    {
        var result = new Dictionary<ulong, (NbdSimpleReply, byte[]?)>();
        while (result.Count < handles.Count)
        {
            var r = await ReceiveAsync();
            Assert.Contains(r.Reply.Handle, handles);
            Assert.True(result.TryAdd(r.Reply.Handle, r), $"handle 0x{r.Reply.Handle:x} answered twice");
        }
        return result;
    }

    /// <summary>Waits until the server closes its end (end of stream), failing if data arrives instead.</summary>
    public async Task ExpectClosedAsync()
    {
        using var cts = new CancellationTokenSource(Deadline);
        byte[] one = new byte[1];
        int n = await _socket.ReceiveAsync(one, SocketFlags.None, cts.Token);
        Assert.True(n == 0, $"expected end of stream, got byte 0x{one[0]:x2}");
    }

    private async Task<int> ReadExactAsync(Memory<byte> buffer, CancellationToken ct)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer[got..], SocketFlags.None, ct);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    public void Dispose() => _socket.Dispose();
}
