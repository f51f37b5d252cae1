namespace Uvdpa.Virtio.Queues;

/// <summary>Outcome of popping a descriptor chain from a device-side queue.</summary>
public enum PopStatus
{
    /// <summary>A chain was popped into the caller's <see cref="DescriptorChain"/>.</summary>
    Chain,
    /// <summary>No available buffers (or the queue is not ready).</summary>
    Empty,
    /// <summary>The queue is broken (sticky until reset); see the queue's error.</summary>
    Broken,
}
