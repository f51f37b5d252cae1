namespace Uvdpa.Vdpa.Netlink;

/// <summary>nlmsg_flags (include/uapi/linux/netlink.h). Several bits mean different things for GET, NEW, DELETE and ACK messages.</summary>
[Flags]
#pragma warning disable CA1069 // the kernel reuses bit values per message class; the duplicates are deliberate
public enum NetlinkMessageFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>NLM_F_REQUEST: a request message.</summary>
    Request = 0x01,

    /// <summary>NLM_F_MULTI: part of a multi-part message terminated by NLMSG_DONE.</summary>
    Multi = 0x02,

    /// <summary>NLM_F_ACK: reply with an ACK (NLMSG_ERROR with error 0) on success.</summary>
    Ack = 0x04,

    /// <summary>NLM_F_ECHO: echo this request.</summary>
    Echo = 0x08,

    /// <summary>NLM_F_DUMP_INTR: the dump was inconsistent because the data changed during it.</summary>
    DumpInterrupted = 0x10,

    /// <summary>NLM_F_DUMP_FILTERED: the dump was filtered as requested.</summary>
    DumpFiltered = 0x20,

    /// <summary>NLM_F_ROOT (GET): return the complete table instead of a single entry.</summary>
    Root = 0x100,

    /// <summary>NLM_F_MATCH (GET): return all entries matching the criteria.</summary>
    Match = 0x200,

    /// <summary>NLM_F_ATOMIC (GET): return an atomic snapshot.</summary>
    Atomic = 0x400,

    /// <summary>NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH (0x300).</summary>
    Dump = Root | Match,

    /// <summary>NLM_F_REPLACE (NEW).</summary>
    Replace = 0x100,

    /// <summary>NLM_F_EXCL (NEW).</summary>
    Exclusive = 0x200,

    /// <summary>NLM_F_CREATE (NEW).</summary>
    Create = 0x400,

    /// <summary>NLM_F_APPEND (NEW).</summary>
    Append = 0x800,

    /// <summary>NLM_F_NONREC (DELETE).</summary>
    NonRecursive = 0x100,

    /// <summary>NLM_F_BULK (DELETE).</summary>
    Bulk = 0x200,

    /// <summary>NLM_F_CAPPED (ACK): the request payload was not echoed (only its 16-byte header).</summary>
    Capped = 0x100,

    /// <summary>NLM_F_ACK_TLVS (ACK): extended-ack TLVs follow the echoed request.</summary>
    AckTlvs = 0x200,
}
#pragma warning restore CA1069
