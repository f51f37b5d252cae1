using Uvdpa.Conformance.Tests.Golden;

namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>Runs the capture replay once for all traffic tests (about a hundred frames; a second or two).</summary>
public sealed class TrafficReplayFixture : IAsyncLifetime
{
    internal CaptureReplay Replay { get; } = new(GoldenTranscript.Load("sim-net.txt"), GoldenTranscript.Load("sim-net-traffic.txt"));

    public Task InitializeAsync() => Replay.RunAsync();

    public Task DisposeAsync()
    {
        Replay.Dispose();
        return Task.CompletedTask;
    }
}
