using System.Text;

namespace Uvdpa.Interop.Tests;

/// <summary>One command of a reference session: its arguments and what it printed (reference-session.sh's run()).</summary>
internal sealed record TranscriptEntry(string[] Args, string Stdout, string Stderr, int Exit)
{
    public string CommandLine => "vdpa " + string.Join(' ', Args);

    /// <summary>This entry as reference-session.sh prints it.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        sb.Append("$ ").Append(CommandLine).Append('\n');
        sb.Append(Stdout);
        if (Stderr.Length > 0)
        {
            // sed "s/^/[stderr] /": every line, the last one even without a newline (GNU sed keeps its absence).
            string[] lines = Stderr.Split('\n');
            int n = Stderr.EndsWith('\n') ? lines.Length - 1 : lines.Length;
            for (int i = 0; i < n; i++)
            {
                sb.Append("[stderr] ").Append(lines[i]);
                if (i < n - 1 || Stderr.EndsWith('\n')) sb.Append('\n');
            }
        }
        sb.Append("[exit ").Append(Exit).Append("]\n\n");
        return sb.ToString();
    }
}

/// <summary>
/// Reads a transcript written by reference-session.sh: "$ vdpa ARGS", the stdout lines, the stderr lines prefixed
/// "[stderr] ", "[exit N]", a blank line. Every line of the capture ended with a newline (the next marker starts a
/// line), so each stdout and stderr line gets its '\n' back.
/// </summary>
internal static class Transcript
{
    public const string Session61 = "kernel-6.12-iproute2-6.1-reference-session.txt";
    public const string Session71 = "kernel-6.12-iproute2-7.1-reference-session.txt";

    public static IReadOnlyList<TranscriptEntry> Load(string fileName) => Parse(File.ReadAllText(TestEnvironment.Golden(fileName)));

    public static IReadOnlyList<TranscriptEntry> Parse(string text)
    {
        var list = new List<TranscriptEntry>();
        string[] lines = text.Split('\n');
        int i = 0;
        while (i < lines.Length)
        {
            if (!lines[i].StartsWith("$ vdpa", StringComparison.Ordinal))
            {
                if (lines[i].Length > 0) throw new FormatException($"transcript line {i + 1} is outside any command: \"{lines[i]}\"");
                i++;
                continue;
            }
            string[] args = lines[i].Length > 7 ? lines[i][7..].Split(' ') : [];
            i++;
            var o = new StringBuilder();
            var e = new StringBuilder();
            int exit = int.MinValue;
            for (; i < lines.Length; i++)
            {
                string l = lines[i];
                if (l.StartsWith("[exit ", StringComparison.Ordinal) && l.EndsWith(']'))
                {
                    exit = int.Parse(l[6..^1], System.Globalization.CultureInfo.InvariantCulture);
                    i++;
                    break;
                }
                if (l.StartsWith("[stderr] ", StringComparison.Ordinal)) e.Append(l[9..]).Append('\n');
                else o.Append(l).Append('\n');
            }
            if (exit == int.MinValue) throw new FormatException($"transcript command \"vdpa {string.Join(' ', args)}\" has no [exit N] line");
            list.Add(new TranscriptEntry(args, o.ToString(), e.ToString(), exit));
        }
        return list;
    }

    public static string Render(IEnumerable<TranscriptEntry> entries) => string.Concat(entries.Select(e => e.Render()));

    /// <summary>
    /// The entry as it would read on a system without management device <paramref name="name"/>: its block removed
    /// from <c>mgmtdev show/list</c> output in text and pretty-JSON form. Entries that do not mention it are returned
    /// as they are.
    /// </summary>
    public static TranscriptEntry WithoutManagementDevice(TranscriptEntry entry, string name)
    {
        if (!entry.Stdout.Contains(name, StringComparison.Ordinal)) return entry;
        List<string> lines = [.. entry.Stdout.Split('\n')];
        int start = lines.FindIndex(l => l == name + ": ");
        if (start >= 0)
        {
            // Text: "NAME: " then its indented attribute lines.
            int end = start + 1;
            while (end < lines.Count && lines[end].StartsWith("  ", StringComparison.Ordinal)) end++;
            lines.RemoveRange(start, end - start);
        }
        else
        {
            // Pretty JSON: "<indent>"NAME": {" ... "<indent>}" or "<indent>},".
            start = lines.FindIndex(l => l.TrimStart() == $"\"{name}\": {{");
            if (start < 0) throw new FormatException($"cannot find {name}'s block in the output of {entry.CommandLine}:\n{entry.Stdout}");
            string indent = lines[start][..(lines[start].Length - lines[start].TrimStart().Length)];
            int end = start + 1;
            while (end < lines.Count && lines[end] != indent + "}" && lines[end] != indent + "},") end++;
            if (end == lines.Count) throw new FormatException($"{name}'s JSON block does not end in the output of {entry.CommandLine}");
            bool wasLast = lines[end] == indent + "}";
            lines.RemoveRange(start, end - start + 1);
            if (wasLast && start > 0 && lines[start - 1].EndsWith(',')) lines[start - 1] = lines[start - 1][..^1];
        }
        string stdout = string.Join('\n', lines);
        if (stdout.Contains(name, StringComparison.Ordinal))
            throw new FormatException($"{name} is still mentioned after removing its block from the output of {entry.CommandLine}:\n{stdout}");
        return entry with { Stdout = stdout };
    }
}
