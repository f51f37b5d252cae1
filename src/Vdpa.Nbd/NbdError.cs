namespace Uvdpa.Vdpa.Nbd;

/// <summary>Error values of a reply (NBD protocol "Error values"; Linux errno numbers).</summary>
public enum NbdError : uint
{
    /// <summary>Success.</summary>
    None = 0,
    /// <summary>NBD_EPERM: write to a read-only export.</summary>
    Perm = 1,
    /// <summary>NBD_EIO: the device failed the request.</summary>
    Io = 5,
    /// <summary>NBD_ENOMEM.</summary>
    NoMemory = 12,
    /// <summary>NBD_EINVAL: a malformed request, a range outside the export, a command that was not advertised.</summary>
    Invalid = 22,
    /// <summary>NBD_ENOSPC: a write past the end of the export.</summary>
    NoSpace = 28,
    /// <summary>NBD_EOVERFLOW: a request longer than the server takes.</summary>
    Overflow = 75,
    /// <summary>NBD_ENOTSUP: the device does not support the operation (VIRTIO_BLK_S_UNSUPP).</summary>
    NotSupported = 95,
    /// <summary>NBD_ESHUTDOWN: the server is going away (the device was removed).</summary>
    Shutdown = 108,
}
