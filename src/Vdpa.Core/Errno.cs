namespace Uvdpa.Vdpa.Core;

/// <summary>Linux errno values used by the vDPA contract (config ops return 0 or a negative errno, as in the kernel).</summary>
public static class Errno
{
    /// <summary>EPERM.</summary>
    public const int EPERM = 1;
    /// <summary>ENOENT.</summary>
    public const int ENOENT = 2;
    /// <summary>EIO.</summary>
    public const int EIO = 5;
    /// <summary>EAGAIN.</summary>
    public const int EAGAIN = 11;
    /// <summary>ENOMEM.</summary>
    public const int ENOMEM = 12;
    /// <summary>EBUSY.</summary>
    public const int EBUSY = 16;
    /// <summary>EEXIST.</summary>
    public const int EEXIST = 17;
    /// <summary>ENODEV.</summary>
    public const int ENODEV = 19;
    /// <summary>EINVAL.</summary>
    public const int EINVAL = 22;
    /// <summary>ENOSPC.</summary>
    public const int ENOSPC = 28;
    /// <summary>ERANGE.</summary>
    public const int ERANGE = 34;
    /// <summary>EOPNOTSUPP.</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>ESHUTDOWN.</summary>
    public const int ESHUTDOWN = 108;
}
