namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>
/// Something the replay checked or could not do at stream index <paramref name="Index"/>: a <c>dev config show</c>
/// comparison (<paramref name="Problem"/> null when it matched) or an action our stack refused.
/// </summary>
internal sealed record ReplayEvent(int Index, int Line, string What, string? Problem);
