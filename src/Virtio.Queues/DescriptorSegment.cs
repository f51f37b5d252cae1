using Uvdpa.Virtio.Memory;

namespace Uvdpa.Virtio.Queues;

/// <summary>One buffer of a descriptor chain: address in the device's DMA space, length, and direction.</summary>
public readonly record struct DescriptorSegment(Iova Address, uint Length, bool DeviceWritable);
