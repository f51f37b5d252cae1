using Uvdpa.Vdpa.Management;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// Collects the reply datagrams of one request so the connection can send them asynchronously afterwards: the
/// service never blocks on a slow or stalled client (and so never holds the bus lock while a client dawdles).
/// The reply to one request is capped; beyond the cap <see cref="Send"/> returns false and the service stops.
/// </summary>
internal sealed class BufferedReplySink(long maxBytes) : INetlinkReplySink
{
    private readonly List<(int Offset, int Length)> _datagrams = [];
    private const int InitialSize = NetlinkService.MaxDatagramSize * 2;
    private const int RetainedSize = 1 << 20;

    private byte[] _buffer = new byte[InitialSize];
    private int _used;

    /// <summary>True when a reply exceeded the cap (the connection is then closed).</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Number of datagrams collected.</summary>
    public int Count => _datagrams.Count;

    /// <summary>Datagram <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> this[int index] => _buffer.AsMemory(_datagrams[index].Offset, _datagrams[index].Length);

    /// <summary>Forgets the previous request's replies (keeps the buffer).</summary>
    public void Reset()
    {
        _datagrams.Clear();
        _used = 0;
        Overflowed = false;
        if (_buffer.Length > RetainedSize) _buffer = new byte[InitialSize]; // one huge dump should not pin memory for the connection's life
    }

    /// <inheritdoc />
    public bool Send(ReadOnlySpan<byte> datagram)
    {
        if (Overflowed) return false;
        if ((long)_used + datagram.Length > maxBytes)
        {
            Overflowed = true;
            return false;
        }
        if (_used + datagram.Length > _buffer.Length)
            Array.Resize(ref _buffer, (int)Math.Min(Math.Max(2L * _buffer.Length, _used + datagram.Length), maxBytes));
        datagram.CopyTo(_buffer.AsSpan(_used));
        _datagrams.Add((_used, datagram.Length));
        _used += datagram.Length;
        return true;
    }
}
