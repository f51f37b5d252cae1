namespace Uvdpa.Vdpa.Netlink;

/// <summary>enum vdpa_command (include/uapi/linux/vdpa.h), pinned values.</summary>
public enum VdpaCommand : byte
{
    /// <summary>VDPA_CMD_UNSPEC = 0 (no handler: EOPNOTSUPP).</summary>
    Unspec = 0,
    /// <summary>VDPA_CMD_MGMTDEV_NEW = 1: only the reply command of MGMTDEV_GET.</summary>
    MgmtdevNew = 1,
    /// <summary>VDPA_CMD_MGMTDEV_GET = 2: doit + dumpit.</summary>
    MgmtdevGet = 2,
    /// <summary>VDPA_CMD_DEV_NEW = 3 (admin): also the reply command of DEV_GET.</summary>
    DevNew = 3,
    /// <summary>VDPA_CMD_DEV_DEL = 4 (admin).</summary>
    DevDel = 4,
    /// <summary>VDPA_CMD_DEV_GET = 5: doit + dumpit.</summary>
    DevGet = 5,
    /// <summary>VDPA_CMD_DEV_CONFIG_GET = 6: doit + dumpit; replies use the same command (5.16+).</summary>
    DevConfigGet = 6,
    /// <summary>VDPA_CMD_DEV_VSTATS_GET = 7 (admin): replies use the same command (5.19+).</summary>
    DevVstatsGet = 7,
    /// <summary>VDPA_CMD_DEV_ATTR_SET = 8 (admin, strict validation; 6.12+).</summary>
    DevAttrSet = 8,
}
