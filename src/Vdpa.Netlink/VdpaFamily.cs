namespace Uvdpa.Vdpa.Netlink;

/// <summary>Kernel releases whose vdpa family description differs (maxattr, command set).</summary>
public enum VdpaUapiVersion
{
    /// <summary>Linux 6.1: VDPA_ATTR_MAX 22 (attr 21 = VDPA_DEV_SUPPORTED_FEATURES), commands 1–7. Verified by capture.</summary>
    Linux6_1,
    /// <summary>Linux 6.2–6.8: attr 21 removed, VDPA_ATTR_MAX 21, commands 1–7.</summary>
    Linux6_2,
    /// <summary>Linux 6.9–6.11: block config attrs 21–36, VDPA_ATTR_MAX 37, commands 1–7.</summary>
    Linux6_9,
    /// <summary>Linux 6.12+: VDPA_ATTR_MAX 37, commands 1–8 (DEV_ATTR_SET). Verified by capture.</summary>
    Linux6_12,
}

/// <summary>The "vdpa" generic netlink family (drivers/vdpa/vdpa.c, vdpa_nl_family).</summary>
public static class VdpaFamily
{
    /// <summary>VDPA_GENL_NAME.</summary>
    public const string Name = "vdpa";

    /// <summary>VDPA_GENL_VERSION: the version reported by nlctrl and put in reply genl headers.</summary>
    public const byte Version = 1;

    /// <summary>
    /// The genl version iproute2 puts in vdpa requests: 0 (mnlu_gen_socket_open never stores the version it is
    /// given; the kernel does not check it).
    /// </summary>
    public const byte Iproute2RequestVersion = 0;

    /// <summary>hdrsize: no family header.</summary>
    public const uint HeaderSize = 0;

    /// <summary>The newest VDPA_ATTR_MAX (the enum terminator, 37, which is what .maxattr and CTRL_ATTR_MAXATTR report).</summary>
    public const uint MaxAttrNewest = 37;

    /// <summary>
    /// The CTRL_ATTR_OP_FLAGS the kernel reports for <paramref name="command"/> (every op has the family policy,
    /// so HASPOL is always set): MGMTDEV_GET, DEV_GET, DEV_CONFIG_GET = DO|DUMP|HASPOL (0x0e); DEV_NEW, DEV_DEL,
    /// DEV_VSTATS_GET, DEV_ATTR_SET = ADMIN_PERM|DO|HASPOL (0x0b). Null for commands without a handler.
    /// </summary>
    public static GenlOpFlags? OperationFlags(VdpaCommand command) => command switch
    {
        VdpaCommand.MgmtdevGet or VdpaCommand.DevGet or VdpaCommand.DevConfigGet =>
            GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapDump | GenlOpFlags.CmdCapHasPolicy,
        VdpaCommand.DevNew or VdpaCommand.DevDel or VdpaCommand.DevVstatsGet or VdpaCommand.DevAttrSet =>
            GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy,
        _ => null,
    };

    /// <summary>.maxattr (= VDPA_ATTR_MAX, the terminator) of <paramref name="version"/>.</summary>
    public static uint MaxAttr(VdpaUapiVersion version) => version switch
    {
        VdpaUapiVersion.Linux6_1 => 22,
        VdpaUapiVersion.Linux6_2 => 21,
        _ => 37,
    };

    /// <summary>The commands with handlers, in the order ctrl_fill_info reports them.</summary>
    public static IReadOnlyList<VdpaCommand> Commands(VdpaUapiVersion version) => version >= VdpaUapiVersion.Linux6_12
        ? [VdpaCommand.MgmtdevGet, VdpaCommand.DevNew, VdpaCommand.DevDel, VdpaCommand.DevGet, VdpaCommand.DevConfigGet, VdpaCommand.DevVstatsGet, VdpaCommand.DevAttrSet]
        : [VdpaCommand.MgmtdevGet, VdpaCommand.DevNew, VdpaCommand.DevDel, VdpaCommand.DevGet, VdpaCommand.DevConfigGet, VdpaCommand.DevVstatsGet];

    /// <summary>The family as nlctrl describes it on <paramref name="version"/>, with the (dynamic) id <paramref name="familyId"/>.</summary>
    public static GenlFamilyInfo Describe(ushort familyId, VdpaUapiVersion version = VdpaUapiVersion.Linux6_12)
    {
        var ops = new List<GenlOperation>();
        foreach (VdpaCommand c in Commands(version)) ops.Add(new GenlOperation((uint)c, OperationFlags(c)!.Value));
        return new GenlFamilyInfo(familyId, Name, Version, HeaderSize, MaxAttr(version), ops, []);
    }

    /// <summary>
    /// The reply command for a request command (table 1.2 of the reference): MGMTDEV_GET → MGMTDEV_NEW,
    /// DEV_GET → DEV_NEW, CONFIG_GET and VSTATS_GET → themselves; null for commands without a reply message.
    /// </summary>
    public static VdpaCommand? ReplyCommand(VdpaCommand request) => request switch
    {
        VdpaCommand.MgmtdevGet => VdpaCommand.MgmtdevNew,
        VdpaCommand.DevGet => VdpaCommand.DevNew,
        VdpaCommand.DevConfigGet => VdpaCommand.DevConfigGet,
        VdpaCommand.DevVstatsGet => VdpaCommand.DevVstatsGet,
        _ => null,
    };
}
