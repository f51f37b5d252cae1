using BenchmarkDotNet.Attributes;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Benchmarks;

/// <summary>
/// Frames through vdpasim_net's loopback with our virtio driver: a burst of <see cref="Burst"/> frames is queued,
/// published with one kick, and all of them are received back. One operation = one frame round trip.
/// </summary>
[MemoryDiagnoser, MinColumn, MedianColumn, MaxColumn]
public class NetLoopback
{
    public const int Burst = 64;
    private const int Bursts = 256;
    private Rig _rig = null!;
    private VirtioNetDevice _net = null!;
    private byte[] _frame = null!;
    private byte[] _back = null!;

    [Params(64, 1500)]
    public int FrameSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rig = new Rig();
        _net = _rig.AddNet();
        _frame = Rig.Frame(FrameSize);
        _back = new byte[_net.MaxFrameLength];
    }

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = Burst * Bursts)]
    public Task<long> RoundTrip() => Run(_net, _frame, _back, Bursts);

    /// <summary>
    /// Circulates <paramref name="bursts"/> × <see cref="Burst"/> frames, keeping up to two bursts in flight so the
    /// driver fills the TX ring while the device's worker drains it (as testpmd keeps its rings busy).
    /// Returns the number of frames received.
    /// </summary>
    public static async Task<long> Run(VirtioNetDevice net, byte[] frame, byte[] back, int bursts)
    {
        long total = (long)bursts * Burst, sent = 0, received = 0;
        while (received < total)
        {
            int queued = 0;
            while (sent < total && sent - received < 2 * Burst && net.TrySend(frame)) { sent++; queued++; }
            if (queued > 0) net.Flush();
            bool any = false;
            while (received < sent && net.TryReceive(back, out _)) { received++; any = true; }
            if (!any && received < sent)
            {
                await net.ReceiveAsync(back).ConfigureAwait(false);
                received++;
            }
        }
        return received;
    }
}
