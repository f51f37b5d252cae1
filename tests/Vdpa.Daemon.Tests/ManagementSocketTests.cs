using System.Net.NetworkInformation;
using System.Net.Sockets;
using Uvdpa.Vdpa.Netlink;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>The daemon's socket end to end with the real client: requests, dumps, many clients, bad clients.</summary>
public sealed class ManagementSocketTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await TestDaemon.StartAsync(TestDaemon.OptionsFor(_dir));

    public async Task DisposeAsync()
    {
        try
        {
            if (_daemon is not null) await _daemon.DisposeAsync();
        }
        finally
        {
            if (_daemon is not null) output.WriteLine(_daemon.Logs.Dump());
            _dir.Dispose();
        }
    }

    [Fact]
    public void MgmtdevList_ShowsTheConfiguredParentsInOrder()
    {
        using var client = _daemon.Connect();
        Assert.Equal(["vdpasim_net", "vdpasim_blk"], client.ListManagementDevices().Select(m => m.Name));
        Assert.Equal("vdpasim_blk", client.GetManagementDevice("vdpasim_blk").Name);
    }

    [Fact]
    public void DevAddShowDel()
    {
        using var client = _daemon.Connect();
        client.AddDevice("net0", "vdpasim_net", PhysicalAddress.Parse("02-00-00-00-00-01"), mtu: 1400);
        client.AddDevice("blk0", "vdpasim_blk");

        VdpaDeviceInfo net0 = client.GetDevice("net0");
        Assert.Equal(1u, net0.DeviceId);
        Assert.Equal("vdpasim_net", net0.ManagementDevice.DeviceName);
        VdpaDeviceConfig config = client.GetConfig("net0");
        Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-01"), config.MacAddress);
        Assert.Equal((ushort)1400, config.Mtu);
        Assert.Equal(["net0", "blk0"], client.ListDevices().Select(d => d.Name));
        Assert.Equal("virtio_vdpa", _daemon.Bus.Devices[0].Driver?.Name); // bound by the configured driver

        var dup = Assert.Throws<VdpaNetlinkException>(() => client.AddDevice("net0", "vdpasim_net"));
        Assert.Equal(Errno.EEXIST, dup.Errno);

        client.DeleteDevice("net0");
        client.DeleteDevice("blk0");
        Assert.Empty(client.ListDevices());
        var gone = Assert.Throws<VdpaNetlinkException>(() => client.GetDevice("net0"));
        Assert.Equal(Errno.ENODEV, gone.Errno);
    }

    [Fact]
    public void DumpOf1000Devices_ArrivesInDatagramsOfAtMost4096Bytes()
    {
        using (var adder = _daemon.Connect())
        {
            for (int i = 0; i < 1000; i++) adder.AddDevice($"n{i}", "vdpasim_net");
        }

        // iproute2 reads 4096 bytes at a time: a client with exactly that buffer gets everything.
        using var client = _daemon.Connect(receiveBufferSize: 4096);
        NetlinkReply reply = client.Request(VdpaCommand.DevGet, VdpaClient.DumpFlags, VdpaRequestAttributes.None);
        int largest = reply.Datagrams.Max(d => d.Length);
        output.WriteLine($"{reply.Datagrams.Count} datagrams, largest {largest} bytes");
        Assert.True(largest <= 4096, $"largest datagram {largest} bytes");
        Assert.True(reply.Datagrams.Count > 1);
        List<string> names = [.. reply.Messages.Where(m => m.Genl.Command == (byte)VdpaCommand.DevNew).Select(m => VdpaDeviceInfo.FromAttributes(m.Attributes).Name)];
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"n{i}"), names);

        // The config dump too (bigger messages).
        NetlinkReply configs = client.Request(VdpaCommand.DevConfigGet, VdpaClient.DumpFlags, VdpaRequestAttributes.None);
        Assert.All(configs.Datagrams, d => Assert.True(d.Length <= 4096));
        Assert.Equal(1000, configs.Messages.Count(m => m.Genl.Command == (byte)VdpaCommand.DevConfigGet));
    }

    [Fact]
    public async Task ManyClientsAtOnce_EachManagingItsOwnDevices()
    {
        const int Clients = 32, Rounds = 5;
        using var start = new Barrier(Clients);
        // Each client on its own thread (LongRunning): blocking clients on pool threads would starve the in-process
        // daemon's async loops, which a real daemon (another process) never shares a pool with.
        var tasks = Enumerable.Range(0, Clients).Select(c => Task.Factory.StartNew(() =>
        {
            using var client = _daemon.Connect();
            start.SignalAndWait(TestDaemon.Timeout);
            for (int r = 0; r < Rounds; r++)
            {
                string name = $"c{c}r{r}";
                var mac = new PhysicalAddress([0x02, 0, 0, 0, (byte)c, (byte)r]);
                client.AddDevice(name, r % 2 == 0 ? "vdpasim_net" : "vdpasim_blk", r % 2 == 0 ? mac : null);
                Assert.Equal(name, client.GetDevice(name).Name);
                if (r % 2 == 0) Assert.Equal(mac, client.GetConfig(name).MacAddress);
                Assert.Contains(name, client.ListDevices().Select(d => d.Name));
                client.DeleteDevice(name);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TestDaemon.Timeout);
        Assert.Empty(_daemon.Bus.Devices);
    }

    [Fact]
    public async Task GarbageAndDisconnects_DisturbNobodyElse()
    {
        using var steady = _daemon.Connect();
        steady.AddDevice("keep0", "vdpasim_net");
        for (int i = 0; i < 50; i++) steady.AddDevice($"bulk{i}", "vdpasim_blk");
        ushort family = steady.FamilyId;
        var random = new Random(1234);

        for (int round = 0; round < 20; round++)
        {
            // Garbage of every shape, then a disconnect without reading the replies.
            using (var bad = new RawClient(_daemon.SocketPath))
            {
                foreach (int len in new[] { 1, 3, 15, 16, 19, 20, 64, 4096, 60000 })
                {
                    var junk = new byte[len];
                    random.NextBytes(junk);
                    bad.Send(junk);
                }
                var lying = RawClient.Request(family, VdpaCommand.DevGet, VdpaClient.DumpFlags, 1);
                BitConverter.TryWriteBytes(lying.AsSpan(0, 4), 0x7fff_ffffu); // nlmsg_len far beyond the datagram
                bad.Send(lying);
            }

            // A dump abandoned after its first datagram.
            using (var quitter = new RawClient(_daemon.SocketPath))
            {
                quitter.Send(RawClient.Request(family, VdpaCommand.DevGet, VdpaClient.DumpFlags, 2));
                Assert.True(quitter.Receive(new byte[65536]) > 0);
            }

            Assert.Equal("keep0", steady.GetDevice("keep0").Name);
            Assert.Equal(51, steady.ListDevices().Count);
        }

        // The well-formed request after garbage on the same connection still gets its answer.
        using (var mixed = new RawClient(_daemon.SocketPath))
        {
            mixed.Send([1, 2, 3]);
            mixed.Send(RawClient.Request(family, VdpaCommand.MgmtdevGet, VdpaClient.DumpFlags, 3));
            Assert.True(mixed.Receive(new byte[65536]) > 0);
        }

        await WaitForConnectionsAsync(1); // only "steady" is left
        Assert.DoesNotContain(_daemon.Logs.Lines, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public void RequestLargerThan64KiB_ClosesOnlyThatConnection()
    {
        using var steady = _daemon.Connect();
        using var big = new RawClient(_daemon.SocketPath);
        big.Send(new byte[ManagementSocketServer.MaxRequestSize + 1]);
        Assert.Equal(0, big.ReadUntilClosed());
        Assert.Contains(_daemon.Logs.Lines, l => l.Id.Id == 22);
        Assert.Equal(2, steady.ListManagementDevices().Count);

        using var exact = new RawClient(_daemon.SocketPath); // exactly 64 KiB is still a request (of garbage)
        exact.Send(new byte[ManagementSocketServer.MaxRequestSize]);
        exact.Send(RawClient.Request(steady.FamilyId, VdpaCommand.MgmtdevGet, VdpaClient.DumpFlags, 3));
        Assert.True(exact.Receive(new byte[65536]) > 0);
    }

    [Fact]
    public void ClientThatNeverReads_DoesNotStallOthers()
    {
        using var steady = _daemon.Connect();
        for (int i = 0; i < 300; i++) steady.AddDevice($"d{i}", "vdpasim_blk");
        using var stalled = new RawClient(_daemon.SocketPath);
        for (uint s = 0; s < 50; s++) // far more reply data than the socket buffers hold
            stalled.Send(RawClient.Request(steady.FamilyId, VdpaCommand.DevConfigGet, VdpaClient.DumpFlags, s));

        for (int i = 0; i < 20; i++)
        {
            steady.AddDevice($"x{i}", "vdpasim_net");
            Assert.Equal(301 + i, steady.ListDevices().Count);
        }
        using var other = _daemon.Connect();
        Assert.Equal(320, other.ListDevices().Count);
    }

    [Fact]
    public void UnknownFamily_And_Nlctrl_AreAnsweredLikeTheKernel()
    {
        using var transport = UnixSeqpacketTransport.Connect(_daemon.SocketPath, new NetlinkTransportOptions { ReceiveTimeout = TestDaemon.Timeout });
        var missing = Assert.Throws<VdpaFamilyNotFoundException>(() => VdpaClient.ResolveFamily(transport, "no-such-family", 1));
        Assert.Equal(Errno.ENOENT, missing.Errno);
        Assert.Equal("vdpa", VdpaClient.ResolveFamily(transport, "vdpa", 2).Name);
    }

    [Fact]
    public void Replies_CarryTheRequestPortId_AndCappedErrorAcks()
    {
        using var steady = _daemon.Connect();
        using var raw = new RawClient(_daemon.SocketPath);
        var buffer = new byte[65536];
        const uint PortId = 0x4242;

        byte[] dump = RawClient.Request(steady.FamilyId, VdpaCommand.MgmtdevGet, VdpaClient.DumpFlags, 7);
        BitConverter.TryWriteBytes(dump.AsSpan(12, 4), PortId);
        raw.Send(dump);
        int n = raw.Receive(buffer);
        Assert.True(n >= 16);
        uint replyPort = BitConverter.ToUInt32(buffer, 12);
        Assert.True(replyPort is 0 or PortId, $"reply nlmsg_pid {replyPort}"); // libmnl's mnl_cb_run accepts 0 or its own

        // An error ACK echoes only the request header (NETLINK_CAP_ACK → NLM_F_CAPPED = 0x100).
        byte[] bad = RawClient.Request(steady.FamilyId, (VdpaCommand)200, VdpaClient.DoFlags, 8);
        raw.Send(bad);
        while (true)
        {
            n = raw.Receive(buffer);
            if (BitConverter.ToUInt32(buffer, 8) == 8) break; // skip the rest of the dump; find seq 8
        }
        Assert.Equal(2, BitConverter.ToUInt16(buffer, 4));                   // NLMSG_ERROR
        Assert.NotEqual(0, BitConverter.ToUInt16(buffer, 6) & 0x100);         // NLM_F_CAPPED
        Assert.Equal(-Errno.EOPNOTSUPP, BitConverter.ToInt32(buffer, 16));
    }

    private async Task WaitForConnectionsAsync(int expected)
    {
        var deadline = DateTime.UtcNow + TestDaemon.Timeout;
        while (_daemon.Server.ConnectionCount != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {_daemon.Server.ConnectionCount} connections, expected {expected}");
            await Task.Delay(10);
        }
    }
}
