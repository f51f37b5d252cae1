namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>A <c>vdpa dev vstats show</c> in the capture (stream index <paramref name="Index"/>) and our answer at that point.</summary>
internal sealed record VstatsCheckpoint(int Index, int Line, string Device, int Qidx, VstatsReading Kernel, VstatsReading Ours);
