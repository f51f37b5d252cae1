using Uvdpa.Virtio.Platform.Linux;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Uvdpa.Vdpa.Management;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// The management socket: AF_UNIX SOCK_SEQPACKET, one netlink request datagram in, reply datagrams out, as one
/// recvmsg/sendmsg each on a NETLINK_GENERIC socket. Each connection has its own async loop and its peer's
/// credentials (SO_PEERCRED, read once at accept); whatever one connection does (garbage, an oversized datagram,
/// a disconnect mid-dump, not reading) ends at most that connection.
/// </summary>
internal sealed class ManagementSocketServer : IAsyncDisposable
{
    /// <summary>Largest request datagram accepted (the receive buffer); a larger one closes its connection.</summary>
    public const int MaxRequestSize = 64 * 1024;

    /// <summary>Cap on the replies to one request (a dump of every device), far above any real bus.</summary>
    public const long MaxReplyBytes = 256L * 1024 * 1024;

    private const int Backlog = 512;

    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<long, Socket> _connections = new();
    private readonly ConcurrentDictionary<long, Task> _connectionTasks = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _stopLock = new();
    private NetlinkService? _service;
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _nextConnection;
    private bool _ownsSocketFile;
    private Task? _stopped;

    public ManagementSocketServer(string path, ILogger logger)
    {
        SocketPath = path;
        _logger = logger;
    }

    /// <summary>The socket path.</summary>
    public string SocketPath { get; }

    /// <summary>Open connections.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>
    /// Creates the directory, claims the path (a stale socket file nobody listens on is removed; a live one or a
    /// non-socket file is an error), binds, applies mode and group. Not yet listening: connects are refused.
    /// </summary>
    public void Bind(UnixFileMode mode, uint? groupId)
    {
        string? dir = Path.GetDirectoryName(SocketPath);
        try
        {
            if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"cannot create socket directory {dir}: {e.Message}", e);
        }

        ClaimPath();

