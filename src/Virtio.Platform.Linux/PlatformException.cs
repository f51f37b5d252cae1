using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>A system call failed; carries the errno and the call's name.</summary>
public sealed class PlatformException : IOException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public PlatformException(string call, int errno)
        : base($"{call}: {Libc.ErrorText(errno)} (errno {errno})", errno)
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The failing call.</summary>
    public string Call { get; }

    /// <summary>The errno value.</summary>
    public int Errno { get; }

    internal static PlatformException FromLastError(string call) => new(call, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
}
