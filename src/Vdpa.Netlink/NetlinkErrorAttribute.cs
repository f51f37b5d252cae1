namespace Uvdpa.Vdpa.Netlink;

/// <summary>enum nlmsgerr_attrs: the extended-ack TLVs after an NLMSG_ERROR (or NLMSG_DONE) payload.</summary>
public enum NetlinkErrorAttribute : ushort
{
    /// <summary>NLMSGERR_ATTR_UNUSED.</summary>
    Unused = 0,

    /// <summary>NLMSGERR_ATTR_MSG: NUL-terminated error (or, with error 0, warning) text.</summary>
    Message = 1,

    /// <summary>NLMSGERR_ATTR_OFFS: u32 byte offset of the offending attribute from the start of the request's nlmsghdr.</summary>
    Offset = 2,

    /// <summary>NLMSGERR_ATTR_COOKIE: binary cookie.</summary>
    Cookie = 3,

    /// <summary>NLMSGERR_ATTR_POLICY: nested policy of the offending attribute (enum netlink_policy_type_attr).</summary>
    Policy = 4,

    /// <summary>NLMSGERR_ATTR_MISS_TYPE: u32 type of a missing required attribute.</summary>
    MissingType = 5,

    /// <summary>NLMSGERR_ATTR_MISS_NEST: u32 offset of the nest in which an attribute is missing.</summary>
    MissingNest = 6,
}
