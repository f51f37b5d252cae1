namespace Uvdpa.Vdpa.Nbd;

/// <summary>Transmission flags (NBD protocol; the kernel's NBD_ATTR_SERVER_FLAGS / NBD_SET_FLAGS).</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_FLAG_HAS_FLAGS: always set.</summary>
    HasFlags = 1 << 0,
    /// <summary>NBD_FLAG_READ_ONLY.</summary>
    ReadOnly = 1 << 1,
    /// <summary>NBD_FLAG_SEND_FLUSH: the export has a volatile cache (the kernel then enables its write cache).</summary>
    SendFlush = 1 << 2,
    /// <summary>NBD_FLAG_SEND_FUA: NBD_CMD_FLAG_FUA is honoured.</summary>
    SendFua = 1 << 3,
    /// <summary>NBD_FLAG_ROTATIONAL.</summary>
    Rotational = 1 << 4,
    /// <summary>NBD_FLAG_SEND_TRIM: NBD_CMD_TRIM (the kernel then sends discards).</summary>
    SendTrim = 1 << 5,
    /// <summary>NBD_FLAG_SEND_WRITE_ZEROES.</summary>
    SendWriteZeroes = 1 << 6,
    /// <summary>NBD_FLAG_SEND_DF.</summary>
    SendDf = 1 << 7,
    /// <summary>NBD_FLAG_CAN_MULTI_CONN.</summary>
    CanMultiConn = 1 << 8,
}
