using System.Globalization;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Vdpa.Tap.Tests;

/// <summary>
/// The kernel's stack → TAP → our virtio_net driver → vdpasim_net loopback → TAP → the stack, inside a private network
/// namespace with IPv6 disabled (needs root and /dev/net/tun). Mirrors the real kernel's eth1 on vdpasim_net.
/// </summary>
public sealed class TapNamespaceTests
{
    private const int Datagrams = 20;

    private sealed class Rig : IDisposable
    {
        public Rig()
        {
            Management = new VdpaSimNetManagementDevice();
            Bus.RegisterManagementDevice(Management);
            Bus.RegisterDriver(new TapVirtioDriver());
        }

        public VdpaBus Bus { get; } = new();
        public VdpaSimNetManagementDevice Management { get; }

        public VdpaDevice Add(string name, string tapName)
            => Bus.AddDevice(Management, name, new DeviceConfigRequest(), VirtioVdpaDriver.DriverName,
                new BindOptions([new(TapVirtioDriver.TapNameKey, tapName)]));

        public void Dispose()
        {
            foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
        }
    }

    // Captures on the interface (started before sending), sends UDP datagrams from an ordinary socket, then prints
    // every UDP/IPv4 frame to 10.99.0.2 seen leaving (OUT) and coming back (IN) as hex.
    private const string Script = """
import socket, sys, time
ifname, n = sys.argv[1], int(sys.argv[2])
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
cap.bind((ifname, 0))
cap.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    tx.sendto(bytes((i * 7 + j) & 0xff for j in range(16 + i * 37)), ("10.99.0.2", 9000 + i))
outs, ins = [], []
deadline = time.time() + 20
while time.time() < deadline and (len(outs) < n or len(ins) < n):
    try:
        data, addr = cap.recvfrom(65536)
    except socket.timeout:
        continue
    if len(data) < 34 or data[12:14] != b"\x08\x00" or data[23] != 17 or data[30:34] != bytes([10, 99, 0, 2]):
        continue
    (outs if addr[2] == socket.PACKET_OUTGOING else ins).append(data.hex())
for h in outs: print("OUT", h)
for h in ins: print("IN", h)
""";

