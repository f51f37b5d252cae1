namespace Uvdpa.Vdpa.Netlink;

/// <summary>The decoded extended-ack TLVs of an NLMSG_ERROR or NLMSG_DONE (enum nlmsgerr_attrs).</summary>
/// <param name="Message">NLMSGERR_ATTR_MSG: the error text, or on an ACK a warning.</param>
/// <param name="Offset">NLMSGERR_ATTR_OFFS: offset of the offending attribute from the start of the request's nlmsghdr.</param>
/// <param name="Cookie">NLMSGERR_ATTR_COOKIE.</param>
/// <param name="Policy">NLMSGERR_ATTR_POLICY: the nested policy attributes (payload only).</param>
/// <param name="MissingType">NLMSGERR_ATTR_MISS_TYPE.</param>
/// <param name="MissingNest">NLMSGERR_ATTR_MISS_NEST.</param>
public sealed record NetlinkExtendedAck(string? Message, uint? Offset, byte[]? Cookie, byte[]? Policy, uint? MissingType, uint? MissingNest)
{
    /// <summary>No TLVs.</summary>
    public static NetlinkExtendedAck Empty { get; } = new(null, null, null, null, null, null);

    /// <summary>Decodes TLV bytes; unknown types are ignored; malformed TLVs give <see cref="NetlinkFormatException"/>.</summary>
    public static NetlinkExtendedAck Parse(ReadOnlySpan<byte> tlvs)
    {
        if (tlvs.IsEmpty) return Empty;
        string? msg = null;
        uint? offs = null, missType = null, missNest = null;
        byte[]? cookie = null, policy = null;
        foreach (NetlinkAttribute a in new NetlinkAttributeEnumerator(tlvs))
        {
            switch ((NetlinkErrorAttribute)a.Type)
            {
                case NetlinkErrorAttribute.Message: msg = a.GetString(); break;
                case NetlinkErrorAttribute.Offset: offs = a.GetU32(); break;
                case NetlinkErrorAttribute.Cookie: cookie = a.Payload.ToArray(); break;
                case NetlinkErrorAttribute.Policy: policy = a.Payload.ToArray(); break;
                case NetlinkErrorAttribute.MissingType: missType = a.GetU32(); break;
                case NetlinkErrorAttribute.MissingNest: missNest = a.GetU32(); break;
            }
        }
        return new NetlinkExtendedAck(msg, offs, cookie, policy, missType, missNest);
    }
}
