namespace Uvdpa.Vdpa.Core;

/// <summary>
/// A control-plane request failed; the bus and device stay usable. Carries the kernel's errno and, where the kernel
/// sets one, its extack text (e.g. "vdpa: device not found"), so the netlink service can answer byte for byte.
/// </summary>
public sealed class VdpaException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VdpaException(int errno, string? extack = null, string? detail = null)
        : base(detail ?? extack ?? $"errno {errno}")
    {
        Errno = errno;
        Extack = extack;
    }

    /// <summary>Positive errno (EINVAL = 22, ...).</summary>
    public int Errno { get; }

    /// <summary>The extended-ack message the kernel would attach, or null.</summary>
    public string? Extack { get; }
}
