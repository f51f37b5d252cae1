namespace Uvdpa.Vdpa.Nbd;

/// <summary>Commands of the kernel's "nbd" generic netlink family (include/uapi/linux/nbd-netlink.h, version 1).</summary>
public enum NbdGenlCommand : byte
{
    /// <summary>NBD_CMD_CONNECT: attach sockets and geometry to a device; the reply carries NBD_ATTR_INDEX.</summary>
    Connect = 1,
    /// <summary>NBD_CMD_DISCONNECT: send NBD_CMD_DISC and shut the sockets down.</summary>
    Disconnect = 2,
    /// <summary>NBD_CMD_RECONFIGURE.</summary>
    Reconfigure = 3,
    /// <summary>NBD_CMD_LINK_DEAD (multicast notification).</summary>
    LinkDead = 4,
    /// <summary>NBD_CMD_STATUS: NBD_ATTR_DEVICE_LIST of (index, connected).</summary>
    Status = 5,
}

/// <summary>Top-level attributes (NBD_ATTR_*).</summary>
public enum NbdGenlAttr : ushort
{
    /// <summary>NBD_ATTR_INDEX (u32).</summary>
    Index = 1,
    /// <summary>NBD_ATTR_SIZE_BYTES (u64).</summary>
    SizeBytes = 2,
    /// <summary>NBD_ATTR_BLOCK_SIZE_BYTES (u64).</summary>
    BlockSizeBytes = 3,
    /// <summary>NBD_ATTR_TIMEOUT (u64, seconds).</summary>
    Timeout = 4,
    /// <summary>NBD_ATTR_SERVER_FLAGS (u64, the transmission flags).</summary>
    ServerFlags = 5,
    /// <summary>NBD_ATTR_CLIENT_FLAGS (u64, NBD_CFLAG_*).</summary>
    ClientFlags = 6,
    /// <summary>NBD_ATTR_SOCKETS (nested NBD_SOCK_ITEM → NBD_SOCK_FD).</summary>
    Sockets = 7,
    /// <summary>NBD_ATTR_DEAD_CONN_TIMEOUT (u64, seconds).</summary>
    DeadConnectionTimeout = 8,
    /// <summary>NBD_ATTR_DEVICE_LIST (nested NBD_DEVICE_ITEM → NBD_DEVICE_INDEX, NBD_DEVICE_CONNECTED).</summary>
    DeviceList = 9,
    /// <summary>NBD_ATTR_BACKEND_IDENTIFIER (string, Linux ≥ 5.18; shown in /sys/block/nbdN/backend).</summary>
    BackendIdentifier = 10,
}

/// <summary>Nested attribute numbers of the nbd family.</summary>
public static class NbdGenl
{
    /// <summary>NBD_GENL_FAMILY_NAME.</summary>
    public const string FamilyName = "nbd";

    /// <summary>NBD_GENL_VERSION.</summary>
    public const byte Version = 1;

    /// <summary>NBD_SOCK_ITEM (in NBD_ATTR_SOCKETS).</summary>
    public const ushort SockItem = 1;

    /// <summary>NBD_SOCK_FD (u32, in NBD_SOCK_ITEM).</summary>
    public const ushort SockFd = 1;

    /// <summary>NBD_DEVICE_ITEM (in NBD_ATTR_DEVICE_LIST).</summary>
    public const ushort DeviceItem = 1;

    /// <summary>NBD_DEVICE_INDEX (u32, in NBD_DEVICE_ITEM).</summary>
    public const ushort DeviceIndex = 1;

    /// <summary>NBD_DEVICE_CONNECTED (u8, in NBD_DEVICE_ITEM).</summary>
    public const ushort DeviceConnected = 2;
}
