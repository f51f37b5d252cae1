using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;
using Errno = Uvdpa.Vdpa.Netlink.Errno;

namespace Uvdpa.Vdpa.Management.Tests;

public sealed class UvdpaFamilyTests
{
    private static NetlinkReply Do(VdpaClient c, UvdpaGenlCommand cmd, NetlinkAttributeWriterCallback attrs, NetlinkMessageFlags flags = VdpaClient.DoFlags) =>
        c.Request((byte)cmd, flags, attrs);

    private static NetlinkAttributeWriterCallback Name(string name) => (ref NetlinkWriter w) => w.PutString((ushort)UvdpaGenlAttr.DevName, name);

    private static List<string> Strings(NetlinkAttributeList a, UvdpaGenlAttr t) =>
        a.Where(v => v.Type == (ushort)t).Select(v => v.View.GetString()).ToList();

    [Fact]
    public void NlctrlDescribesAllThreeFamilies()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.UvdpaClient();
        Assert.Equal(NetlinkService.UvdpaFamilyId, c.FamilyId);
        Assert.Equal((uint)UvdpaGenlFamily.MaxAttr, c.Family.MaxAttr);
        Assert.Equal(GenlOpFlags.AdminPerm | GenlOpFlags.CmdCapDo | GenlOpFlags.CmdCapHasPolicy, c.Family.GetOperationFlags((uint)UvdpaGenlCommand.Traffic));

