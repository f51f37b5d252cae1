using System.Globalization;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// The guest's machine-readable report on its serial console: lines <c>UVDPA-RESULT KIND key=value ...</c>, then
/// <c>UVDPA-END</c> when the scenario ran to its end.
/// </summary>
internal sealed class GuestConsole
{
    public const string ResultPrefix = "UVDPA-RESULT";
    public const string EndMarker = "UVDPA-END";

    private GuestConsole(string text, IReadOnlyList<GuestResult> results, bool ended)
    {
        Text = text;
        Results = results;
        Ended = ended;
    }

    /// <summary>The whole console output.</summary>
    public string Text { get; }

    public IReadOnlyList<GuestResult> Results { get; }

    /// <summary>True when the scenario printed its end marker.</summary>
    public bool Ended { get; }

    public IEnumerable<GuestResult> OfKind(string kind) => Results.Where(r => r.Kind == kind);

    public static GuestConsole Parse(string text)
    {
        var results = new List<GuestResult>();
        bool ended = false;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            // A result may follow kernel output on the same line (no newline before it); take it from its prefix.
            int at = line.IndexOf(ResultPrefix + " ", StringComparison.Ordinal);
            if (at >= 0)
            {
                string[] words = line[(at + ResultPrefix.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0) continue;
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                var bare = new List<string>();
                foreach (string w in words.Skip(1))
                {
                    int eq = w.IndexOf('=', StringComparison.Ordinal);
                    if (eq > 0) values[w[..eq]] = w[(eq + 1)..];
                    else bare.Add(w);
                }
                results.Add(new GuestResult(words[0], values, bare));
            }
            else if (line.Trim() == EndMarker)
            {
                ended = true;
            }
        }
        return new GuestConsole(text, results, ended);
    }
}

/// <summary>One result line: its kind, its key=value pairs and any bare words.</summary>
internal sealed record GuestResult(string Kind, IReadOnlyDictionary<string, string> Values, IReadOnlyList<string> Words)
{
    public string this[string key] => Values.TryGetValue(key, out string? v) ? v : throw new KeyNotFoundException($"result '{Kind}' has no '{key}': {this}");

    public long Long(string key) => long.Parse(this[key], NumberStyles.Integer, CultureInfo.InvariantCulture);

    public override string ToString() => $"{Kind} {string.Join(' ', Values.Select(kv => kv.Key + "=" + kv.Value))} {string.Join(' ', Words)}".TrimEnd();
}
