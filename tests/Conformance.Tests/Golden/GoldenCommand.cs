namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>A <c>$ command</c> with its raw output.</summary>
internal sealed record GoldenCommand(int Line, string Text, IReadOnlyList<string> Stdout, IReadOnlyList<string> Stderr, int Exit) : GoldenEntry(Line)
{
    /// <summary>stdout joined with newlines.</summary>
    public string Output => string.Join('\n', Stdout);

    /// <summary>The single stdout line (throws when there is not exactly one).</summary>
    public string SingleLine => Stdout.Count == 1 ? Stdout[0] : throw new InvalidDataException($"line {Line}: '{Text}' printed {Stdout.Count} lines");

    /// <inheritdoc />
    public override string ToString() => $"line {Line}: $ {Text}";
}