    [Fact]
    public void UdpDatagrams_GoOutThroughTheDevice_AndComeBackByteForByte()
    {
        string ns = $"uvdpa-tap{Environment.ProcessId}";
        string ifname = $"uvt{Environment.ProcessId % 1000000}";
        using var rig = new Rig();
        bool nsCreated = false;
        try
        {
            var dev = rig.Add("tapnet0", ifname);
            var bridge = TapVirtioDriver.GetBridge(dev);
            Assert.NotNull(bridge);
            Assert.Contains(dev.Exposures, e => e.Kind == TapVirtioDriver.ExposureKind && e.Location == ifname);
            var net = bridge.Device;
            // The simulator's default MAC is all-zero: the bridge picked a random local one and programmed the device.
            Assert.True(TapBridge.IsValidUnicast(net.MacAddress.GetAddressBytes()), $"device MAC {net.MacAddress}");
            Assert.Equal(bridge.MacAddress, net.MacAddress);
            var cfgMac = new byte[6];
            dev.GetConfig(0, cfgMac);
            Assert.Equal(net.MacAddress, new PhysicalAddress(cfgMac));
            string mac = string.Join(':', net.MacAddress.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

            Shell.Check("ip", "netns", "add", ns);
            nsCreated = true;
            Shell.Check("ip", "link", "set", "dev", ifname, "netns", ns);
            Shell.Check("ip", "netns", "exec", ns, "sysctl", "-q", "-w", $"net.ipv6.conf.{ifname}.disable_ipv6=1");
            string show = Shell.Check("ip", "-n", ns, "link", "show", ifname);
            Assert.Contains($"mtu {net.Mtu} ", show, StringComparison.Ordinal);
            Assert.Contains($"link/ether {mac} ", show, StringComparison.Ordinal);
            Shell.Check("ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", ifname);
            Shell.Check("ip", "-n", ns, "link", "set", ifname, "up");
            string up = Shell.Check("ip", "-n", ns, "link", "show", ifname);
            Assert.True(up.Contains("LOWER_UP", StringComparison.Ordinal) == net.IsLinkUp, $"carrier should follow link status ({net.IsLinkUp}): {up}");
            Shell.Check("ip", "-n", ns, "neigh", "add", "10.99.0.2", "lladdr", mac, "dev", ifname, "nud", "permanent");

            var (exit, output, err) = Shell.Run(TimeSpan.FromSeconds(60), "ip", "netns", "exec", ns, "python3", "-c", Script, ifname,
                Datagrams.ToString(CultureInfo.InvariantCulture));
            Assert.True(exit == 0, $"python exited {exit}: {err}");
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var outs = lines.Where(l => l.StartsWith("OUT ", StringComparison.Ordinal)).Select(l => l[4..]).ToList();
            var ins = lines.Where(l => l.StartsWith("IN ", StringComparison.Ordinal)).Select(l => l[3..]).ToList();
            string seen = $"seen: {outs.Count} out, {ins.Count} in; bridge tx {bridge.TxFrames} rx {bridge.RxFrames} " +
                          $"txdrop {bridge.TxDropped} rxdrop {bridge.RxDropped}; device {net.Statistics}\n{output}\n{err}";
            Assert.True(outs.Count == Datagrams && ins.Count == Datagrams, seen);
            Assert.True(outs.SequenceEqual(ins), "returned frames differ from the sent ones\n" + seen);

            // Counters settle once the last frame was written back: vstats rx = tx, ip -s link RX = TX.
            (ulong Rx, ulong Tx) vstats = default;
            (long Rx, long Tx) link = default;
            string linkText = "";
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (true)
            {
                vstats = (VendorStat(dev, 0, "rx packets"), VendorStat(dev, 1, "tx packets"));
                linkText = Shell.Check("ip", "-n", ns, "-s", "link", "show", ifname);
                link = ParseLinkCounters(linkText);
                if ((vstats.Rx == vstats.Tx && link.Rx == link.Tx) || DateTime.UtcNow > deadline) break;
                Thread.Sleep(50);
            }
            Assert.True(vstats.Rx == vstats.Tx && vstats.Tx >= Datagrams, $"vstats rx {vstats.Rx} tx {vstats.Tx}\n{seen}");
            Assert.True(link.Rx == link.Tx && link.Tx >= Datagrams, $"ip -s link: RX {link.Rx} TX {link.Tx}\n{linkText}");

            rig.Bus.DeleteDevice(dev.Name);
            var (gone, _, _) = Shell.Run(TimeSpan.FromSeconds(10), "ip", "-n", ns, "link", "show", ifname);
            Assert.NotEqual(0, gone); // the interface went with the device
        }
        finally
        {
            rig.Dispose();
            if (nsCreated) Shell.Run(TimeSpan.FromSeconds(30), "ip", "netns", "del", ns);
        }
    }

    [Fact]
    public void ExistingInterfaceName_FailsTheBind_WithEbusy()
    {
        string ifname = $"uvx{Environment.ProcessId % 1000000}";
        using var rig = new Rig();
        var first = rig.Add("tapa", ifname);
        Assert.NotNull(TapVirtioDriver.GetBridge(first));
        var second = rig.Add("tapb", ifname);
        Assert.Null(second.Driver);
        Assert.Empty(second.Exposures);
        Assert.Equal(Errno.EBUSY, second.LastProbeError?.Errno);
        Assert.Contains(ifname, second.LastProbeError?.Message ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceNameTooLong_FailsTheBind_WithAClearError()
    {
        using var rig = new Rig();
        var dev = rig.Bus.AddDevice(rig.Management, "a-very-long-vdpa-name", new DeviceConfigRequest(), VirtioVdpaDriver.DriverName,
            new BindOptions([new(TapVirtioDriver.TapKey, "1")]));
        Assert.Null(dev.Driver);
        Assert.Equal(Errno.EINVAL, dev.LastProbeError?.Errno);
        Assert.Contains("not a valid interface name", dev.LastProbeError?.Message ?? "", StringComparison.Ordinal);
    }

    private static ulong VendorStat(VdpaDevice dev, int queue, string name)
    {
        var stats = new List<VendorStat>();
        Assert.Equal(0, dev.Ops.GetVendorVqStats(queue, stats));
        return stats.First(s => s.Name == name).Value;
    }

    private static (long Rx, long Tx) ParseLinkCounters(string text)
    {
        var lines = text.Split('\n').Select(l => l.Trim()).ToArray();
        long Packets(string header)
        {
            int i = Array.FindIndex(lines, l => l.StartsWith(header, StringComparison.Ordinal));
            if (i < 0 || i + 1 >= lines.Length) return -1;
            return long.Parse(lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return (Packets("RX:"), Packets("TX:"));
    }
}
