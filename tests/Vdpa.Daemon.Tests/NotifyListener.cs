using System.Net.Sockets;
using System.Text;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>A fake systemd notification socket: a bound AF_UNIX datagram socket (path or abstract name).</summary>
internal sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<string> _seen = [];

    /// <summary>Binds <paramref name="address"/>: a path, or "@name" for the abstract namespace (as NOTIFY_SOCKET spells it).</summary>
    public NotifyListener(string address)
    {
        Address = address;
        _socket.Bind(new UnixDomainSocketEndPoint(address.StartsWith('@') ? "\0" + address[1..] : address));
    }

    /// <summary>The value for NOTIFY_SOCKET.</summary>
    public string Address { get; }

    /// <summary>Every datagram so far (for failure messages).</summary>
    public string Seen { get { lock (_seen) return string.Join(" | ", _seen.Select(s => s.Replace('\n', ';'))); } }

    /// <summary>Waits for a datagram with a line equal to <paramref name="line"/>; returns the whole datagram.</summary>
    public async Task<string> WaitForAsync(string line, TimeSpan timeout, Func<string> describe)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{line}' within {timeout}; notifications seen: [{Seen}]; {describe()}");
            }
            string text = Encoding.UTF8.GetString(buffer, 0, n);
            lock (_seen) _seen.Add(text);
            if (text.Split('\n').Contains(line)) return text;
        }
    }

    public void Dispose() => _socket.Dispose();
}
