namespace Uvdpa.Vdpa.Core;

/// <summary>
/// Hook for block inflight tracking (vhost-user INFLIGHT_SHMFD): the device reports each request it takes from a
/// queue and each one it completes, so a back-end restart can resubmit what was in flight.
/// </summary>
public interface IInflightTracker
{
    /// <summary>The device took the chain with head <paramref name="head"/> from queue <paramref name="queue"/>.</summary>
    void OnTaken(int queue, ushort head);

    /// <summary>The device wrote the used element for <paramref name="head"/> and is about to publish it.</summary>
    void OnCompleting(int queue, ushort head);

    /// <summary>The used index moved; the request is complete.</summary>
    void OnCompleted(int queue, ushort head);
}
