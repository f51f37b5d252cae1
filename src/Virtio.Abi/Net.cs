using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi;

/// <summary>virtio-net feature bits (VIRTIO_NET_F_*). Spec: VIRTIO 1.3 §5.1.3; Linux include/uapi/linux/virtio_net.h.</summary>
public static class NetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM.</summary>
    public const int Csum = 0;
    /// <summary>VIRTIO_NET_F_GUEST_CSUM.</summary>
    public const int GuestCsum = 1;
    /// <summary>VIRTIO_NET_F_CTRL_GUEST_OFFLOADS.</summary>
    public const int CtrlGuestOffloads = 2;
    /// <summary>VIRTIO_NET_F_MTU.</summary>
    public const int Mtu = 3;
    /// <summary>VIRTIO_NET_F_MAC.</summary>
    public const int Mac = 5;
    /// <summary>VIRTIO_NET_F_GUEST_TSO4.</summary>
    public const int GuestTso4 = 7;
    /// <summary>VIRTIO_NET_F_GUEST_TSO6.</summary>
    public const int GuestTso6 = 8;
    /// <summary>VIRTIO_NET_F_GUEST_ECN.</summary>
    public const int GuestEcn = 9;
    /// <summary>VIRTIO_NET_F_GUEST_UFO.</summary>
    public const int GuestUfo = 10;
    /// <summary>VIRTIO_NET_F_HOST_TSO4.</summary>
    public const int HostTso4 = 11;
    /// <summary>VIRTIO_NET_F_HOST_TSO6.</summary>
    public const int HostTso6 = 12;
    /// <summary>VIRTIO_NET_F_HOST_ECN.</summary>
    public const int HostEcn = 13;
    /// <summary>VIRTIO_NET_F_HOST_UFO.</summary>
    public const int HostUfo = 14;
    /// <summary>VIRTIO_NET_F_MRG_RXBUF.</summary>
    public const int MrgRxbuf = 15;
    /// <summary>VIRTIO_NET_F_STATUS.</summary>
    public const int Status = 16;
    /// <summary>VIRTIO_NET_F_CTRL_VQ.</summary>
    public const int CtrlVq = 17;
    /// <summary>VIRTIO_NET_F_CTRL_RX.</summary>
    public const int CtrlRx = 18;
    /// <summary>VIRTIO_NET_F_CTRL_VLAN.</summary>
    public const int CtrlVlan = 19;
    /// <summary>VIRTIO_NET_F_CTRL_RX_EXTRA.</summary>
    public const int CtrlRxExtra = 20;
    /// <summary>VIRTIO_NET_F_GUEST_ANNOUNCE.</summary>
    public const int GuestAnnounce = 21;
    /// <summary>VIRTIO_NET_F_MQ.</summary>
    public const int Mq = 22;
    /// <summary>VIRTIO_NET_F_CTRL_MAC_ADDR.</summary>
    public const int CtrlMacAddr = 23;
    /// <summary>VIRTIO_NET_F_HASH_REPORT.</summary>
    public const int HashReport = 57;
    /// <summary>VIRTIO_NET_F_RSS.</summary>
    public const int Rss = 60;
    /// <summary>VIRTIO_NET_F_RSC_EXT.</summary>
    public const int RscExt = 61;
    /// <summary>VIRTIO_NET_F_STANDBY.</summary>
    public const int Standby = 62;
    /// <summary>VIRTIO_NET_F_SPEED_DUPLEX.</summary>
    public const int SpeedDuplex = 63;
}

