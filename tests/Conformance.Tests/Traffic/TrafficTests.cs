using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>
/// sim-net-traffic.txt replayed on our stack (see <see cref="CaptureReplay"/>): for each phase, the change of every
/// vendor counter (per qidx, name and value) and of the netdev's frame/byte counts between the counters snapshot
/// before the phase and the one after it, kernel versus ours.
/// </summary>
public sealed partial class TrafficTests(TrafficReplayFixture fixture, ITestOutputHelper output) : IClassFixture<TrafficReplayFixture>
{
    private readonly CaptureReplay _replay = fixture.Replay;

    public static TheoryData<string> Phases => new() { "A", "B", "C", "C2", "C3", "D", "E", "G", "H" };

    [Fact]
    public void Replay_PerformsEveryStepOfTheCapture()
    {
        Assert.True(_replay.Failures.Count == 0, "our stack could not perform:\n" + string.Join('\n', _replay.Failures.Select(f => $"  {f.What}: {f.Problem}")));
        // The capture's three traffic devices and their netdevs were all found.
        Assert.Equal(["eth1", "eth2", "eth3"], _replay.Interfaces.Keys.Order());
    }

    /// <summary>Every vstats answer of the capture (absolute values, and the EINVAL for qidx 3), at the same point of the script.</summary>
    [Fact]
    public void EveryVstatsReading_MatchesKernel()
    {
        var problems = _replay.Vstats
            .Where(v => v.Kernel.ToString() != v.Ours.ToString())
            .Select(v => $"  line {v.Line} {v.Device} qidx {v.Qidx}\n    kernel: {v.Kernel}\n    ours:   {v.Ours}")
            .ToList();
        Assert.True(_replay.Vstats.Count >= 40, $"only {_replay.Vstats.Count} vstats readings replayed");
        Assert.True(problems.Count == 0, $"{problems.Count} of {_replay.Vstats.Count} vstats readings differ:\n" + string.Join('\n', problems));
    }

    /// <summary>
    /// Every <c>vdpa -j dev config show</c> (mac, link, mtu, negotiated features; e.g. net1's MAC after the CVQ set) and
    /// every virtio <c>status</c> read during the traffic.
    /// </summary>
    [Fact]
    public void EveryConfigShowAndStatus_MatchesKernel()
    {
        Assert.True(_replay.ViewChecks.Count >= 7, $"only {_replay.ViewChecks.Count} views compared");
        Assert.Contains(_replay.ViewChecks, c => c.What.Contains("/status", StringComparison.Ordinal));
        var problems = _replay.ViewChecks.Where(c => c.Problem is not null).Select(c => $"  {c.What}: {c.Problem}").ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Theory]
    [MemberData(nameof(Phases))]
    public void Phase_VendorStatsDeltas_MatchKernel(string phase)
    {
        var (start, after, end) = Span(phase);
        AssertNoFailures(start, end);
        var readings = _replay.Vstats.Where(v => v.Index > after && v.Index < end)
            .GroupBy(v => (v.Device, v.Qidx)).Select(g => g.Last()).ToList();
        Assert.NotEmpty(readings);
        var report = new StringBuilder();
        bool same = true;
        foreach (var a in readings)
        {
            var b = _replay.Vstats.LastOrDefault(v => v.Device == a.Device && v.Qidx == a.Qidx && v.Index < start);
            var kernel = a.Kernel.Since(b?.Kernel ?? VstatsReading.ZeroLike(a.Kernel));
            var ours = a.Ours.Since(b?.Ours ?? VstatsReading.ZeroLike(a.Ours));
            bool ok = kernel.ToString() == ours.ToString();
            same &= ok;
            report.Append(CultureFormat($"\n  {(ok ? "ok  " : "DIFF")} {a.Device} qidx {a.Qidx} ({Where(a.Index)}, since {(b is null ? "creation" : Where(b.Index))})\n    kernel: {kernel}\n    ours:   {ours}"));
        }
        output.WriteLine($"phase {phase} vendor counter deltas:{report}");
        Assert.True(same, $"phase {phase}: vendor counter deltas differ:{report}");
    }

