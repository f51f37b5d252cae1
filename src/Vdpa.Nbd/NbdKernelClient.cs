using System.Net.Sockets;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Nbd;

/// <summary>
/// The kernel's "nbd" generic netlink family (drivers/block/nbd.c, nbd_genl_*): connect a socket to /dev/nbdN,
/// disconnect it, read whether a device is still configured. Needs CAP_SYS_ADMIN and a kernel with nbd.
/// Errors: <see cref="VdpaFamilyNotFoundException"/> when the kernel has no nbd family, <see cref="VdpaNetlinkException"/>
/// with the kernel's errno otherwise. Not thread-safe.
/// </summary>
internal sealed class NbdKernelClient : IDisposable
{
    private readonly INetlinkTransport _transport;
    private readonly ushort _familyId;
    private uint _sequence = (uint)Environment.TickCount;

    private NbdKernelClient(INetlinkTransport transport, ushort familyId)
    {
        _transport = transport;
        _familyId = familyId;
    }

    /// <summary>Opens a NETLINK_GENERIC socket and resolves the nbd family.</summary>
    public static NbdKernelClient Open()
    {
        var transport = KernelNetlinkTransport.Open(new NetlinkTransportOptions { ReceiveTimeout = TimeSpan.FromSeconds(60) });
        try
        {
            var family = VdpaClient.ResolveFamily(transport, NbdGenl.FamilyName, unchecked((uint)Environment.TickCount));
            return new NbdKernelClient(transport, family.Id);
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }

    /// <summary>
    /// NBD_CMD_CONNECT with one socket (<paramref name="kernelEnd"/>, passed by descriptor number: the kernel takes
    /// its own reference while handling the request in this process's context). Returns the device index.
    /// </summary>
    public int Connect(int? index, Socket kernelEnd, long sizeBytes, int blockSize, NbdTransmissionFlags flags, string? backendIdentifier)
    {
        ArgumentNullException.ThrowIfNull(kernelEnd);
        int fd = (int)kernelEnd.SafeHandle.DangerousGetHandle();
        var w = NetlinkWriter.CreateGrowable(128);
        try
        {
            var m = w.BeginMessage(_familyId, NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack, ++_sequence, 0);
            w.PutGenlHeader((byte)NbdGenlCommand.Connect, NbdGenl.Version);
            if (index is int i) w.PutU32((ushort)NbdGenlAttr.Index, (uint)i);
            w.PutU64((ushort)NbdGenlAttr.SizeBytes, (ulong)sizeBytes);
            w.PutU64((ushort)NbdGenlAttr.BlockSizeBytes, (ulong)blockSize);
            w.PutU64((ushort)NbdGenlAttr.ServerFlags, (ulong)flags);
            var socks = w.BeginNested((ushort)NbdGenlAttr.Sockets);
            var item = w.BeginNested(NbdGenl.SockItem);
            w.PutU32(NbdGenl.SockFd, (uint)fd);
            w.EndNested(item);
            w.EndNested(socks);
            if (backendIdentifier is not null) w.PutString((ushort)NbdGenlAttr.BackendIdentifier, backendIdentifier);
            if (!w.EndMessage(m)) throw new InvalidOperationException("NBD_CMD_CONNECT did not fit its buffer");
            NetlinkReply reply = NetlinkExchange.Execute(_transport, w.WrittenSpan);
            GC.KeepAlive(kernelEnd); // the descriptor number must stay valid until the kernel took its reference
            foreach (var msg in reply.Messages)
            {
                if (msg.Attributes.GetU32((ushort)NbdGenlAttr.Index) is uint got) return checked((int)got);
            }
            throw new NetlinkFormatException("NBD_CMD_CONNECT was acknowledged without NBD_ATTR_INDEX");
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>NBD_CMD_DISCONNECT of /dev/nbd<paramref name="index"/>.</summary>
    public void Disconnect(int index)
    {
        var w = NetlinkWriter.CreateGrowable(64);
        try
        {
            var m = w.BeginMessage(_familyId, NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack, ++_sequence, 0);
            w.PutGenlHeader((byte)NbdGenlCommand.Disconnect, NbdGenl.Version);
            w.PutU32((ushort)NbdGenlAttr.Index, (uint)index);
            w.EndMessage(m);
            NetlinkExchange.Execute(_transport, w.WrittenSpan);
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>
    /// NBD_CMD_STATUS of one device: true while the kernel holds a configuration for it (config_refs &gt; 0, i.e.
    /// connected or still being torn down), false when it is free, null when no such device exists.
    /// </summary>
    public bool? IsConnected(int index)
    {
        var w = NetlinkWriter.CreateGrowable(64);
        try
        {
            var m = w.BeginMessage(_familyId, NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack, ++_sequence, 0);
            w.PutGenlHeader((byte)NbdGenlCommand.Status, NbdGenl.Version);
            w.PutU32((ushort)NbdGenlAttr.Index, (uint)index);
            w.EndMessage(m);
            NetlinkReply reply = NetlinkExchange.Execute(_transport, w.WrittenSpan);
            foreach (var msg in reply.Messages)
            {
                if (!msg.Attributes.TryGet((ushort)NbdGenlAttr.DeviceList, out var list)) continue;
                foreach (var item in NetlinkAttributeList.Parse(list.Payload))
                {
                    if (item.Type != NbdGenl.DeviceItem) continue;
                    var fields = NetlinkAttributeList.Parse(item.Payload);
                    if (fields.GetU32(NbdGenl.DeviceIndex) == (uint)index) return fields.GetU8(NbdGenl.DeviceConnected) is byte c && c != 0;
                }
            }
            return null;
        }
        finally
        {
            w.Dispose();
        }
    }

    public void Dispose() => _transport.Dispose();
}