        // By id; unknown name; no attribute; dump.
        var byId = s.Raw(Wire.Request(0x10, 3, Wire.Do, (ref NetlinkWriter w) => w.PutU16(1, NetlinkService.VdpaFamilyId)));
        Assert.Equal(2, byId.Count);
        var info = GenlCtrl.ParseFamily(byId[0].AsSpan(20));
        Assert.Equal(("vdpa", 37u, 1u), (info.Name, info.MaxAttr, info.Version));
        Assert.Equal(Errno.ENOENT, Wire.Error(s.Raw(Wire.Request(0x10, 3, Wire.Do, (ref NetlinkWriter w) => w.PutString(2, "nosuch")))[0]).Errno);
        Assert.Equal(Errno.EINVAL, Wire.Error(s.Raw(Wire.Request(0x10, 3, Wire.Do))[0]).Errno);
        var dump = s.Raw(Wire.Request(0x10, 3, Wire.Dump));
        Assert.Equal(2, dump.Count);
        var names = new List<string>();
        foreach (NetlinkMessage m in NetlinkParser.Messages(dump[0])) names.Add(GenlCtrl.ParseFamily(m.Raw[20..]).Name);
        Assert.Equal(["nlctrl", "vdpa", "uvdpa"], names);
        // A name longer than GENL_NAMSIZ-1 fails the nlctrl policy.
        var r = Wire.Error(s.Raw(Wire.Request(0x10, 3, Wire.Do, (ref NetlinkWriter w) => w.PutString(2, "a-very-long-family-name")))[0]);
        Assert.Equal((Errno.EINVAL, "Attribute failed policy validation"), (r.Errno, r.Message)); // no NUL in the first len+1 bytes
    }

    [Fact]
    public void AddWithDriver_Get_SetDriver_Reset()
    {
        using var s = new TestStack();
        var other = new RecordingDriver("test_drv");
        s.Bus.RegisterDriver(other);
        using var u = s.UvdpaClient();
        Do(u, UvdpaGenlCommand.DevAdd, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, "n0");
            w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, "vdpasim_net");
            w.PutBinary((ushort)UvdpaGenlAttr.Mac, [2, 0, 0, 0, 0, 7]);
            w.PutString((ushort)UvdpaGenlAttr.Driver, "test_drv");
            w.PutString((ushort)UvdpaGenlAttr.DriverOption, "socket=/tmp/x");
        });
        Assert.Contains("probe n0 socket=/tmp/x", other.Log);
        var def = s.Store.State["n0"];
        Assert.Equal(("test_drv", "/tmp/x"), (def.Driver, def.DriverOptions["socket"]));

        var get = Do(u, UvdpaGenlCommand.DevGet, Name("n0")).Messages.Single();
        Assert.Equal(["test_drv"], Strings(get.Attributes, UvdpaGenlAttr.BoundDriver));
        Assert.Equal(["test_drv"], Strings(get.Attributes, UvdpaGenlAttr.DriverOverride));
        Assert.Equal(["socket=/tmp/x"], Strings(get.Attributes, UvdpaGenlAttr.DriverOption));
        var exposure = get.Attributes.Single(a => a.Type == (ushort)UvdpaGenlAttr.Exposure);
        Assert.True(exposure.View.IsNestedFlagSet);
        Assert.Equal(1u, get.Attributes.GetU32((ushort)UvdpaGenlAttr.DevId));

        // Back to the default driver (virtio_vdpa, registered first).
        Do(u, UvdpaGenlCommand.DevSetDriver, Name("n0"));
        Assert.Contains("remove n0", other.Log);
        get = Do(u, UvdpaGenlCommand.DevGet, Name("n0")).Messages.Single();
        Assert.Equal([VirtioVdpaDriver.DriverName], Strings(get.Attributes, UvdpaGenlAttr.BoundDriver));
        Assert.Empty(Strings(get.Attributes, UvdpaGenlAttr.DriverOverride));
        Assert.Equal((byte)0x0f, get.Attributes.GetU8((ushort)UvdpaGenlAttr.Status));
        Assert.Null(s.Store.State["n0"].Driver);

        // Reset: unbind + probe, still bound, DRIVER_OK again.
        Do(u, UvdpaGenlCommand.DevReset, Name("n0"));
        get = Do(u, UvdpaGenlCommand.DevGet, Name("n0")).Messages.Single();
        Assert.Equal((byte)0x0f, get.Attributes.GetU8((ushort)UvdpaGenlAttr.Status));

        // Unknown driver; dump lists every device.
        var e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.DevSetDriver, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, "n0");
            w.PutString((ushort)UvdpaGenlAttr.Driver, "nosuch");
        }));
        Assert.Equal(Errno.ENODEV, e.Errno);
        s.Bus.RegisterDevice(new VdpaDevice("um", new FakeOps(), 1, null));
        var all = Do(u, UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => { }, VdpaClient.DumpFlags);
        Assert.Equal(["n0", "um"], all.Messages.Select(m => m.Attributes.GetString((ushort)UvdpaGenlAttr.DevName)));
    }

    [Fact]
    public void BlkWithImageFile_AndOptionErrors()
    {
        using var s = new TestStack(withDriver: false);
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[1 << 20]);
            using var u = s.UvdpaClient();
            Do(u, UvdpaGenlCommand.DevAdd, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "b0");
                w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, "vdpasim_blk");
                w.PutString((ushort)UvdpaGenlAttr.DevOption, "file=" + path);
            });
            using var c = s.Client();
            Assert.Equal(2048UL, c.GetConfig("b0").BlkCapacity);
            Assert.Equal(path, s.Store.State["b0"].Options["file"]);

            var e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.DevAdd, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "b1");
                w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, "vdpasim_blk");
                w.PutString((ushort)UvdpaGenlAttr.DevOption, "bogus=1");
            }));
            Assert.Equal((Errno.EINVAL, "vdpasim_blk: unknown option 'bogus'"), (e.Errno, e.ExtackMessage));
            e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.DevAdd, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "b1");
                w.PutString((ushort)UvdpaGenlAttr.MgmtdevDevName, "vdpasim_blk");
                w.PutString((ushort)UvdpaGenlAttr.DevOption, "noequals");
            }));
            Assert.Equal(Errno.EINVAL, e.Errno);
            // Reply-only attributes are rejected by strict validation.
            e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.DevGet, (ref NetlinkWriter w) => w.PutU8((ushort)UvdpaGenlAttr.Status, 1)));
            Assert.Equal((Errno.EINVAL, "Unsupported attribute"), (e.Errno, e.ExtackMessage));
            Assert.Equal(Errno.EPERM, Assert.Throws<VdpaNetlinkException>(() =>
                Do(s.UvdpaClient(TestStack.User), UvdpaGenlCommand.DevReset, Name("b0"))).Errno);
        }
        finally
        {
            s.Dispose();
            File.Delete(path);
        }
    }

    [Fact]
    public void QueueStatsForEveryClass()
    {
        using var s = new TestStack();
        s.Bus.AddDevice(s.Net, "n0", new DeviceConfigRequest());
        s.Bus.AddDevice(s.Blk, "b0", new DeviceConfigRequest());
        using var u = s.UvdpaClient(TestStack.User); // reading counters needs no privilege
        var net = Do(u, UvdpaGenlCommand.QueueStats, Name("n0")).Messages.Single();
        var queues = net.Attributes.Where(a => a.Type == (ushort)UvdpaGenlAttr.Queue).ToList();
        Assert.Equal(3, queues.Count);
        var names = new List<string>();
        foreach (NetlinkAttribute c in queues[1].View.GetNested())
            if (c.Type == (ushort)UvdpaGenlAttr.Counter)
                foreach (NetlinkAttribute f in c.GetNested())
                    if (f.Type == (ushort)UvdpaGenlAttr.CounterName) names.Add(f.GetString());
        Assert.Equal(["tx packets", "tx bytes", "tx errors", "tx drops"], names);
        var blk = Do(u, UvdpaGenlCommand.QueueStats, Name("b0")).Messages.Single();
        Assert.Single(blk.Attributes, a => a.Type == (ushort)UvdpaGenlAttr.Queue);
        var e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.QueueStats, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, "b0");
            w.PutU32((ushort)UvdpaGenlAttr.QueueIndex, 1);
        }));
        Assert.Equal(Errno.ERANGE, e.Errno);
    }

    [Fact]
    public void TrafficLoopsBackAndVerifies()
    {
        using var s = new TestStack();
        s.Bus.AddDevice(s.Net, "n0", new DeviceConfigRequest { Mac = new byte[] { 2, 0, 0, 0, 0, 0x42 }, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        s.Bus.AddDevice(s.Blk, "b0", new DeviceConfigRequest());
        using var u = s.UvdpaClient();
        var reply = Do(u, UvdpaGenlCommand.Traffic, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, "n0");
            w.PutU32((ushort)UvdpaGenlAttr.FrameCount, 200);
            w.PutU32((ushort)UvdpaGenlAttr.FrameSize, 60);
            w.PutU32((ushort)UvdpaGenlAttr.FrameSize, 1514);
            w.PutU8((ushort)UvdpaGenlAttr.TrafficTarget, (byte)UvdpaTrafficDestination.Both);
        }).Messages.Single().Attributes;
        Assert.Equal((200u, 200u, 200u), (reply.GetU32((ushort)UvdpaGenlAttr.Sent), reply.GetU32((ushort)UvdpaGenlAttr.Received), reply.GetU32((ushort)UvdpaGenlAttr.Verified)));
        Assert.True(reply.GetU64((ushort)UvdpaGenlAttr.ElapsedNs) > 0);
        using var c = s.Client();
        Assert.Equal(200UL, c.GetVendorStats("n0", 1).Values.Single(v => v.Key == "tx packets").Value);

        var e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.Traffic, Name("b0")));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        e = Assert.Throws<VdpaNetlinkException>(() => Do(u, UvdpaGenlCommand.Traffic, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)UvdpaGenlAttr.DevName, "n0");
            w.PutU32((ushort)UvdpaGenlAttr.FrameSize, 5);
        }));
        Assert.Equal(Errno.ERANGE, e.Errno);
        e = Assert.Throws<VdpaNetlinkException>(() => Do(s.UvdpaClient(TestStack.User), UvdpaGenlCommand.Traffic, Name("n0")));
        Assert.Equal(Errno.EPERM, e.Errno);
    }

    [Fact]
    public void DeviceFactoryRecreatesWhatTheStoreRecorded()
    {
        var store = new RecordingStore();
        using (var s = new TestStack(options: new ManagementOptions { Store = store }))
        {
            using var c = s.Client();
            c.AddDevice("a1", "vdpasim_net", mac: System.Net.NetworkInformation.PhysicalAddress.Parse("02-aa-bb-cc-dd-01"), mtu: 4000);
            c.AddDevice("a2", "vdpasim_blk");
            c.SetDevice("a1", System.Net.NetworkInformation.PhysicalAddress.Parse("02-aa-bb-cc-dd-02"));
            using var u = s.UvdpaClient();
            s.Bus.RegisterDriver(new RecordingDriver("test_drv"));
            Do(u, UvdpaGenlCommand.DevSetDriver, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)UvdpaGenlAttr.DevName, "a2");
                w.PutString((ushort)UvdpaGenlAttr.Driver, "test_drv");
            });
            Assert.Equal(["put a1", "put a2", "put a1", "put a2"], store.Log);
        }

        // A fresh daemon: re-create from the recorded definitions.
        using var fresh = new TestStack(options: new ManagementOptions());
        var drv = new RecordingDriver("test_drv");
        fresh.Bus.RegisterDriver(drv);
        foreach (var d in store.State.Values) DeviceFactory.Create(fresh.Bus, d);
        using var c2 = fresh.Client();
        var a1 = c2.GetConfig("a1");
        Assert.Equal(System.Net.NetworkInformation.PhysicalAddress.Parse("02-aa-bb-cc-dd-02"), a1.MacAddress);
        Assert.Equal((ushort)4000, a1.Mtu);
        Assert.True(fresh.Bus.TryFindDevice("a2", out var a2));
        Assert.Equal("test_drv", a2.Driver?.Name);

        var ex = Assert.Throws<VdpaException>(() => DeviceFactory.Create(fresh.Bus, new DeviceDefinition { Name = "x", ManagementDeviceName = "nosuch" }));
        Assert.Equal((Errno.ENODEV, "vdpa: Fail to find the specified management device"), (ex.Errno, ex.Extack));
        Assert.Equal(Errno.EEXIST, Assert.Throws<VdpaException>(() => DeviceFactory.Create(fresh.Bus, store.State["a1"])).Errno);
    }
}
