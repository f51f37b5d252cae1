using Uvdpa.Vdpa.Netlink;
using NL = Uvdpa.Vdpa.Netlink.Netlink;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Management;

/// <summary>One request message as the genetlink core hands it to a family (struct genl_info).</summary>
internal ref struct GenlRequest
{
    /// <summary>The whole request message (nlmsg_len bytes).</summary>
    public ReadOnlySpan<byte> Message;
    public NlMsgHeader Header;
    public GenlMsgHeader Genl;
    public PeerCredentials Peer;
    public bool Privileged;
    /// <summary>info->attrs (index = attribute type), or null when the op has no policy.</summary>
    public AttrRef[]? Attrs;
    public ExtAck ExtAck;

    /// <summary>Offset of the first attribute (GENL_HDRLEN + hdrsize after the nlmsghdr).</summary>
    public readonly int AttributeStart => NL.MessageHeaderSize + NL.GenlHeaderSize;

    /// <summary>The attributes (after the genl header).</summary>
    public readonly ReadOnlySpan<byte> AttributeArea => Message[AttributeStart..];

    public readonly bool Has(int type) => Attrs is not null && type < Attrs.Length && Attrs[type].Present;

    public readonly ReadOnlySpan<byte> Payload(int type) => Attrs![type].Payload(Message);

    /// <summary>An NLA_STRING as the kernel reads it with nla_data + strcmp: up to the first NUL, or the whole payload.</summary>
    public readonly string GetString(int type)
    {
        ReadOnlySpan<byte> p = Payload(type);
        int nul = p.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(nul < 0 ? p : p[..nul]);
    }

    public readonly ushort GetU16(int type) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(Payload(type));

    public readonly uint GetU32(int type) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(Payload(type));

    public readonly ulong GetU64(int type) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(Payload(type));

    public readonly byte GetU8(int type) => Payload(type)[0];
}

/// <summary>Where replies of one request datagram go; remembers a failed send (the peer is gone).</summary>
internal sealed class ReplyChannel(INetlinkReplySink sink)
{
    public bool Alive { get; private set; } = true;

    public bool Send(ReadOnlySpan<byte> datagram)
    {
        if (!Alive) return false;
        try
        {
            Alive = sink.Send(datagram);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            Alive = false;
        }
        return Alive;
    }
}

/// <summary>struct genl_family + its ops, as genetlink.c sees them.</summary>
internal abstract class GenlFamilyHandler
{
    /// <summary>What nlctrl reports (id, name, version, hdrsize, maxattr, ops with flags, groups).</summary>
    public abstract GenlFamilyInfo Info { get; }

    /// <summary>resv_start_op: commands at or above it get the genlmsghdr/nlmsg_flags checks.</summary>
    public abstract int ReservedStartOp { get; }

    /// <summary>The policy for <paramref name="command"/> (length = maxattr + 1), or null for "no parsing".</summary>
    public abstract AttrPolicy[]? Policy(byte command, bool dump);

    /// <summary>ops->validate: true for strict (the default), false for GENL_DONT_VALIDATE_STRICT / _DUMP_STRICT.</summary>
    public abstract bool Strict(byte command, bool dump);

    /// <summary>doit: returns 0 or a positive errno (the reply, if any, is sent through <paramref name="reply"/>).</summary>
    public abstract int Doit(ref GenlRequest request, ReplyChannel reply);

    /// <summary>dumpit until done: sends NLM_F_MULTI batches, then NLMSG_DONE.</summary>
    public abstract void Dump(ref GenlRequest request, ReplyChannel reply);
}
