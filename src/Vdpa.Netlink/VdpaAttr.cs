namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// enum vdpa_attr with the Linux 6.12 numbering (unchanged through 6.17). Attribute 21 is
/// VDPA_ATTR_DEV_BLK_CFG_CAPACITY since 6.9; on 6.1 it was
/// <c>VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES</c>, the net device's features in config replies (removed in 6.2,
/// folded into <see cref="DevFeatures"/>). Tell them apart by the reply's DEV_ID (net = 1 → 6.1 meaning).
/// </summary>
public enum VdpaAttr : ushort
{
    /// <summary>VDPA_ATTR_UNSPEC = 0 (also VDPA_ATTR_PAD); parsers ignore it.</summary>
    Unspec = 0,
    /// <summary>VDPA_ATTR_MGMTDEV_BUS_NAME = 1: NUL string (only for parents with a bus).</summary>
    MgmtdevBusName = 1,
    /// <summary>VDPA_ATTR_MGMTDEV_DEV_NAME = 2: string.</summary>
    MgmtdevDevName = 2,
    /// <summary>VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES = 3: u64 bitmap of virtio device ids.</summary>
    MgmtdevSupportedClasses = 3,
    /// <summary>VDPA_ATTR_DEV_NAME = 4: string.</summary>
    DevName = 4,
    /// <summary>VDPA_ATTR_DEV_ID = 5: u32 virtio device id.</summary>
    DevId = 5,
    /// <summary>VDPA_ATTR_DEV_VENDOR_ID = 6: u32.</summary>
    DevVendorId = 6,
    /// <summary>VDPA_ATTR_DEV_MAX_VQS = 7: u32.</summary>
    DevMaxVqs = 7,
    /// <summary>VDPA_ATTR_DEV_MAX_VQ_SIZE = 8: u16.</summary>
    DevMaxVqSize = 8,
    /// <summary>VDPA_ATTR_DEV_MIN_VQ_SIZE = 9: u16.</summary>
    DevMinVqSize = 9,
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MACADDR = 10: 6 bytes.</summary>
    DevNetCfgMacAddr = 10,
    /// <summary>VDPA_ATTR_DEV_NET_STATUS = 11: u8 in uapi, u16 on the wire.</summary>
    DevNetStatus = 11,
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MAX_VQP = 12: u16.</summary>
    DevNetCfgMaxVqp = 12,
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MTU = 13: u16 (policy: min 68).</summary>
    DevNetCfgMtu = 13,
    /// <summary>VDPA_ATTR_DEV_NEGOTIATED_FEATURES = 14: u64.</summary>
    DevNegotiatedFeatures = 14,
    /// <summary>VDPA_ATTR_DEV_MGMTDEV_MAX_VQS = 15: u32.</summary>
    DevMgmtdevMaxVqs = 15,
    /// <summary>VDPA_ATTR_DEV_SUPPORTED_FEATURES = 16: u64 (the management device's features).</summary>
    DevSupportedFeatures = 16,
    /// <summary>VDPA_ATTR_DEV_QUEUE_INDEX = 17: u32.</summary>
    DevQueueIndex = 17,
    /// <summary>VDPA_ATTR_DEV_VENDOR_ATTR_NAME = 18: string.</summary>
    DevVendorAttrName = 18,
    /// <summary>VDPA_ATTR_DEV_VENDOR_ATTR_VALUE = 19: u64.</summary>
    DevVendorAttrValue = 19,
    /// <summary>VDPA_ATTR_DEV_FEATURES = 20: u64 (input: features to provision; config output: device features, 6.2+).</summary>
    DevFeatures = 20,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_CAPACITY = 21: u64 (6.9+). On 6.1: VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES (net device features).</summary>
    DevBlkCfgCapacity = 21,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX = 22: u32.</summary>
    DevBlkCfgSizeMax = 22,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE = 23: u32.</summary>
    DevBlkCfgBlkSize = 23,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_SEG_MAX = 24: u32.</summary>
    DevBlkCfgSegMax = 24,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_NUM_QUEUES = 25: u16.</summary>
    DevBlkCfgNumQueues = 25,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_PHY_BLK_EXP = 26: u8.</summary>
    DevBlkCfgPhyBlkExp = 26,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_ALIGN_OFFSET = 27: u8.</summary>
    DevBlkCfgAlignOffset = 27,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_MIN_IO_SIZE = 28: u16.</summary>
    DevBlkCfgMinIoSize = 28,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_OPT_IO_SIZE = 29: u32.</summary>
    DevBlkCfgOptIoSize = 29,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEC = 30: u32.</summary>
    DevBlkCfgMaxDiscardSec = 30,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEG = 31: u32.</summary>
    DevBlkCfgMaxDiscardSeg = 31,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_DISCARD_SEC_ALIGN = 32: u32.</summary>
    DevBlkCfgDiscardSecAlign = 32,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC = 33: u32.</summary>
    DevBlkCfgMaxWriteZeroesSec = 33,
    /// <summary>VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG = 34: u32.</summary>
    DevBlkCfgMaxWriteZeroesSeg = 34,
    /// <summary>VDPA_ATTR_DEV_BLK_READ_ONLY = 35: u8.</summary>
    DevBlkReadOnly = 35,
    /// <summary>VDPA_ATTR_DEV_BLK_FLUSH = 36: u8.</summary>
    DevBlkFlush = 36,
}
