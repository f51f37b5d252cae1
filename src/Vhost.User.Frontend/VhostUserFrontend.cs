using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Frontend;

/// <summary>
/// The front-end side of one vhost-user connection (QEMU's hw/virtio/vhost-user.c role): sends requests with the
/// message codec of <see cref="VhostUserConnection"/> and validates every reply, because the back-end is not trusted
/// either. <see cref="Connect"/> performs the session start (GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
/// SET_OWNER); the other members are one request each. Requests are serialised; thread-safe.
/// </summary>
/// <remarks>
/// Errors: a reply that is malformed (wrong request id, flags, size, descriptors, index) or missing within
/// <see cref="VhostUserFrontendOptions.ReplyTimeout"/>, and a closed socket, throw
/// <see cref="VhostUserProtocolException"/> and mark the connection broken (every later request throws at once: the
/// stream can no longer be trusted). A request the back-end NACKed (REPLY_ACK status ≠ 0, GET_CONFIG with size 0)
/// throws <see cref="VhostUserRequestException"/> and the connection stays usable.
/// </remarks>
public sealed class VhostUserFrontend : IDisposable
{
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES: the "unused" virtio bit 30.</summary>
    public const int ProtocolFeaturesBit = 30;

    /// <summary>VHOST_F_LOG_ALL (bit 26): dirty logging for migration, never used here.</summary>
    public const int LogAllBit = 26;

    /// <summary>Protocol features this front-end can use; the session acks their intersection with the offer.</summary>
    public const ProtocolFeatures SupportedProtocolFeatures = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config;

    /// <summary>Most vrings a session addresses (the kick/call index is 8 bits).</summary>
    public const int MaxVrings = 256;

    private readonly VhostUserConnection _connection;
    private readonly EventFd _closing = EventFd.Create(nonBlocking: true);
    private readonly Lock _lock = new();
    private readonly int _timeoutMs;
    private string? _broken;
    private int _disposed;

    private VhostUserFrontend(VhostUserConnection connection, VhostUserFrontendOptions options)
    {
        _connection = connection;
        _timeoutMs = (int)Math.Clamp(options.ReplyTimeout.TotalMilliseconds, 1, int.MaxValue);
    }

    /// <summary>Virtio and vhost feature bits the back-end offered (GET_FEATURES), bit 30 included.</summary>
    public ulong BackendFeatures { get; private set; }

    /// <summary>Protocol features the back-end offered (0 when it does not offer bit 30).</summary>
    public ProtocolFeatures OfferedProtocolFeatures { get; private set; }

    /// <summary>Protocol features acked by SET_PROTOCOL_FEATURES.</summary>
    public ProtocolFeatures ProtocolFeatures { get; private set; }

    /// <summary>True when bit 30 was offered (then SET_FEATURES carries it and rings start disabled).</summary>
    public bool ProtocolFeaturesNegotiated { get; private set; }

    /// <summary>Queues the back-end serves (GET_QUEUE_NUM with MQ, else 1).</summary>
    public int QueueCount { get; private set; } = 1;

    /// <summary>Why the connection is unusable, or null while it works.</summary>
    public string? BrokenReason { get { lock (_lock) return _broken; } }

    /// <summary>Connects to the back-end socket at <paramref name="path"/> and starts the session.</summary>
    public static VhostUserFrontend Connect(string path, VhostUserFrontendOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= VhostUserFrontendOptions.Default;
        options.Validate();
        var socket = UnixStreamSocket.Connect(path);
        return Start(new VhostUserConnection(socket), options);
    }

    /// <summary>Starts a session on an already connected socket (takes ownership).</summary>
    public static VhostUserFrontend Start(VhostUserConnection connection, VhostUserFrontendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= VhostUserFrontendOptions.Default;
        options.Validate();
        var f = new VhostUserFrontend(connection, options);
        try
        {
            f.Handshake();
            return f;
        }
        catch
        {
            f.Dispose();
            throw;
        }
    }