        UnixDomainSocketEndPoint endPoint;
        try
        {
            endPoint = new UnixDomainSocketEndPoint(SocketPath);
        }
        catch (ArgumentException e)
        {
            throw new DaemonStartupException($"socket path {SocketPath} is not usable: {e.Message}", e);
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            listener.Bind(endPoint);
            _ownsSocketFile = true;
            File.SetUnixFileMode(SocketPath, mode);
            if (groupId is uint gid) UnixFile.ChangeGroup(SocketPath, gid);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            UnlinkSocketFile();
            throw new DaemonStartupException($"cannot bind {SocketPath}: {e.Message}", e);
        }
        _listener = listener;
    }

    /// <summary>listen(2) and start accepting; every request goes to <paramref name="service"/>.</summary>
    public void Start(NetlinkService service)
    {
        var listener = _listener ?? throw new InvalidOperationException("Bind first.");
        _service = service;
        try
        {
            listener.Listen(Backlog);
        }
        catch (SocketException e)
        {
            throw new DaemonStartupException($"cannot listen on {SocketPath}: {e.Message}", e);
        }
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener, _stop.Token));
    }

    private void ClaimPath()
    {
        UnixFileStatus status;
        try
        {
            if (!UnixFile.TryGetStatus(SocketPath, out status)) return;
        }
        catch (IOException e)
        {
            throw new DaemonStartupException($"cannot examine socket path {SocketPath}: {e.Message}", e);
        }
        if (!status.IsSocket)
            throw new DaemonStartupException($"{SocketPath} exists and is not a socket; refusing to replace it");

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(SocketPath));
                throw new DaemonStartupException($"another vdpad is already listening on {SocketPath}");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
            {
                // ECONNREFUSED: a socket file nobody listens on, left by a daemon that did not shut down cleanly.
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ProtocolType)
            {
                throw new DaemonStartupException($"{SocketPath} is a live socket of another type (not SOCK_SEQPACKET); refusing to replace it", e);
            }
            catch (SocketException e)
            {
                throw new DaemonStartupException($"cannot probe existing socket {SocketPath}: {e.Message}", e);
            }
        }
        Log.StaleSocketRemoved(_logger, SocketPath);
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"cannot remove stale socket {SocketPath}: {e.Message}", e);
        }
    }

    // A descriptor held in reserve for EMFILE: when the process runs out of descriptors, the pending client would
    // otherwise wait in the backlog forever. Releasing the reserve lets us accept it and close it at once, so the
    // client gets an error instead of a hang (the classic reserve-fd technique).
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _reserveFd = OpenReserve();

    private static Microsoft.Win32.SafeHandles.SafeFileHandle? OpenReserve()
    {
        try
        {
            return File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task<bool> ShedOneClientAsync(Socket listener, CancellationToken cancel)
    {
        var reserve = Interlocked.Exchange(ref _reserveFd, null);
        if (reserve is null) return false;
        reserve.Dispose();
        try
        {
            using var client = await listener.AcceptAsync(cancel).ConfigureAwait(false);
            Log.ClientShed(_logger);
        }
        catch (SocketException)
        {
            // Still no descriptor (another thread took it): fall back to backing off.
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Interlocked.CompareExchange(ref _reserveFd, OpenReserve(), null);
        }
        return true;
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (cancel.IsCancellationRequested) return;
                if (e.SocketErrorCode == SocketError.TooManyOpenSockets && await ShedOneClientAsync(listener, cancel).ConfigureAwait(false))
                    continue;
                // ENFILE/ENOBUFS (or no reserve left): back off briefly instead of spinning; existing connections keep working.
                Log.AcceptFailed(_logger, e.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }

            long id = Interlocked.Increment(ref _nextConnection);
            PeerCredentials peer;
            try
            {
                peer = LinuxSockets.GetPeerCredentials(client);
            }
            catch (Exception e) when (e is SocketException or PlatformException)
            {
                Log.PeerCredentialsFailed(_logger, id, e.Message);
                client.Dispose();
                continue;
            }
            Log.ConnectionAccepted(_logger, id, peer.ProcessId, peer.UserId, peer.GroupId);
            _connections[id] = client;
            Task task = Task.Run(() => ServeAsync(id, client, peer, cancel), CancellationToken.None);
            _connectionTasks[id] = task;
            _ = task.ContinueWith(_ => _connectionTasks.TryRemove(id, out Task? _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(long id, Socket socket, PeerCredentials peer, CancellationToken cancel)
    {
        NetlinkService service = _service!;
        string reason = "peer closed";
        var buffer = new byte[MaxRequestSize + 1]; // one byte more: a datagram that fills it was truncated
        var sink = new BufferedReplySink(MaxReplyBytes);
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel).ConfigureAwait(false);
                if (n == 0) break; // EOF (SOCK_SEQPACKET: the peer shut down or closed)
                if (n > MaxRequestSize)
                {
                    Log.RequestTooLarge(_logger, id, peer.ProcessId, MaxRequestSize);
                    reason = "request too large";
                    break;
                }

                sink.Reset();
                try
                {
                    service.HandleDatagram(buffer.AsSpan(0, n), peer, sink);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The service answers malformed input itself; an exception here is a bug. It ends this
                    // connection only.
                    Log.RequestFailed(_logger, e, id, peer.ProcessId);
                    reason = "request failed";
                    break;
                }

                for (int i = 0; i < sink.Count; i++)
                    await socket.SendAsync(sink[i], SocketFlags.None, cancel).ConfigureAwait(false);
                if (sink.Overflowed)
                {
                    Log.ReplyTooLarge(_logger, id, peer.ProcessId, MaxReplyBytes);
                    reason = "reply too large";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "daemon stopping";
        }
        catch (ObjectDisposedException)
        {
            reason = "daemon stopping";
        }
        catch (SocketException e)
        {
            reason = e.Message; // EPIPE / ECONNRESET: the peer went away mid-reply
        }
        finally
        {
            _connections.TryRemove(id, out _);
            socket.Dispose();
            Log.ConnectionClosed(_logger, id, reason);
        }
    }

    /// <summary>Stops accepting, closes every connection and waits for their loops (a request in progress finishes). Idempotent.</summary>
    public Task StopAsync()
    {
        lock (_stopLock) return _stopped ??= StopCoreAsync();
    }

    private async Task StopCoreAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        foreach (Socket s in _connections.Values)
        {
            try
            {
                s.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // already gone
            }
        }
        await Task.WhenAll(_connectionTasks.Values).ConfigureAwait(false);
    }

    /// <summary>Removes the socket file if this server created it.</summary>
    public void UnlinkSocketFile()
    {
        if (!_ownsSocketFile) return;
        _ownsSocketFile = false;
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stale file is cleaned up by the next start.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        UnlinkSocketFile();
        Interlocked.Exchange(ref _reserveFd, null)?.Dispose();
    }
}
