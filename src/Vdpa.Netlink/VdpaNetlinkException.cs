namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// The peer answered a request with an error: a negative errno in NLMSG_ERROR (or NLMSG_DONE), plus the
/// extended-ack text if any. The request failed; the connection is still usable.
/// </summary>
public class VdpaNetlinkException : Exception
{
    /// <summary>Creates the exception for <paramref name="errno"/> (positive) and the extack text.</summary>
    public VdpaNetlinkException(int errno, string? extackMessage)
        : this(errno, extackMessage, null, null) { }

    /// <summary>Creates the exception with the full extended ack and an optional custom message.</summary>
    public VdpaNetlinkException(int errno, string? extackMessage, NetlinkExtendedAck? extendedAck, string? message)
        : base(message ?? (extackMessage is null ? Uvdpa.Vdpa.Netlink.Errno.Describe(errno) : $"{extackMessage} ({Uvdpa.Vdpa.Netlink.Errno.Describe(errno)})"))
    {
        Errno = errno;
        ExtackMessage = extackMessage;
        ExtendedAck = extendedAck;
    }

    /// <summary>The positive errno.</summary>
    public int Errno { get; }

    /// <summary>The C name of <see cref="Errno"/>.</summary>
    public string ErrnoName => Uvdpa.Vdpa.Netlink.Errno.Name(Errno);

    /// <summary>NLMSGERR_ATTR_MSG, e.g. "vdpa: device not found".</summary>
    public string? ExtackMessage { get; }

    /// <summary>All extended-ack TLVs (offset, policy, ...), when present.</summary>
    public NetlinkExtendedAck? ExtendedAck { get; }
}

/// <summary>nlctrl does not know the family (ENOENT): on the kernel the vdpa module is not loaded, or we are not in the initial network namespace.</summary>
public sealed class VdpaFamilyNotFoundException : VdpaNetlinkException
{
    /// <summary>Creates the exception for <paramref name="familyName"/>.</summary>
    public VdpaFamilyNotFoundException(string familyName, int errno, string? extackMessage)
        : base(errno, extackMessage, null, $"Failed to connect to {familyName} Netlink ({Uvdpa.Vdpa.Netlink.Errno.Describe(errno)})") => FamilyName = familyName;

    /// <summary>The family asked for.</summary>
    public string FamilyName { get; }
}
