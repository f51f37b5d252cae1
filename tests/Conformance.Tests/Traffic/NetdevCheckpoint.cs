namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>
/// A <c>grep -H . /sys/class/net/IF/statistics/*</c> in the capture and, at that point, what our side saw: the frames
/// the test got through <c>VirtioNetDevice.SendAsync</c> and <c>TryReceive</c> (and the driver's own counters).
/// </summary>
internal sealed record NetdevCheckpoint(int Index, int Line, string Interface, string Device,
    IReadOnlyDictionary<string, long> Kernel, IReadOnlyDictionary<string, long> Ours, IReadOnlyDictionary<string, long> Driver);
