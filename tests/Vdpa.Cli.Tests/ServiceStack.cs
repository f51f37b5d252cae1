using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Management;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;
using CoreMgmt = Uvdpa.Vdpa.Core.VdpaManagementDevice;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// vdpad's management plane in process, set up like the capture VM: vdpasim_net, vdpasim_blk and an idle "vduse"
/// parent registered in that order, virtio_vdpa bound, served by <see cref="NetlinkService"/>.
/// </summary>
public sealed class ServiceStack : IDisposable
{
    public ServiceStack()
    {
        Bus.RegisterManagementDevice(new VdpaSimNetManagementDevice());
        Bus.RegisterManagementDevice(new VdpaSimBlkManagementDevice());
        Bus.RegisterManagementDevice(new IdleVduse());
        Bus.RegisterDriver(new VirtioVdpaDriver());
        Service = new NetlinkService(Bus, new ManagementOptions());
    }

    public VdpaBus Bus { get; } = new();

    public NetlinkService Service { get; }

    /// <summary>A connection as root (CAP_NET_ADMIN), like the reference session.</summary>
    public INetlinkTransport Connect() => new ServiceTransport(Service, new PeerCredentials(Environment.ProcessId, 0, 0));

    public void Dispose()
    {
        foreach (VdpaDevice d in Bus.Devices.ToList())
        {
            try
            {
                Bus.DeleteDevice(d.Name);
            }
            catch (VdpaException)
            {
            }
        }
    }

    /// <summary>"vduse" with no VDUSE device created: net and block classes, no attributes, every add refused.</summary>
    private sealed class IdleVduse() : CoreMgmt("vduse", null, [VirtioDeviceId.Net, VirtioDeviceId.Block])
    {
        public override VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config) => throw new VdpaException(Netlink.Errno.EINVAL);

        public override void DeleteDevice(VdpaBus bus, VdpaDevice device) => bus.UnregisterDevice(device);
    }

    /// <summary>One client connection: each request datagram is handed to the service, its reply datagrams queued.</summary>
    private sealed class ServiceTransport(NetlinkService service, PeerCredentials peer) : INetlinkTransport, INetlinkReplySink
    {
        private readonly Queue<byte[]> _pending = new();
        private byte[] _last = [];

        public int ReceiveBufferSize => NetlinkService.MaxDatagramSize;

        public NetlinkAckOptions AckOptions => NetlinkAckOptions.Iproute2;

        public void Send(ReadOnlySpan<byte> datagram) => service.HandleDatagram(datagram, peer, this);

        public ReadOnlySpan<byte> Receive()
        {
            if (!_pending.TryDequeue(out byte[]? d)) throw new NetlinkTransportException("no reply queued", Netlink.Errno.ETIMEDOUT);
            _last = d;
            return _last;
        }

        bool INetlinkReplySink.Send(ReadOnlySpan<byte> datagram)
        {
            _pending.Enqueue(datagram.ToArray());
            return true;
        }

        public void Dispose() { }
    }
}