    private void Handshake()
    {
        // QEMU's vhost_user_backend_init order (shared/docs/reference/vhost-user.md §3.1 A).
        BackendFeatures = GetU64(FrontendRequest.GetFeatures);
        if ((BackendFeatures & (1UL << ProtocolFeaturesBit)) != 0)
        {
            ProtocolFeaturesNegotiated = true;
            OfferedProtocolFeatures = (ProtocolFeatures)GetU64(FrontendRequest.GetProtocolFeatures);
            var acked = OfferedProtocolFeatures & SupportedProtocolFeatures;
            // No NEED_REPLY yet: REPLY_ACK applies only once this message was processed.
            Send(FrontendRequest.SetProtocolFeatures, (ulong)acked, wantAck: false);
            ProtocolFeatures = acked;
        }
        if ((ProtocolFeatures & ProtocolFeatures.Mq) != 0)
        {
            ulong n = GetU64(FrontendRequest.GetQueueNum);
            if (n == 0 || n > MaxVrings) throw Broken(FrontendRequest.GetQueueNum, $"back-end reports {n} queues (expected 1..{MaxVrings})");
            QueueCount = (int)n;
        }
        Send(FrontendRequest.SetOwner, ReadOnlySpan<byte>.Empty);
    }

    // ---- requests ----

    /// <summary>SET_FEATURES: <paramref name="features"/> must be a subset of <see cref="BackendFeatures"/>; bit 30 is added when negotiated.</summary>
    public void SetFeatures(ulong features)
    {
        if ((features & ~BackendFeatures) != 0) throw new ArgumentException($"features 0x{features & ~BackendFeatures:x} were not offered", nameof(features));
        if (ProtocolFeaturesNegotiated) features |= 1UL << ProtocolFeaturesBit;
        Send(FrontendRequest.SetFeatures, features);
    }

    /// <summary>
    /// GET_CONFIG of <paramref name="destination"/>.Length bytes at <paramref name="offset"/> into <paramref name="destination"/>.
    /// Returns false when the back-end answered with an error (size 0 or an empty reply).
    /// </summary>
    public bool TryGetConfig(uint offset, Span<byte> destination)
    {
        const FrontendRequest r = FrontendRequest.GetConfig;
        RequireProtocol(r, ProtocolFeatures.Config);
        if (destination.IsEmpty || destination.Length > VhostUserConfigHeader.MaxConfigSize)
            throw new ArgumentOutOfRangeException(nameof(destination), $"config reads are 1..{VhostUserConfigHeader.MaxConfigSize} bytes");
        var request = new byte[VhostUserConfigHeader.Size + destination.Length];
        var header = new VhostUserConfigHeader { Offset = offset, ConfigSize = (uint)destination.Length, Flags = VhostUserConfigHeader.FlagFrontend };
        MemoryMarshal.Write(request, in header);
        lock (_lock)
        {
            ThrowIfBroken(r);
            SendUnsynchronized(r, 0, request, default);
            using var reply = ReadReplyUnsynchronized(r);
            // libvhost-user shrinks the reply to 0 bytes on error; QEMU-style back-ends reply with size 0.
            if (reply.Payload.Length == 0) return false;
            if (reply.Payload.Length < VhostUserConfigHeader.Size)
                throw BrokenUnsynchronized(r, $"reply of {reply.Payload.Length} bytes is shorter than the config header");
            var h = reply.Read<VhostUserConfigHeader>();
            if (h.ConfigSize == 0) return false;
            if (h.Offset != offset || h.ConfigSize != (uint)destination.Length || reply.Payload.Length != request.Length)
                throw BrokenUnsynchronized(r, $"reply describes {h.ConfigSize} bytes at {h.Offset} in {reply.Payload.Length} bytes, asked {destination.Length} at {offset}");
            reply.Payload.AsSpan(VhostUserConfigHeader.Size).CopyTo(destination);
            return true;
        }
    }

    /// <summary>SET_CONFIG of <paramref name="source"/> at <paramref name="offset"/>.</summary>
    public void SetConfig(uint offset, ReadOnlySpan<byte> source)
    {
        const FrontendRequest r = FrontendRequest.SetConfig;
        RequireProtocol(r, ProtocolFeatures.Config);
        if (source.IsEmpty || source.Length > VhostUserConfigHeader.MaxConfigSize)
            throw new ArgumentOutOfRangeException(nameof(source), $"config writes are 1..{VhostUserConfigHeader.MaxConfigSize} bytes");
        var payload = new byte[VhostUserConfigHeader.Size + source.Length];
        var header = new VhostUserConfigHeader { Offset = offset, ConfigSize = (uint)source.Length, Flags = VhostUserConfigHeader.FlagFrontend };
        MemoryMarshal.Write(payload, in header);
        source.CopyTo(payload.AsSpan(VhostUserConfigHeader.Size));
        Send(r, payload);
    }

