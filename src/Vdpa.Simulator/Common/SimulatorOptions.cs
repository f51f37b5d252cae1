namespace Uvdpa.Vdpa.Simulator;

/// <summary>
/// Options of a simulator management device: the analogue of the kernel modules' parameters (vdpa_sim
/// <c>batch_mapping</c>, <c>max_iotlb_entries</c>; vdpa_sim_blk <c>shared_backend</c>) plus uvdpa's batch sizes.
/// Read once, when the management device is created.
/// </summary>
public sealed record SimulatorOptions
{
    /// <summary>Default options (the kernel's defaults, uvdpa's batch sizes).</summary>
    public static SimulatorOptions Default { get; } = new();

    /// <summary>
    /// vdpa_sim <c>batch_mapping</c> (default true): devices offer set_map (replace-all); false offers dma_map/dma_unmap
    /// (incremental) and get_vq_size instead.
    /// </summary>
    public bool BatchMapping { get; init; } = true;

    /// <summary>vdpa_sim <c>max_iotlb_entries</c>: entries per address space, 0 = unlimited (default 2048).</summary>
    public int MaxIotlbEntries { get; init; } = 2048;

    /// <summary>
    /// Packets the net loopback moves per work run before it yields and reschedules itself. The kernel uses 5
    /// (<c>tx_pkts &gt; 4</c>); uvdpa defaults to 64 because a thread-pool hop costs more than a kthread requeue and
    /// the run holds no CPU exclusively. Set 5 for the kernel's exact scheduling.
    /// </summary>
    public int NetBatch { get; init; } = 64;

    /// <summary>Requests the blk simulator handles per work run before it reschedules (kernel: 5; default 64).</summary>
    public int BlkBatch { get; init; } = 64;

    /// <summary>
    /// How long a polled queue keeps re-running while idle before it falls back to a 1 ms timer (default 200 µs: a
    /// peer's turnaround). While it spins it asks the driver not to kick (VRING_USED_F_NO_NOTIFY).
    /// </summary>
    public TimeSpan PollIdleBudget { get; init; } = TimeSpan.FromMicroseconds(200);

    /// <summary>vdpa_sim_blk <c>shared_backend</c>: every memory-backed blk device uses one 128 MiB store.</summary>
    public bool BlkSharedBackend { get; init; }
}
