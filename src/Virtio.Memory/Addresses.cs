namespace Uvdpa.Virtio.Memory;

/// <summary>An address in a <see cref="GuestMemory"/> (guest-physical address space).</summary>
public readonly record struct GuestAddress(ulong Value)
{
    /// <summary>Returns the address <paramref name="offset"/> bytes further, or false on overflow.</summary>
    public bool TryAdd(ulong offset, out GuestAddress result)
    {
        ulong v = Value + offset;
        result = new GuestAddress(v);
        return v >= Value;
    }

    /// <inheritdoc />
    public override string ToString() => $"gpa:0x{Value:x}";
}

/// <summary>An address in a device's DMA (I/O virtual) address space, as written into rings and descriptors.</summary>
public readonly record struct Iova(ulong Value)
{
    /// <summary>Returns the address <paramref name="offset"/> bytes further, or false on overflow.</summary>
    public bool TryAdd(ulong offset, out Iova result)
    {
        ulong v = Value + offset;
        result = new Iova(v);
        return v >= Value;
    }

    /// <inheritdoc />
    public override string ToString() => $"iova:0x{Value:x}";
}

/// <summary>An address in a vhost-user front-end's own virtual address space (SET_VRING_ADDR, memory table userspace_addr).</summary>
public readonly record struct FrontendAddress(ulong Value)
{
    /// <inheritdoc />
    public override string ToString() => $"fva:0x{Value:x}";
}

/// <summary>Access rights of a mapping (values of VHOST_ACCESS_RO/WO/RW).</summary>
[Flags]
public enum AccessPermission : byte
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>Device may read (VHOST_ACCESS_RO).</summary>
    Read = 1,
    /// <summary>Device may write (VHOST_ACCESS_WO).</summary>
    Write = 2,
    /// <summary>Both (VHOST_ACCESS_RW).</summary>
    ReadWrite = 3,
}
