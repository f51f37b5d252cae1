using Microsoft.Extensions.Logging;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>vdpad's log messages (source-generated, stable event ids).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "vdpad serving on {SocketPath} (mode {Mode}, group {Group}); management devices: {ManagementDevices}; drivers: {Drivers}; state file: {StateFile}")]
    public static partial void Serving(ILogger logger, string socketPath, string mode, string group, string managementDevices, string drivers, string stateFile);

    [LoggerMessage(2, LogLevel.Information, "vdpad stopping: {Devices} device(s) to remove")]
    public static partial void Stopping(ILogger logger, int devices);

    [LoggerMessage(3, LogLevel.Information, "vdpad stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(4, LogLevel.Warning, "removing stale socket file {SocketPath} (nothing listens on it)")]
    public static partial void StaleSocketRemoved(ILogger logger, string socketPath);

    [LoggerMessage(40, LogLevel.Information, "vhost-user {Device}: the front-end disconnected; the device is reset and the next front-end may connect")]
    public static partial void VhostUserSessionEnded(ILogger logger, string device);

    [LoggerMessage(41, LogLevel.Warning, "vhost-user {Device}: session closed on error: {Reason}; the device is reset and the next front-end may connect")]
    public static partial void VhostUserSessionFailed(ILogger logger, string device, string reason);

    [LoggerMessage(42, LogLevel.Warning, "vhost-user {Device}: connection refused: {Reason}")]
    public static partial void VhostUserConnectionRefused(ILogger logger, string device, string reason);

    [LoggerMessage(43, LogLevel.Warning, "nbd {Device}: {BlockDevice} was not released cleanly: {Problem}")]
    public static partial void NbdTeardownProblem(ILogger logger, string device, string blockDevice, string problem);

    [LoggerMessage(10, LogLevel.Information, "state file {Path}: restored {Restored} of {Total} device(s)")]
    public static partial void StateRestored(ILogger logger, string path, int restored, int total);

    [LoggerMessage(11, LogLevel.Error, "state file: device '{Name}' (mgmtdev {ManagementDevice}) could not be re-created and stays in the file: {Reason}")]
    public static partial void StateDeviceFailed(ILogger logger, string name, string managementDevice, string reason);

    [LoggerMessage(12, LogLevel.Warning, "state file: removing {TempPath} left by an interrupted write (the state file itself is intact)")]
    public static partial void StaleTempFile(ILogger logger, string tempPath);

    [LoggerMessage(13, LogLevel.Information, "state file {Path} does not exist; created it empty")]
    public static partial void StateFileCreated(ILogger logger, string path);

    [LoggerMessage(14, LogLevel.Error, "state file {Path} could not be written ({Reason}); the change is live and will be written with the next one")]
    public static partial void StateFileWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(15, LogLevel.Information, "state file {Path} is current again")]
    public static partial void StateFileRecovered(ILogger logger, string path);

    [LoggerMessage(20, LogLevel.Debug, "connection {Connection} from pid {Pid} uid {Uid} gid {Gid}")]
    public static partial void ConnectionAccepted(ILogger logger, long connection, int pid, uint uid, uint gid);

    [LoggerMessage(21, LogLevel.Debug, "connection {Connection} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connection, string reason);

    [LoggerMessage(22, LogLevel.Warning, "connection {Connection} (pid {Pid}) closed: request datagram larger than {Limit} bytes")]
    public static partial void RequestTooLarge(ILogger logger, long connection, int pid, int limit);

    [LoggerMessage(23, LogLevel.Error, "connection {Connection} (pid {Pid}) closed: the request failed unexpectedly")]
    public static partial void RequestFailed(ILogger logger, Exception exception, long connection, int pid);

    [LoggerMessage(24, LogLevel.Warning, "connection {Connection} (pid {Pid}) closed: the reply to one request exceeded {Limit} bytes")]
    public static partial void ReplyTooLarge(ILogger logger, long connection, int pid, long limit);

    [LoggerMessage(25, LogLevel.Warning, "accept failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(27, LogLevel.Warning, "out of file descriptors: a new client was accepted and closed at once (it sees an error instead of waiting); delete devices or raise the descriptor limit")]
    public static partial void ClientShed(ILogger logger);

    [LoggerMessage(26, LogLevel.Warning, "connection {Connection}: cannot read peer credentials ({Reason}); closed")]
    public static partial void PeerCredentialsFailed(ILogger logger, long connection, string reason);

    [LoggerMessage(30, LogLevel.Warning, "deleting device {Name} at shutdown failed: {Reason}")]
    public static partial void ShutdownDeleteFailed(ILogger logger, string name, string reason);

    [LoggerMessage(31, LogLevel.Warning, "systemd notification '{State}' failed: {Reason}")]
    public static partial void NotifyFailed(ILogger logger, string state, string reason);
}
