namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>One command of a reference-session transcript (reference-session.sh's run()).</summary>
public sealed record TranscriptEntry(int Index, string[] Args, string Stdout, string Stderr, int Exit)
{
    public string CommandLine => "vdpa " + string.Join(' ', Args);

    public override string ToString() => $"#{Index} {CommandLine}";
}

/// <summary>
/// Parses a transcript: "$ vdpa ARGS", the raw stdout lines, stderr lines prefixed "[stderr] ", then "[exit N]" and a
/// blank line.
/// </summary>
public static class Transcript
{
    public static string GoldenDir => Path.Combine(AppContext.BaseDirectory, "golden");

    public static IReadOnlyList<TranscriptEntry> Load(string fileName)
    {
        var list = new List<TranscriptEntry>();
        string[] lines = File.ReadAllText(Path.Combine(GoldenDir, fileName)).Split('\n');
        int i = 0;
        while (i < lines.Length)
        {
            if (!lines[i].StartsWith("$ vdpa", StringComparison.Ordinal))
            {
                i++;
                continue;
            }
            string[] args = lines[i].Length > 7 ? lines[i][7..].Split(' ') : [];
            i++;
            var o = new System.Text.StringBuilder();
            var e = new System.Text.StringBuilder();
            int exit = -1;
            for (; i < lines.Length; i++)
            {
                string l = lines[i];
                if (l.StartsWith("[exit ", StringComparison.Ordinal))
                {
                    exit = int.Parse(l[6..^1], System.Globalization.CultureInfo.InvariantCulture);
                    i++;
                    break;
                }
                if (l.StartsWith("[stderr] ", StringComparison.Ordinal)) e.Append(l[9..]).Append('\n');
                else o.Append(l).Append('\n');
            }
            list.Add(new TranscriptEntry(list.Count, args, o.ToString(), e.ToString(), exit));
        }
        return list;
    }
}
