using System.Text;
using System.Text.Json;
using Uvdpa.Interop.Tests;
using Xunit.Abstractions;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// One test's world: a temporary folder, a vdpad child process serving devices with the vhost_vdpa (vhost-user)
/// driver on sockets in that folder, our <c>vdpa</c> CLI against it, and guests booted on those sockets. Every
/// failure message carries the guest's console, QEMU's stderr and the daemon's log.
/// </summary>
internal sealed class GuestTestBed : IDisposable
{
    /// <summary>Hard limit for one guest (boot, scenario, power-off); the boot alone takes ~6 s here.</summary>
    public static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);

    private readonly ITestOutputHelper _output;
    private readonly List<QemuGuest> _guests = [];
    private string[] _daemonArgs = [];

    private GuestTestBed(ITestOutputHelper output, string directory, GuestKernel kernel)
    {
        _output = output;
        Directory = directory;
        Kernel = kernel;
        VhostUserDirectory = Path.Combine(directory, "vu");
    }

    public string Directory { get; }

    public string VhostUserDirectory { get; }

    public GuestKernel Kernel { get; }

    public VdpadProcess? Daemon { get; private set; }

    /// <summary>
    /// Makes the folder and starts vdpad with vhost_vdpa as its only bus driver; with <paramref name="stateFile"/> it
    /// keeps its devices in <c>state.json</c> in the folder, so a restarted vdpad re-creates them.
    /// </summary>
    public static async Task<GuestTestBed> StartAsync(ITestOutputHelper output, bool stateFile = false)
    {
        GuestKernel kernel = GuestEnvironment.Kernel ?? throw new InvalidOperationException(GuestEnvironment.MissingReason);
        string dir = System.IO.Directory.CreateTempSubdirectory("uvdpa-guest-").FullName;
        var bed = new GuestTestBed(output, dir, kernel);
        if (stateFile) bed._daemonArgs = ["--state-file", Path.Combine(dir, "state.json")];
        try
        {
            await bed.StartDaemonAsync();
        }
        catch
        {
            bed.Dispose();
            throw;
        }
        return bed;
    }

    /// <summary>Starts (or restarts, after <see cref="StopDaemon"/>) vdpad with the same options.</summary>
    public async Task StartDaemonAsync()
    {
        if (Daemon is not null) throw new InvalidOperationException("vdpad is already running");
        Daemon = await VdpadProcess.StartAsync(["--drivers", "vhost_vdpa", "--vhost-user-dir", VhostUserDirectory, .. _daemonArgs]);
    }

    /// <summary>Stops vdpad (SIGTERM) and keeps its log in the test output.</summary>
    public void StopDaemon()
    {
        if (Daemon is null) return;
        _output.WriteLine("--- vdpad log (stopped) ---\n" + Daemon.Log);
        Daemon.Dispose();
        Daemon = null;
    }

    /// <summary>Runs our CLI against vdpad; fails the test on a non-zero exit.</summary>
    public async Task<string> VdpaAsync(params string[] args)
    {
        if (Daemon is null) throw new InvalidOperationException("vdpad is not running");
        ProcessResult r = await ProcessRunner.RunAsync("dotnet", [TestEnvironment.CliDll, .. args],
            new Dictionary<string, string?> { ["UVDPA_SOCKET"] = Daemon.SocketPath }, CliTimeout);
        _output.WriteLine($"$ vdpa {string.Join(' ', args)}\n{r.StdoutText}{r.StderrText}");
        if (r.Exit != 0) Assert.Fail($"vdpa {string.Join(' ', args)} failed: {r}\n{DaemonLog()}");
        return r.StdoutText;
    }

    /// <summary>
    /// A zero-filled raw image of <paramref name="capacity"/> bytes in the bed's directory and a file-backed vdpasim_blk
    /// device <paramref name="device"/> on it; returns the image's path.
    /// </summary>
    public async Task<string> AddFileBackedBlkAsync(string device, long capacity)
    {
        string image = Path.Combine(Directory, "disk.raw");
        await using (var f = File.Create(image)) f.SetLength(capacity);
        await VdpaAsync("uvdpa", "dev", "add", "name", device, "mgmtdev", "vdpasim_blk", "opt", "file=" + image);
        return image;
    }

    /// <summary>The device's vhost-user socket, checked to exist (device add returns after the driver's probe bound it).</summary>
    public string SocketOf(string device)
    {
        string path = Path.Combine(VhostUserDirectory, device + ".sock");
        if (!File.Exists(path) || (File.GetAttributes(path) & FileAttributes.Directory) != 0)
            Assert.Fail($"no vhost-user socket {path} after adding {device}\n{DaemonLog()}");
        return path;
    }

    /// <summary>The device's counters as <c>vdpa -j uvdpa dev counters DEV</c> reports them: queue index → name → value.</summary>
    public async Task<Dictionary<int, Dictionary<string, long>>> CountersAsync(string device)
    {
        string json = await VdpaAsync("-j", "uvdpa", "dev", "counters", device);
        using var doc = JsonDocument.Parse(json);
        var result = new Dictionary<int, Dictionary<string, long>>();
        foreach (JsonElement q in doc.RootElement.GetProperty("counters").GetProperty(device).GetProperty("queues").EnumerateArray())
        {
            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (JsonProperty p in q.EnumerateObject())
            {
                if (p.Name != "index" && p.Value.ValueKind == JsonValueKind.Number) values[p.Name] = p.Value.GetInt64();
            }
            result[q.GetProperty("index").GetInt32()] = values;
        }
        return result;
    }

    /// <summary>
    /// Boots a guest with <paramref name="initramfs"/> running <paramref name="scenario"/> and QEMU
    /// <paramref name="deviceArguments"/>, waits for it to power off and returns its console. Fails with the full report
    /// when the guest times out or does not reach the end of its scenario.
    /// </summary>
    public async Task<GuestConsole> BootAsync(GuestInitramfs initramfs, string scenario, IEnumerable<string> deviceArguments, Func<QemuGuest, Task>? whileRunning = null)
    {
        string initrd = Path.Combine(Directory, $"initrd-{_guests.Count}.cpio");
        await initramfs.WriteAsync(initrd, scenario);
        QemuGuest guest = QemuGuest.Start(Kernel, initrd, deviceArguments);
        _guests.Add(guest);
        _output.WriteLine("$ " + guest.CommandLine);
        if (whileRunning is not null)
        {
            try
            {
                await whileRunning(guest);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                await guest.WaitForExitAsync(TimeSpan.Zero);
                Assert.Fail($"while the guest ran: {e}\n{Report(guest)}");
            }
        }
        bool exited = await guest.WaitForExitAsync(GuestTimeout);
        var console = GuestConsole.Parse(guest.Console);
        _output.WriteLine("--- guest console ---\n" + guest.Console);
        if (!exited) Assert.Fail($"the guest did not power off within {GuestTimeout}; QEMU was killed.\n{Report(guest)}");
        if (!console.Ended) Assert.Fail($"the guest's scenario did not reach its end ({GuestConsole.EndMarker}).\n{Report(guest)}");
        if (console.OfKind("insmod-failed").Any()) Assert.Fail($"modules failed to load in the guest.\n{Report(guest)}");
        return console;
    }

    /// <summary>The guest's and the daemon's side of things, for a failure message.</summary>
    public string Report(QemuGuest guest) => guest.Report() + "\n" + DaemonLog();

    /// <summary>The last guest's report (for assertions after <see cref="BootAsync"/>).</summary>
    public string LastReport() => _guests.Count == 0 ? DaemonLog() : Report(_guests[^1]);

    private string DaemonLog() => "--- vdpad log ---\n" + (Daemon?.Log ?? "(vdpad not running)");

    public void Dispose()
    {
        foreach (var g in _guests) g.Dispose();
        if (Daemon is not null)
        {
            _output.WriteLine(DaemonLog());
            Daemon.Dispose();
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Guest-side helpers from helpers/*.c, compiled once per test run with <c>gcc -static -O2</c>.</summary>
internal static class GuestHelpers
{
    private static readonly SemaphoreSlim s_lock = new(1, 1);
    private static readonly Dictionary<string, byte[]> s_built = new(StringComparer.Ordinal);

    public static async Task<byte[]> BuildAsync(string name)
    {
        await s_lock.WaitAsync();
        try
        {
            if (s_built.TryGetValue(name, out byte[]? cached)) return cached;
            string source = Path.Combine(AppContext.BaseDirectory, "helpers", name + ".c");
            string dir = System.IO.Directory.CreateTempSubdirectory("uvdpa-guest-helper-").FullName;
            try
            {
                string binary = Path.Combine(dir, name);
                ProcessResult r = await ProcessRunner.RunAsync("gcc", ["-static", "-O2", "-Wall", "-Werror", "-o", binary, source], null, TimeSpan.FromMinutes(2));
                if (r.Exit != 0) Assert.Fail($"gcc -static {source} failed:\n{r}");
                byte[] bytes = await File.ReadAllBytesAsync(binary);
                s_built[name] = bytes;
                return bytes;
            }
            finally
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }
        }
        finally
        {
            s_lock.Release();
        }
    }
}
