using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Core;

/// <summary>
/// struct vdpa_callback: what a device calls when it completes buffers on a queue (or changes config). Either an
/// in-process handler, or an eventfd trigger (vhost's irqfd: the device signals it and the peer wakes), or both.
/// </summary>
public sealed class VdpaCallback
{
    /// <summary>Creates a callback; at least one of the two should be set.</summary>
    public VdpaCallback(Action? handler, EventFd? trigger = null)
    {
        Handler = handler;
        Trigger = trigger;
    }

    /// <summary>In-process handler (virtio_vdpa's vring_interrupt).</summary>
    public Action? Handler { get; }

    /// <summary>Eventfd signalled instead of calling the handler (vhost_vdpa's call fd).</summary>
    public EventFd? Trigger { get; }

    /// <summary>Delivers the notification: the trigger when present, else the handler.</summary>
    public void Invoke()
    {
        if (Trigger is not null) Trigger.Signal();
        else Handler?.Invoke();
    }
}
