namespace Uvdpa.Vdpa.Nbd;

/// <summary>Command flags (the high 16 bits of the kernel's <c>type</c> word; NBD protocol "Command flags").</summary>
[Flags]
public enum NbdCommandFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_CMD_FLAG_FUA: the write is on stable storage before the reply.</summary>
    Fua = 1 << 0,
    /// <summary>NBD_CMD_FLAG_NO_HOLE: WRITE_ZEROES must not punch a hole.</summary>
    NoHole = 1 << 1,
    /// <summary>NBD_CMD_FLAG_DF (structured replies only).</summary>
    DontFragment = 1 << 2,
    /// <summary>NBD_CMD_FLAG_REQ_ONE (block status only).</summary>
    RequestOne = 1 << 3,
    /// <summary>NBD_CMD_FLAG_FAST_ZERO (needs NBD_FLAG_SEND_FAST_ZERO, not offered).</summary>
    FastZero = 1 << 4,
}
