using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Uvdpa.Conformance.Tests.Golden;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver;
using Xunit.Sdk;

namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>
/// Replays the net part of the 6.12 capture (sim-net.txt, then sim-net-traffic.txt: one boot, one script) on our
/// stack, command by command: <c>vdpa dev add/del</c>, the virtio_vdpa unbind, <c>ip neigh add</c>,
/// <c>ip link set IF address</c> (virtio_net's CVQ MAC_ADDR_SET: <see cref="VirtioNetDevice.SetMacAsync"/>) and
/// every frame <c>send.py</c> reports, each sent through our driver and waited for like send.py's 50 ms spacing.
/// At each <c>vdpa dev vstats show</c>, <c>/sys/class/net/IF/statistics</c> and <c>vdpa dev config show</c> it
/// records the kernel's answer next to ours. Interfaces map to devices through the capture itself (the
/// <c>ls .../virtioN/net/</c> outputs and each counters snapshot, which shows a device's vstats then its netdev).
/// </summary>
internal sealed partial class CaptureReplay : IDisposable
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(10);

    private readonly UvdpaStack _stack = new();
    private readonly Dictionary<string, VdpaDevice> _devices = [];
    private readonly Dictionary<string, string> _interfaces = [];
    private readonly Dictionary<IPAddress, byte[]> _neighbours = [];
    private readonly Dictionary<string, Tally> _tallies = [];
    private readonly Dictionary<string, string> _virtioToDevice = [];

    public CaptureReplay(params GoldenTranscript[] transcripts)
    {
        foreach (var t in transcripts)
        {
            foreach (var e in t.Entries) Stream.Add((t.Name, e));
        }
        MapInterfaces();
    }

    /// <summary>The transcripts' entries, concatenated; checkpoint indices point into it.</summary>
    public List<(string File, GoldenEntry Entry)> Stream { get; } = [];

    public List<VstatsCheckpoint> Vstats { get; } = [];

    public List<NetdevCheckpoint> Netdev { get; } = [];

    /// <summary><c>vdpa dev config show</c> and virtio <c>status</c> comparisons made during the replay.</summary>
    public List<ReplayEvent> ViewChecks { get; } = [];

    /// <summary>Actions of the capture our stack could not perform (exceptions, timeouts).</summary>
    public List<ReplayEvent> Failures { get; } = [];

    /// <summary>Frame lengths our driver received, per device, in order.</summary>
    public Dictionary<string, List<(int Index, int Length)>> Received { get; } = [];

    /// <summary>Interface name (eth1, ...) to vdpa device name, as derived from the capture.</summary>
    public IReadOnlyDictionary<string, string> Interfaces => _interfaces;

    public async Task RunAsync()
    {
        for (int i = 0; i < Stream.Count; i++)
        {
            if (Stream[i].Entry is not GoldenCommand c) continue;
            try
            {
                await ExecuteAsync(i, c);
            }
            catch (Exception e)
            {
                Failures.Add(new ReplayEvent(i, c.Line, $"{Stream[i].File} {c}", $"{e.GetType().Name}: {e.Message}"));
            }
        }
    }

    /// <summary>Index of the first note whose text matches <paramref name="pattern"/> at or after <paramref name="from"/>, or -1.</summary>
    public int FindNote(Regex pattern, int from = 0)
    {
        for (int i = from; i < Stream.Count; i++)
        {
            if (Stream[i].Entry is GoldenNote n && pattern.IsMatch(n.Text)) return i;
        }
        return -1;
    }

    private async Task ExecuteAsync(int index, GoldenCommand c)
    {
        Match m;
        if ((m = UvdpaStack.DevAdd().Match(c.Text)).Success)
        {
            if (c.Exit == 0) _devices[m.Groups["name"].Value] = _stack.Add(c.Text);
        }
        else if ((m = DevDel().Match(c.Text)).Success)
        {
            if (c.Exit == 0)
            {
                _stack.Bus.DeleteDevice(m.Groups[1].Value);
                _devices.Remove(m.Groups[1].Value);
            }
        }
        else if ((m = Unbind().Match(c.Text)).Success)
        {
            _stack.Bus.Unbind(m.Groups[1].Value);
        }
        else if ((m = IdentityTests.VstatsCommand().Match(c.Text)).Success)
        {
            string name = m.Groups["dev"].Value;
            int qidx = int.Parse(m.Groups["qidx"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var dev = _devices[name];
            Drain(index, name);
            Vstats.Add(new VstatsCheckpoint(index, c.Line, name, qidx, VstatsReading.FromGolden(c, m.Groups["json"].Success), VstatsReading.FromOps(dev, qidx)));
        }
        else if ((m = NetStatistics().Match(c.Text)).Success)
        {
            string ifname = m.Groups[1].Value;
            string name = _interfaces[ifname];
            Drain(index, name);
            var kernel = new Dictionary<string, long>();
            foreach (string line in c.Stdout)
            {
                var s = StatisticsLine().Match(line);
                if (s.Success) kernel[s.Groups[1].Value] = long.Parse(s.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            var t = TallyOf(name);
            var ours = new Dictionary<string, long>
            {
                ["rx_packets"] = t.RxPackets, ["rx_bytes"] = t.RxBytes, ["tx_packets"] = t.TxPackets, ["tx_bytes"] = t.TxBytes,
            };
            var st = NetOf(name).Statistics;
            var driver = new Dictionary<string, long>
            {
                ["rx_packets"] = st.RxPackets, ["rx_bytes"] = st.RxBytes, ["tx_packets"] = st.TxPackets, ["tx_bytes"] = st.TxBytes,
                ["rx_dropped"] = st.RxDropped, ["tx_dropped"] = st.TxDropped,
            };
            Netdev.Add(new NetdevCheckpoint(index, c.Line, ifname, name, kernel, ours, driver));
        }
        else if ((m = ConfigShow().Match(c.Text)).Success)
        {
            using var doc = JsonDocument.Parse(c.Output);
            foreach (var d in doc.RootElement.GetProperty("config").EnumerateObject())
            {
                if (!_devices.TryGetValue(d.Name, out var dev)) continue;
                string? problem = null;
                try
                {
                    NetConfigView.AssertMatches(d.Value, dev);
                }
                catch (XunitException e)
                {
                    problem = e.Message;
                }
                ViewChecks.Add(new ReplayEvent(index, c.Line, $"{c} [{d.Name}]", problem));
            }
        }
        else if ((m = VirtioStatus().Match(c.Text)).Success)
        {
            var v = VirtioVdpaDriver.GetVirtioDevice(_devices[_virtioToDevice[m.Groups[1].Value]])!;
            ulong kernel = Iproute2.Number(c.SingleLine);
            ViewChecks.Add(new ReplayEvent(index, c.Line, $"{c} [{v.Name}]",
                kernel == (ulong)v.Status ? null : $"status kernel 0x{kernel:x}, ours 0x{(byte)v.Status:x}"));
        }
        else if ((m = NeighAdd().Match(c.Text)).Success)
        {
            if (c.Exit == 0) _neighbours[IPAddress.Parse(m.Groups["ip"].Value)] = Iproute2.Mac(m.Groups["mac"].Value);
        }
        else if ((m = SetAddress().Match(c.Text)).Success)
        {
            if (c.Exit == 0)
            {
                var net = NetOf(_interfaces[m.Groups["if"].Value]);
                using var cts = new CancellationTokenSource(SettleTimeout);
                await net.SetMacAsync(new System.Net.NetworkInformation.PhysicalAddress(Iproute2.Mac(m.Groups["mac"].Value)), cts.Token);
            }
        }
        else if ((m = SendPy().Match(c.Text)).Success)
        {
            await SendAsync(index, c, m.Groups["mode"].Value, _interfaces[m.Groups["if"].Value], m.Groups["args"].Value.Split(' '));
        }
    }

    private async Task SendAsync(int index, GoldenCommand c, string mode, string name, string[] args)
    {
        var dev = _devices[name];
        var net = NetOf(name);
        byte[] src = net.MacAddress.GetAddressBytes();
        int frames = 0;
        long bytes = 0;
        foreach (string line in c.Stdout)
        {
            Match m;
            byte[] frame;
            if ((m = UdpLine().Match(line)).Success)
            {
                var dstIp = IPAddress.Parse(m.Groups["dst"].Value);
                byte[] dst = mode switch
                {
                    "bcast" => [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                    "mcast" => Frames.MulticastMac(dstIp),
                    _ => _neighbours[dstIp],
                };
                int payload = int.Parse(m.Groups["payload"].Value, System.Globalization.CultureInfo.InvariantCulture);
                frame = Frames.Udp(dst, src, IPAddress.Parse(m.Groups["src"].Value), dstIp, 40000,
                    ushort.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture), payload, mode == "mcast" ? (byte)1 : (byte)64);
                Assert.Equal(int.Parse(m.Groups["frame"].Value, System.Globalization.CultureInfo.InvariantCulture), frame.Length);
            }
            else if ((m = RawLine().Match(line)).Success)
            {
                frame = Frames.Raw(Iproute2.Mac(m.Groups["dst"].Value), src, (ushort)Iproute2.Number(m.Groups["type"].Value),
                    int.Parse(m.Groups["len"].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
            else if ((m = TotalLine().Match(line)).Success)
            {
                // send.py's own summary: the parse above must have found exactly these frames.
                Assert.Equal(m.Groups["frames"].Value, frames.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(m.Groups["bytes"].Value, bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
                continue;
            }
            else
            {
                continue;
            }
            frames++;
            bytes += frame.Length;
            try
            {
                await SendOneAsync(index, name, dev, net, frame);
            }
            catch (Exception e)
            {
                Failures.Add(new ReplayEvent(index, c.Line, $"{c}: frame {frames} ({frame.Length} bytes to {Iproute2.Mac(frame.AsSpan(0, 6))})",
                    $"{e.GetType().Name}: {e.Message}"));
            }
        }
        Assert.True(frames > 0, $"{c}: no frames parsed");
    }

    private async Task SendOneAsync(int index, string name, VdpaDevice dev, VirtioNetDevice net, byte[] frame)
    {
        ulong before = TxChains(dev);
        using var cts = new CancellationTokenSource(SettleTimeout);
        await net.SendAsync(frame, cts.Token);
        var t = TallyOf(name);
        t.TxPackets++;
        t.TxBytes += frame.Length;
        // send.py waits 50 ms between frames; here: until the device has taken the chain off the TX ring.
        var deadline = DateTime.UtcNow + SettleTimeout;
        while (TxChains(dev) <= before)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{name}: the device did not consume a {frame.Length}-byte frame");
            await Task.Delay(1, cts.Token);
        }
        Drain(index, name);
    }

    private static ulong TxChains(VdpaDevice dev) => VstatsReading.FromOps(dev, 1)["tx packets"];

    private void Drain(int index, string name)
    {
        if (!_devices.TryGetValue(name, out var dev) || VirtioVdpaDriver.GetNetDevice(dev) is not { } net) return;
        var buffer = new byte[net.MaxFrameLength];
        var t = TallyOf(name);
        if (!Received.TryGetValue(name, out var list)) Received[name] = list = [];
        while (net.TryReceive(buffer, out int n))
        {
            t.RxPackets++;
            t.RxBytes += n;
            list.Add((index, n));
        }
    }

    private VirtioNetDevice NetOf(string name)
        => VirtioVdpaDriver.GetNetDevice(_devices[name]) ?? throw new InvalidOperationException($"{name} is not a virtio net device");

    private Tally TallyOf(string name)
    {
        if (!_tallies.TryGetValue(name, out var t)) _tallies[name] = t = new Tally();
        return t;
    }

    private void MapInterfaces()
    {
        var commands = Stream.Select(s => s.Entry).OfType<GoldenCommand>().ToList();
        var virtioToDevice = _virtioToDevice;
        for (int i = 0; i < commands.Count; i++)
        {
            var c = commands[i];
            Match m;
            if ((m = LsVdpaDevice().Match(c.Text)).Success)
            {
                foreach (string l in c.Stdout.Where(l => l.StartsWith("virtio", StringComparison.Ordinal))) virtioToDevice[l] = m.Groups[1].Value;
            }
            else if ((m = LsVirtioNet().Match(c.Text)).Success && virtioToDevice.TryGetValue(m.Groups[1].Value, out var d1))
            {
                _interfaces[c.SingleLine] = d1;
            }
            else if ((m = IdentityTests.VstatsCommand().Match(c.Text)).Success && i + 1 < commands.Count
                && IpStatsShow().Match(commands[i + 1].Text) is { Success: true } next)
            {
                // A counters snapshot: "vdpa -j dev vstats show DEV qidx 2" then "ip -s -s link show IF".
                string ifname = next.Groups[1].Value;
                if (_interfaces.TryGetValue(ifname, out var known) && known != m.Groups["dev"].Value)
                    throw new InvalidDataException($"{ifname} maps to both {known} and {m.Groups["dev"].Value}");
                _interfaces[ifname] = m.Groups["dev"].Value;
            }
        }
    }

    public void Dispose() => _stack.Dispose();

    private sealed class Tally
    {
        public long RxPackets, RxBytes, TxPackets, TxBytes;
    }

    [GeneratedRegex(@"^vdpa dev del (\S+)$")]
    private static partial Regex DevDel();

    [GeneratedRegex(@"^echo (\S+) > /sys/bus/vdpa/drivers/virtio_vdpa/unbind$")]
    private static partial Regex Unbind();

    [GeneratedRegex(@"^grep -H \. /sys/class/net/(\S+)/statistics/\*$")]
    private static partial Regex NetStatistics();

    [GeneratedRegex(@"^/sys/class/net/\S+/statistics/(\w+):(\d+)$")]
    private static partial Regex StatisticsLine();

    [GeneratedRegex(@"^vdpa -j dev config show( \S+)?$")]
    private static partial Regex ConfigShow();

    [GeneratedRegex(@"^cat /sys/bus/virtio/devices/(virtio\d+)/status$")]
    private static partial Regex VirtioStatus();

    [GeneratedRegex(@"^ip neigh add (?<ip>\S+) lladdr (?<mac>\S+) dev (?<if>\S+)")]
    private static partial Regex NeighAdd();

    [GeneratedRegex(@"^ip link set (?<if>\S+) address (?<mac>\S+)$")]
    private static partial Regex SetAddress();

    [GeneratedRegex(@"^python3 /tmp/send\.py (?<mode>\S+) (?<if>\S+) (?<args>.*)$")]
    private static partial Regex SendPy();

    [GeneratedRegex(@"^udp (?<src>\S+) -> (?<dst>[\d.]+):(?<port>\d+) payload=(?<payload>\d+) sent=\d+ frame=(?<frame>\d+) ")]
    private static partial Regex UdpLine();

    [GeneratedRegex(@"^raw frame len=(?<len>\d+) dst=(?<dst>\S+) ethertype=(?<type>0x[0-9a-f]+) sent=\d+$")]
    private static partial Regex RawLine();

    [GeneratedRegex(@"^total: (?<frames>\d+) frames, (?<bytes>\d+) frame bytes")]
    private static partial Regex TotalLine();

    [GeneratedRegex(@"^ls /sys/bus/vdpa/devices/(\S+)/$")]
    private static partial Regex LsVdpaDevice();

    [GeneratedRegex(@"^ls /sys/bus/virtio/devices/(virtio\d+)/net/$")]
    private static partial Regex LsVirtioNet();

    [GeneratedRegex(@"^ip -s -s link show (\S+)$")]
    private static partial Regex IpStatsShow();
}
