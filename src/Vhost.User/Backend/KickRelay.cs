using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>
/// vhost's ioeventfd analogue: a thread that waits on a front-end's kick eventfd and rings the device's doorbell
/// (<see cref="VdpaConfigOps.KickVqFromWorker"/>: the device may do the kicked work on this thread). Owns the kick
/// eventfd.
/// </summary>
internal sealed class KickRelay : IDisposable
{
    private readonly EventFd _kick;
    private readonly EventFd _stop = EventFd.Create(nonBlocking: true);
    private readonly Thread _thread;
    private readonly VdpaConfigOps _ops;
    private readonly int _index;

    public KickRelay(VdpaConfigOps ops, int index, EventFd kick)
    {
        _ops = ops;
        _index = index;
        _kick = kick;
        _thread = new Thread(Run) { IsBackground = true, Name = $"vhost-user kick {index}" };
        _thread.Start();
    }

    private void Run()
    {
        try
        {
            while (FdPoll.WaitReadable(_kick.Descriptor, _stop.Descriptor) == 0)
            {
                if (_kick.Consume() != 0) _ops.KickVqFromWorker(_index);
            }
        }
        catch (PlatformException)
        {
            // A descriptor went bad: the ring simply stops receiving kicks.
        }
    }

    public void Dispose()
    {
        _stop.Signal();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _kick.Dispose();
        _stop.Dispose();
    }
}
