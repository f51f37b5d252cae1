namespace Uvdpa.Vdpa.Core;

/// <summary>struct vdpa_vq_state: split (avail index) or packed (wrap counters and indices).</summary>
public readonly record struct VqState(ushort AvailIndex, bool PackedAvailWrapCounter = false, ushort PackedUsedIndex = 0, bool PackedUsedWrapCounter = false);

/// <summary>How a queue learns about new buffers.</summary>
public enum VqNotificationMode
{
    /// <summary>The driver kicks (kick_vq or a kick eventfd).</summary>
    Kick = 0,
    /// <summary>No notifications: the device polls the ring (a vhost-user ring without a kick fd).</summary>
    Poll = 1,
}

/// <summary>Iova range usable by a device (struct vdpa_iova_range).</summary>
public readonly record struct IovaRange(ulong First, ulong Last);
