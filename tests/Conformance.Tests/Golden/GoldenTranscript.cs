using System.Text.RegularExpressions;

namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>
/// One golden capture (tests/golden/README.md): a sequence of <c># note</c> lines and <c>$ command</c> blocks, each
/// block holding the raw stdout, the stderr lines (prefixed <c>[stderr] </c> in the file) and the exit code.
/// </summary>
internal sealed partial class GoldenTranscript
{
    private GoldenTranscript(string name, IReadOnlyList<GoldenEntry> entries)
    {
        Name = name;
        Entries = entries;
    }

    /// <summary>File name, e.g. <c>sim-net.txt</c>.</summary>
    public string Name { get; }

    /// <summary>Notes and commands in file order.</summary>
    public IReadOnlyList<GoldenEntry> Entries { get; }

    /// <summary>The commands only.</summary>
    public IEnumerable<GoldenCommand> Commands => Entries.OfType<GoldenCommand>();

    /// <summary>Loads <c>golden/kernel-6.12/<paramref name="file"/></c> from the test output directory.</summary>
    public static GoldenTranscript Load(string file, string kernel = "kernel-6.12")
    {
        string path = Path.Combine(AppContext.BaseDirectory, "golden", kernel, file);
        return Parse(file, File.ReadAllLines(path));
    }

    /// <summary>Parses the capture format.</summary>
    public static GoldenTranscript Parse(string name, IReadOnlyList<string> lines)
    {
        var entries = new List<GoldenEntry>();
        string? command = null;
        int commandLine = 0;
        var stdout = new List<string>();
        var stderr = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i];
            if (command is not null)
            {
                // An output without a trailing newline runs into the marker: "vdpa_blk_sim[exit 0]".
                var end = ExitMarker().Match(line);
                if (end.Success)
                {
                    if (end.Groups[1].Length > 0) stdout.Add(end.Groups[1].Value);
                    entries.Add(new GoldenCommand(commandLine, command, [.. stdout], [.. stderr], int.Parse(end.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
                    command = null;
                    stdout.Clear();
                    stderr.Clear();
                }
                else if (line.StartsWith("[stderr] ", StringComparison.Ordinal))
                {
                    stderr.Add(line["[stderr] ".Length..]);
                }
                else
                {
                    stdout.Add(line);
                }
            }
            else if (line.StartsWith("$ ", StringComparison.Ordinal))
            {
                command = line[2..];
                commandLine = i + 1;
            }
            else if (line.StartsWith('#'))
            {
                entries.Add(new GoldenNote(i + 1, line.TrimStart('#').Trim()));
            }
        }
        if (command is not null) throw new InvalidDataException($"{name}: command at line {commandLine} has no [exit] marker");
        return new GoldenTranscript(name, entries);
    }

    /// <summary>The single command whose text is exactly <paramref name="text"/> (the first when <paramref name="first"/>).</summary>
    public GoldenCommand Command(string text, bool first = false)
    {
        var matches = Commands.Where(c => c.Text == text).ToList();
        if (matches.Count == 0) throw new InvalidDataException($"{Name}: no command '{text}'");
        if (matches.Count > 1 && !first) throw new InvalidDataException($"{Name}: command '{text}' occurs {matches.Count} times");
        return matches[0];
    }

    /// <summary>Every command matching <paramref name="pattern"/>.</summary>
    public IEnumerable<(GoldenCommand Command, Match Match)> Matching(Regex pattern)
    {
        foreach (var c in Commands)
        {
            var m = pattern.Match(c.Text);
            if (m.Success) yield return (c, m);
        }
    }

    [GeneratedRegex(@"^(.*)\[exit (-?\d+)\]$")]
    private static partial Regex ExitMarker();
}