/// <summary>struct virtio_net_config (little-endian). Spec: VIRTIO 1.3 §5.1.4. Field offsets are pinned by tests.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioNetConfig
{
    /// <summary>sizeof(struct virtio_net_config) in the Linux uapi: through supported_hash_types (24 bytes).</summary>
    public const int Size = 24;
    /// <summary>Offset of mac[6].</summary>
    public const int MacOffset = 0;
    /// <summary>Offset of status (u16).</summary>
    public const int StatusOffset = 6;
    /// <summary>Offset of max_virtqueue_pairs (u16).</summary>
    public const int MaxVirtqueuePairsOffset = 8;
    /// <summary>Offset of mtu (u16).</summary>
    public const int MtuOffset = 10;
    /// <summary>Offset of speed (u32).</summary>
    public const int SpeedOffset = 12;
    /// <summary>Offset of duplex (u8).</summary>
    public const int DuplexOffset = 16;
    /// <summary>Offset of rss_max_key_size (u8).</summary>
    public const int RssMaxKeySizeOffset = 17;
    /// <summary>Offset of rss_max_indirection_table_length (u16).</summary>
    public const int RssMaxIndirectionTableLengthOffset = 18;
    /// <summary>Offset of supported_hash_types (u32).</summary>
    public const int SupportedHashTypesOffset = 20;

    /// <summary>VIRTIO_NET_S_LINK_UP.</summary>
    public const ushort StatusLinkUp = 1;
    /// <summary>VIRTIO_NET_S_ANNOUNCE.</summary>
    public const ushort StatusAnnounce = 2;
}

/// <summary>struct virtio_net_hdr_v1 (12 bytes, with num_buffers); the legacy header without num_buffers is 10. Spec: §5.1.6.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioNetHdrV1
{
    /// <summary>Size with num_buffers (VERSION_1 or MRG_RXBUF).</summary>
    public const int Size = 12;
    /// <summary>Size of the legacy header without num_buffers.</summary>
    public const int LegacySize = 10;
    /// <summary>VIRTIO_NET_HDR_F_* flags.</summary>
    public byte Flags;
    /// <summary>VIRTIO_NET_HDR_GSO_* type.</summary>
    public byte GsoType;
    /// <summary>Header length.</summary>
    public ushort HdrLen;
    /// <summary>GSO segment size.</summary>
    public ushort GsoSize;
    /// <summary>Checksum start.</summary>
    public ushort CsumStart;
    /// <summary>Checksum offset.</summary>
    public ushort CsumOffset;
    /// <summary>Number of merged receive buffers.</summary>
    public ushort NumBuffers;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM.</summary>
    public const byte FlagNeedsCsum = 1;
    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID.</summary>
    public const byte FlagDataValid = 2;
    /// <summary>VIRTIO_NET_HDR_GSO_NONE.</summary>
    public const byte GsoNone = 0;
}

/// <summary>Control-queue classes, commands and acks. Spec: §5.1.6.5; Linux virtio_net.h.</summary>
public static class NetCtrl
{
    /// <summary>VIRTIO_NET_OK.</summary>
    public const byte Ok = 0;
    /// <summary>VIRTIO_NET_ERR.</summary>
    public const byte Err = 1;

    /// <summary>VIRTIO_NET_CTRL_RX.</summary>
    public const byte ClassRx = 0;
    /// <summary>VIRTIO_NET_CTRL_RX_PROMISC.</summary>
    public const byte RxPromisc = 0;
    /// <summary>VIRTIO_NET_CTRL_RX_ALLMULTI.</summary>
    public const byte RxAllMulti = 1;
    /// <summary>VIRTIO_NET_CTRL_MAC.</summary>
    public const byte ClassMac = 1;
    /// <summary>VIRTIO_NET_CTRL_MAC_TABLE_SET.</summary>
    public const byte MacTableSet = 0;
    /// <summary>VIRTIO_NET_CTRL_MAC_ADDR_SET.</summary>
    public const byte MacAddrSet = 1;
    /// <summary>VIRTIO_NET_CTRL_VLAN.</summary>
    public const byte ClassVlan = 2;
    /// <summary>VIRTIO_NET_CTRL_ANNOUNCE.</summary>
    public const byte ClassAnnounce = 3;
    /// <summary>VIRTIO_NET_CTRL_MQ.</summary>
    public const byte ClassMq = 4;
    /// <summary>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET.</summary>
    public const byte MqVqPairsSet = 0;
    /// <summary>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX (0x8000).</summary>
    public const ushort MqVqPairsMax = 0x8000;
    /// <summary>VIRTIO_NET_CTRL_GUEST_OFFLOADS.</summary>
    public const byte ClassGuestOffloads = 5;
}

/// <summary>struct virtio_net_ctrl_hdr (2 bytes): class, command.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioNetCtrlHdr
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 2;
    /// <summary>Command class.</summary>
    public byte Class;
    /// <summary>Command.</summary>
    public byte Cmd;
}
