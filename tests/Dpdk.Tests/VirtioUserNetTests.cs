using System.Diagnostics;
using System.Net.NetworkInformation;
using Uvdpa.Interop.Tests;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Dpdk.Tests;

/// <summary>
/// DPDK 22.11 testpmd with <c>net_virtio_user</c> (a vhost-user front-end) against vdpad's vhost_vdpa driver serving
/// a vdpasim_net device (a loopback) on its socket: frames addressed to the device's MAC (<c>--eth-peer</c>) go
/// through the device's TX queue and come back on RX; testpmd's counters and the device's per-queue counters (read
/// through vdpad's uvdpa family) must tell the same story.
/// </summary>
/// <remarks>
/// testpmd runs interactively with commands on stdin, so the test can stop forwarding, let the device finish what
/// was already sent (a condition it waits for), and only then quit; the front-end's GET_VRING_BASE would otherwise
/// stop the rings with frames still in them. Frames are 64 bytes, so each costs 64 + 12 (virtio_net_hdr_v1) bytes
/// on the device.
/// </remarks>
public sealed class VirtioUserNetTests(ITestOutputHelper output)
{
    private const int QueueSize = 256;
    private const int FrameBytes = 64 + 12;
    private const int TxFirstBurst = 32; // testpmd's default burst (tx_first sends one)
    private static readonly TimeSpan TrafficTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(1);

    [DpdkFact]
    public async Task IoWithTxFirst_FramesCirculate_AndTheDeviceCountsExactlyWhatTestpmdSent()
    {
        await RunAsync("io", async (t, counters) =>
        {
            await t.RunAsync("start tx_first", CommandTimeout);
            // Readiness: frames went round many times (the device delivered them back to testpmd's RX ring).
            await WaitForDeviceAsync(t, counters, c => c.Rx["rx packets"] >= 100_000, TrafficTimeout, "100000 frames looped back");
            var fwd = StopForwarding(await t.RunAsync("stop", CommandTimeout), t);
            // What testpmd sent before it stopped is in the TX ring; the device takes it all (and loops it back).
            await WaitForDeviceAsync(t, counters, c => c.Tx["tx packets"] == fwd.TxPackets, CommandTimeout, $"the device's tx packets to reach testpmd's {fwd.TxPackets}");
            return fwd;
        }, (fwd, c) =>
        {
            ulong tx = c.Tx["tx packets"], rx = c.Rx["rx packets"];
            Assert.True(fwd.RxPackets >= 100_000, $"testpmd received only {fwd.RxPackets} frames");
            Assert.Equal(0ul, fwd.RxDropped);
            Assert.Equal(0ul, fwd.TxDropped);
            // io forwarding sends what it receives, plus the tx_first burst: RX ≈ TX.
            Assert.Equal(fwd.RxPackets + TxFirstBurst, fwd.TxPackets);
            // The device took exactly the frames testpmd sent and looped every one back.
            Assert.Equal(fwd.TxPackets, tx);
            Assert.Equal(fwd.TxPackets, rx);
            Assert.Equal(tx * FrameBytes, c.Tx["tx bytes"]);
            Assert.Equal(rx * FrameBytes, c.Rx["rx bytes"]);
            Assert.Equal(0ul, c.Rx["rx drops"] + c.Rx["rx overruns"] + c.Rx["rx errors"] + c.Tx["tx errors"] + c.Tx["tx drops"]);
            // The circulating burst ended in the RX ring, delivered but not yet received when forwarding stopped.
            Assert.Equal((ulong)TxFirstBurst, rx - fwd.RxPackets);
        });
    }

    [DpdkFact]
    public async Task Txonly_TheDeviceTakesWhatTestpmdSends_AndOverrunsWhatItCannotLoopBack()
    {
        await RunAsync("txonly", async (t, counters) =>
        {
            await t.RunAsync("start", CommandTimeout);
            // Well past the RX ring (256): most of these frames overrun. With the RX ring full the simulator takes one
            // frame per kick, so this is slow (hundreds to thousands per second).
            await WaitForDeviceAsync(t, counters, c => c.Tx["tx packets"] >= 2_000, TrafficTimeout, "2000 frames taken by the device");
            return StopForwarding(await t.RunAsync("stop", CommandTimeout), t);
        }, (fwd, c) =>
        {
            ulong tx = c.Tx["tx packets"], rx = c.Rx["rx packets"];
            // txonly never polls its RX queue: the device fills the RX buffers testpmd posted once (at most the ring),
            // and every later frame is an overrun (vdpa_sim_net drops it and completes the TX buffer).
            Assert.Equal(0ul, fwd.RxPackets);
            Assert.InRange(rx, 1ul, (ulong)QueueSize);
            Assert.Equal(tx, rx + c.Rx["rx overruns"]);
            Assert.Equal(0ul, c.Rx["rx drops"] + c.Rx["rx errors"] + c.Tx["tx errors"] + c.Tx["tx drops"]);
            Assert.Equal(tx * FrameBytes, c.Tx["tx bytes"]);
            Assert.Equal(rx * FrameBytes, c.Rx["rx bytes"]);
            // The device took what testpmd sent except what was still in the TX ring when testpmd stopped it (with
            // the RX ring full, vdpa_sim_net takes one frame per kick, and after stop nothing kicks).
            Assert.True(tx <= fwd.TxPackets, $"the device took {tx} frames, testpmd sent {fwd.TxPackets}");
            Assert.InRange(fwd.TxPackets - tx, 0ul, (ulong)QueueSize);
        });
    }

