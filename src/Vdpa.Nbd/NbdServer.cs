using System.Buffers;
using System.Net.Sockets;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// The transmission phase of an NBD server (NBD protocol, "simple replies" only) on a connected stream socket,
/// serving one block device. The peer is normally the kernel's nbd driver, which skips the handshake (the export's
/// size, block size and flags are given to it through netlink), but nothing from the peer is trusted: every
/// request is checked (magic, command, flags, alignment, range, length) before the device sees it.
/// </summary>
/// <remarks>
/// Requests are read in order and run concurrently (at most <see cref="NbdServerOptions.MaxInFlight"/>); replies
/// are written as requests complete, so they may leave out of order (the peer matches them by handle). FUA is a
/// write followed by a device flush. NBD_CMD_DISC (or end of stream) stops reading; what is in flight is finished
/// and answered, then the socket is shut down. A device that went away answers ESHUTDOWN and closes the connection.
/// A request with a bad magic, a WRITE whose payload is longer than the server takes, or a stream that ends in the
/// middle of a request closes the connection (no resynchronisation is possible).
/// </remarks>
public sealed class NbdServer : IAsyncDisposable
{
    private const int Sector = 512;

    private readonly Socket _socket;
    private readonly INbdBlockTarget _target;
    private readonly NbdServerOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight = 1; // the reader's own reference; handlers add theirs
    private string? _closeReason;
    private long _requests;
    private long _errors;
    private long _bytesRead;
    private long _bytesWritten;
    private Task<string> _run = null!;

    private NbdServer(Socket socket, INbdBlockTarget target, NbdServerOptions options)
    {
        _socket = socket;
        _target = target;
        _options = options;
        _slots = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        TransmissionFlags = FlagsFor(target);
    }

    /// <summary>
    /// Starts serving <paramref name="device"/> on <paramref name="socket"/> (a connected stream socket; the server
    /// owns it from now on).
    /// </summary>
    public static NbdServer Start(Socket socket, VirtioBlkDevice device, NbdServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Start(socket, new VirtioBlkTarget(device), options);
    }

