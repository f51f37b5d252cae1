namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>A line of a golden file: a note or a command.</summary>
internal abstract record GoldenEntry(int Line);
