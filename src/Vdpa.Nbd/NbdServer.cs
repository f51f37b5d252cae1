using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.CompilerServices;
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
/// are written as requests complete, so they may leave out of order (the peer matches them by handle). Execution
/// model: one reader loop, one long-lived worker loop per request slot, one sender loop; they hand slots to each
/// other through allocation-free signals, and buffers come from the shared array pool, so a steady state allocates
/// nothing per request. FUA is a
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
    private readonly Slot[] _slots;
    private readonly Stack<Slot> _free;
    private readonly AsyncSignal _slotFreed = new();      // the reader waits: a slot came back (or stop)
    private readonly ConcurrentQueue<Slot> _replies = new();
    private readonly AsyncSignal _replyReady = new();     // the sender waits: a reply is queued (or stop)
    private Task[] _loops = [];
    private int _inFlight;
    private volatile bool _stopRequested;
    private volatile bool _finished;
    private volatile bool _sendBroken;
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
        TransmissionFlags = FlagsFor(target);
        _slots = new Slot[options.MaxInFlight];
        _free = new Stack<Slot>(options.MaxInFlight);
        for (int i = options.MaxInFlight - 1; i >= 0; i--)
        {
            _slots[i] = new Slot();
            _free.Push(_slots[i]);
        }
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
        var loops = new Task[server._slots.Length + 1];
        for (int i = 0; i < server._slots.Length; i++)
        {
            var slot = server._slots[i];
            loops[i] = Task.Run(() => server.WorkerLoopAsync(slot));
        }
        loops[^1] = Task.Run(server.SenderLoopAsync);
        server._loops = loops;
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

    // ---- reader ----

    private async Task<string> RunAsync()
    {
        byte[] header = new byte[NbdRequestHeader.Size];
        try
        {
            while (true)
            {
                int got = await ReceiveAsync(header).ConfigureAwait(false);
                if (_stopRequested) break;
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

                // At the in-flight limit, stop reading until a reply went out.
                Slot? slot;
                while ((slot = TakeFree()) is null && !_stopRequested) await _slotFreed.WaitAsync().ConfigureAwait(false);
                if (slot is null) break;

                if (req.Command == NbdCommand.Write)
                {
                    if (req.Length > (uint)_options.MaxPayloadBytes)
                    {
                        ReturnFree(slot);
                        SetCloseReason($"WRITE of {req.Length} bytes exceeds the {_options.MaxPayloadBytes}-byte maximum");
                        break;
                    }
                    byte[] payload = slot.AcquireData((int)req.Length);
                    int n = await ReceiveAsync(payload.AsMemory(0, (int)req.Length)).ConfigureAwait(false);
                    if (n < req.Length)
                    {
                        ReturnFree(slot);
                        SetCloseReason(_stopRequested ? "the server was stopped" : $"the stream ended inside a WRITE payload ({n} of {req.Length} bytes)");
                        break;
                    }
                }
                slot.Request = req;
                slot.Error = Validate(req);
                Interlocked.Increment(ref _inFlight);
                slot.Ready.Set();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            SetCloseReason(_stopRequested ? "the server was stopped" : $"receive failed: {e.Message}");
        }
        SetCloseReason("the server was stopped");

        // NBD protocol: after NBD_CMD_DISC the server answers what is still in flight, then closes.
        while (Volatile.Read(ref _inFlight) != 0) await _slotFreed.WaitAsync().ConfigureAwait(false);
        _finished = true;
        foreach (var s in _slots) s.Ready.Set();
        _replyReady.Set();
        await Task.WhenAll(_loops).ConfigureAwait(false);
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
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer[got..], SocketFlags.None).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    private Slot? TakeFree()
    {
        lock (_free) return _free.Count > 0 ? _free.Pop() : null;
    }

    private void ReturnFree(Slot slot)
    {
        slot.ReleaseData();
        lock (_free) _free.Push(slot);
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

    // ---- workers: one per slot, for the server's lifetime ----

    private async Task WorkerLoopAsync(Slot slot)
    {
        while (true)
        {
            await slot.Ready.WaitAsync().ConfigureAwait(false);
            if (_finished) return;
            // Ready is set exactly once per assignment, after the reader filled the slot; a spurious wake-up (the
            // final stop signal) only happens once nothing is in flight.
            NbdRequestHeader req = slot.Request;
            NbdError error = slot.Error;
            int dataBytes = 0;
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
                            byte[] into = slot.AcquireData(NbdSimpleReply.Size + length);
                            await _target.ReadAsync(offset, into.AsMemory(NbdSimpleReply.Size, length), CancellationToken.None).ConfigureAwait(false);
                            dataBytes = length;
                            Interlocked.Add(ref _bytesRead, length);
                            break;
                        case NbdCommand.Write:
                            await _target.WriteAsync(offset, slot.Data.AsMemory(0, length), CancellationToken.None).ConfigureAwait(false);
                            Interlocked.Add(ref _bytesWritten, length);
                            if (fua) await _target.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                            break;
                        case NbdCommand.Flush:
                            await _target.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                            break;
                        case NbdCommand.Trim:
                            await _target.DiscardAsync(offset, req.Length, CancellationToken.None).ConfigureAwait(false);
                            if (fua) await _target.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                            break;
                        case NbdCommand.WriteZeroes:
                            await _target.WriteZeroesAsync(offset, req.Length, (req.Flags & NbdCommandFlags.NoHole) == 0, CancellationToken.None).ConfigureAwait(false);
                            if (fua) await _target.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                            break;
                    }
                }
                catch (Exception e)
                {
                    // Any failure of the device ends as an error reply to this request only; a removed device also
                    // ends the connection.
                    error = MapError(e);
                    dataBytes = 0;
                    if (error == NbdError.Shutdown) Stop($"the device went away: {e.Message}");
                }
            }
            if (error != NbdError.None) Interlocked.Increment(ref _errors);
            // A READ's data follows its reply header in the same buffer (one send); any other reply is the header alone.
            slot.Reply = dataBytes > 0 ? slot.Data! : slot.HeaderBytes;
            new NbdSimpleReply(error, req.Handle).Write(slot.Reply);
            slot.ReplyBytes = NbdSimpleReply.Size + dataBytes;
            _replies.Enqueue(slot);
            _replyReady.Set();
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

    // ---- sender: the only writer of the socket ----

    private async Task SenderLoopAsync()
    {
        while (true)
        {
            while (_replies.TryDequeue(out Slot? slot))
            {
                if (!_sendBroken)
                {
                    try
                    {
                        ReadOnlyMemory<byte> data = slot.Reply.AsMemory(0, slot.ReplyBytes);
                        while (!data.IsEmpty)
                        {
                            int n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                            if (n <= 0) throw new IOException("the socket accepted no bytes");
                            data = data[n..];
                        }
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
                    {
                        // The peer is gone: later replies are dropped, the reader is stopped.
                        _sendBroken = true;
                        Stop($"sending a reply failed: {e.Message}");
                    }
                }
                ReturnFree(slot);
                Interlocked.Decrement(ref _inFlight);
                _slotFreed.Set();
            }
            if (_finished) return;
            await _replyReady.WaitAsync().ConfigureAwait(false);
        }
    }

    private void SetCloseReason(string reason) => Interlocked.CompareExchange(ref _closeReason, reason, null);

    private void Stop(string reason)
    {
        SetCloseReason(reason);
        _stopRequested = true;
        _slotFreed.Set();
        try
        {
            // Wakes a pending receive with end of stream; replies can still be sent.
            _socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
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
        // Unblock a send stuck on a peer that stopped reading: the socket goes away under it.
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

    /// <summary>
    /// One request slot: the request, its data buffer and the worker's wake-up signal. The slot keeps a buffer of up
    /// to <see cref="OwnedMax"/> bytes across requests (grown to the largest seen, so a steady state allocates
    /// nothing); larger requests (the kernel sends up to 32 MiB) borrow from the shared pool for their duration.
    /// </summary>
    private sealed class Slot
    {
        private const int OwnedMax = NbdSimpleReply.Size + (128 << 10);
        private byte[]? _owned;
        private byte[]? _rented;

        public readonly AsyncSignal Ready = new();
        public readonly byte[] HeaderBytes = new byte[NbdSimpleReply.Size];
        public NbdRequestHeader Request;
        public NbdError Error;
        public byte[]? Data;
        public byte[] Reply = [];
        public int ReplyBytes;

        /// <summary>A buffer of at least <paramref name="bytes"/> for this request (WRITE payload or READ reply).</summary>
        public byte[] AcquireData(int bytes)
        {
            if (bytes > OwnedMax) return Data = _rented = ArrayPool<byte>.Shared.Rent(bytes);
            if (_owned is null || _owned.Length < bytes) _owned = new byte[Math.Min(OwnedMax, (int)BitOperations.RoundUpToPowerOf2((uint)bytes))];
            return Data = _owned;
        }

        public void ReleaseData()
        {
            if (_rented is not null) ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
            Data = null;
            Reply = [];
            ReplyBytes = 0;
        }
    }
}
