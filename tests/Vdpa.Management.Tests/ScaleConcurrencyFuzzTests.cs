using System.Diagnostics;
using CsCheck;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;
using Errno = Uvdpa.Vdpa.Netlink.Errno;

namespace Uvdpa.Vdpa.Management.Tests;

public sealed class ScaleConcurrencyFuzzTests(ITestOutputHelper output)
{
    private const ushort F = NetlinkService.VdpaFamilyId;

    [Fact]
    public void DumpOf10000Devices_SplitsInto4096ByteDatagrams_EveryDeviceOnce()
    {
        using var s = new TestStack(withDriver: false);
        const int n = 10_000;
        for (int i = 0; i < n; i++) s.Bus.AddDevice(s.Net, $"vdpa{i}", new DeviceConfigRequest());

        foreach (var cmd in new[] { VdpaCommand.DevGet, VdpaCommand.DevConfigGet })
        {
            byte[] req = Wire.Request(F, (byte)cmd, Wire.Dump, seq: 77);
            s.Raw(req); // warm up
            var sw = Stopwatch.StartNew();
            var datagrams = s.Raw(req);
            sw.Stop();
            output.WriteLine($"{cmd} dump of {n} devices: {datagrams.Count} datagrams, {datagrams.Sum(d => d.Length)} bytes, {sw.Elapsed.TotalMilliseconds:F1} ms");

            var names = new List<string>();
            for (int k = 0; k < datagrams.Count; k++)
            {
                byte[] d = datagrams[k];
                Assert.True(d.Length <= NetlinkService.MaxDatagramSize);
                bool last = k == datagrams.Count - 1;
                foreach (NetlinkMessage m in NetlinkParser.Messages(d))
                {
                    Assert.Equal(77u, m.Header.Sequence);
                    Assert.True((m.Flags & NetlinkMessageFlags.Multi) != 0);
                    if (last)
                    {
                        Assert.Equal(NetlinkMessageType.Done, m.Type);
                        Assert.Equal(20, d.Length); // DONE alone
                        continue;
                    }
                    Assert.Equal(F, m.Type);
                    foreach (NetlinkAttribute a in m.GenlAttributes())
                        if (a.Type == (ushort)VdpaAttr.DevName) names.Add(a.GetString());
                }
                // Batches are full: the next message would not have fitted.
                if (k < datagrams.Count - 2) Assert.True(d.Length > NetlinkService.MaxDatagramSize - 200);
            }
            Assert.Equal(n, names.Count);
            Assert.Equal(n, names.Distinct().Count());
            Assert.Equal(Enumerable.Range(0, n).Select(i => $"vdpa{i}"), names);
        }
    }

    [Fact]
    public async Task SixteenThreadsOfMixedRequests()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.AddDevice(s.Net, "shared", new DeviceConfigRequest());
        const int threads = 16, iterations = 160;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var tasks = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            using var c = s.Client(seq: (uint)t);
            for (int i = 0; i < iterations; i++)
            {
                string name = $"t{t}d{i / 8}";
                try
                {
                    switch (i % 8)
                    {
                        case 0: c.AddDevice(name, i % 16 == 0 ? "vdpasim_blk" : "vdpasim_net"); break;
                        case 1: c.ListDevices(); break;
                        case 2: c.GetConfig(); break;
                        case 3: c.GetDevice("shared"); break;
                        case 4: c.ListManagementDevices(); break;
                        case 5: c.SetDevice("shared", System.Net.NetworkInformation.PhysicalAddress.Parse($"02-00-00-00-00-{t:x2}")); break;
                        case 6: c.GetConfig("shared"); break;
                        case 7: c.DeleteDevice(name); break;
                    }
                }
                catch (VdpaNetlinkException e) when (e.Errno is Errno.EEXIST or Errno.ENODEV)
                {
                }
                catch (Exception e)
                {
                    failures.Enqueue($"{t}/{i}: {e}");
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Empty(failures);
        // Every thread deleted what it created (adds at i%8==0, deletes of the same name at i%8==7).
        Assert.Equal(["shared"], s.Bus.Devices.Select(d => d.Name));
        using var check = s.Client();
        Assert.Equal("shared", check.GetDevice("shared").Name);
    }

    [Fact]
    public void GarbageDatagramsNeverThrow_AndTheServiceKeepsAnswering()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.AddDevice(s.Net, "net0", new DeviceConfigRequest());
        s.Bus.AddDevice(s.Blk, "blk0", new DeviceConfigRequest());
        byte[] good = Wire.Request(F, 5, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0"));
        // Raw garbage, and mutations of valid requests of every command (more interesting: they pass the header checks).
        var seeds = new List<byte[]>();
        for (byte cmd = 0; cmd <= 9; cmd++)
        {
            seeds.Add(Wire.Request(F, cmd, Wire.Do, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)VdpaAttr.MgmtdevDevName, "vdpasim_net");
                w.PutString((ushort)VdpaAttr.DevName, "net0");
                w.PutU32((ushort)VdpaAttr.DevQueueIndex, 1);
                w.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, [2, 0, 0, 0, 0, 9]);
            }));
            seeds.Add(Wire.Request(F, cmd, Wire.Dump));
            seeds.Add(Wire.Request(NetlinkService.UvdpaFamilyId, cmd, Wire.Do, (ref NetlinkWriter w) => w.PutString(1, "net0")));
        }
        seeds.Add(Wire.Request(0x10, 3, Wire.Do, (ref NetlinkWriter w) => w.PutString(2, "vdpa")));
        var gen = Gen.OneOf(
            Gen.Byte.Array[0, 300],
            Gen.Int[0, seeds.Count - 1].SelectMany(i => Gen.Int[0, 40].Array[1, 6].SelectMany(pos => Gen.Byte.Array[pos.Length].Select(vals =>
            {
                byte[] b = (byte[])seeds[i].Clone();
                for (int k = 0; k < pos.Length; k++) b[Math.Min(pos[k] + 16, b.Length - 1)] = vals[k];
                return b;
            }))));
        int datagrams = 0;
        gen.Sample(bytes =>
        {
            var sink = new CollectingSink();
            s.Service.HandleDatagram(bytes, TestStack.Root, sink);
            foreach (byte[] d in sink.Datagrams) Assert.True(NetlinkParser.TryValidateDatagram(d, out _, out _));
            datagrams += sink.Datagrams.Count;
        }, iter: 5000);
        output.WriteLine($"{datagrams} reply datagrams to 5000 garbage requests");
        // The fuzz may have deleted or changed devices (it mutates DEV_DEL and DEV_ATTR_SET requests too).
        if (!s.Bus.TryFindDevice("net0", out _)) s.Bus.AddDevice(s.Net, "net0", new DeviceConfigRequest());
        var replies = s.Raw(good);
        Assert.Equal(2, replies.Count);
        Assert.Equal(0, Wire.Error(replies[1]).Errno);
        using var c = s.Client();
        Assert.Equal(3, c.ListManagementDevices().Count);
    }
}
