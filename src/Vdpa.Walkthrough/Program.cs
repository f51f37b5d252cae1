// The seed's walkthrough, in one process (until vdpad and the vdpa CLI land): a vDPA bus with the vdpasim_net
// management device and the virtio_vdpa bus driver; add net0, show it, push frames through the loopback with the
// in-process virtio driver, verify every returned byte, print the counters, delete the device.
using System.Diagnostics;
using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;

int rounds = args.Length > 0 && int.TryParse(args[0], out int r) && r > 0 ? r : 50;
int[] sizes = [60, 64, 128, 256, 512, 1024, 1500, 1514];
var mac = PhysicalAddress.Parse("02:00:00:00:00:01");
var broadcast = PhysicalAddress.Parse("FF:FF:FF:FF:FF:FF");

var bus = new VdpaBus();
var simNet = new VdpaSimNetManagementDevice();
bus.RegisterManagementDevice(simNet);
bus.RegisterDriver(new VirtioVdpaDriver());

Step("vdpa mgmtdev show");
foreach (var m in bus.ManagementDevices)
{
    Console.WriteLine($"{m.Handle}: ");
    Console.WriteLine($"  supported_classes {string.Join(' ', m.IdTable.Select(ClassName))}");
    Console.WriteLine($"  max_supported_vqs {m.MaxSupportedVqs}");
    Console.WriteLine($"  dev_features {FeatureNames.Describe(m.SupportedFeatures, VirtioDeviceId.Net)}");
}

Step($"vdpa dev add mgmtdev {simNet.Handle} name net0 mac {Colon(mac)}");
var vdev = bus.AddDevice(simNet, "net0", new DeviceConfigRequest
{
    Mac = mac.GetAddressBytes(),
    Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr),
});
Console.WriteLine($"added {vdev.Name}, bound to {vdev.Driver?.Name ?? "(no driver)"}");

Step("vdpa dev show net0");
Console.WriteLine($"{vdev.Name}: type {(vdev.DeviceId == 1 ? "network" : "block")} mgmtdev {vdev.ManagementDevice!.Handle} " +
    $"vendor_id {vdev.VendorId} max_vqs {vdev.NumVqs} max_vq_size {vdev.Ops.GetVqNumMax()}");
var net = VirtioVdpaDriver.GetNetDevice(vdev) ?? throw new InvalidOperationException("net0 did not become a virtio net device");
var virtio = net.Device;
Console.WriteLine($"  device id {(uint)virtio.DeviceId} vendor id {virtio.VendorId} queues {virtio.QueueSizes.Count} (sizes {string.Join(',', virtio.QueueSizes)})");
Console.WriteLine($"  status 0x{(byte)virtio.Status:x2} ({StatusNames(virtio.Status)})");
Console.WriteLine($"  device_features 0x{virtio.DeviceFeatures:x} {FeatureNames.Describe(virtio.DeviceFeatures, VirtioDeviceId.Net)}");
Console.WriteLine($"  negotiated_features 0x{virtio.NegotiatedFeatures:x} {FeatureNames.Describe(virtio.NegotiatedFeatures, VirtioDeviceId.Net)}");

Step("vdpa dev config show net0");
Span<byte> config = stackalloc byte[VirtioNetConfig.Size];
virtio.ReadConfig(0, config);
Console.WriteLine($"{vdev.Name}: mac {Colon(net.MacAddress)} link {(net.IsLinkUp ? "up" : "down")} mtu {net.Mtu}");
Console.WriteLine($"  config space ({config.Length} bytes): {Convert.ToHexString(config).ToLowerInvariant()}");

