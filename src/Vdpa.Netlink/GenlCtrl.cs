namespace Uvdpa.Vdpa.Netlink;

/// <summary>nlctrl commands (enum CTRL_CMD_*, include/uapi/linux/genetlink.h).</summary>
public enum CtrlCommand : byte
{
    /// <summary>CTRL_CMD_UNSPEC.</summary>
    Unspec = 0,
    /// <summary>CTRL_CMD_NEWFAMILY: also the reply command of GETFAMILY.</summary>
    NewFamily = 1,
    /// <summary>CTRL_CMD_DELFAMILY.</summary>
    DelFamily = 2,
    /// <summary>CTRL_CMD_GETFAMILY.</summary>
    GetFamily = 3,
    /// <summary>CTRL_CMD_NEWOPS.</summary>
    NewOps = 4,
    /// <summary>CTRL_CMD_DELOPS.</summary>
    DelOps = 5,
    /// <summary>CTRL_CMD_GETOPS.</summary>
    GetOps = 6,
    /// <summary>CTRL_CMD_NEWMCAST_GRP.</summary>
    NewMcastGroup = 7,
    /// <summary>CTRL_CMD_DELMCAST_GRP.</summary>
    DelMcastGroup = 8,
    /// <summary>CTRL_CMD_GETMCAST_GRP (unused).</summary>
    GetMcastGroup = 9,
    /// <summary>CTRL_CMD_GETPOLICY.</summary>
    GetPolicy = 10,
}

/// <summary>nlctrl attributes (enum CTRL_ATTR_*).</summary>
public enum CtrlAttr : ushort
{
    /// <summary>CTRL_ATTR_UNSPEC.</summary>
    Unspec = 0,
    /// <summary>CTRL_ATTR_FAMILY_ID: u16.</summary>
    FamilyId = 1,
    /// <summary>CTRL_ATTR_FAMILY_NAME: NUL-terminated string.</summary>
    FamilyName = 2,
    /// <summary>CTRL_ATTR_VERSION: u32.</summary>
    Version = 3,
    /// <summary>CTRL_ATTR_HDRSIZE: u32.</summary>
    HeaderSize = 4,
    /// <summary>CTRL_ATTR_MAXATTR: u32.</summary>
    MaxAttr = 5,
    /// <summary>CTRL_ATTR_OPS: nested array of nested (OP_ID, OP_FLAGS).</summary>
    Ops = 6,
    /// <summary>CTRL_ATTR_MCAST_GROUPS: nested array of nested (MCAST_GRP_ID, MCAST_GRP_NAME).</summary>
    McastGroups = 7,
    /// <summary>CTRL_ATTR_POLICY: nested (GETPOLICY replies).</summary>
    Policy = 8,
    /// <summary>CTRL_ATTR_OP_POLICY: nested (GETPOLICY replies).</summary>
    OpPolicy = 9,
    /// <summary>CTRL_ATTR_OP: u32 (GETPOLICY filter).</summary>
    Op = 10,
}

/// <summary>Attributes inside one CTRL_ATTR_OPS entry (enum CTRL_ATTR_OP_*).</summary>
public enum CtrlAttrOp : ushort
{
    /// <summary>CTRL_ATTR_OP_UNSPEC.</summary>
    Unspec = 0,
    /// <summary>CTRL_ATTR_OP_ID: u32 command.</summary>
    Id = 1,
    /// <summary>CTRL_ATTR_OP_FLAGS: u32 <see cref="GenlOpFlags"/>.</summary>
    Flags = 2,
}

/// <summary>Attributes inside one CTRL_ATTR_MCAST_GROUPS entry (enum CTRL_ATTR_MCAST_GRP_*).</summary>
public enum CtrlAttrMcastGroup : ushort
{
    /// <summary>CTRL_ATTR_MCAST_GRP_UNSPEC.</summary>
    Unspec = 0,
    /// <summary>CTRL_ATTR_MCAST_GRP_NAME: string.</summary>
    Name = 1,
    /// <summary>CTRL_ATTR_MCAST_GRP_ID: u32.</summary>
    Id = 2,
}

/// <summary>Operation flags reported in CTRL_ATTR_OP_FLAGS (GENL_* in include/uapi/linux/genetlink.h).</summary>
[Flags]
public enum GenlOpFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>GENL_ADMIN_PERM: needs CAP_NET_ADMIN (init user namespace).</summary>
    AdminPerm = 0x01,
    /// <summary>GENL_CMD_CAP_DO: has a doit handler.</summary>
    CmdCapDo = 0x02,
    /// <summary>GENL_CMD_CAP_DUMP: has a dumpit handler.</summary>
    CmdCapDump = 0x04,
    /// <summary>GENL_CMD_CAP_HASPOL: has an attribute policy.</summary>
    CmdCapHasPolicy = 0x08,
    /// <summary>GENL_UNS_ADMIN_PERM: needs CAP_NET_ADMIN in the netns's user namespace.</summary>
    UnsAdminPerm = 0x10,
}

