using System.Globalization;
using System.Text.Json;
using Uvdpa.Conformance.Tests.Golden;
using Uvdpa.Vdpa.Core;

namespace Uvdpa.Conformance.Tests;

/// <summary>
/// One <c>vdpa dev vstats show DEV qidx N</c> answer: the vendor counters in order (name, value), or the errno. The
/// <c>queue_type</c> field is left out: iproute2 6.1 derives it itself from max_vqp (0 without MQ, so it labels qidx 0
/// "control_vq" and qidx 2 "rx"); it is not something the device reports.
/// </summary>
internal sealed record VstatsReading(int Errno, IReadOnlyList<KeyValuePair<string, ulong>> Counters)
{
    /// <summary>Parses the golden output (JSON with <c>-j</c>, else the text form).</summary>
    public static VstatsReading FromGolden(GoldenCommand command, bool json)
    {
        int errno = Iproute2.KernelAnswer(command.Stderr);
        if (errno != 0) return new VstatsReading(errno, []);
        var counters = new List<KeyValuePair<string, ulong>>();
        if (json)
        {
            using var doc = JsonDocument.Parse(command.Output);
            foreach (var dev in doc.RootElement.GetProperty("vstats").EnumerateObject())
            {
                foreach (var p in dev.Value.EnumerateObject())
                {
                    if (p.Name != "queue_type") counters.Add(new(p.Name, p.Value.GetUInt64()));
                }
            }
        }
        else
        {
            // "net0: queue_type control_vq rx packets 0 rx bytes 0 ...": words up to a number form the name.
            var words = command.SingleLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(3);
            var name = new List<string>();
            foreach (string w in words)
            {
                if (ulong.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
                {
                    counters.Add(new(string.Join(' ', name), v));
                    name.Clear();
                }
                else
                {
                    name.Add(w);
                }
            }
        }
        return new VstatsReading(0, counters);
    }

    /// <summary>Our get_vendor_vq_stats for queue <paramref name="qidx"/>.</summary>
    public static VstatsReading FromOps(VdpaDevice device, int qidx)
    {
        var stats = new List<VendorStat>();
        int rc = device.Ops.GetVendorVqStats(qidx, stats);
        return rc < 0
            ? new VstatsReading(-rc, [])
            : new VstatsReading(0, [.. stats.Select(s => new KeyValuePair<string, ulong>(s.Name, s.Value))]);
    }

    /// <summary>All zero, with the names of <paramref name="shape"/> (a device that did not exist yet).</summary>
    public static VstatsReading ZeroLike(VstatsReading shape) => new(0, [.. shape.Counters.Select(c => new KeyValuePair<string, ulong>(c.Key, 0))]);

    /// <summary>This reading minus <paramref name="before"/>, counter by counter (the names must agree).</summary>
    public VstatsReading Since(VstatsReading before)
    {
        if (Errno != 0 || before.Errno != 0) return this;
        var names = Counters.Select(c => c.Key).ToList();
        Assert.Equal(before.Counters.Select(c => c.Key), names);
        return new VstatsReading(0, [.. Counters.Zip(before.Counters, (a, b) => new KeyValuePair<string, ulong>(a.Key, a.Value - b.Value))]);
    }

    /// <summary>Value of counter <paramref name="name"/>.</summary>
    public ulong this[string name] => Counters.Single(c => c.Key == name).Value;

    /// <summary>Asserts <paramref name="ours"/> has the same errno, names (in order) and values.</summary>
    public void AssertSame(VstatsReading ours, string context)
        => Assert.True(ToString() == ours.ToString(), $"{context}\n  kernel: {this}\n  ours:   {ours}");

    /// <inheritdoc />
    public override string ToString()
        => Errno != 0 ? $"errno {Errno}" : string.Join(", ", Counters.Select(c => $"{c.Key}={c.Value}"));
}
