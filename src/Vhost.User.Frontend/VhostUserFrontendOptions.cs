using System.Globalization;
using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vhost.User.Frontend;

/// <summary>
/// Settings of a vhost-user front-end and of the devices the front-end parent creates. As management-device options:
/// <c>socket=PATH</c> (required), <c>queue-size=N</c> (largest ring the device offers, a power of two,
/// default <see cref="DefaultQueueSize"/>), <c>reply-timeout-ms=N</c>.
/// </summary>
public sealed record VhostUserFrontendOptions
{
    /// <summary>Option key: the back-end's socket.</summary>
    public const string SocketKey = "socket";
    /// <summary>Option key: <see cref="QueueSize"/>.</summary>
    public const string QueueSizeKey = "queue-size";
    /// <summary>Option key: <see cref="ReplyTimeout"/> in milliseconds.</summary>
    public const string ReplyTimeoutKey = "reply-timeout-ms";

    /// <summary>
    /// Default largest ring: libvhost-user (qemu-storage-daemon) refuses rings above 1024, vdpasim devices above 256;
    /// QEMU's vhost-user-blk-pci default is 128.
    /// </summary>
    public const int DefaultQueueSize = 256;

    /// <summary>Defaults.</summary>
    public static VhostUserFrontendOptions Default { get; } = new();

    /// <summary>How long a reply may take before the connection counts as broken.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest ring size the device reports (get_vq_num_max); a power of two in 1..32768.</summary>
    public int QueueSize { get; init; } = DefaultQueueSize;

    internal void Validate()
    {
        if (ReplyTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReplyTimeout), "the reply timeout must be positive");
        if (QueueSize < 1 || QueueSize > 32768 || (QueueSize & (QueueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(QueueSize), $"queue size {QueueSize} is not a power of two in 1..32768");
    }

    /// <summary>Parses management-device options (all but <see cref="SocketKey"/>); EINVAL for unknown keys or bad values.</summary>
    public static VhostUserFrontendOptions Parse(IReadOnlyDictionary<string, string> options, out string socketPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        var r = Default;
        string? socket = null;
        foreach (var (key, value) in options)
        {
            switch (key)
            {
                case SocketKey:
                    if (string.IsNullOrEmpty(value) || !Path.IsPathRooted(value)) throw Invalid($"{SocketKey} must be an absolute path");
                    socket = value;
                    break;
                case QueueSizeKey:
                    int qs = ParseInt(key, value, 1, 32768);
                    if ((qs & (qs - 1)) != 0) throw Invalid($"{QueueSizeKey} {qs} is not a power of two");
                    r = r with { QueueSize = qs };
                    break;
                case ReplyTimeoutKey:
                    r = r with { ReplyTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, 1, 3_600_000)) };
                    break;
                default:
                    throw Invalid($"unknown option '{key}'");
            }
        }
        socketPath = socket ?? throw Invalid($"option '{SocketKey}=PATH' (the back-end's vhost-user socket) is required");
        return r;
    }

    private static int ParseInt(string key, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw Invalid($"bad {key} '{value}' (expected {min}..{max})");
        return v;
    }

    private static VdpaException Invalid(string message) => new(Errno.EINVAL, $"{VhostUserFrontendManagementDevice.DeviceName}: {message}");
}
