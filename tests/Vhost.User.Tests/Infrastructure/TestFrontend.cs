using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vhost.User.Tests.Infrastructure;

/// <summary>
/// A minimal vhost-user front-end doing what QEMU does for a device, then acting as the virtio driver itself with
/// <see cref="SplitDriverQueue"/> over its own mapping of the memfd it passed to the back-end.
/// </summary>
internal sealed class TestFrontend : IDisposable
{
    public const ulong GuestBase = 0x4000_0000;          // GPA of the one region
    public const ulong FrontendBase = 0x7f12_3400_0000;  // the "front-end virtual address" of the same region
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly DmaSpace _space;
    private readonly DmaLease _lease;
    private ulong _next = GuestBase;

    public TestFrontend(string path, long memorySize = 8 << 20)
        : this(new VhostUserConnection(UnixStreamSocket.Connect(path)), memorySize) { }

    public TestFrontend(VhostUserConnection connection, long memorySize = 8 << 20)
    {
        Connection = connection;
        Region = MemoryRegion.Shared(new GuestAddress(GuestBase), memorySize, "vhost-user-test");
        Memory = GuestMemory.Create(Region);
        _space = new DmaSpace(Memory);
        _lease = _space.Acquire();
    }

    public VhostUserConnection Connection { get; private set; }

    /// <summary>QEMU's reconnect: a new connection, same guest memory, rings and notifiers.</summary>
    public void Reconnect(string path)
    {
        Connection.Dispose();
        Connection = new VhostUserConnection(UnixStreamSocket.Connect(path));
    }

    /// <summary>Guest address of a front-end virtual address inside the one region.</summary>
    public static Iova Gpa(ulong fva) => new(fva - FrontendBase + GuestBase);

    /// <summary>The head the driver put in available-ring entry <paramref name="position"/> of ring <paramref name="index"/>.</summary>
    public ushort AvailHead(int index, ushort position)
    {
        var avail = Gpa(RingAddresses[index].AvailUserAddr);
        int slot = position & (Queues[index]!.Size - 1);
        Assert.True(View.TryReadUInt16(new Iova(avail.Value + 4 + 2UL * (ulong)slot), out ushort head));
        return head;
    }
    public MemoryRegion Region { get; }
    public GuestMemory Memory { get; }
    public DmaView View => _lease.View;
    public ProtocolFeatures Protocol { get; private set; }
    public SplitDriverQueue?[] Queues { get; } = new SplitDriverQueue?[8];
    public EventFd?[] Calls { get; } = new EventFd?[8];
    public EventFd?[] Kicks { get; } = new EventFd?[8];

    public static ulong Fva(Iova gpa) => gpa.Value - GuestBase + FrontendBase;

    public Iova Alloc(long size, long align = 16)
    {
        ulong a = (_next + (ulong)align - 1) & ~((ulong)align - 1);
        _next = a + (ulong)size;
        if (_next > GuestBase + (ulong)Region.Size) throw new InvalidOperationException("test memory exhausted");
        return new Iova(a);
    }

    public Iova Put(ReadOnlySpan<byte> data)
    {
        var at = Alloc(Math.Max(1, data.Length));
        Assert.True(View.TryWrite(at, data));
        return at;
    }

    public byte[] Get(Iova at, int length)
    {
        var b = new byte[length];
        Assert.True(View.TryRead(at, b));
        return b;
    }

    // ---- raw messages ----

    public void Send(FrontendRequest r, ReadOnlySpan<byte> payload = default, bool needReply = false, params FileDescriptor[] fds)
        => Connection.Send(r, needReply ? VhostUserHeader.NeedReplyFlag : 0, payload, fds);

    public void Send<T>(FrontendRequest r, T payload, bool needReply = false, params FileDescriptor[] fds) where T : unmanaged
        => Connection.Send(r, needReply ? VhostUserHeader.NeedReplyFlag : 0, in payload, fds);

    /// <summary>Writes a header exactly as given (no version added) and the payload, for malformed-message tests.</summary>
    public void SendRaw(uint request, uint flags, uint size, ReadOnlySpan<byte> payload = default, params FileDescriptor[] fds)
    {
        var buffer = new byte[VhostUserHeader.Size + payload.Length];
        new VhostUserHeader { Request = request, Flags = flags, PayloadSize = size }.Write(buffer);
        payload.CopyTo(buffer.AsSpan(VhostUserHeader.Size));
        Connection.Socket.Send(buffer, fds);
    }

    public VhostUserMessage ReadReply(FrontendRequest r)
    {
        var m = Connection.Read(expectReply: true) ?? throw new InvalidOperationException($"connection closed waiting for {r}");
        Assert.Equal(r, m.Request);
        Assert.Equal(0x5u, m.Header.Flags);
        return m;
    }

    public ulong GetU64(FrontendRequest r)
    {
        Send(r);
        using var m = ReadReply(r);
        Assert.Equal(8, m.Payload.Length);
        return m.ReadU64();
    }

    /// <summary>Sends with NEED_REPLY (REPLY_ACK negotiated) and returns the ack value (0 = success).</summary>
    public ulong SendAck<T>(FrontendRequest r, T payload, params FileDescriptor[] fds) where T : unmanaged
    {
        Send(r, payload, needReply: true, fds);
        using var m = ReadReply(r);
        return m.ReadU64();
    }

    /// <summary>True when the back-end closed the connection (end of stream within the timeout).</summary>
    public bool WaitClosed()
    {
        var t = Task.Run(() =>
        {
            try
            {
                while (true)
                {
                    using var m = Connection.Read(expectReply: true);
                    if (m is null) return true;
                }
            }
            catch (Exception e) when (e is VhostUserException or PlatformException)
            {
                return true;
            }
        });
        return t.Wait(Timeout) && t.Result;
    }

