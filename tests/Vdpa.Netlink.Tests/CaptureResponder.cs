using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

/// <summary>
/// Plays the kernel from a capture: a request that matches a captured one (padding masked, seq ignored) gets the
/// captured reply datagrams, with the sequence numbers rewritten to the request's.
/// </summary>
internal sealed class CaptureResponder
{
    private readonly List<(byte[] Key, List<byte[]> Replies)> _exchanges = [];

    public CaptureResponder(string kernel)
    {
        List<byte[]>? current = null;
        foreach (CapturedDatagram d in StraceCapture.Load(kernel))
        {
            if (d.Sent)
            {
                current = [];
                _exchanges.Add((Key(d.Bytes), current));
            }
            else
            {
                current!.Add(d.Bytes);
            }
        }
    }

    public List<byte[]> Unmatched { get; } = [];

    public IReadOnlyList<byte[]> Respond(ReadOnlySpan<byte> request)
    {
        byte[] key = Key(request.ToArray());
        uint seq = NlMsgHeader.Read(request).Sequence;
        foreach (var (k, replies) in _exchanges)
        {
            if (!k.AsSpan().SequenceEqual(key)) continue;
            return replies.Select(r => Reseq(r, seq)).ToList();
        }
        Unmatched.Add(request.ToArray());
        return [];
    }

    private static byte[] Key(byte[] request)
    {
        byte[] k = TestUtil.MaskPadding(request);
        MemoryMarshal.Write(k.AsSpan(8), 0u);
        return k;
    }

    private static byte[] Reseq(byte[] datagram, uint seq)
    {
        byte[] b = (byte[])datagram.Clone();
        int off = 0;
        while (off + 16 <= b.Length)
        {
            NlMsgHeader h = NlMsgHeader.Read(b.AsSpan(off));
            MemoryMarshal.Write(b.AsSpan(off + 8), seq);
            if (h.Type == NetlinkMessageType.Error) MemoryMarshal.Write(b.AsSpan(off + 16 + 4 + 8), seq);
            off += Netlink.AlignMessage((int)h.Length);
        }
        return b;
    }
}

/// <summary>An in-memory transport whose peer is a function from request to reply datagrams.</summary>
internal sealed class FakeTransport(Func<byte[], IReadOnlyList<byte[]>> peer) : INetlinkTransport
{
    private readonly Queue<byte[]> _pending = new();
    private byte[] _last = [];

    public List<byte[]> Sent { get; } = [];

    public int ReceiveBufferSize => 32768;

    public NetlinkAckOptions AckOptions => NetlinkAckOptions.Iproute2;

    public bool Disposed { get; private set; }

    public void Send(ReadOnlySpan<byte> datagram)
    {
        Sent.Add(datagram.ToArray());
        foreach (byte[] r in peer(datagram.ToArray())) _pending.Enqueue(r);
    }

    public ReadOnlySpan<byte> Receive()
    {
        if (!_pending.TryDequeue(out byte[]? d)) throw new NetlinkTransportException("no reply queued", Errno.ETIMEDOUT);
        _last = d;
        return _last;
    }

    public void Dispose() => Disposed = true;
}
