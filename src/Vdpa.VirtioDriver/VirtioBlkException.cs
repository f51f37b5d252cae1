using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// The device completed a virtio-blk request with VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP (or a status byte the
/// spec does not define). The device stays usable; only this request failed.
/// </summary>
public sealed class VirtioBlkException : IOException
{
    /// <summary>Creates the exception.</summary>
    public VirtioBlkException(string deviceName, BlkRequestType requestType, ulong sector, BlkStatus status)
        : base($"virtio_blk: {deviceName}: {requestType} at sector {sector} failed with status {Describe(status)}")
    {
        DeviceName = deviceName;
        RequestType = requestType;
        Sector = sector;
        Status = status;
    }

    /// <summary>Name of the vDPA device.</summary>
    public string DeviceName { get; }

    /// <summary>The request type (VIRTIO_BLK_T_*).</summary>
    public BlkRequestType RequestType { get; }

    /// <summary>First sector of the failed request (0 for requests without one).</summary>
    public ulong Sector { get; }

    /// <summary>The status byte the device wrote.</summary>
    public BlkStatus Status { get; }

    private static string Describe(BlkStatus status) => status switch
    {
        BlkStatus.IoErr => "IOERR (1)",
        BlkStatus.Unsupp => "UNSUPP (2)",
        _ => $"{(byte)status}",
    };
}
