namespace Uvdpa.Conformance.Tests.Golden;

/// <summary>A <c># </c> line (the text without the leading <c>#</c>).</summary>
internal sealed record GoldenNote(int Line, string Text) : GoldenEntry(Line);
