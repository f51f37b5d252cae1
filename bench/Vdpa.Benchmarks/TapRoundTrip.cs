using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.Tap;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Benchmarks;

/// <summary>
/// TAP round-trip packet rate on the host (needs root and /dev/net/tun): an ordinary UDP socket sends datagrams into a
/// TAP interface's subnet as fast as it can; frames go to user space and come back into the kernel's receive path.
/// The rate is the interface's RX packet counter (frames written back) per second over a fixed window. Two paths in
/// the same run: (a) uvdpa — TAP → our virtio_net driver → vdpasim_net loopback → TAP (the TapBridge of
/// `driver-opt tap=1`); (b) the anchor — a bare TAP reflector thread (read a frame, write it back), i.e. the TAP
/// syscall cost alone, with the same one-reader-thread structure as the bridge's TX pump. Ratio (a)/(b) is the cost
/// of the virtio path.
/// </summary>
internal static class TapRoundTrip
{
    private const string Address = "10.98.0.1", Peer = "10.98.0.2";
    private static readonly byte[] PeerMac = [0x02, 0x00, 0x00, 0x00, 0x98, 0x02];

    public static void Run(int runs, TimeSpan window)
    {
        Console.WriteLine($"TAP round trip: {runs} runs of {window.TotalSeconds:F0} s per case; rate = interface RX packets/s (frames returned into the stack)");
        foreach (int frame in new[] { 64, 1500 })
        {
            var ours = new List<double>();
            var anchor = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                ours.Add(Measure(frame, window, virtio: true));
                anchor.Add(Measure(frame, window, virtio: false));
            }
            Console.WriteLine($"{frame,5} B  uvdpa (virtio + vdpasim_net): {Stats(ours)}   bare TAP reflector: {Stats(anchor)}   ratio (medians) {Median(ours) / Median(anchor):F2}");
        }
    }

    private static string Stats(List<double> v) => string.Create(CultureInfo.InvariantCulture, $"min {v.Min() / 1e3:F0} / median {Median(v) / 1e3:F0} / max {v.Max() / 1e3:F0} kpps");

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double Measure(int frameBytes, TimeSpan window, bool virtio)
    {
        string ifname = $"uvbench{Environment.ProcessId % 10000}";
        VdpaBus? bus = null;
        Reflector? reflector = null;
        try
        {
            if (virtio)
            {
                bus = new VdpaBus();
                var mgmt = new VdpaSimNetManagementDevice();
                bus.RegisterManagementDevice(mgmt);
                bus.RegisterDriver(new TapVirtioDriver());
                var dev = bus.AddDevice(mgmt, "tapbench0", new DeviceConfigRequest(), VirtioVdpaDriver.DriverName,
                    new BindOptions([new(TapVirtioDriver.TapNameKey, ifname)]));
                if (dev.LastProbeError is not null) throw dev.LastProbeError;
                Configure(ifname, TapVirtioDriver.GetBridge(dev)!.MacAddress.GetAddressBytes());
            }
            else
            {
                reflector = new Reflector(ifname);
                Configure(ifname, PeerMac);
            }

            // UDP payload so that the Ethernet frame (without FCS) is frameBytes long: 14 + 20 + 8 of headers.
            var payload = new byte[frameBytes - 42];
            using var stop = new CancellationTokenSource();
            var sender = new Thread(() =>
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                var to = new IPEndPoint(IPAddress.Parse(Peer), 9);
                while (!stop.IsCancellationRequested)
                {
                    try { s.SendTo(payload, to); }
                    catch (SocketException) { } // ENOBUFS when the TAP queue is full: the frame is dropped, go on
                }
            }) { IsBackground = true };
            sender.Start();
            Thread.Sleep(TimeSpan.FromSeconds(1)); // warm-up: tiered compilation, queues filled (not a readiness wait)
            long rx0 = Counter(ifname, "rx_packets");
            var sw = Stopwatch.StartNew();
            Thread.Sleep(window);
            long rx1 = Counter(ifname, "rx_packets");
            double rate = (rx1 - rx0) / sw.Elapsed.TotalSeconds;
            stop.Cancel();
            sender.Join();
            return rate;
        }
        finally
        {
            if (bus is not null) foreach (var d in bus.Devices.ToList()) bus.DeleteDevice(d.Name);
            reflector?.Dispose();
        }
    }

    private static void Configure(string ifname, byte[] peerMac)
    {
        string mac = string.Join(':', peerMac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        Ip("addr", "add", Address + "/24", "dev", ifname);
        Ip("link", "set", ifname, "up");
        Ip("neigh", "replace", Peer, "lladdr", mac, "dev", ifname, "nud", "permanent");
    }

    private static long Counter(string ifname, string name)
        => long.Parse(File.ReadAllText($"/sys/class/net/{ifname}/statistics/{name}").Trim(), CultureInfo.InvariantCulture);

    private static void Ip(params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {err}");
    }

    /// <summary>The anchor: one thread reads each frame from the TAP and writes it straight back.</summary>
    private sealed class Reflector : IDisposable
    {
        private readonly TapInterface _tap;
        private readonly EventFd _wake = EventFd.Create(nonBlocking: true);
        private readonly Thread _thread;
        private volatile bool _stop;

        public Reflector(string name)
        {
            _tap = TapInterface.Create(name);
            _tap.SetMtu(1500);
            _tap.SetMacAddress([0x02, 0x00, 0x00, 0x00, 0x98, 0x01]);
            _thread = new Thread(Loop) { IsBackground = true };
            _thread.Start();
        }

        private void Loop()
        {
            var buffer = new byte[65600];
            while (!_stop && _tap.WaitReadable(_wake))
            {
                int n;
                while (!_stop && (n = _tap.TryRead(buffer)) > 0) _tap.TryWrite(buffer.AsSpan(0, n));
            }
        }

        public void Dispose()
        {
            _stop = true;
            _wake.Signal();
            _thread.Join();
            _tap.Dispose();
            _wake.Dispose();
        }
    }
}
