namespace Uvdpa.Vdpa.Netlink;

/// <summary>Linux errno values used on the management plane (asm-generic/errno-base.h, errno.h), with glibc's texts.</summary>
public static class Errno
{
    /// <summary>EPERM: missing CAP_NET_ADMIN (GENL_ADMIN_PERM).</summary>
    public const int EPERM = 1;
    /// <summary>ENOENT: e.g. nlctrl has no family of that name.</summary>
    public const int ENOENT = 2;
    /// <summary>EINTR.</summary>
    public const int EINTR = 4;
    /// <summary>EIO.</summary>
    public const int EIO = 5;
    /// <summary>EAGAIN.</summary>
    public const int EAGAIN = 11;
    /// <summary>ENOMEM.</summary>
    public const int ENOMEM = 12;
    /// <summary>EACCES.</summary>
    public const int EACCES = 13;
    /// <summary>EFAULT.</summary>
    public const int EFAULT = 14;
    /// <summary>EBUSY.</summary>
    public const int EBUSY = 16;
    /// <summary>EEXIST: a device of that name exists.</summary>
    public const int EEXIST = 17;
    /// <summary>ENODEV: no such device / management device.</summary>
    public const int ENODEV = 19;
    /// <summary>EINVAL.</summary>
    public const int EINVAL = 22;
    /// <summary>ENOSPC.</summary>
    public const int ENOSPC = 28;
    /// <summary>ERANGE: attribute value or size outside its policy.</summary>
    public const int ERANGE = 34;
    /// <summary>EMSGSIZE.</summary>
    public const int EMSGSIZE = 90;
    /// <summary>EPROTO.</summary>
    public const int EPROTO = 71;
    /// <summary>EBADMSG.</summary>
    public const int EBADMSG = 74;
    /// <summary>EOPNOTSUPP: unknown command, no dumpit, unsupported attribute or device class.</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>ENOBUFS.</summary>
    public const int ENOBUFS = 105;
    /// <summary>ETIMEDOUT.</summary>
    public const int ETIMEDOUT = 110;
    /// <summary>ECONNREFUSED.</summary>
    public const int ECONNREFUSED = 111;

    /// <summary>The C name ("ENODEV"), or "E&lt;n&gt;" when unknown.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EINTR => "EINTR", EIO => "EIO", EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM", EACCES => "EACCES", EFAULT => "EFAULT", EBUSY => "EBUSY", EEXIST => "EEXIST",
        ENODEV => "ENODEV", EINVAL => "EINVAL", ENOSPC => "ENOSPC", ERANGE => "ERANGE", EMSGSIZE => "EMSGSIZE",
        EPROTO => "EPROTO", EBADMSG => "EBADMSG", EOPNOTSUPP => "EOPNOTSUPP", ENOBUFS => "ENOBUFS",
        ETIMEDOUT => "ETIMEDOUT", ECONNREFUSED => "ECONNREFUSED", _ => $"E{errno}",
    };

    /// <summary>glibc's strerror text ("No such device"), independent of the local C library; "Unknown error N" otherwise.</summary>
    public static string Describe(int errno) => errno switch
    {
        0 => "Success",
        EPERM => "Operation not permitted",
        ENOENT => "No such file or directory",
        EINTR => "Interrupted system call",
        EIO => "Input/output error",
        EAGAIN => "Resource temporarily unavailable",
        ENOMEM => "Cannot allocate memory",
        EACCES => "Permission denied",
        EFAULT => "Bad address",
        EBUSY => "Device or resource busy",
        EEXIST => "File exists",
        ENODEV => "No such device",
        EINVAL => "Invalid argument",
        ENOSPC => "No space left on device",
        ERANGE => "Numerical result out of range",
        EMSGSIZE => "Message too long",
        EPROTO => "Protocol error",
        EBADMSG => "Bad message",
        EOPNOTSUPP => "Operation not supported",
        ENOBUFS => "No buffer space available",
        ETIMEDOUT => "Connection timed out",
        ECONNREFUSED => "Connection refused",
        _ => $"Unknown error {errno}",
    };
}