    /// <summary>SET_MEM_TABLE: 1..8 regions, one descriptor each (the descriptors stay owned by the caller).</summary>
    public void SetMemTable(ReadOnlySpan<VhostUserMemoryRegion> regions, ReadOnlySpan<FileDescriptor> descriptors)
    {
        if (regions.IsEmpty || regions.Length > VhostUserMemory.MaxRegions)
            throw new ArgumentOutOfRangeException(nameof(regions), $"1..{VhostUserMemory.MaxRegions} regions");
        if (descriptors.Length != regions.Length) throw new ArgumentException("one descriptor per region", nameof(descriptors));
        var payload = new byte[VhostUserMemory.HeaderSize + regions.Length * VhostUserMemoryRegion.Size];
        MemoryMarshal.Write(payload, (uint)regions.Length);
        MemoryMarshal.AsBytes(regions).CopyTo(payload.AsSpan(VhostUserMemory.HeaderSize));
        Send(FrontendRequest.SetMemTable, payload, descriptors);
    }

    /// <summary>SET_VRING_NUM.</summary>
    public void SetVringNum(int index, uint num) => Send(FrontendRequest.SetVringNum, State(index, num));

    /// <summary>SET_VRING_BASE (split ring: the next available index the back-end reads).</summary>
    public void SetVringBase(int index, ushort baseIndex) => Send(FrontendRequest.SetVringBase, State(index, baseIndex));

