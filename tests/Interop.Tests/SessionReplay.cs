using System.Text;
using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// Replays a reference session command by command with a tool and compares stdout, stderr and the exit code of each
/// byte for byte with the transcript. Every command runs even after a mismatch (later commands depend on the state
/// earlier ones leave), and a failure prints every mismatching command and the diff of the whole session.
/// </summary>
internal static class SessionReplay
{
    public static async Task RunAsync(IReadOnlyList<TranscriptEntry> expected, Func<string[], Task<ProcessResult>> tool,
        ITestOutputHelper output, string what)
    {
        var actual = new List<TranscriptEntry>();
        var mismatches = new StringBuilder();
        int bad = 0;
        foreach (TranscriptEntry e in expected)
        {
            ProcessResult r = await tool(e.Args);
            var a = new TranscriptEntry(e.Args, r.StdoutText, r.StderrText, r.Exit);
            actual.Add(a);
            bool same = r.Stdout.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(e.Stdout))
                && r.Stderr.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(e.Stderr))
                && r.Exit == e.Exit;
            if (same) continue;
            bad++;
            mismatches.Append("### ").Append(e.CommandLine).Append('\n')
                .Append("expected: exit ").Append(e.Exit).Append(" stdout \"").Append(Escape(e.Stdout)).Append("\" stderr \"").Append(Escape(e.Stderr)).Append("\"\n")
                .Append("actual:   exit ").Append(a.Exit).Append(" stdout \"").Append(Escape(a.Stdout)).Append("\" stderr \"").Append(Escape(a.Stderr)).Append("\"\n");
        }

        output.WriteLine($"{what}: {expected.Count - bad} of {expected.Count} commands match byte for byte");
        if (bad == 0) return;
        string diff = await Diff.UnifiedAsync(Transcript.Render(expected), Transcript.Render(actual), "expected", "actual");
        string report = $"{what}: {bad} of {expected.Count} commands differ\n{mismatches}\n--- diff of the session (expected vs actual) ---\n{diff}";
        output.WriteLine(report);
        Assert.Fail(report);
    }

    public static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>diff -u of two texts (falls back to printing both when diff is missing).</summary>
internal static class Diff
{
    public static async Task<string> UnifiedAsync(string expected, string actual, string expectedLabel, string actualLabel)
    {
        if (TestEnvironment.FindOnPath("diff") is not string diff)
            return $"--- {expectedLabel} ---\n{expected}\n--- {actualLabel} ---\n{actual}";
        string dir = Directory.CreateTempSubdirectory("uvdpa-diff-").FullName;
        try
        {
            string a = Path.Combine(dir, expectedLabel), b = Path.Combine(dir, actualLabel);
            await File.WriteAllTextAsync(a, expected);
            await File.WriteAllTextAsync(b, actual);
            ProcessResult r = await ProcessRunner.RunAsync(diff, ["-u", "--label", expectedLabel, "--label", actualLabel, a, b], null, TimeSpan.FromMinutes(1));
            return r.StdoutText + r.StderrText;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
