using System.Buffers;
using Uvdpa.Vdpa.Netlink;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management;

/// <summary>
/// The nlctrl family (genl_ctrl in net/netlink/genetlink.c): CTRL_CMD_GETFAMILY doit (by CTRL_ATTR_FAMILY_NAME or
/// CTRL_ATTR_FAMILY_ID) and dumpit (every family in id order). GETFAMILY is validated liberally
/// (GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP), as in the kernel.
/// </summary>
internal sealed class CtrlFamilyHandler(NetlinkService service) : GenlFamilyHandler
{
    /// <summary>GENL_NAMSIZ − 1.</summary>
    private const int MaxFamilyName = 15;

    // ctrl_policy_family: [CTRL_ATTR_FAMILY_ID] = NLA_U16, [CTRL_ATTR_FAMILY_NAME] = NLA_NUL_STRING len GENL_NAMSIZ-1.
    private static readonly AttrPolicy[] FamilyPolicy = [AttrPolicy.Unspec, AttrPolicy.U16, new AttrPolicy(PolicyKind.NulString, MaxFamilyName)];

    /// <inheritdoc />
    public override GenlFamilyInfo Info { get; } = new(NL.GenlIdCtrl, GenlCtrl.FamilyName, GenlCtrl.Version, 0, 10,
        [new GenlOperation((uint)CtrlCommand.GetFamily, GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapDump | GenlOpFlags.CmdCapHasPolicy)],
        [new GenlMulticastGroup("notify", NL.GenlIdCtrl)]);

    /// <inheritdoc />
    public override int ReservedStartOp => (int)CtrlCommand.GetPolicy + 1;

    /// <inheritdoc />
    public override AttrPolicy[]? Policy(byte command, bool dump) => dump ? null : FamilyPolicy;

    /// <inheritdoc />
    public override bool Strict(byte command, bool dump) => false;

    /// <summary>ctrl_getfamily.</summary>
    public override int Doit(ref GenlRequest request, ReplyChannel reply)
    {
        GenlFamilyHandler? found = null;
        int err = Errno.EINVAL;
        if (request.Has((int)CtrlAttr.FamilyId))
        {
            ushort id = request.GetU16((int)CtrlAttr.FamilyId);
            foreach (var f in service.Families)
                if (f.Info.Id == id) found = f;
            err = Errno.ENOENT;
        }
        if (request.Has((int)CtrlAttr.FamilyName))
        {
            found = service.FindByName(request.GetString((int)CtrlAttr.FamilyName));
            err = Errno.ENOENT;
        }
        if (found is null) return err;

        byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkService.DoitReplySize);
        try
        {
            var w = new NetlinkWriter(buffer.AsSpan(0, NetlinkService.DoitReplySize));
            if (!GenlCtrl.WriteFamilyReply(ref w, found.Info, request.Header.Sequence, request.Header.PortId)) return Errno.EMSGSIZE;
            reply.Send(w.WrittenSpan);
            return 0;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>ctrl_dumpfamily.</summary>
    public override void Dump(ref GenlRequest request, ReplyChannel reply)
    {
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var families = service.Families;
        NetlinkService.RunDump(reply, seq, pid, (buffer, start) =>
        {
            var w = new NetlinkWriter(buffer.AsSpan(0, NetlinkService.MaxDatagramSize));
            int n = start;
            for (int i = start; i < families.Count; i++)
            {
                int pos = w.Position;
                if (!GenlCtrl.WriteFamilyReply(ref w, families[i].Info, seq, pid, NetlinkMessageFlags.Multi))
                {
                    w.Rewind(pos);
                    break;
                }
                n = i + 1;
            }
            return (w.Position, n);
        });
    }
}