Step($"traffic: {rounds} rounds x {sizes.Length} sizes x 2 destinations through the loopback");
var sw = Stopwatch.StartNew();
int sent = 0, verified = 0;
long payloadBytes = 0;
var frame = new byte[1514];
var back = new byte[net.MaxFrameLength];
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
for (int round = 0; round < rounds; round++)
{
    foreach (var dst in new[] { mac, broadcast })
    {
        foreach (int size in sizes)
        {
            int len = BuildFrame(frame, dst, size, sent);
            await net.SendAsync(frame.AsMemory(0, len), timeout.Token);
            sent++;
            int got = await net.ReceiveAsync(back, timeout.Token);
            if (!back.AsSpan(0, got).SequenceEqual(frame.AsSpan(0, len)))
            {
                Console.Error.WriteLine($"MISMATCH: frame {sent} ({len} bytes to {Colon(dst)}) came back as {got} bytes");
                Console.Error.WriteLine($"  sent {Convert.ToHexString(frame, 0, Math.Min(len, 64))}");
                Console.Error.WriteLine($"  got  {Convert.ToHexString(back, 0, Math.Min(got, 64))}");
                return 1;
            }
            verified++;
            payloadBytes += len;
        }
    }
}
Console.WriteLine($"sent {sent} frames ({payloadBytes} bytes) to {Colon(mac)} and {Colon(broadcast)}; {verified} came back identical byte for byte ({sw.ElapsedMilliseconds} ms)");

Step("vdpa dev vstats show net0 qidx 0|1|2");
var stats = new List<VendorStat>();
string[] queueNames = ["rx", "tx", "control_vq"];
ulong txPackets = 0, rxPackets = 0;
for (int q = 0; q < 3; q++)
{
    stats.Clear();
    int rc = vdev.Ops.GetVendorVqStats(q, stats);
    if (rc != 0) { Console.Error.WriteLine($"vstats qidx {q} failed: {rc}"); return 1; }
    Console.WriteLine($"{vdev.Name}: qidx {q} ({queueNames[q]}) " + string.Join(' ', stats.Select(s => $"{s.Name} {s.Value}")));
    txPackets += stats.Where(s => s.Name == "tx packets").Sum(s => (long)s.Value) is long t ? (ulong)t : 0;
    rxPackets += stats.Where(s => s.Name == "rx packets").Sum(s => (long)s.Value) is long x ? (ulong)x : 0;
}
var ds = net.Statistics;
Console.WriteLine($"driver: {ds}");
if (txPackets != rxPackets || txPackets != (ulong)sent)
{
    Console.Error.WriteLine($"COUNTER MISMATCH: device tx {txPackets}, rx {rxPackets}, sent {sent}");
    return 1;
}
Console.WriteLine($"tx packets = rx packets = {txPackets}");

Step("vdpa dev del net0");
bus.DeleteDevice("net0");
Step("vdpa dev show net0");
if (bus.TryFindDevice("net0", out _))
{
    Console.Error.WriteLine("net0 still exists after delete");
    return 1;
}
Console.WriteLine("No such device (vdpa: device not found)");
Console.WriteLine();
Console.WriteLine("walkthrough complete");
return 0;

static void Step(string title)
{
    Console.WriteLine();
    Console.WriteLine($"$ {title}");
}

static string StatusNames(DeviceStatus s) => string.Join(' ', new[]
{
    (DeviceStatus.Acknowledge, "ACKNOWLEDGE"), (DeviceStatus.Driver, "DRIVER"), (DeviceStatus.FeaturesOk, "FEATURES_OK"),
    (DeviceStatus.DriverOk, "DRIVER_OK"), (DeviceStatus.NeedsReset, "NEEDS_RESET"), (DeviceStatus.Failed, "FAILED"),
}.Where(f => s.HasFlag(f.Item1)).Select(f => f.Item2));

static string ClassName(VirtioDeviceId id) => id switch { VirtioDeviceId.Net => "net", VirtioDeviceId.Block => "block", _ => "< unknown class >" };

static string Colon(PhysicalAddress a) => string.Join(':', a.GetAddressBytes().Select(b => b.ToString("x2")));

// Ethernet frame: destination, source (a locally administered address), the local-experimental ethertype 0x88b5,
// then a payload that encodes the frame number so a reordered or stale frame cannot pass for the right one.
static int BuildFrame(byte[] frame, PhysicalAddress dst, int size, int seq)
{
    dst.GetAddressBytes().CopyTo(frame, 0);
    byte[] src = [0x02, 0x00, 0x00, 0x00, 0x00, 0xfe];
    src.CopyTo(frame, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    for (int i = 14; i < size; i++) frame[i] = (byte)(seq * 31 + i * 7);
    BitConverter.TryWriteBytes(frame.AsSpan(14), seq);
    return size;
}
