namespace Uvdpa.Vdpa.Nbd;

/// <summary>NBD request types (the low 16 bits of <c>struct nbd_request.type</c>; NBD protocol "Request types").</summary>
public enum NbdCommand : ushort
{
    /// <summary>NBD_CMD_READ: reply carries <c>length</c> bytes.</summary>
    Read = 0,
    /// <summary>NBD_CMD_WRITE: request carries <c>length</c> bytes.</summary>
    Write = 1,
    /// <summary>NBD_CMD_DISC: no reply; the server finishes what is in flight and closes.</summary>
    Disconnect = 2,
    /// <summary>NBD_CMD_FLUSH: everything acknowledged so far reaches stable storage.</summary>
    Flush = 3,
    /// <summary>NBD_CMD_TRIM: the range may be discarded.</summary>
    Trim = 4,
    /// <summary>NBD_CMD_CACHE (not advertised).</summary>
    Cache = 5,
    /// <summary>NBD_CMD_WRITE_ZEROES: the range reads back as zeros.</summary>
    WriteZeroes = 6,
    /// <summary>NBD_CMD_BLOCK_STATUS (structured replies only; not offered).</summary>
    BlockStatus = 7,
    /// <summary>NBD_CMD_RESIZE (not offered).</summary>
    Resize = 8,
}
