using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Uvdpa.Tests.Shared;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// A real vdpad (<c>dotnet vdpad.dll</c>) as a child process on a socket in its own temporary folder, configured like
/// the 6.12 VM: management devices vdpasim_net and vdpasim_blk (in that order), the default bus drivers. Disposing
/// stops it with SIGTERM (SIGKILL if it does not exit) and removes the folder.
/// </summary>
internal sealed class VdpadProcess : IDisposable
{
    /// <summary>Generous: a loaded 2-core machine can take seconds to start a .NET process.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The VM's vdpasim parents, in the VM's order (its third, vduse, has no vdpad counterpart).</summary>
    public static readonly string[] VmManagementDevices = ["vdpasim_net", "vdpasim_blk"];

    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _directory;

    private VdpadProcess(Process process, string directory, string socketPath)
    {
        _process = process;
        _directory = directory;
        SocketPath = socketPath;
    }

    public string SocketPath { get; }

    public int ProcessId => _process.Id;

    /// <summary>What the daemon logged so far (stdout and stderr, interleaved by line).</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Starts vdpad and returns once its socket accepts a connection.</summary>
    public static async Task<VdpadProcess> StartAsync(params string[] extraArgs)
    {
        string dir = Directory.CreateTempSubdirectory("uvdpa-interop-").FullName;
        string socket = Path.Combine(dir, "vdpad.sock");
        var psi = ChildProcessStart.Create("dotnet",
            [TestEnvironment.DaemonDll, "--socket", socket, "--mgmtdev", string.Join(',', VmManagementDevices), .. extraArgs],
            null, "NOTIFY_SOCKET", "UVDPA_SOCKET");
        var p = new Process { StartInfo = psi };
        var d = new VdpadProcess(p, dir, socket);
        p.OutputDataReceived += (_, e) => d.Append("out", e.Data);
        p.ErrorDataReceived += (_, e) => d.Append("err", e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            await d.WaitUntilAcceptingAsync();
        }
        catch
        {
            d.Dispose();
            throw;
        }
        return d;
    }

    private void Append(string stream, string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            if (_log.Length < 1 << 20) _log.Append(stream).Append(": ").AppendLine(line); // keep the start of a chatty log
        }
    }

    private async Task WaitUntilAcceptingAsync()
    {
        var deadline = Stopwatch.StartNew();
        int attempts = 0;
        string last = "no attempt yet";
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"vdpad exited with {_process.ExitCode} before accepting on {SocketPath}; its output:\n{Log}");
            attempts++;
            if (File.Exists(SocketPath))
            {
                using var probe = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
                try
                {
                    probe.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    return;
                }
                catch (SocketException e)
                {
                    last = e.SocketErrorCode.ToString(); // ECONNREFUSED: bound, not yet listening
                }
            }
            else
            {
                last = "socket file not there yet";
            }
            // Polling interval, not a readiness guess: the loop ends on the first accepted connect.
            await Task.Delay(20);
        }
        throw new TimeoutException($"vdpad did not accept on {SocketPath} within {StartTimeout} ({attempts} attempts, last: {last}); its output:\n{Log}");
    }

    /// <summary>Resident set size (VmRSS, KiB) and thread count from /proc/PID/status.</summary>
    public (long RssKiB, int Threads) ReadStatus()
    {
        long rss = -1;
        int threads = -1;
        foreach (string line in File.ReadLines($"/proc/{ProcessId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
        }
        return (rss, threads);
    }

    /// <summary>
    /// Stops vdpad as an administrator would (SIGTERM; SIGKILL after 60 s) and returns its exit code, or null when
    /// it had to be killed or was not running.
    /// </summary>
    public int? Terminate()
    {
        try
        {
            if (!_process.HasExited)
            {
                using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false }))
                    kill?.WaitForExit();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(60)))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit();
                    return null;
                }
            }
            _process.WaitForExit();
            return _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        Terminate();
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