/// <summary>One operation of a family as reported by CTRL_CMD_GETFAMILY.</summary>
/// <param name="Command">CTRL_ATTR_OP_ID.</param>
/// <param name="Flags">CTRL_ATTR_OP_FLAGS.</param>
public readonly record struct GenlOperation(uint Command, GenlOpFlags Flags);

/// <summary>One multicast group of a family.</summary>
/// <param name="Name">CTRL_ATTR_MCAST_GRP_NAME.</param>
/// <param name="Id">CTRL_ATTR_MCAST_GRP_ID.</param>
public readonly record struct GenlMulticastGroup(string Name, uint Id);

/// <summary>A generic netlink family as described by nlctrl (ctrl_fill_info).</summary>
/// <param name="Id">CTRL_ATTR_FAMILY_ID: the nlmsg_type of the family's messages.</param>
/// <param name="Name">CTRL_ATTR_FAMILY_NAME.</param>
/// <param name="Version">CTRL_ATTR_VERSION.</param>
/// <param name="HeaderSize">CTRL_ATTR_HDRSIZE: family header bytes after genlmsghdr.</param>
/// <param name="MaxAttr">CTRL_ATTR_MAXATTR.</param>
/// <param name="Operations">CTRL_ATTR_OPS in order (omitted from the reply when empty).</param>
/// <param name="MulticastGroups">CTRL_ATTR_MCAST_GROUPS in order (omitted when empty).</param>
public sealed record GenlFamilyInfo(ushort Id, string Name, uint Version, uint HeaderSize, uint MaxAttr,
    IReadOnlyList<GenlOperation> Operations, IReadOnlyList<GenlMulticastGroup> MulticastGroups)
{
    /// <summary>The flags of <paramref name="command"/>, or null if the family does not have it.</summary>
    public GenlOpFlags? GetOperationFlags(uint command)
    {
        foreach (GenlOperation op in Operations)
            if (op.Command == command) return op.Flags;
        return null;
    }
}

/// <summary>The nlctrl family (GENL_ID_CTRL): family lookup requests and replies, both directions.</summary>
public static class GenlCtrl
{
    /// <summary>"nlctrl" (GENL_CTRL_NAME).</summary>
    public const string FamilyName = "nlctrl";

    /// <summary>GENL_CTRL_VERSION (2): the genlmsghdr.version of nlctrl replies.</summary>
    public const byte Version = 2;

    /// <summary>
    /// The genlmsghdr.version iproute2 (libmnl's mnlu_gen_socket_open) puts in its GETFAMILY request: 1.
    /// </summary>
    public const byte RequestVersion = 1;

    /// <summary>
    /// Writes CTRL_CMD_GETFAMILY for <paramref name="familyName"/> exactly as iproute2 does: type 0x10,
    /// flags REQUEST|ACK, genl cmd 3 version 1, one CTRL_ATTR_FAMILY_NAME.
    /// </summary>
    public static bool WriteGetFamilyRequest(ref NetlinkWriter writer, string familyName, uint sequence,
        NetlinkMessageFlags flags = NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack, byte version = RequestVersion)
    {
        NetlinkMessageToken m = writer.BeginMessage(Netlink.GenlIdCtrl, flags, sequence, 0);
        writer.PutGenlHeader((byte)CtrlCommand.GetFamily, version);
        writer.PutString((ushort)CtrlAttr.FamilyName, familyName);
        return writer.EndMessage(m);
    }

