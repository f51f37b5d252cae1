using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>Writes the attributes of one reply message.</summary>
public delegate void AttributesWriter(ref NetlinkWriter w);

/// <summary>
/// A peer that resolves the family like <see cref="FakeVdpaKernel"/> and answers vdpa requests from a script, for
/// replies the simulators never send (bus names, unknown bits, odd attribute orders, malformed messages).
/// </summary>
public static class ScriptedKernel
{
    public static CliResult Run(Func<byte[], IReadOnlyList<byte[]>> script, params string[] args)
    {
        var family = new FakeVdpaKernel();
        var t = new FuncTransport(req => NlMsgHeader.Read(req).Type == Netlink.Netlink.GenlIdCtrl ? family.Handle(req) : script(req));
        return CliRunner.Run(t, args);
    }

    /// <summary>One reply message echoing <paramref name="request"/>'s sequence number.</summary>
    public static byte[] Message(byte[] request, VdpaCommand command, AttributesWriter write, NetlinkMessageFlags flags = NetlinkMessageFlags.None, uint? sequence = null)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkMessageToken m = w.BeginMessage(FakeVdpaKernel.FamilyId, flags, sequence ?? NlMsgHeader.Read(request).Sequence, FakeVdpaKernel.PortId);
            w.PutGenlHeader((byte)command, VdpaFamily.Version);
            write(ref w);
            w.EndMessage(m);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    public static byte[] Ack(byte[] request, int errno = 0, NetlinkExtAckInfo? extack = null)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkAckWriter.WriteAck(ref w, request, FakeVdpaKernel.PortId, errno, NetlinkAckOptions.Iproute2, extack);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    public static byte[] Done(byte[] request, int errno = 0, string? message = null)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkAckWriter.WriteDone(ref w, NlMsgHeader.Read(request).Sequence, FakeVdpaKernel.PortId, errno, NetlinkAckOptions.Iproute2, message);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>A doit answer: the message then the ACK.</summary>
    public static Func<byte[], IReadOnlyList<byte[]>> Doit(VdpaCommand command, AttributesWriter write) =>
        req => [Message(req, command, write), Ack(req)];

    /// <summary>A dump answer: all messages in one datagram, then NLMSG_DONE.</summary>
    public static Func<byte[], IReadOnlyList<byte[]>> Dump(VdpaCommand command, params AttributesWriter[] items) =>
        req => [[.. items.SelectMany(i => Message(req, command, i, NetlinkMessageFlags.Multi))], Done(req)];
}
