namespace Uvdpa.Virtio.Abi;

/// <summary>Virtio device ids. Spec: VIRTIO 1.3 §5; Linux include/uapi/linux/virtio_ids.h.</summary>
public enum VirtioDeviceId : uint
{
    /// <summary>Reserved (invalid).</summary>
    Reserved = 0,
    /// <summary>VIRTIO_ID_NET.</summary>
    Net = 1,
    /// <summary>VIRTIO_ID_BLOCK.</summary>
    Block = 2,
    /// <summary>VIRTIO_ID_CONSOLE.</summary>
    Console = 3,
    /// <summary>VIRTIO_ID_RNG.</summary>
    Rng = 4,
}
