using System.Globalization;
using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// Tunables of <see cref="VirtioVdpaDriver"/>. Per-device values come from <see cref="BindOptions"/>:
/// <c>queue-size</c> (upper bound on every virtqueue's size, a power of two), <c>queue-depth</c> (virtio-blk
/// requests in flight; callers beyond it wait) and <c>max-request-bytes</c> (virtio-blk bytes per request; larger
/// I/O is split).
/// </summary>
public sealed record VirtioDriverOptions
{
    /// <summary>Bind option key of <see cref="QueueSize"/>.</summary>
    public const string QueueSizeKey = "queue-size";
    /// <summary>Bind option key of <see cref="QueueDepth"/>.</summary>
    public const string QueueDepthKey = "queue-depth";
    /// <summary>Bind option key of <see cref="MaxRequestBytes"/>.</summary>
    public const string MaxRequestBytesKey = "max-request-bytes";

    /// <summary>Upper bound on each virtqueue's size (0: use the device's size). A power of two.</summary>
    public int QueueSize { get; init; }

    /// <summary>virtio-blk requests in flight (0: as many as fit, like virtio_blk's default queue depth).</summary>
    public int QueueDepth { get; init; }

    /// <summary>virtio-blk data bytes per request (also limited by seg_max × size_max); a multiple of 512.</summary>
    public int MaxRequestBytes { get; init; } = 128 * 1024;

    /// <summary>Defaults.</summary>
    public static VirtioDriverOptions Default { get; } = new();

    /// <summary>Applies <paramref name="options"/> on top of this record. Throws <see cref="VdpaException"/> (EINVAL) for bad values.</summary>
    public VirtioDriverOptions With(BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var r = this;
        if (options.TryGet(QueueSizeKey, out var qs)) r = r with { QueueSize = Parse(QueueSizeKey, qs, 1, 32768) };
        if (options.TryGet(QueueDepthKey, out var qd)) r = r with { QueueDepth = Parse(QueueDepthKey, qd, 1, 32768) };
        if (options.TryGet(MaxRequestBytesKey, out var mr)) r = r with { MaxRequestBytes = Parse(MaxRequestBytesKey, mr, 512, 16 << 20) };
        r.Validate();
        return r;
    }

    internal void Validate()
    {
        if (QueueSize < 0 || (QueueSize & (QueueSize - 1)) != 0)
            throw new VdpaException(Errno.EINVAL, detail: $"{QueueSizeKey} must be a power of two, got {QueueSize}");
        if (QueueDepth < 0) throw new VdpaException(Errno.EINVAL, detail: $"{QueueDepthKey} must not be negative");
        if (MaxRequestBytes < 512 || MaxRequestBytes % 512 != 0)
            throw new VdpaException(Errno.EINVAL, detail: $"{MaxRequestBytesKey} must be a positive multiple of 512, got {MaxRequestBytes}");
    }

    private static int Parse(string key, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new VdpaException(Errno.EINVAL, detail: $"bad {key} '{value}' (expected {min}..{max})");
        return v;
    }
}
