using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Virtio.Abi;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using NL = Uvdpa.Vdpa.Netlink.Netlink;
using PeerCredentials = Uvdpa.Virtio.Platform.Linux.PeerCredentials;

namespace Uvdpa.Vdpa.Management.Tests;

/// <summary>The "vdpa" family: errno values, extack texts and check order of drivers/vdpa/vdpa.c (Linux 6.12).</summary>
public sealed class VdpaFamilyTests
{
    private const ushort F = NetlinkService.VdpaFamilyId;

    private static VdpaNetlinkException Fails(Action a) => Assert.Throws<VdpaNetlinkException>(a);

    private static void Expect(VdpaNetlinkException e, int errno, string? message)
    {
        Assert.Equal(errno, e.Errno);
        Assert.Equal(message, e.ExtackMessage);
    }

    private static byte[] DevNew(NetlinkAttributeWriterCallback attrs, PeerCredentials? _ = null) => Wire.Request(F, (byte)VdpaCommand.DevNew, Wire.Do, attrs);

    // ---------------------------------------------------------------- §2.2 DEV_NEW check order, one test per row

    [Fact]
    public void Row1_MissingName_Einval_NoMessage()
    {
        using var s = new TestStack(withDriver: false);
        var r = Wire.Error(s.Raw(DevNew((ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.MgmtdevDevName, "vdpasim_net")))[0]);
        Assert.Equal((Errno.EINVAL, (string?)null), (r.Errno, r.Message));
        // Row 1 comes before everything else, e.g. the VQ pair check (row 2).
        r = Wire.Error(s.Raw(DevNew((ref NetlinkWriter w) => w.PutU16((ushort)VdpaAttr.DevNetCfgMaxVqp, 0)))[0]);
        Assert.Equal((Errno.EINVAL, (string?)null), (r.Errno, r.Message));
    }