    internal static NbdServer Start(Socket socket, INbdBlockTarget target, NbdServerOptions? options)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(target);
        options ??= NbdServerOptions.Default;
        options.Validate();
        var server = new NbdServer(socket, target, options);
        server._run = Task.Run(server.RunAsync);
        return server;
    }

    /// <summary>
    /// The transmission flags matching the device: HAS_FLAGS; READ_ONLY (VIRTIO_BLK_F_RO); SEND_FLUSH and SEND_FUA
    /// (VIRTIO_BLK_F_FLUSH: the device has a volatile cache); SEND_TRIM (DISCARD); SEND_WRITE_ZEROES (WRITE_ZEROES).
    /// </summary>
    public NbdTransmissionFlags TransmissionFlags { get; }

    /// <summary>Export size in bytes (capacity × 512, rounded down to <see cref="BlockSize"/>).</summary>
    public long SizeBytes => _target.SizeBytes;

    /// <summary>Logical block size of the export (the device's blk_size).</summary>
    public int BlockSize => _target.BlockSize;

    /// <summary>Completes when the connection ended, with the reason (e.g. "NBD_CMD_DISC").</summary>
    public Task<string> Completion => _run;

    /// <summary>Requests received (DISC included).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered with an error.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Payload bytes read from the device for READ replies.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Payload bytes written to the device.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    internal static NbdTransmissionFlags FlagsFor(INbdBlockTarget t)
    {
        var f = NbdTransmissionFlags.HasFlags;
        if (t.IsReadOnly) f |= NbdTransmissionFlags.ReadOnly;
        if (t.SupportsFlush) f |= NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua;
        if (t.SupportsDiscard && !t.IsReadOnly) f |= NbdTransmissionFlags.SendTrim;
        if (t.SupportsWriteZeroes && !t.IsReadOnly) f |= NbdTransmissionFlags.SendWriteZeroes;
        return f;
    }

    // ---- receive side ----

    private async Task<string> RunAsync()
    {
        byte[] header = new byte[NbdRequestHeader.Size];
        CancellationToken ct = _stop.Token;
        try
        {
            while (true)
            {
                int got = await ReceiveAsync(header, ct).ConfigureAwait(false);
                if (got == 0)
                {
                    SetCloseReason("the peer closed the connection");
                    break;
                }
                if (got < header.Length)
                {
                    SetCloseReason($"the stream ended inside a request header ({got} of {NbdRequestHeader.Size} bytes)");
                    break;
                }
                if (!NbdRequestHeader.TryRead(header, out NbdRequestHeader req))
                {
                    SetCloseReason($"bad request magic 0x{System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header):x8}");
                    break;
                }
                Interlocked.Increment(ref _requests);
                if (req.Command == NbdCommand.Disconnect)
                {
                    SetCloseReason("NBD_CMD_DISC");
                    break;
                }

                await _slots.WaitAsync(ct).ConfigureAwait(false);
                byte[]? payload = null;
                if (req.Command == NbdCommand.Write)
                {
                    if (req.Length > (uint)_options.MaxPayloadBytes)
                    {
                        _slots.Release();
                        SetCloseReason($"WRITE of {req.Length} bytes exceeds the {_options.MaxPayloadBytes}-byte maximum");
                        break;
                    }
                    payload = ArrayPool<byte>.Shared.Rent((int)req.Length);
                    int n = await ReceiveAsync(payload.AsMemory(0, (int)req.Length), ct).ConfigureAwait(false);
                    if (n < req.Length)
                    {
                        ArrayPool<byte>.Shared.Return(payload);
                        _slots.Release();
                        SetCloseReason($"the stream ended inside a WRITE payload ({n} of {req.Length} bytes)");
                        break;
                    }
                }
                Interlocked.Increment(ref _inFlight);
                _ = HandleAsync(req, Validate(req), payload);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            SetCloseReason("the server was stopped");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            SetCloseReason($"receive failed: {e.Message}");
        }

        // NBD protocol: after NBD_CMD_DISC the server answers what is still in flight, then closes.
        ReleaseInFlight();
        await _drained.Task.ConfigureAwait(false);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
        _socket.Dispose();
        return _closeReason!;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer[got..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    /// <summary>The error a request gets before the device sees it, or <see cref="NbdError.None"/>.</summary>
    internal NbdError Validate(in NbdRequestHeader req)
    {
        const NbdCommandFlags known = NbdCommandFlags.Fua | NbdCommandFlags.NoHole;
        if ((req.Flags & ~known) != 0) return NbdError.Invalid; // DF, REQ_ONE, FAST_ZERO and unknown bits were not negotiated
        if ((req.Flags & NbdCommandFlags.NoHole) != 0 && req.Command != NbdCommand.WriteZeroes) return NbdError.Invalid;
        switch (req.Command)
        {
            case NbdCommand.Read:
                if (req.Length > (uint)_options.MaxPayloadBytes) return NbdError.Invalid;
                return CheckRange(req, NbdError.Invalid);
            case NbdCommand.Write:
                if (_target.IsReadOnly) return NbdError.Perm;
                return CheckRange(req, NbdError.NoSpace);
            case NbdCommand.Flush:
                return NbdError.None;
            case NbdCommand.Trim:
                if ((TransmissionFlags & NbdTransmissionFlags.SendTrim) == 0) return _target.IsReadOnly ? NbdError.Perm : NbdError.Invalid;
                return CheckRange(req, NbdError.Invalid);
            case NbdCommand.WriteZeroes:
                if ((TransmissionFlags & NbdTransmissionFlags.SendWriteZeroes) == 0) return _target.IsReadOnly ? NbdError.Perm : NbdError.Invalid;
                return CheckRange(req, NbdError.Invalid);
            default:
                // CACHE, BLOCK_STATUS, RESIZE and unknown types were not advertised.
                return NbdError.Invalid;
        }
    }

    private NbdError CheckRange(in NbdRequestHeader req, NbdError pastEnd)
    {
        if (req.Length == 0 || req.Offset % Sector != 0 || req.Length % Sector != 0) return NbdError.Invalid;
        ulong size = (ulong)_target.SizeBytes;
        if (req.Offset > size || req.Length > size - req.Offset) return pastEnd;
        return NbdError.None;
    }

    // ---- request execution and replies ----

    private async Task HandleAsync(NbdRequestHeader req, NbdError error, byte[]? payload)
    {
        byte[]? reply = null;
        int dataBytes = 0;
        try
        {
            CancellationToken ct = _stop.Token;
            if (error == NbdError.None)
            {
                try
                {
                    long offset = (long)req.Offset;
                    int length = (int)Math.Min(req.Length, int.MaxValue);
                    bool fua = (req.Flags & NbdCommandFlags.Fua) != 0;
                    switch (req.Command)
                    {
                        case NbdCommand.Read:
                            reply = ArrayPool<byte>.Shared.Rent(NbdSimpleReply.Size + length);
                            await _target.ReadAsync(offset, reply.AsMemory(NbdSimpleReply.Size, length), ct).ConfigureAwait(false);
                            dataBytes = length;
                            Interlocked.Add(ref _bytesRead, length);
                            break;
                        case NbdCommand.Write:
                            await _target.WriteAsync(offset, payload.AsMemory(0, length), ct).ConfigureAwait(false);
                            Interlocked.Add(ref _bytesWritten, length);
                            if (fua) await _target.FlushAsync(ct).ConfigureAwait(false);
                            break;
                        case NbdCommand.Flush:
                            await _target.FlushAsync(ct).ConfigureAwait(false);
                            break;
                        case NbdCommand.Trim:
                            await _target.DiscardAsync(offset, req.Length, ct).ConfigureAwait(false);
                            if (fua) await _target.FlushAsync(ct).ConfigureAwait(false);
                            break;
                        case NbdCommand.WriteZeroes:
                            await _target.WriteZeroesAsync(offset, req.Length, (req.Flags & NbdCommandFlags.NoHole) == 0, ct).ConfigureAwait(false);
                            if (fua) await _target.FlushAsync(ct).ConfigureAwait(false);
                            break;
                    }
                }
                catch (Exception e)
                {
                    // Any failure of the device ends as an error reply to this request only; a removed device (or a
                    // stopped server) also ends the connection.
                    error = MapError(e);
                    dataBytes = 0;
                    if (error == NbdError.Shutdown) Stop(e is OperationCanceledException ? "the server was stopped" : $"the device went away: {e.Message}");
                }
            }
            if (error != NbdError.None) Interlocked.Increment(ref _errors);
            reply ??= ArrayPool<byte>.Shared.Rent(NbdSimpleReply.Size);
            new NbdSimpleReply(error, req.Handle).Write(reply);
            await SendAsync(reply.AsMemory(0, NbdSimpleReply.Size + dataBytes)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            Stop($"sending a reply failed: {e.Message}");
        }
        finally
        {
            if (payload is not null) ArrayPool<byte>.Shared.Return(payload);
            if (reply is not null) ArrayPool<byte>.Shared.Return(reply);
            _slots.Release();
            ReleaseInFlight();
        }
    }

    /// <summary>NBD error for a failed device operation.</summary>
    internal static NbdError MapError(Exception e) => e switch
    {
        VirtioDeviceRemovedException or ObjectDisposedException or OperationCanceledException => NbdError.Shutdown,
        VirtioBlkException { Status: BlkStatus.Unsupp } => NbdError.NotSupported,
        NotSupportedException => NbdError.Perm, // read-only device, or an operation it does not offer
        ArgumentException => NbdError.Invalid,  // the device's own range check (capacity shrank)
        OutOfMemoryException => NbdError.NoMemory,
        _ => NbdError.Io,
    };

    private async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            while (!data.IsEmpty)
            {
                int n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                if (n <= 0) throw new IOException("the socket accepted no bytes");
                data = data[n..];
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private void ReleaseInFlight()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0) _drained.TrySetResult();
    }

    private void SetCloseReason(string reason) => Interlocked.CompareExchange(ref _closeReason, reason, null);

    private void Stop(string reason)
    {
        SetCloseReason(reason);
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }

    /// <summary>
    /// Stops reading, waits (at most <paramref name="timeout"/>) for what is in flight to be answered, and closes the
    /// socket. Returns false when requests were still outstanding at the deadline (the device did not complete them).
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        Stop("the server was stopped");
        var done = await Task.WhenAny(_run, Task.Delay(timeout)).ConfigureAwait(false);
        if (done == _run) return true;
        // Unblock handlers waiting to send: the socket goes away under them.
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        return false;
    }

    /// <summary>Stops the server (as <see cref="StopAsync"/> with 10 s).</summary>
    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
}