    /// <summary>
    /// The frames the netdev counted: packets and bytes sent (tx_*) and received (rx_*; frame lengths without the
    /// 12-byte virtio-net header) versus what our test sent and got back from <c>TryReceive</c>. rx_dropped is not
    /// compared: the kernel counts frames no protocol handler took (ethertype 0x88b5) there, after virtio_net received them.
    /// </summary>
    [Theory]
    [MemberData(nameof(Phases))]
    public void Phase_NetdevFrameCounts_MatchKernel(string phase)
    {
        var (start, after, end) = Span(phase);
        AssertNoFailures(start, end);
        string[] keys = ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];
        var readings = _replay.Netdev.Where(n => n.Index > after && n.Index < end).GroupBy(n => n.Interface).Select(g => g.Last()).ToList();
        Assert.NotEmpty(readings);
        var report = new StringBuilder();
        bool same = true;
        foreach (var a in readings)
        {
            var b = _replay.Netdev.LastOrDefault(n => n.Interface == a.Interface && n.Index < start);
            string kernel = string.Join(", ", keys.Select(k => $"{k}={a.Kernel[k] - (b?.Kernel[k] ?? 0)}"));
            string ours = string.Join(", ", keys.Select(k => $"{k}={a.Ours[k] - (b?.Ours[k] ?? 0)}"));
            string driver = string.Join(", ", keys.Select(k => $"{k}={a.Driver[k] - (b?.Driver[k] ?? 0)}"));
            // Not compared (see above), shown for the record.
            string dropped = CultureFormat($"rx_dropped kernel {a.Kernel["rx_dropped"] - (b?.Kernel["rx_dropped"] ?? 0)}, driver {a.Driver["rx_dropped"] - (b?.Driver["rx_dropped"] ?? 0)}");
            var lengths = _replay.Received.GetValueOrDefault(a.Device, []).Where(r => r.Index >= start && r.Index <= a.Index).Select(r => r.Length);
            bool ok = kernel == ours && ours == driver;
            same &= ok;
            report.Append(CultureFormat($"\n  {(ok ? "ok  " : "DIFF")} {a.Interface} ({a.Device})\n    kernel: {kernel}\n    ours:   {ours}\n    driver: {driver}\n    received lengths: {string.Join(' ', lengths)}\n    {dropped}"));
        }
        output.WriteLine($"phase {phase} netdev counts:{report}");
        Assert.True(same, $"phase {phase}: netdev counts differ:{report}");
    }

    /// <summary>
    /// Phase span: from the "==== phase X:" note to the end of its "==== counters: ... after phase X ====" block
    /// (the next "====" note, or the end of the capture).
    /// </summary>
    private (int Start, int After, int End) Span(string phase)
    {
        string p = Regex.Escape(phase);
        int start = _replay.FindNote(new Regex($"^==== phase {p}:"));
        Assert.True(start >= 0, $"no phase {phase} in the capture");
        int after = _replay.FindNote(new Regex($"^==== counters: .*after phase {p} ====$"), start);
        Assert.True(after > start, $"no counters after phase {phase}");
        int end = _replay.FindNote(SectionNote(), after + 1);
        return (start, after, end < 0 ? _replay.Stream.Count : end);
    }

    private string Where(int index) => $"{_replay.Stream[index].File}:{_replay.Stream[index].Entry.Line}";

    private void AssertNoFailures(int start, int end)
    {
        var failures = _replay.Failures.Where(f => f.Index >= start && f.Index < end).Select(f => $"  {f.What}: {f.Problem}").ToList();
        Assert.True(failures.Count == 0, "our stack could not perform:\n" + string.Join('\n', failures));
    }

    private static string CultureFormat(FormattableString s) => FormattableString.Invariant(s);

    [GeneratedRegex("^====")]
    private static partial Regex SectionNote();
}
