namespace Uvdpa.Vdpa.Netlink;

/// <summary>enum netlink_policy_type_attr: the attributes inside NLMSGERR_ATTR_POLICY and CTRL_ATTR_POLICY.</summary>
public enum NetlinkPolicyTypeAttribute : ushort
{
    /// <summary>NL_POLICY_TYPE_ATTR_UNSPEC.</summary>
    Unspec = 0,
    /// <summary>NL_POLICY_TYPE_ATTR_TYPE: u32 enum netlink_attribute_type.</summary>
    Type = 1,
    /// <summary>NL_POLICY_TYPE_ATTR_MIN_VALUE_S: s64.</summary>
    MinValueSigned = 2,
    /// <summary>NL_POLICY_TYPE_ATTR_MAX_VALUE_S: s64.</summary>
    MaxValueSigned = 3,
    /// <summary>NL_POLICY_TYPE_ATTR_MIN_VALUE_U: u64.</summary>
    MinValueUnsigned = 4,
    /// <summary>NL_POLICY_TYPE_ATTR_MAX_VALUE_U: u64.</summary>
    MaxValueUnsigned = 5,
    /// <summary>NL_POLICY_TYPE_ATTR_MIN_LENGTH: u32.</summary>
    MinLength = 6,
    /// <summary>NL_POLICY_TYPE_ATTR_MAX_LENGTH: u32.</summary>
    MaxLength = 7,
    /// <summary>NL_POLICY_TYPE_ATTR_POLICY_IDX: u32.</summary>
    PolicyIndex = 8,
    /// <summary>NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE: u32.</summary>
    PolicyMaxType = 9,
    /// <summary>NL_POLICY_TYPE_ATTR_BITFIELD32_MASK: u32.</summary>
    Bitfield32Mask = 10,
    /// <summary>NL_POLICY_TYPE_ATTR_PAD.</summary>
    Pad = 11,
    /// <summary>NL_POLICY_TYPE_ATTR_MASK: u64.</summary>
    Mask = 12,
}

/// <summary>enum netlink_attribute_type: attribute kinds as reported in policy dumps.</summary>
public enum NetlinkAttributeKind : uint
{
    /// <summary>NL_ATTR_TYPE_INVALID.</summary>
    Invalid = 0,
    /// <summary>NL_ATTR_TYPE_FLAG.</summary>
    Flag = 1,
    /// <summary>NL_ATTR_TYPE_U8.</summary>
    U8 = 2,
    /// <summary>NL_ATTR_TYPE_U16.</summary>
    U16 = 3,
    /// <summary>NL_ATTR_TYPE_U32.</summary>
    U32 = 4,
    /// <summary>NL_ATTR_TYPE_U64.</summary>
    U64 = 5,
    /// <summary>NL_ATTR_TYPE_S8.</summary>
    S8 = 6,
    /// <summary>NL_ATTR_TYPE_S16.</summary>
    S16 = 7,
    /// <summary>NL_ATTR_TYPE_S32.</summary>
    S32 = 8,
    /// <summary>NL_ATTR_TYPE_S64.</summary>
    S64 = 9,
    /// <summary>NL_ATTR_TYPE_BINARY.</summary>
    Binary = 10,
    /// <summary>NL_ATTR_TYPE_STRING.</summary>
    String = 11,
    /// <summary>NL_ATTR_TYPE_NUL_STRING.</summary>
    NulString = 12,
    /// <summary>NL_ATTR_TYPE_NESTED.</summary>
    Nested = 13,
    /// <summary>NL_ATTR_TYPE_NESTED_ARRAY.</summary>
    NestedArray = 14,
    /// <summary>NL_ATTR_TYPE_BITFIELD32.</summary>
    Bitfield32 = 15,
    /// <summary>NL_ATTR_TYPE_SINT.</summary>
    SInt = 16,
    /// <summary>NL_ATTR_TYPE_UINT.</summary>
    UInt = 17,
}
