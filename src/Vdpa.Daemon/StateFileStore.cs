using Uvdpa.Virtio.Platform.Linux;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Uvdpa.Vdpa.Management;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>The state file's JSON document: <c>{"version":1,"devices":[…]}</c>, devices in bus order.</summary>
internal sealed class StateFileDocument
{
    /// <summary>The one format this daemon reads and writes.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; set; } = CurrentVersion;

    public List<DeviceDefinition> Devices { get; set; } = [];
}

/// <summary>
/// The opt-in state file (<c>--state-file</c>): an <see cref="IDeviceStore"/> that rewrites the whole versioned
/// document after every change, atomically (write a temp file in the same directory, fsync it, rename it over the
/// file, fsync the directory), so a crash leaves either the old or the new file, never a torn one. A file of an
/// unknown version or one that does not parse is never overwritten: loading refuses with a message naming it.
/// A lock file (<c>FILE.lock</c>, flock) keeps a second daemon off the same state file.
/// </summary>
internal sealed class StateFileStore : IDeviceStore, IDisposable
{
    private readonly object _lock = new();
    private readonly List<DeviceDefinition> _devices = [];
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly string _tempPath;
    private FileStream? _lockFile;
    private bool _dirty;

    private StateFileStore(string path, ILogger logger)
    {
        Path = path;
        _logger = logger;
        _directory = System.IO.Path.GetDirectoryName(path) ?? "/";
        _tempPath = TempPathFor(path);
    }

    /// <summary>The state file.</summary>
    public string Path { get; }

    /// <summary>The definitions in file order (a snapshot).</summary>
    public IReadOnlyList<DeviceDefinition> Devices { get { lock (_lock) return [.. _devices]; } }

    /// <summary>The temp file a write goes through (".NAME.tmp" next to the file).</summary>
    internal static string TempPathFor(string path)
        => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "/", "." + System.IO.Path.GetFileName(path) + ".tmp");

    /// <summary>
    /// Opens the state file: takes the lock, removes a temp file left by an interrupted write (the real file is intact
    /// by construction), reads the definitions. A missing file is created empty. Throws
    /// <see cref="DaemonStartupException"/> with a message naming the file when it cannot be used.
    /// </summary>
    public static StateFileStore Open(string path, ILogger logger)
    {
        var store = new StateFileStore(path, logger);
        try
        {
            store.Load();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private void Load()
    {
        try
        {
            Directory.CreateDirectory(_directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"cannot create the directory of state file {Path}: {e.Message}", e);
        }
        string lockPath = Path + ".lock";
        try
        {
            _lockFile = new FileStream(lockPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None, // .NET takes flock(LOCK_EX | LOCK_NB) for FileShare.None on Unix
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DaemonStartupException($"cannot use state file {Path}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new DaemonStartupException($"state file {Path} is in use by another vdpad, or its lock file {lockPath} cannot be opened: {e.Message}", e);
        }

        if (File.Exists(_tempPath))
        {
            Log.StaleTempFile(_logger, _tempPath);
            File.Delete(_tempPath);
        }

        if (!File.Exists(Path))
        {
            Log.StateFileCreated(_logger, Path);
            Write([]);
            return;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"cannot read state file {Path}: {e.Message}", e);
        }
        _devices.AddRange(Parse(bytes, Path));
    }

    /// <summary>Parses a state document; <see cref="DaemonStartupException"/> naming <paramref name="path"/> when it is not one we understand.</summary>
    internal static List<DeviceDefinition> Parse(ReadOnlySpan<byte> bytes, string path)
    {
        const string Advice = "vdpad refuses to start and leaves the file untouched; repair it, move it away, or start without --state-file";
        int version;
        try
        {
            using var doc = JsonDocument.Parse(bytes.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("version", out JsonElement v) || !v.TryGetInt32(out version))
                throw new DaemonStartupException($"state file {path} is corrupt: no \"version\" number at the top level; {Advice}");
        }
        catch (JsonException e)
        {
            throw new DaemonStartupException($"state file {path} is corrupt: {e.Message}; {Advice}", e);
        }
        if (version != StateFileDocument.CurrentVersion)
            throw new DaemonStartupException($"state file {path} has version {version}, this vdpad understands version {StateFileDocument.CurrentVersion}; {Advice}");

        StateFileDocument document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, DaemonJsonContext.Default.StateFileDocument)
                ?? throw new JsonException("the document is null");
        }
        catch (JsonException e)
        {
            throw new DaemonStartupException($"state file {path} is corrupt: {e.Message}; {Advice}", e);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        var devices = new List<DeviceDefinition>(document.Devices.Count);
        foreach (DeviceDefinition? d in document.Devices)
        {
            if (d is null) throw new DaemonStartupException($"state file {path} is corrupt: a null device entry; {Advice}");
            if (!names.Add(d.Name)) throw new DaemonStartupException($"state file {path} is corrupt: device '{d.Name}' appears twice; {Advice}");
            // The serializer sets absent init-only members to null, not to their initialisers: restore the empty maps.
            devices.Add(d with
            {
                Options = d.Options ?? new Dictionary<string, string>(),
                DriverOptions = d.DriverOptions ?? new Dictionary<string, string>(),
            });
        }
        return devices;
    }

    /// <inheritdoc />
    public void Put(DeviceDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        lock (_lock)
        {
            int i = _devices.FindIndex(d => d.Name == definition.Name);
            if (i >= 0) _devices[i] = definition;
            else _devices.Add(definition);
            TryWriteUnsynchronized();
        }
    }

    /// <inheritdoc />
    public void Remove(string name)
    {
        lock (_lock)
        {
            if (_devices.RemoveAll(d => d.Name == name) == 0 && !_dirty) return;
            TryWriteUnsynchronized();
        }
    }

    /// <summary>Writes the file again if an earlier write failed. Returns true when the file is current.</summary>
    public bool Flush()
    {
        lock (_lock) return !_dirty || TryWriteUnsynchronized();
    }

    private bool TryWriteUnsynchronized()
    {
        try
        {
            Write(_devices);
            if (_dirty) Log.StateFileRecovered(_logger, Path);
            _dirty = false;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The change is live on the bus and kept in memory; the next change (or shutdown) writes everything again.
            _dirty = true;
            Log.StateFileWriteFailed(_logger, Path, e.Message);
            return false;
        }
    }

    private void Write(List<DeviceDefinition> devices)
    {
        var document = new StateFileDocument { Devices = devices };
        using (var fs = new FileStream(_tempPath, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(fs, document, DaemonJsonContext.Default.StateFileDocument);
            fs.WriteByte((byte)'\n');
            fs.Flush(flushToDisk: true); // fsync the data before the rename makes it the file
        }
        File.Move(_tempPath, Path, overwrite: true); // rename(2): atomic replacement
        UnixFile.SyncDirectory(_directory);          // make the rename itself durable
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lockFile?.Dispose();
        _lockFile = null;
    }
}
