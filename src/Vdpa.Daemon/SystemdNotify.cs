using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// sd_notify: datagrams to $NOTIFY_SOCKET (a path, or the abstract namespace when it starts with '@'), through
/// <see cref="SystemdNotifier"/>. Unlike <c>UseSystemd()</c>, this notifies whenever NOTIFY_SOCKET is set, whoever
/// the parent is (Type=notify units, tests with a fake socket). A failed notification is logged, never fatal.
/// </summary>
internal sealed class SystemdNotify(ILogger<SystemdNotify> logger)
{
    private readonly SystemdNotifier _notifier = new(); // reads NOTIFY_SOCKET now

    /// <summary>True when NOTIFY_SOCKET is set.</summary>
    public bool IsEnabled => _notifier.IsEnabled;

    /// <summary>READY=1 plus a STATUS line, in one datagram.</summary>
    public void Ready(string status) => Send($"READY=1\nSTATUS={status}");

    /// <summary>STOPPING=1 plus a STATUS line.</summary>
    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={status}");

    private void Send(string state)
    {
        if (!_notifier.IsEnabled) return;
        try
        {
            _notifier.Notify(new ServiceState(state));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
        {
            Log.NotifyFailed(logger, state.Replace('\n', ' '), e.Message);
        }
    }
}
