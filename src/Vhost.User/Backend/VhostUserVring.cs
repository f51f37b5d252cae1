using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>Per-vring session state (vhost-user.rst "Ring states"): what the front-end configured and whether the device runs it.</summary>
internal sealed class VhostUserVring : IDisposable
{
    public uint Num;
    public ushort Base;
    public VhostVringAddr? Address;
    public bool KickSet;            // SET_VRING_KICK seen (fd or NOFD): the ring is started
    public bool Polling;            // KICK came with NOFD
    public bool Enabled;            // SET_VRING_ENABLE(1), or implied without protocol features
    public bool Applied;            // the device has it ready
    public GuestAddress Desc, Avail, Used; // translated addresses the device was given
    public KickRelay? Kick;
    public VdpaCallback? Call;
    public EventFd? CallFd;
    public EventFd? ErrFd;

    public void ReplaceKick(KickRelay? relay)
    {
        Kick?.Dispose();
        Kick = relay;
    }

    public void ReplaceCall(EventFd? fd)
    {
        // The device may be signalling the old fd right now: EventFd.Signal holds a reference, so disposing is safe.
        CallFd?.Dispose();
        CallFd = fd;
        Call = fd is null ? null : new VdpaCallback(null, fd);
    }

    public void ReplaceErr(EventFd? fd)
    {
        ErrFd?.Dispose();
        ErrFd = fd;
    }

    public void Dispose()
    {
        ReplaceKick(null);
        ReplaceCall(null);
        ReplaceErr(null);
    }
}