    /// <summary>SET_VRING_ADDR with front-end virtual addresses of the three areas.</summary>
    public void SetVringAddr(int index, ulong desc, ulong avail, ulong used)
    {
        CheckIndex(index);
        Send(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = (uint)index, DescUserAddr = desc, AvailUserAddr = avail, UsedUserAddr = used });
    }

    /// <summary>SET_VRING_KICK with <paramref name="kick"/>, or NOFD (the back-end polls) when null.</summary>
    public void SetVringKick(int index, EventFd? kick) => SendFd(FrontendRequest.SetVringKick, index, kick);

    /// <summary>SET_VRING_CALL with <paramref name="call"/>, or NOFD (the front-end polls) when null.</summary>
    public void SetVringCall(int index, EventFd? call) => SendFd(FrontendRequest.SetVringCall, index, call);

    /// <summary>SET_VRING_ENABLE (only with bit 30 negotiated).</summary>
    public void SetVringEnable(int index, bool enable)
    {
        if (!ProtocolFeaturesNegotiated) throw new InvalidOperationException("SET_VRING_ENABLE needs VHOST_USER_F_PROTOCOL_FEATURES");
        Send(FrontendRequest.SetVringEnable, State(index, enable ? 1u : 0u));
    }

    /// <summary>GET_VRING_BASE: stops the ring and returns where the back-end stopped (the next available index).</summary>
    public ushort GetVringBase(int index)
    {
        const FrontendRequest r = FrontendRequest.GetVringBase;
        var state = State(index, 0);
        lock (_lock)
        {
            ThrowIfBroken(r);
            SendUnsynchronized(r, 0, MemoryMarshal.AsBytes(new ReadOnlySpan<VhostVringState>(in state)), default);
            using var reply = ReadReplyUnsynchronized(r);
            if (reply.Payload.Length != VhostVringState.Size) throw BrokenUnsynchronized(r, $"reply of {reply.Payload.Length} bytes, expected {VhostVringState.Size}");
            var s = reply.Read<VhostVringState>();
            if (s.Index != (uint)index) throw BrokenUnsynchronized(r, $"reply names vring {s.Index}, asked for {index}");
            if (s.Num > 0xffff) throw BrokenUnsynchronized(r, $"split ring base 0x{s.Num:x} does not fit 16 bits");
            return (ushort)s.Num;
        }
    }

    // ---- plumbing ----

    private static VhostVringState State(int index, uint num)
    {
        CheckIndex(index);
        return new VhostVringState { Index = (uint)index, Num = num };
    }

    private static void CheckIndex(int index)
    {
        if ((uint)index >= MaxVrings) throw new ArgumentOutOfRangeException(nameof(index), $"vring index {index} (0..{MaxVrings - 1})");
    }

    private void RequireProtocol(FrontendRequest r, ProtocolFeatures feature)
    {
        if ((ProtocolFeatures & feature) != feature) throw new InvalidOperationException($"{r} needs protocol feature {feature}, which the back-end did not offer");
    }

    private void SendFd(FrontendRequest r, int index, EventFd? fd)
    {
        CheckIndex(index);
        ulong v = (uint)index | (fd is null ? VringFdIndex.NoFdFlag : 0UL);
        if (fd is null) Send(r, MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in v)));
        else Send(r, MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in v)), [fd.Descriptor]);
    }

    private void Send<T>(FrontendRequest r, T payload, bool wantAck = true) where T : unmanaged
        => Send(r, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in payload)), default, wantAck);

    /// <summary>A request without a reply of its own: with REPLY_ACK it asks for one and checks the status.</summary>
    private void Send(FrontendRequest r, ReadOnlySpan<byte> payload, ReadOnlySpan<FileDescriptor> fds = default, bool wantAck = true)
    {
        lock (_lock)
        {
            ThrowIfBroken(r);
            bool ack = wantAck && (ProtocolFeatures & ProtocolFeatures.ReplyAck) != 0;
            SendUnsynchronized(r, ack ? VhostUserHeader.NeedReplyFlag : 0, payload, fds);
            if (!ack) return;
            ulong status = ReadU64ReplyUnsynchronized(r);
            if (status != 0) throw new VhostUserRequestException(r, $"back-end refused {r} (REPLY_ACK status {status})");
        }
    }

    private ulong GetU64(FrontendRequest r)
    {
        lock (_lock)
        {
            ThrowIfBroken(r);
            SendUnsynchronized(r, 0, default, default);
            return ReadU64ReplyUnsynchronized(r);
        }
    }

    private void SendUnsynchronized(FrontendRequest r, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<FileDescriptor> fds)
    {
        try
        {
            _connection.Send(r, flags, payload, fds);
        }
        catch (PlatformException e)
        {
            throw BrokenUnsynchronized(r, $"sending failed: {e.Message}");
        }
        catch (ObjectDisposedException)
        {
            throw BrokenUnsynchronized(r, "the connection was closed");
        }
    }

    private ulong ReadU64ReplyUnsynchronized(FrontendRequest r)
    {
        using var reply = ReadReplyUnsynchronized(r);
        if (reply.Payload.Length != sizeof(ulong)) throw BrokenUnsynchronized(r, $"reply of {reply.Payload.Length} bytes, expected {sizeof(ulong)}");
        return reply.ReadU64();
    }

    /// <summary>Waits (bounded) for the reply to <paramref name="r"/> and checks what every reply must satisfy.</summary>
    private VhostUserMessage ReadReplyUnsynchronized(FrontendRequest r)
    {
        VhostUserMessage? m;
        try
        {
            int ready = FdPoll.WaitReadable(_connection.Socket.Descriptor, _closing.Descriptor, _timeoutMs);
            if (ready == 1) throw BrokenUnsynchronized(r, "the connection was closed");
            if (ready < 0) throw BrokenUnsynchronized(r, $"no reply within {_timeoutMs} ms");
            // Header checks (version, reserved flags, REPLY set, payload cap) happen inside Read.
            m = _connection.Read(expectReply: true);
        }
        catch (VhostUserProtocolException e)
        {
            throw BrokenUnsynchronized(r, $"malformed reply: {e.Message}");
        }
        catch (PlatformException e)
        {
            throw BrokenUnsynchronized(r, $"receiving failed: {e.Message}");
        }
        catch (ObjectDisposedException)
        {
            throw BrokenUnsynchronized(r, "the connection was closed");
        }
        if (m is null) throw BrokenUnsynchronized(r, "the back-end closed the connection");
        if (m.Request != r)
        {
            uint got = m.Header.Request;
            m.Dispose();
            throw BrokenUnsynchronized(r, $"reply is for request {got}, expected {(uint)r}");
        }
        if (m.Header.NeedsReply)
        {
            m.Dispose();
            throw BrokenUnsynchronized(r, "reply carries NEED_REPLY");
        }
        if (m.DescriptorCount != 0)
        {
            int n = m.DescriptorCount;
            m.Dispose(); // closes them
            throw BrokenUnsynchronized(r, $"reply carries {n} descriptors, expected none");
        }
        return m;
    }

    private void ThrowIfBroken(FrontendRequest r)
    {
        if (_broken is not null) throw new VhostUserProtocolException(r, $"the vhost-user connection is broken: {_broken}");
    }

    private VhostUserProtocolException Broken(FrontendRequest r, string why)
    {
        lock (_lock) return BrokenUnsynchronized(r, why);
    }

    private VhostUserProtocolException BrokenUnsynchronized(FrontendRequest r, string why)
    {
        _broken ??= $"{r}: {why}";
        _connection.Shutdown();
        return new VhostUserProtocolException(r, $"vhost-user front-end: {r}: {why}");
    }

    /// <summary>Closes the connection (the back-end sees end of stream and resets its device).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _closing.Signal();
        _connection.Shutdown();
        lock (_lock)
        {
            _broken ??= "closed";
            _connection.Dispose();
        }
        _closing.Dispose();
    }
}
