using System.Collections.Concurrent;
using System.Text;
using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Backend;

/// <summary>
/// The <c>vhost_vdpa</c> bus driver of uvdpa: where the kernel's vhost_vdpa turns a vDPA device into
/// /dev/vhost-vdpa-N, this one serves it as a vhost-user back-end on <c>&lt;dir&gt;/&lt;device name&gt;.sock</c>
/// (server mode; options in <see cref="VhostUserDriverOptions"/>), recorded as <c>DeviceExposure("vhost-user", path)</c>.
/// </summary>
/// <remarks>
/// One front-end at a time: a second concurrent connection is closed at once. A connection whose peer is neither
/// root, the daemon's own uid, nor an allowed uid is closed at once. A protocol error closes that connection only;
/// the device is reset and the next front-end is accepted. Remove closes the listener and any connection, unlinks the
/// socket and leaves the device reset.
/// </remarks>
public sealed class VhostUserBusDriver : IVdpaBusDriver
{
    /// <summary>Driver name used by driver_override.</summary>
    public const string DriverName = "vhost_vdpa";

    /// <summary>Exposure kind recorded on bound devices.</summary>
    public const string ExposureKind = "vhost-user";

    private readonly ConcurrentDictionary<VdpaDevice, Binding> _bindings = new();
    private readonly string? _defaultDirectory;

    /// <summary>Creates the driver; <paramref name="defaultDirectory"/> (absolute) replaces <see cref="VhostUserDriverOptions.DefaultDirectory"/> for devices bound without a vhost-user-dir option (vdpad's --vhost-user-dir).</summary>
    public VhostUserBusDriver(string? defaultDirectory = null)
    {
        if (defaultDirectory is not null && !Path.IsPathRooted(defaultDirectory))
            throw new ArgumentException("the vhost-user socket directory must be an absolute path", nameof(defaultDirectory));
        _defaultDirectory = defaultDirectory;
    }

    /// <inheritdoc />
    public string Name => DriverName;

    /// <summary>Raised when a session ends (device, error or null for a clean disconnect). For logging and tests.</summary>
    public event Action<VdpaDevice, Exception?>? SessionEnded;

    /// <summary>Raised when a connection is refused (device, reason).</summary>
    public event Action<VdpaDevice, string>? ConnectionRefused;

    /// <summary>The socket path a device would get.</summary>
    public static string SocketPath(string directory, string deviceName) => Path.Combine(directory, deviceName + ".sock");

