using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>Who this process runs as.</summary>
public static class ProcessIdentity
{
    /// <summary>geteuid(2).</summary>
    public static uint EffectiveUserId => Libc.GetEuid();
}