    [Fact]
    public void Row2_ZeroVqPairs_Einval()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        // Before the features check (row 3) and the mgmtdev lookup (row 5).
        var e = Fails(() => c.AddDevice("x", "nosuch", mac: PhysicalAddress.Parse("00-11-22-33-44-55"), maxVqPairs: 0, deviceFeatures: 0));
        Expect(e, Errno.EINVAL, "vdpa: At least one pair of VQs is required");
    }

    [Fact]
    public void Row3_MissingFeatures_OrOfTheMissingBits()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        Expect(Fails(() => c.AddDevice("x", "vdpasim_net", mac: PhysicalAddress.Parse("00-11-22-33-44-55"), deviceFeatures: 1UL << 32)),
            Errno.EINVAL, "vdpa: Missing features 0x20 for provided attributes");
        // MAC | MTU | MQ; and before the mgmtdev lookup (row 5).
        Expect(Fails(() => c.AddDevice("x", "nosuch", mac: PhysicalAddress.Parse("00-11-22-33-44-55"), mtu: 1500, maxVqPairs: 2, deviceFeatures: 0)),
            Errno.EINVAL, "vdpa: Missing features 0x400028 for provided attributes");
        // max_vqp 1 needs no MQ.
        Expect(Fails(() => c.AddDevice("x", "nosuch", maxVqPairs: 1, deviceFeatures: 0)),
            Errno.ENODEV, "vdpa: Fail to find the specified management device");
    }

    [Fact]
    public void Row4_Unprivileged_Eperm_BeforeAnything()
    {
        using var s = new TestStack(withDriver: false);
        // Even a policy violation (MTU 60) and a missing name lose against GENL_ADMIN_PERM.
        var r = Wire.Error(s.Raw(DevNew((ref NetlinkWriter w) => w.PutU16((ushort)VdpaAttr.DevNetCfgMtu, 60)), TestStack.User)[0]);
        Assert.Equal((Errno.EPERM, (string?)null), (r.Errno, r.Message));
        using var c = s.Client(TestStack.User);
        Expect(Fails(() => c.AddDevice("x", "vdpasim_net", mac: PhysicalAddress.Parse("00-11-22-33-44-55"))), Errno.EPERM, null);
        Assert.Empty(s.Bus.Devices);
    }

    [Fact]
    public void Row5_ManagementDeviceLookup()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        Expect(Fails(() => c.AddDevice("x", "bus/nosuch")), Errno.ENODEV, "vdpa: Fail to find the specified management device");
        // A bus-less parent does not match when a bus is given.
        Expect(Fails(() => c.AddDevice("x", "pci/vdpasim_net")), Errno.ENODEV, "vdpa: Fail to find the specified management device");
        // No MGMTDEV_DEV_NAME at all: EINVAL with the same text.
        var r = Wire.Error(s.Raw(DevNew((ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "x")))[0]);
        Assert.Equal((Errno.EINVAL, "vdpa: Fail to find the specified management device"), (r.Errno, r.Message));
        // Before the attribute mask check (row 6).
        Expect(Fails(() => c.AddDevice("x", "nosuch", maxVqPairs: 4)), Errno.ENODEV, "vdpa: Fail to find the specified management device");
        // A parent with a bus matches only with that bus.
        s.Bus.RegisterManagementDevice(new FakePciMgmt("0000:65:00.2", "pci", VirtioDeviceId.Net));
        Expect(Fails(() => c.AddDevice("x", "0000:65:00.2")), Errno.ENODEV, "vdpa: Fail to find the specified management device");
        c.AddDevice("x", "pci/0000:65:00.2");
        Assert.Equal("pci/0000:65:00.2", c.GetDevice("x").ManagementDevice.ToString());
    }

    [Fact]
    public void Row6_UnsupportedAttributes_Eopnotsupp()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        Expect(Fails(() => c.AddDevice("z", "vdpasim_net", maxVqPairs: 4)), Errno.EOPNOTSUPP, "vdpa: Some provided attributes are not supported: 0x1000");
        Expect(Fails(() => c.AddDevice("z", "vdpasim_blk", mtu: 1500)), Errno.EOPNOTSUPP, "vdpa: Some provided attributes are not supported: 0x2000");
        Expect(Fails(() => c.AddDevice("z", "vdpasim_blk", mtu: 1500, deviceFeatures: 1UL << 3)), Errno.EOPNOTSUPP, "vdpa: Some provided attributes are not supported: 0x102000");
    }

    [Fact]
    public void Row7_NetAttributesOnNonNetParent_Einval()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.RegisterManagementDevice(new FakePciMgmt("blkonly", "pci", VirtioDeviceId.Block));
        using var c = s.Client();
        Expect(Fails(() => c.AddDevice("z", "pci/blkonly", mtu: 1500)), Errno.EINVAL, "vdpa: Network class attributes provided on unsupported management device");
    }

    [Fact]
    public void Row8_AmbiguousFeaturesOnMultiClassParent_Einval()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.RegisterManagementDevice(new FakePciMgmt("multi", "pci", VirtioDeviceId.Net, VirtioDeviceId.Block));
        using var c = s.Client();
        Expect(Fails(() => c.AddDevice("z", "pci/multi", deviceFeatures: (1UL << 32) | (1UL << 5))), Errno.EINVAL,
            "vdpa: Management device supports multi-class while device features specified are ambiguous");
        // Transport bits only are not ambiguous.
        c.AddDevice("z", "pci/multi", deviceFeatures: 1UL << 32);
    }

    [Fact]
    public void Row9_DriverErrors()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        c.AddDevice("net0", "vdpasim_net");
        Expect(Fails(() => c.AddDevice("net0", "vdpasim_blk")), Errno.EEXIST, null);
        // The simulator refuses features outside its set (no extack).
        Expect(Fails(() => c.AddDevice("n1", "vdpasim_net", deviceFeatures: 1UL << 22)), Errno.EINVAL, null);
        // An empty name fails like kobject_add.
        Expect(Fails(() => c.AddDevice("", "vdpasim_net")), Errno.EINVAL, null);
    }

    // ---------------------------------------------------------------- policies

    [Fact]
    public void MtuBelow68_Erange_WithOffsetAndPolicy()
    {
        using var s = new TestStack(withDriver: false);
        var r = Wire.Error(s.Raw(DevNew((ref NetlinkWriter w) =>
        {
            w.PutString((ushort)VdpaAttr.MgmtdevDevName, "vdpasim_net");
            w.PutString((ushort)VdpaAttr.DevName, "x");
            w.PutU16((ushort)VdpaAttr.DevNetCfgMtu, 60);
        }))[0]);
        Assert.Equal(Errno.ERANGE, r.Errno);
        Assert.Equal("integer out of range", r.Message);
        Assert.Equal(44u, r.Offset);
        Assert.Equal(Convert.FromHexString("0C00040044000000000000000C000500FFFF0000000000000800010003000000"), r.Policy);
        Assert.Equal(NetlinkMessageFlags.Capped | NetlinkMessageFlags.AckTlvs, r.Flags);
    }

    [Fact]
    public void MacOfWrongLength_Erange_BinarySizeOutOfRange()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        var e = Fails(() => c.Request(VdpaCommand.DevNew, VdpaClient.DoFlags, new VdpaRequestAttributes { DeviceName = "x", ManagementDeviceName = "vdpasim_net", MacAddress = [1, 2, 3, 4, 5] }));
        Expect(e, Errno.ERANGE, "binary attribute size out of range");
        Assert.Equal(NetlinkExtAckInfo.LengthRangePolicy(NetlinkAttributeKind.Binary, 6, 6), e.ExtendedAck!.Policy);
        Assert.Equal(44u, e.ExtendedAck.Offset);
    }

    [Fact]
    public void StrictValidation_OnEveryCommand()
    {
        using var s = new TestStack(withDriver: false);
        // A u16 of 4 bytes.
        var r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.DevNew, Wire.Do, (ref NetlinkWriter w) => w.PutU32((ushort)VdpaAttr.DevNetCfgMaxVqp, 1)))[0]);
        Assert.Equal((Errno.EINVAL, "invalid attribute length", 20u), (r.Errno, r.Message, r.Offset));
        Assert.Equal(NetlinkExtAckInfo.UnsignedRangePolicy(NetlinkAttributeKind.U16, 0, 0xffff), r.Policy);
        // An attribute without policy (DEV_ID) in a GET, and in a dump.
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.DevGet, Wire.Do, (ref NetlinkWriter w) => w.PutU32((ushort)VdpaAttr.DevId, 1)))[0]);
        Assert.Equal((Errno.EINVAL, "Unsupported attribute", 20u), (r.Errno, r.Message, r.Offset));
        Assert.Null(r.Policy);
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.DevGet, Wire.Dump, (ref NetlinkWriter w) => w.PutU32((ushort)VdpaAttr.DevId, 1)))[0]);
        Assert.Equal((Errno.EINVAL, "Unsupported attribute"), (r.Errno, r.Message));
        // Type above VDPA_ATTR_MAX.
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.MgmtdevGet, Wire.Do, (ref NetlinkWriter w) => w.PutU32(60, 1)))[0]);
        Assert.Equal((Errno.EINVAL, "Unknown attribute type", 20u), (r.Errno, r.Message, r.Offset));
        // Trailing bytes that are not an attribute.
        byte[] req = Wire.Request(F, (byte)VdpaCommand.MgmtdevGet, Wire.Dump, (ref NetlinkWriter w) => w.PutBytes([2, 0, 0, 0]));
        r = Wire.Error(s.Raw(req)[0]);
        Assert.Equal((Errno.EINVAL, "bytes leftover after parsing attributes"), (r.Errno, r.Message));
        // NLA_F_NESTED on a string.
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.DevGet, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName | NL.AttributeNested, "a")))[0]);
        Assert.Equal((Errno.EINVAL, "NLA_F_NESTED not expected"), (r.Errno, r.Message));
        // An empty NLA_STRING: ERANGE; a bus name without NUL: EINVAL.
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.DevGet, Wire.Do, (ref NetlinkWriter w) => w.PutBinary((ushort)VdpaAttr.DevName, [])))[0]);
        Assert.Equal((Errno.ERANGE, AttributeValidatorText), (r.Errno, r.Message));
        r = Wire.Error(s.Raw(Wire.Request(F, (byte)VdpaCommand.MgmtdevGet, Wire.Do, (ref NetlinkWriter w) => w.PutBinary((ushort)VdpaAttr.MgmtdevBusName, "pci"u8)))[0]);
        Assert.Equal((Errno.EINVAL, AttributeValidatorText), (r.Errno, r.Message));
    }

    private const string AttributeValidatorText = "Attribute failed policy validation";

    [Fact]
    public void NamesNeedNoNulAndHaveNoLengthCap()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        string longName = new('n', 300);
        c.AddDevice(longName, "vdpasim_net");
        var replies = s.Raw(Wire.Request(F, (byte)VdpaCommand.DevGet, Wire.Do, (ref NetlinkWriter w) => w.PutBinary((ushort)VdpaAttr.DevName, System.Text.Encoding.ASCII.GetBytes(longName))));
        Assert.Equal(2, replies.Count);
        Assert.Equal(0, Wire.Error(replies[1]).Errno);
    }

    // ---------------------------------------------------------------- genetlink core

    [Fact]
    public void GenetlinkCoreErrors()
    {
        using var s = new TestStack(withDriver: false);
        Assert.Equal(Errno.EOPNOTSUPP, Wire.Error(s.Raw(Wire.Request(F, 0, Wire.Do))[0]).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Wire.Error(s.Raw(Wire.Request(F, 1, Wire.Do))[0]).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Wire.Error(s.Raw(Wire.Request(F, 9, Wire.Do))[0]).Errno);
        foreach (byte cmd in new byte[] { 3, 4, 7, 8 })
            Assert.Equal(Errno.EOPNOTSUPP, Wire.Error(s.Raw(Wire.Request(F, cmd, Wire.Dump))[0]).Errno);
        // Unknown family id.
        Assert.Equal(Errno.ENOENT, Wire.Error(s.Raw(Wire.Request(0x7777, 2, Wire.Do))[0]).Errno);
        // Too short for a genlmsghdr.
        byte[] shortMsg = [16, 0, 0, 0, (byte)F, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(Errno.EINVAL, Wire.Error(s.Raw(shortMsg)[0]).Errno);
        // genl_header_check for cmd 8 only: reserved byte and flags.
        var r = Wire.Error(s.Raw(Wire.Request(F, 8, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "x"), reserved: 1))[0]);
        Assert.Equal((Errno.EINVAL, "genlmsghdr.reserved field is not 0"), (r.Errno, r.Message));
        r = Wire.Error(s.Raw(Wire.Request(F, 8, Wire.Do | NetlinkMessageFlags.Create, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "x")))[0]);
        Assert.Equal((Errno.EINVAL, "ambiguous or reserved bits set in nlmsg_flags"), (r.Errno, r.Message));
        // The header check is even before the op lookup for commands ≥ 8; cmd 5 ignores the reserved field.
        Assert.Equal(Errno.EINVAL, Wire.Error(s.Raw(Wire.Request(F, 9, Wire.Do, reserved: 1))[0]).Errno);
        r = Wire.Error(s.Raw(Wire.Request(F, 5, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "x"), reserved: 1))[0]);
        Assert.Equal((Errno.ENODEV, "vdpa: device not found"), (r.Errno, r.Message));
    }

    [Fact]
    public void AdminCommandsNeedPrivilege_GetsDoNot()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.AddDevice(s.Net, "net0", new DeviceConfigRequest());
        foreach (byte cmd in new byte[] { 3, 4, 7, 8 })
        {
            var r = Wire.Error(s.Raw(Wire.Request(F, cmd, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0")), TestStack.User)[0]);
            Assert.Equal((Errno.EPERM, (string?)null), (r.Errno, r.Message));
        }
        using var c = s.Client(TestStack.User);
        Assert.Single(c.ListDevices());
        Assert.Equal("net0", c.GetDevice("net0").Name);
        Assert.Equal(3, c.ListManagementDevices().Count);
        Assert.Single(c.GetConfig());
        Assert.Single(s.Bus.Devices);
    }

    [Fact]
    public void PrivilegeFromGroups()
    {
        using var s = new TestStack(withDriver: false);
        var svc = new NetlinkService(s.Bus, new ManagementOptions { AdminGroups = [4242] });
        Assert.True(svc.IsPrivileged(TestStack.Root));
        Assert.True(svc.IsPrivileged(new Virtio.Platform.Linux.PeerCredentials(1, 1000, 4242)));
        Assert.False(svc.IsPrivileged(new Virtio.Platform.Linux.PeerCredentials(-1, 1000, 1000)));
        // Supplementary groups come from /proc/<pid>/status.
        string? groups = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        var mine = groups?[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse).ToList() ?? [];
        if (mine.Count > 0)
        {
            var svc2 = new NetlinkService(s.Bus, new ManagementOptions { AdminGroups = [mine[^1]] });
            Assert.True(svc2.IsPrivileged(new Virtio.Platform.Linux.PeerCredentials(Environment.ProcessId, 1000, 99999)));
        }
        Assert.True(new NetlinkService(s.Bus, new ManagementOptions { AllowAll = true }).IsPrivileged(TestStack.User));
    }

    // ---------------------------------------------------------------- commands

    [Fact]
    public void MgmtdevGet_Errors()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        Expect(Fails(() => c.GetManagementDevice("nosuch")), Errno.ENODEV, "vdpa: Fail to find the specified mgmt device");
        var r = Wire.Error(s.Raw(Wire.Request(F, 2, Wire.Do))[0]);
        Assert.Equal((Errno.EINVAL, "vdpa: Fail to find the specified mgmt device"), (r.Errno, r.Message));
        Assert.Equal("vdpasim_blk", c.GetManagementDevice("vdpasim_blk").Name);
    }

    [Fact]
    public void DevDel_AndLookups()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        Expect(Fails(() => c.DeleteDevice("nosuch")), Errno.ENODEV, "vdpa: device not found");
        Expect(Fails(() => c.GetDevice("nosuch")), Errno.ENODEV, "vdpa: device not found");
        Expect(Fails(() => c.GetConfig("nosuch")), Errno.ENODEV, "vdpa: device not found");
        Expect(Fails(() => c.GetVendorStats("nosuch", 0)), Errno.ENODEV, "vdpa: device not found");
        Expect(Fails(() => c.SetDevice("nosuch", PhysicalAddress.Parse("02-00-00-00-00-01"))), Errno.ENODEV, "vdpa: device not found");
        Assert.Equal(Errno.EINVAL, Wire.Error(s.Raw(Wire.Request(F, 4, Wire.Do))[0]).Errno);
        c.AddDevice("a0", "vdpasim_net");
        c.DeleteDevice("a0");
        Assert.Empty(c.ListDevices());
        Assert.Equal(["put a0", "remove a0"], s.Store.Log);
    }

    [Fact]
    public void UnmanagedDevices()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.RegisterDevice(new VdpaDevice("um0", new FakeOps(), 2, null));
        s.Bus.AddDevice(s.Net, "net0", new DeviceConfigRequest());
        using var c = s.Client();
        Expect(Fails(() => c.GetDevice("um0")), Errno.EINVAL, null);
        Expect(Fails(() => c.GetConfig("um0")), Errno.EINVAL, "vdpa: unmanaged vdpa device");
        Expect(Fails(() => c.GetVendorStats("um0", 0)), Errno.EINVAL, "vdpa: unmanaged vdpa device");
        Expect(Fails(() => c.SetDevice("um0", PhysicalAddress.Parse("02-00-00-00-00-01"))), Errno.EINVAL, "vdpa: unmanaged vdpa device");
        Expect(Fails(() => c.DeleteDevice("um0")), Errno.EINVAL, "vdpa: Only user created device can be deleted by user");
        Assert.Equal(["net0"], c.ListDevices().Select(d => d.Name));
        Assert.Equal(["net0"], c.GetConfig().Select(d => d.Name));
    }

    [Fact]
    public void DevSet_WarningOnBlock_MacOnNet()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        c.AddDevice("blk0", "vdpasim_blk");
        c.AddDevice("net0", "vdpasim_net");
        // Success ACK carrying a warning: CAPPED | ACK_TLVS, error 0.
        var replies = s.Raw(Wire.Request(F, 8, Wire.Do, (ref NetlinkWriter w) =>
        {
            w.PutString((ushort)VdpaAttr.DevName, "blk0");
            w.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, [2, 0, 0, 0, 0, 1]);
        }));
        var r = Wire.Error(Assert.Single(replies));
        Assert.Equal((0, "vdpa: blk0 device not supported", NetlinkMessageFlags.Capped | NetlinkMessageFlags.AckTlvs), (r.Errno, r.Message, r.Flags));
        Assert.Equal("vdpa: blk0 device not supported", c.SetDevice("blk0", PhysicalAddress.Parse("02-00-00-00-00-01")));

        Assert.Null(c.SetDevice("net0", PhysicalAddress.Parse("02-aa-bb-cc-dd-01")));
        Assert.Equal(PhysicalAddress.Parse("02-aa-bb-cc-dd-01"), c.GetConfig("net0").MacAddress);
        Assert.Equal([2, 0xaa, 0xbb, 0xcc, 0xdd, 1], s.Store.State["net0"].Mac);
        Expect(Fails(() => c.SetDevice("net0", PhysicalAddress.Parse("01-00-5e-00-00-01"))), Errno.EOPNOTSUPP, "vdpa: Invalid MAC address");
        Expect(Fails(() => c.SetDevice("net0", PhysicalAddress.Parse("00-00-00-00-00-00"))), Errno.EOPNOTSUPP, "vdpa: Invalid MAC address");
        Expect(Fails(() => c.SetDevice("net0", null)), Errno.EOPNOTSUPP, null);
        // The formatted message is cut to 79 bytes like NL_SET_ERR_MSG_FMT's 80-byte buffer.
        string longName = new('b', 100);
        c.AddDevice(longName, "vdpasim_blk");
        string w = c.SetDevice(longName, PhysicalAddress.Parse("02-00-00-00-00-01"))!;
        Assert.Equal(79, w.Length);
        Assert.StartsWith("vdpa: bbbb", w, StringComparison.Ordinal);
    }

    [Fact]
    public void Vstats_ErrorsInOrder()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        c.AddDevice("net0", "vdpasim_net");
        c.AddDevice("blk0", "vdpasim_blk");
        Assert.Equal(Errno.EINVAL, Wire.Error(s.Raw(Wire.Request(F, 7, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0")))[0]).Errno);
        Expect(Fails(() => c.GetVendorStats("blk0", 0x9000)), Errno.EOPNOTSUPP, null);
        Expect(Fails(() => c.GetVendorStats("net0", 0x8001)), Errno.ERANGE, "vdpa: queue index exceeds max value");
        // Not bound: no FEATURES_OK.
        Expect(Fails(() => c.GetVendorStats("net0", 0)), Errno.EAGAIN, "vdpa: feature negotiation not complete");
    }

    [Fact]
    public void Vstats_BoundDevice()
    {
        using var s = new TestStack();
        using var c = s.Client();
        c.AddDevice("net0", "vdpasim_net");
        var st = c.GetVendorStats("net0", 2);
        Assert.Equal(["cvq requests", "cvq successes", "cvq errors"], st.Values.Select(p => p.Key));
        Expect(Fails(() => c.GetVendorStats("net0", 3)), Errno.EINVAL, null);
    }

    [Fact]
    public void ConfigGet_UnboundDevice_NoNegotiatedFeatures()
    {
        using var s = new TestStack(withDriver: false);
        using var c = s.Client();
        c.AddDevice("a1", "vdpasim_net", mac: PhysicalAddress.Parse("02-aa-bb-cc-dd-01"), mtu: 4000);
        var cfg = c.GetConfig("a1");
        Assert.Null(cfg.NegotiatedFeatures);
        Assert.Equal((ushort)4000, cfg.Mtu);
        Assert.Equal(PhysicalAddress.Parse("02-aa-bb-cc-dd-01"), cfg.MacAddress);
        Assert.Equal((ushort)1, cfg.NetStatus);
        Assert.Null(cfg.MaxVqPairs);
    }

    [Fact]
    public void ConfigDump_EndsSilentlyAtUnsupportedClass()
    {
        using var s = new TestStack(withDriver: false);
        var fake = new FakePciMgmt("odd", "pci", VirtioDeviceId.Net);
        s.Bus.RegisterManagementDevice(fake);
        using var c = s.Client();
        c.AddDevice("n0", "vdpasim_net");
        s.Bus.RegisterDevice(new VdpaDevice("x5", new FakeOps(deviceId: 5), 1, fake)); // virtio id 5: EOPNOTSUPP in config fill
        c.AddDevice("n1", "vdpasim_net");
        Assert.Equal(["n0"], c.GetConfig().Select(d => d.Name));
        Assert.Equal(Errno.EOPNOTSUPP, Fails(() => c.GetConfig("x5")).Errno);
        Assert.Equal(["n0", "x5", "n1"], c.ListDevices().Select(d => d.Name));
    }

    // ---------------------------------------------------------------- netlink_rcv_skb

    [Fact]
    public void SeveralMessagesPerDatagram_AndMalformedOnes()
    {
        using var s = new TestStack(withDriver: false);
        s.Bus.AddDevice(s.Net, "net0", new DeviceConfigRequest());
        byte[] a = Wire.Request(F, 5, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0"), seq: 1);
        byte[] b = Wire.Request(F, 2, Wire.Dump, seq: 2);
        byte[] c = Wire.Request(F, 5, Wire.Do, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "zz"), seq: 3);
        var replies = s.Raw([.. a, .. b, .. c]);
        // reply + ACK, dump batch + DONE, error.
        Assert.Equal(5, replies.Count);
        Assert.Equal([1u, 1u, 2u, 2u, 3u], replies.Select(r => NlMsgHeader.Read(r).Sequence));
        Assert.Equal(NetlinkMessageType.Done, NlMsgHeader.Read(replies[3]).Type);

        // Truncated header, nlmsg_len past the end, nlmsg_len < 16: nothing at all (and the earlier message answered).
        Assert.Empty(s.Raw(a[..10]));
        byte[] bad = (byte[])a.Clone();
        bad[0] = 200;
        Assert.Empty(s.Raw(bad));
        Assert.Equal(2, s.Raw([.. a, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).Count);
        // No NLM_F_REQUEST: only an ACK when asked; control types likewise.
        byte[] noReq = (byte[])a.Clone();
        noReq[6] = (byte)NetlinkMessageFlags.Ack;
        Assert.Equal(0, Wire.Error(Assert.Single(s.Raw(noReq))).Errno);
        noReq[6] = 0;
        Assert.Empty(s.Raw(noReq));
        byte[] ctl = (byte[])a.Clone();
        ctl[4] = (byte)NetlinkMessageType.Noop;
        Assert.Equal(0, Wire.Error(Assert.Single(s.Raw(ctl))).Errno);
        // Without NLM_F_ACK a doit gets only its reply; an error always comes back.
        byte[] noAck = Wire.Request(F, 5, NetlinkMessageFlags.Request, (ref NetlinkWriter w) => w.PutString((ushort)VdpaAttr.DevName, "net0"));
        Assert.Single(s.Raw(noAck));
    }

    [Fact]
    public void DumpsCarryNoAckEvenWithAckFlag()
    {
        using var s = new TestStack(withDriver: false);
        var replies = s.Raw(Wire.Request(F, 5, Wire.Dump));
        var d = Assert.Single(replies);
        Assert.Equal(NetlinkMessageType.Done, NlMsgHeader.Read(d).Type);
        Assert.Equal(20, d.Length);
    }
}
