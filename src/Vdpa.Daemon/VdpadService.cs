using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Management;
using Uvdpa.Vdpa.Nbd;
using Uvdpa.Vhost.User.Backend;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// vdpad's life cycle. Start: register management devices and drivers in the configured order, claim and bind the
/// socket, re-create the state file's devices, listen, READY=1. Stop: STOPPING=1, stop accepting and close
/// connections, delete every device (each is unbound first), unregister drivers and parents, unlink the socket.
/// Devices deleted at shutdown stay in the state file: they come back at the next start.
/// </summary>
internal sealed class VdpadService : IHostedService, IAsyncDisposable
{
    private readonly DaemonOptions _options;
    private readonly VdpaBus _bus;
    private readonly SystemdNotify _notify;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<VdpaManagementDevice> _managementDevices = [];
    private readonly List<IVdpaBusDriver> _drivers = [];
    private ManagementSocketServer? _server;
    private StateFileStore? _store;
    private int _stopped;

    public VdpadService(DaemonOptions options, VdpaBus bus, SystemdNotify notify, ILoggerFactory loggerFactory)
    {
        _options = options;
        _bus = bus;
        _notify = notify;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("vdpad");
    }

    /// <summary>The management socket server (null before start).</summary>
    internal ManagementSocketServer? Server => _server;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            Start();
        }
        catch
        {
            // The host does not stop a service whose start failed: undo what was done (socket file, devices, lock).
            Teardown();
            throw;
        }
        return Task.CompletedTask;
    }

    /// <summary>vhost-user sessions leave a trace: why one ended, why a connection was refused.</summary>
    private void LogSessions(VhostUserBusDriver driver)
    {
        var logger = _loggerFactory.CreateLogger("vdpad.vhost-user");
        driver.SessionEnded += (device, error) =>
        {
            if (error is null) Log.VhostUserSessionEnded(logger, device.Name);
            else Log.VhostUserSessionFailed(logger, device.Name, error.Message);
        };
        driver.ConnectionRefused += (device, reason) => Log.VhostUserConnectionRefused(logger, device.Name, reason);
    }

    private void Start()
    {
        uint? socketGroup = null;
        if (_options.SocketGroup is not null) socketGroup = ResolveGroup(_options.SocketGroup);
        uint[] adminGroups = [.. _options.AdminGroups.Select(ResolveGroup)];

        // Kconfig and module load order: parents first, then drivers in probe order.
        foreach (string name in _options.ManagementDevices)
        {
            var m = BusModules.CreateManagementDevice(name, _options);
            _bus.RegisterManagementDevice(m);
            _managementDevices.Add(m);
        }
        foreach (string name in _options.Drivers)
        {
            var d = BusModules.CreateDriver(name, _options);
            if (d is VhostUserBusDriver vhostUser) LogSessions(vhostUser);
            if (d is NbdVirtioDriver nbd)
            {
                var nbdLogger = _loggerFactory.CreateLogger("vdpad.nbd");
                nbd.TeardownProblem += (device, path, problem) => Log.NbdTeardownProblem(nbdLogger, device.Name, path, problem);
            }
            _bus.RegisterDriver(d);
            _drivers.Add(d);
        }

        // Claim the socket path first: a second daemon fails here, before it touches the state file. Bound but
        // not listening, clients are refused until the bus is complete.
        _server = new ManagementSocketServer(_options.SocketPath, _loggerFactory.CreateLogger("vdpad.socket"));
        _server.Bind(_options.SocketMode, socketGroup);

        if (_options.StateFile is not null)
        {
            _store = StateFileStore.Open(_options.StateFile, _loggerFactory.CreateLogger("vdpad.state"));
            Replay(_store);
        }

        _server.Start(new NetlinkService(_bus, new ManagementOptions { AdminGroups = adminGroups, Store = _store }));
        Log.Serving(_logger, _options.SocketPath, DaemonCommandLine.FormatMode(_options.SocketMode), _options.SocketGroup ?? "(daemon's)",
            DaemonCommandLine.Describe(_options.ManagementDevices), DaemonCommandLine.Describe(_options.Drivers), _options.StateFile ?? "(off)");
        _notify.Ready($"serving on {_options.SocketPath}; {_bus.Devices.Count} device(s)");
    }

    private void Replay(StateFileStore store)
    {
        IReadOnlyList<DeviceDefinition> definitions = store.Devices;
        int restored = 0;
        foreach (DeviceDefinition def in definitions)
        {
            try
            {
                DeviceFactory.Create(_bus, def);
                restored++;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Kept in the file: the user decides (fix the image path, load the driver, delete the device).
                string mgmt = def.ManagementBusName is null ? def.ManagementDeviceName : $"{def.ManagementBusName}/{def.ManagementDeviceName}";
                Log.StateDeviceFailed(_logger, def.Name, mgmt, e.Message);
            }
        }
        Log.StateRestored(_logger, store.Path, restored, definitions.Count);
    }

    private static uint ResolveGroup(string group)
        => UnixGroups.TryResolve(group, out uint gid) ? gid : throw new DaemonStartupException($"unknown group '{group}'");

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        int devices = _bus.Devices.Count;
        _notify.Stopping($"removing {devices} device(s)");
        Log.Stopping(_logger, devices);
        if (_server is not null) await _server.StopAsync().ConfigureAwait(false);
        Teardown();
        Log.Stopped(_logger);
    }

    private void Teardown()
    {
        // Newest first, like module unload; DeleteDevice unbinds the driver before the parent frees the device.
        foreach (VdpaDevice dev in _bus.Devices.Reverse())
        {
            if (dev.ManagementDevice is null) continue;
            try
            {
                _bus.DeleteDevice(dev.Name);
            }
            catch (VdpaException e)
            {
                Log.ShutdownDeleteFailed(_logger, dev.Name, e.Message);
            }
        }
        for (int i = _drivers.Count - 1; i >= 0; i--) _bus.UnregisterDriver(_drivers[i]);
        _drivers.Clear();
        for (int i = _managementDevices.Count - 1; i >= 0; i--) _bus.UnregisterManagementDevice(_managementDevices[i]);
        _managementDevices.Clear();
        _server?.UnlinkSocketFile();
        _store?.Flush();
        _store?.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync().ConfigureAwait(false);
        _store?.Dispose();
    }
}
