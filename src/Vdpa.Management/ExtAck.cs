using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Management;

/// <summary>
/// struct netlink_ext_ack as a handler fills it (NL_SET_ERR_MSG*, one per request message). Turned into
/// <see cref="NetlinkExtAckInfo"/> for the ACK.
/// </summary>
internal sealed class ExtAck
{
    /// <summary>NETLINK_MAX_FMTMSG_LEN: NL_SET_ERR_MSG_FMT formats into an 80-byte buffer (79 bytes + NUL).</summary>
    public const int MaxFormattedBytes = 79;

    public string? Message { get; set; }

    /// <summary>Offset of the bad attribute from the start of the request's nlmsghdr.</summary>
    public int? BadAttribute { get; set; }

    /// <summary>Encoded NL_POLICY_TYPE_ATTR_* of the bad attribute.</summary>
    public byte[]? Policy { get; set; }

    /// <summary>NL_SET_ERR_MSG.</summary>
    public void Set(string message) => Message = message;

    /// <summary>NL_SET_ERR_MSG_MOD in drivers/vdpa/vdpa.c: "vdpa: " prefix.</summary>
    public void SetVdpa(string message) => Message = "vdpa: " + message;

    /// <summary>NL_SET_ERR_MSG_FMT_MOD: "vdpa: " prefix, truncated to 79 bytes like the kernel's snprintf into _msg_buf.</summary>
    public void SetVdpaFormatted(string message) => Message = Truncate("vdpa: " + message);

    /// <summary>NL_SET_ERR_MSG_ATTR: message and bad attribute, no policy.</summary>
    public void SetAttribute(string message, int offset)
    {
        Message = message;
        BadAttribute = offset;
        Policy = null;
    }

    /// <summary>NL_SET_ERR_MSG_ATTR_POL.</summary>
    public void SetAttributePolicy(string message, int offset, byte[]? policy)
    {
        Message = message;
        BadAttribute = offset;
        Policy = policy;
    }

    public NetlinkExtAckInfo? ToInfo() =>
        Message is null && BadAttribute is null && Policy is null
            ? null
            : new NetlinkExtAckInfo { Message = Message, BadAttributeOffset = BadAttribute, Policy = Policy };

    internal static string Truncate(string s)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(s) <= MaxFormattedBytes) return s;
        int bytes = 0;
        int i = 0;
        while (i < s.Length)
        {
            int step = char.IsSurrogatePair(s, i) ? 2 : 1;
            int n = System.Text.Encoding.UTF8.GetByteCount(s.AsSpan(i, step));
            if (bytes + n > MaxFormattedBytes) break;
            bytes += n;
            i += step;
        }
        return s[..i];
    }
}
