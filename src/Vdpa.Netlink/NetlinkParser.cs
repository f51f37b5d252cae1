namespace Uvdpa.Vdpa.Netlink;

/// <summary>Entry points of the validating reader.</summary>
public static class NetlinkParser
{
    /// <summary>Maximum nesting depth <see cref="TryValidateAttributes"/> descends into (the kernel's MAX_POLICY_RECURSION_DEPTH is 10).</summary>
    public const int MaxNestingDepth = 10;

    /// <summary>The messages of one datagram.</summary>
    public static NetlinkMessageEnumerator Messages(ReadOnlySpan<byte> datagram) => new(datagram);

    /// <summary>The attributes in an attribute payload.</summary>
    public static NetlinkAttributeEnumerator Attributes(ReadOnlySpan<byte> payload) => new(payload);

    /// <summary>Checks that a datagram splits into well-formed messages.</summary>
    public static bool TryValidateDatagram(ReadOnlySpan<byte> datagram, out int messageCount, out string? error)
    {
        messageCount = 0;
        var e = new NetlinkMessageEnumerator(datagram);
        while (true)
        {
            if (!e.TryMoveNext(out bool moved, out error)) return false;
            if (!moved) return true;
            messageCount++;
        }
    }

    /// <summary>
    /// Checks that <paramref name="payload"/> splits into well-formed attributes. With <paramref name="descendIntoNested"/>,
    /// attributes flagged NLA_F_NESTED are checked recursively (up to <see cref="MaxNestingDepth"/>).
    /// </summary>
    public static bool TryValidateAttributes(ReadOnlySpan<byte> payload, bool descendIntoNested, out string? error) =>
        ValidateAttributes(payload, descendIntoNested ? MaxNestingDepth : 0, out error);

    private static bool ValidateAttributes(ReadOnlySpan<byte> payload, int depth, out string? error)
    {
        var e = new NetlinkAttributeEnumerator(payload);
        while (true)
        {
            if (!e.TryMoveNext(out bool moved, out error)) return false;
            if (!moved) return true;
            if (depth > 0 && e.Current.IsNestedFlagSet && !ValidateAttributes(e.Current.Payload, depth - 1, out error)) return false;
        }
    }
}