    /// <inheritdoc />
    public void Probe(VdpaDevice device, BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        var opts = VhostUserDriverOptions.Parse(options, _defaultDirectory);
        string path = SocketPath(opts.Directory, device.Name);
        if (Encoding.UTF8.GetByteCount(path) > UnixStreamListener.MaxPathBytes)
            throw new VdpaException(Errno.EINVAL, detail: $"vhost_vdpa: socket path '{path}' is longer than {UnixStreamListener.MaxPathBytes} bytes (sun_path)");
        if (device.DeviceId == 0) throw new VdpaException(Errno.EINVAL, detail: "vhost_vdpa: device id 0");
        if (opts.BusyPoll && !device.Ops.Supports(VdpaOptionalOps.Polling))
            throw new VdpaException(Errno.EOPNOTSUPP, detail: $"vhost_vdpa: {device.Name} cannot poll its rings ({VhostUserDriverOptions.PollKey}=1)");

        UnixStreamListener listener;
        try
        {
            Directory.CreateDirectory(opts.Directory);
            RemoveStaleSocket(path);
            listener = UnixStreamListener.Bind(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VdpaException(e is PlatformException p ? p.Errno : Errno.EIO, detail: $"vhost_vdpa: cannot listen on '{path}': {e.Message}");
        }
        try
        {
            File.SetUnixFileMode(path, opts.Mode);
            if (opts.GroupId is { } gid) UnixFile.ChangeGroup(path, gid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            File.Delete(path);
            throw new VdpaException(Errno.EPERM, detail: $"vhost_vdpa: cannot set owner or mode of '{path}': {e.Message}");
        }

        var binding = new Binding(this, device, new VhostUserBackend(device, opts.BusyPoll), listener, opts);
        if (!_bindings.TryAdd(device, binding))
        {
            binding.Close();
            throw new VdpaException(Errno.EBUSY, detail: $"vhost_vdpa: {device.Name} is already bound");
        }
        device.AddExposure(new DeviceExposure(ExposureKind, path) { Handle = binding.Backend });
        binding.Start();
    }

    /// <inheritdoc />
    public void Remove(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (_bindings.TryRemove(device, out var binding)) binding.Close();
        device.Reset(VdpaDevice.ResetCleanMap);
        device.ClearExposures();
    }

    private static void RemoveStaleSocket(string path)
    {
        if (!UnixFile.TryGetStatus(path, out var status)) return;
        if (!status.IsSocket) throw new VdpaException(Errno.EEXIST, detail: $"vhost_vdpa: '{path}' exists and is not a socket");
        try
        {
            using var probe = UnixStreamSocket.Connect(path);
        }
        catch (PlatformException)
        {
            File.Delete(path); // nobody listens: a stale socket from an earlier run
            return;
        }
        throw new VdpaException(Errno.EBUSY, detail: $"vhost_vdpa: '{path}' is in use by another server");
    }

    private sealed class Binding
    {
        private readonly VhostUserBusDriver _driver;
        private readonly VdpaDevice _device;
        private readonly UnixStreamListener _listener;
        private readonly VhostUserDriverOptions _options;
        /// <summary>How long a new connection waits for the session of a hung-up one to end (a device reset).</summary>
        private static readonly TimeSpan SessionDrainTimeout = TimeSpan.FromSeconds(10);

        private readonly Lock _lock = new();
        private readonly uint _ownUid = ProcessIdentity.EffectiveUserId;
        private Task? _acceptLoop;
        private VhostUserConnection? _active;
        private Task? _session;
        private bool _closed;

        public Binding(VhostUserBusDriver driver, VdpaDevice device, VhostUserBackend backend, UnixStreamListener listener, VhostUserDriverOptions options)
        {
            _driver = driver;
            _device = device;
            Backend = backend;
            _listener = listener;
            _options = options;
        }

        public VhostUserBackend Backend { get; }

        public void Start() => _acceptLoop = Task.Factory.StartNew(AcceptLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        private void AcceptLoop()
        {
            while (true)
            {
                UnixStreamSocket? socket;
                try
                {
                    socket = _listener.Accept();
                }
                catch (PlatformException)
                {
                    return;
                }
                if (socket is null) return;
                string? refusal = CheckPeer(socket);
                if (refusal is null) WaitForHungUpSession();
                lock (_lock)
                {
                    if (refusal is null && (_closed || _active is not null)) refusal = _closed ? "driver removed" : "another front-end is connected";
                    if (refusal is null)
                    {
                        var connection = new VhostUserConnection(socket);
                        _active = connection;
                        _session = Task.Factory.StartNew(() => Serve(connection), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                        continue;
                    }
                }
                socket.Dispose();
                _driver.ConnectionRefused?.Invoke(_device, refusal);
            }
        }

        /// <summary>
        /// A front-end that reconnects at once (QEMU 7.2 retrying vhost-user-blk realize, <c>reconnect=</c>) can be
        /// accepted before the session of its previous connection has seen end of stream and reset the device; when
        /// the active connection's peer is gone, let that session finish instead of refusing the newcomer.
        /// </summary>
        private void WaitForHungUpSession()
        {
            Task? previous;
            lock (_lock) previous = _active is { } active && active.Socket.IsPeerGone() ? _session : null;
            if (previous is not null) Task.WaitAny([previous], SessionDrainTimeout);
        }

        private string? CheckPeer(UnixStreamSocket socket)
        {
            try
            {
                uint uid = socket.GetPeerCredentials().UserId;
                return uid == 0 || uid == _ownUid || _options.AllowedUserIds.Contains(uid) ? null : $"uid {uid} is not allowed";
            }
            catch (PlatformException e)
            {
                return e.Message;
            }
        }

        private void Serve(VhostUserConnection connection)
        {
            Exception? error;
            try
            {
                error = Backend.RunSession(connection);
            }
#pragma warning disable CA1031 // a device op failing must end this session, not the daemon
            catch (Exception e)
#pragma warning restore CA1031
            {
                error = e;
                try { _device.Reset(VdpaDevice.ResetCleanMap); } catch (VdpaException) { }
            }
            lock (_lock) _active = null;
            connection.Dispose();
            _driver.SessionEnded?.Invoke(_device, error);
        }

        public void Close()
        {
            Task? session;
            lock (_lock)
            {
                _closed = true;
                _active?.Shutdown();
                session = _session;
            }
            _listener.Stop();
            _acceptLoop?.Wait();
            session?.Wait();
            _listener.Dispose();
            try { File.Delete(_listener.Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
