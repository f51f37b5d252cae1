namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// Netlink bytes from a peer are truncated or malformed (a length field points outside the buffer, a header is
/// cut short, a fixed-size attribute is too small). The datagram cannot be trusted; a connection that produced
/// it should be closed.
/// </summary>
public sealed class NetlinkFormatException : Exception
{
    /// <summary>Creates the exception with a description of what was wrong.</summary>
    public NetlinkFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a description and the offset (within the parsed span) where it was found.</summary>
    public NetlinkFormatException(string message, int offset) : base($"{message} (at offset {offset})") => Offset = offset;

    /// <summary>The offset of the problem within the span being parsed, when known.</summary>
    public int? Offset { get; }
}