    /// <summary>
    /// Writes a CTRL_CMD_NEWFAMILY reply as the kernel does (ctrl_fill_info): genl cmd 1 version 2, then
    /// FAMILY_NAME, FAMILY_ID (u16), VERSION, HDRSIZE, MAXATTR (u32s), OPS (each entry i+1 holding OP_ID and
    /// OP_FLAGS) and MCAST_GROUPS (each entry i+1 holding GRP_ID then GRP_NAME); nests without NLA_F_NESTED.
    /// </summary>
    public static bool WriteFamilyReply(ref NetlinkWriter writer, GenlFamilyInfo family, uint sequence, uint portId, NetlinkMessageFlags flags = NetlinkMessageFlags.None)
    {
        ArgumentNullException.ThrowIfNull(family);
        NetlinkMessageToken m = writer.BeginMessage(Netlink.GenlIdCtrl, flags, sequence, portId);
        writer.PutGenlHeader((byte)CtrlCommand.NewFamily, Version);
        writer.PutString((ushort)CtrlAttr.FamilyName, family.Name);
        writer.PutU16((ushort)CtrlAttr.FamilyId, family.Id);
        writer.PutU32((ushort)CtrlAttr.Version, family.Version);
        writer.PutU32((ushort)CtrlAttr.HeaderSize, family.HeaderSize);
        writer.PutU32((ushort)CtrlAttr.MaxAttr, family.MaxAttr);
        if (family.Operations.Count > 0)
        {
            NetlinkNestToken ops = writer.BeginNested((ushort)CtrlAttr.Ops, setNestedFlag: false);
            for (int i = 0; i < family.Operations.Count; i++)
            {
                NetlinkNestToken op = writer.BeginNested((ushort)(i + 1), setNestedFlag: false);
                writer.PutU32((ushort)CtrlAttrOp.Id, family.Operations[i].Command);
                writer.PutU32((ushort)CtrlAttrOp.Flags, (uint)family.Operations[i].Flags);
                writer.EndNested(op);
            }
            writer.EndNested(ops);
        }
        if (family.MulticastGroups.Count > 0)
        {
            NetlinkNestToken groups = writer.BeginNested((ushort)CtrlAttr.McastGroups, setNestedFlag: false);
            for (int i = 0; i < family.MulticastGroups.Count; i++)
            {
                NetlinkNestToken g = writer.BeginNested((ushort)(i + 1), setNestedFlag: false);
                writer.PutU32((ushort)CtrlAttrMcastGroup.Id, family.MulticastGroups[i].Id);
                writer.PutString((ushort)CtrlAttrMcastGroup.Name, family.MulticastGroups[i].Name);
                writer.EndNested(g);
            }
            writer.EndNested(groups);
        }
        return writer.EndMessage(m);
    }

    /// <summary>Reads the family name asked for by a CTRL_CMD_GETFAMILY request's attributes (null if absent).</summary>
    public static string? ReadRequestedFamilyName(ReadOnlySpan<byte> attributes)
    {
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(attributes))
            if (a.Type == (ushort)CtrlAttr.FamilyName) return a.GetString();
        return null;
    }

    /// <summary>Reads the family id asked for by a CTRL_CMD_GETFAMILY request's attributes (null if absent).</summary>
    public static ushort? ReadRequestedFamilyId(ReadOnlySpan<byte> attributes)
    {
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(attributes))
            if (a.Type == (ushort)CtrlAttr.FamilyId) return a.GetU16();
        return null;
    }

    /// <summary>Parses the attributes of a CTRL_CMD_NEWFAMILY reply. Missing id or name → <see cref="NetlinkFormatException"/>.</summary>
    public static GenlFamilyInfo ParseFamily(ReadOnlySpan<byte> attributes)
    {
        ushort? id = null;
        string? name = null;
        uint version = 0, hdrSize = 0, maxAttr = 0;
        var ops = new List<GenlOperation>();
        var groups = new List<GenlMulticastGroup>();
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(attributes))
        {
            switch ((CtrlAttr)a.Type)
            {
                case CtrlAttr.FamilyId: id = a.GetU16(); break;
                case CtrlAttr.FamilyName: name = a.GetString(); break;
                case CtrlAttr.Version: version = a.GetU32(); break;
                case CtrlAttr.HeaderSize: hdrSize = a.GetU32(); break;
                case CtrlAttr.MaxAttr: maxAttr = a.GetU32(); break;
                case CtrlAttr.Ops:
                    foreach (NetlinkAttribute entry in a.GetNested())
                    {
                        uint cmd = 0, fl = 0;
                        foreach (NetlinkAttribute f in entry.GetNested())
                        {
                            if (f.Type == (ushort)CtrlAttrOp.Id) cmd = f.GetU32();
                            else if (f.Type == (ushort)CtrlAttrOp.Flags) fl = f.GetU32();
                        }
                        ops.Add(new GenlOperation(cmd, (GenlOpFlags)fl));
                    }
                    break;
                case CtrlAttr.McastGroups:
                    foreach (NetlinkAttribute entry in a.GetNested())
                    {
                        string gname = "";
                        uint gid = 0;
                        foreach (NetlinkAttribute f in entry.GetNested())
                        {
                            if (f.Type == (ushort)CtrlAttrMcastGroup.Name) gname = f.GetString();
                            else if (f.Type == (ushort)CtrlAttrMcastGroup.Id) gid = f.GetU32();
                        }
                        groups.Add(new GenlMulticastGroup(gname, gid));
                    }
                    break;
            }
        }
        if (id is null || name is null) throw new NetlinkFormatException("nlctrl family reply lacks CTRL_ATTR_FAMILY_ID or CTRL_ATTR_FAMILY_NAME");
        return new GenlFamilyInfo(id.Value, name, version, hdrSize, maxAttr, ops, groups);
    }
}