    // ---- QEMU-like set-up ----

    /// <summary>GET_FEATURES, SET_OWNER, GET/SET_PROTOCOL_FEATURES, SET_FEATURES, SET_MEM_TABLE (with acks).</summary>
    public ulong Negotiate(ulong wanted, ProtocolFeatures protocol = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config)
    {
        ulong offered = GetU64(FrontendRequest.GetFeatures);
        Assert.Equal(0ul, offered & (1UL << Virtio.Abi.VirtioFeatures.AccessPlatform));
        Assert.NotEqual(0ul, offered & (1UL << 30));
        Send(FrontendRequest.SetOwner);
        ulong proto = GetU64(FrontendRequest.GetProtocolFeatures);
        Protocol = (ProtocolFeatures)proto & protocol;
        Send(FrontendRequest.SetProtocolFeatures, (ulong)Protocol);
        ulong features = (offered & wanted) | (1UL << 30);
        Assert.Equal(0ul, SendAck(FrontendRequest.SetFeatures, features));
        SetMemTable();
        return features;
    }

    public void SetMemTable()
    {
        var table = new byte[VhostUserMemory.HeaderSize + VhostUserMemoryRegion.Size];
        MemoryMarshal.Write(table, 1u);
        MemoryMarshal.Write(table.AsSpan(VhostUserMemory.HeaderSize), new VhostUserMemoryRegion
        {
            GuestPhysAddr = GuestBase,
            MemorySize = (ulong)Region.Size,
            UserspaceAddr = FrontendBase,
            MmapOffset = 0,
        });
        Send(FrontendRequest.SetMemTable, table, needReply: true, Region.Descriptor!);
        using var m = ReadReply(FrontendRequest.SetMemTable);
        Assert.Equal(0ul, m.ReadU64());
    }

    /// <summary>The ring addresses (front-end virtual) of each prepared ring.</summary>
    public VhostVringAddr[] RingAddresses { get; } = new VhostVringAddr[8];

    /// <summary>The used ring (guest address) of each prepared ring.</summary>
    public Iova[] UsedRings { get; } = new Iova[8];

    /// <summary>Allocates and initialises ring <paramref name="index"/> in guest memory (driver side) without telling the back-end.</summary>
    public VhostVringAddr PrepareRing(int index, int size = 256, bool eventIndex = false)
    {
        var layout = SplitDriverQueue.Layout(size, indirect: false, maxIndirectSegments: 0);
        var block = Alloc(layout.TotalBytes, 4096);
        var desc = new Iova(block.Value + (ulong)layout.DescriptorTableOffset);
        var avail = new Iova(block.Value + (ulong)layout.AvailOffset);
        var used = new Iova(block.Value + (ulong)layout.UsedOffset);
        var q = new SplitDriverQueue(size, desc, avail, used, eventIndex);
        q.Initialize(View);
        Queues[index] = q;
        UsedRings[index] = used;
        RingAddresses[index] = new VhostVringAddr
        {
            Index = (uint)index,
            DescUserAddr = Fva(desc),
            UsedUserAddr = Fva(used),
            AvailUserAddr = Fva(avail),
        };
        Kicks[index] ??= EventFd.Create();
        Calls[index] ??= EventFd.Create(nonBlocking: true);
        return RingAddresses[index];
    }

    /// <summary>The used index the device published on ring <paramref name="index"/> (read from guest memory).</summary>
    public ushort UsedIndex(int index)
    {
        Assert.True(View.TryReadUInt16(new Iova(UsedRings[index].Value + 2), out ushort v));
        return v;
    }

    /// <summary>Per ring: NUM, BASE, ADDR, KICK, CALL, ENABLE (QEMU order).</summary>
    public void SetupRing(int index, int size = 256, bool eventIndex = false)
    {
        var addr = PrepareRing(index, size, eventIndex);
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = (uint)index, Num = (uint)size }));
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringBase, new VhostVringState { Index = (uint)index, Num = 0 }));
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringAddr, addr));
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringKick, (ulong)index, Kicks[index]!.Descriptor));
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringCall, (ulong)index, Calls[index]!.Descriptor));
        Assert.Equal(0ul, SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = (uint)index, Num = 1 }));
    }

    public uint GetVringBase(int index)
    {
        Send(FrontendRequest.GetVringBase, new VhostVringState { Index = (uint)index });
        using var m = ReadReply(FrontendRequest.GetVringBase);
        var s = m.Read<VhostVringState>();
        Assert.Equal((uint)index, s.Index);
        return s.Num;
    }

    // ---- driver side ----

    public void Add(int vq, ReadOnlySpan<DescriptorSegment> segments, int token)
    {
        var q = Queues[vq]!;
        Assert.True(q.TryAdd(View, segments, token));
        if (q.KickPrepare(View)) Kicks[vq]!.Signal();
    }

    public (int Token, uint Length) WaitUsed(int vq)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (Queues[vq]!.TryGetUsed(View, out int token, out uint length)) return (token, length);
            Assert.True(DateTime.UtcNow < deadline, $"no used buffer on vq {vq}");
            // Wait on the call eventfd: the device signals it after publishing used entries.
            using var never = EventFd.Create();
            FdPoll.WaitReadable(Calls[vq]!.Descriptor, never.Descriptor, 50);
            Calls[vq]!.Consume();
        }
    }

    public void Dispose()
    {
        Connection.Dispose();
        foreach (var k in Kicks) k?.Dispose();
        foreach (var c in Calls) c?.Dispose();
        _lease.Dispose();
        _space.Dispose();
        Region.Dispose();
    }
}
