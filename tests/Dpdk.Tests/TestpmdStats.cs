using System.Globalization;
using System.Text.RegularExpressions;

namespace Uvdpa.Dpdk.Tests;

/// <summary>
/// One port's block of testpmd's "Forward statistics" (printed by <c>stop</c>, by SIGINT and at exit): what the
/// forwarding engine received and sent, and what it dropped (RX-dropped: mbuf allocation failures; TX-dropped:
/// frames the port's TX burst did not accept).
/// </summary>
internal readonly partial record struct TestpmdForwardStats(ulong RxPackets, ulong RxDropped, ulong TxPackets, ulong TxDropped)
{
    /// <summary>The last "Forward statistics for port <paramref name="port"/>" block in <paramref name="output"/>, or null.</summary>
    public static TestpmdForwardStats? ParseLast(string output, int port)
    {
        ArgumentNullException.ThrowIfNull(output);
        string marker = $"Forward statistics for port {port.ToString(CultureInfo.InvariantCulture)} ";
        int at = output.LastIndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return null;
        var rx = RxLine().Match(output, at);
        var tx = TxLine().Match(output, at);
        if (!rx.Success || !tx.Success) return null;
        return new TestpmdForwardStats(U64(rx.Groups[1]), U64(rx.Groups[2]), U64(tx.Groups[1]), U64(tx.Groups[2]));
    }

    private static ulong U64(Group g) => ulong.Parse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"RX-packets:\s+(\d+)\s+RX-dropped:\s+(\d+)\s+RX-total:\s+\d+")]
    private static partial Regex RxLine();

    [GeneratedRegex(@"TX-packets:\s+(\d+)\s+TX-dropped:\s+(\d+)\s+TX-total:\s+\d+")]
    private static partial Regex TxLine();
}