    private readonly record struct DeviceCounters(Dictionary<string, ulong> Rx, Dictionary<string, ulong> Tx)
    {
        public override string ToString() => $"rx [{Format(Rx)}] tx [{Format(Tx)}]";

        private static string Format(Dictionary<string, ulong> d) => string.Join(", ", d.Select(kv => $"{kv.Key} {kv.Value}"));
    }

    private static TestpmdForwardStats StopForwarding(string stopOutput, TestpmdProcess t)
        => TestpmdForwardStats.ParseLast(stopOutput, 0) ?? throw new InvalidOperationException($"no forward statistics for port 0 after 'stop'; {t.Describe()}");

    private async Task RunAsync(string mode, Func<TestpmdProcess, Func<DeviceCounters>, Task<TestpmdForwardStats>> drive, Action<TestpmdForwardStats, DeviceCounters> check)
    {
        output.WriteLine(DpdkEnvironment.PreparationLog);
        var removed = DpdkEnvironment.CleanLeftovers();
        if (removed.Count > 0) output.WriteLine("removed leftovers of an earlier run: " + string.Join(", ", removed));

        string socketDir = Directory.CreateTempSubdirectory("uvdpa-dpdk-").FullName;
        string device = "dpdk-" + mode;
        var mac = new PhysicalAddress([0x02, 0x00, 0x00, 0x00, 0xd0, 0x01]);
        VdpadProcess? vdpad = null;
        TestpmdProcess? testpmd = null;
        try
        {
            vdpad = await VdpadProcess.StartAsync("--drivers", "virtio_vdpa,vhost_vdpa", "--vhost-user-dir", socketDir);
            // testpmd's forwarding lcore busy-polls CPU 0: keep the daemon off it (BENCHMARKS.md), when there is another.
            if (Environment.ProcessorCount > 1) await PinAsync(vdpad.ProcessId, $"1-{Environment.ProcessorCount - 1}");
            using var client = UvdpaClient.ConnectDaemon(vdpad.SocketPath);
            client.AddDevice(new UvdpaDeviceSpec { Name = device, ManagementDevice = "vdpasim_net", Mac = mac, Driver = "vhost_vdpa" });
            string socket = client.GetDevice(device).Exposures.Single(e => e.Kind == "vhost-user").Location;
            Assert.Equal(Path.Combine(socketDir, device + ".sock"), socket);
            // The probe binds and listens before DEV_ADD is acknowledged; the file must be there now.
            Assert.True(File.Exists(socket), $"{socket} does not exist after the device was added");

            DeviceCounters Read()
            {
                var q = client.GetQueueStats(device).Queues;
                return new DeviceCounters(Dictionary(q, 0), Dictionary(q, 1));
            }

            var before = Read();
            Assert.Equal(0ul, before.Tx["tx packets"]);
            string macText = string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
            testpmd = await TestpmdProcess.StartAsync(
                ["--lcores", "0@0,1@0", "--no-pci", "--file-prefix=" + DpdkEnvironment.FilePrefix, "--single-file-segments",
                 "-m", DpdkEnvironment.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "--vdev", $"net_virtio_user0,path={socket},queues=1,queue_size={QueueSize}"],
                ["--total-num-mbufs=16384", "--nb-cores=1", "--forward-mode=" + mode, "--eth-peer=0," + macText]);
            output.WriteLine(testpmd.CommandLine);

            var fwd = await drive(testpmd, Read);
            int exit = await testpmd.QuitAsync(CommandTimeout);
            Assert.True(exit == 0, $"dpdk-testpmd exited with {exit}");
            // The front-end is gone once the back-end has reset the device (status 0): the counters are final.
            await WaitAsync(() => client.GetDevice(device).Status == 0, CommandTimeout, "the device to be reset after testpmd quit",
                () => testpmd.Describe());
            var final = Read();
            output.WriteLine($"testpmd: rx {fwd.RxPackets} (dropped {fwd.RxDropped}) tx {fwd.TxPackets} (dropped {fwd.TxDropped}); device: {final}");
            check(fwd, final);
        }
        catch (Exception)
        {
            if (testpmd is not null) output.WriteLine(testpmd.Describe());
            if (vdpad is not null) output.WriteLine("--- vdpad log ---\n" + vdpad.Log);
            throw;
        }
        finally
        {
            testpmd?.Dispose();
            vdpad?.Dispose();
            try
            {
                Directory.Delete(socketDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task PinAsync(int pid, string cpus)
    {
        var psi = new ProcessStartInfo("taskset") { ArgumentList = { "-a", "-p", "-c", cpus, pid.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("taskset did not start");
        string err = await p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        // Only a performance aid: without taskset (util-linux) the test still runs, more slowly.
        output.WriteLine(p.ExitCode == 0 ? $"vdpad pinned to CPUs {cpus}" : $"taskset failed ({p.ExitCode}): {err.Trim()}");
    }

    private static Dictionary<string, ulong> Dictionary(IReadOnlyList<UvdpaQueueCounters> queues, uint index)
    {
        var q = queues.Single(x => x.Index == index);
        Assert.True(q.Errno == 0, $"queue {index} counters: errno {q.Errno}");
        return q.Counters.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static async Task WaitForDeviceAsync(TestpmdProcess t, Func<DeviceCounters> read, Func<DeviceCounters, bool> condition, TimeSpan timeout, string what)
    {
        DeviceCounters last = default;
        await WaitAsync(() => condition(last = read()), timeout, what, () => $"device counters: {last}; {t.Describe()}");
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string> describe)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"waited {timeout} for {what}; {describe()}");
            // Polling interval, not a readiness guess: the loop ends on the condition.
            await Task.Delay(100);
        }
    }
}
