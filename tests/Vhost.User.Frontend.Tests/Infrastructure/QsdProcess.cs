using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;

/// <summary>
/// qemu-storage-daemon exporting one raw image as vhost-user-blk on a Unix socket. Ready when its --pidfile exists:
/// qsd writes it after the exports were created and before accepting connections (qemu-storage-daemon(1)).
/// Disposing stops it with SIGTERM (SIGKILL if it lingers).
/// </summary>
internal sealed class QsdProcess : IDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private QsdProcess(Process process, string socketPath, string pidFile)
    {
        _process = process;
        SocketPath = socketPath;
        PidFile = pidFile;
    }

    /// <summary>Path of qemu-storage-daemon, or null when it is not installed (Debian: package qemu-system-common, pulled in by qemu-system-x86).</summary>
    public static string? Executable { get; } = FindOnPath("qemu-storage-daemon");

    /// <summary>Skip reason when qsd cannot be used here, else null.</summary>
    public static string? SkipReason => Executable is null
        ? "SKIPPED: qemu-storage-daemon is not installed (apt-get install qemu-system-x86, which pulls in qemu-system-common)"
        : null;

    public string SocketPath { get; }
    public string PidFile { get; }
    public bool HasExited => _process.HasExited;

    /// <summary>Everything qsd printed so far.</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Starts qsd serving <paramref name="image"/> and waits until it is ready.</summary>
    public static QsdProcess Start(string image, string directory, string blockdevExtra = "")
    {
        string socket = Path.Combine(directory, "qsd.sock");
        string pid = Path.Combine(directory, "qsd.pid");
        var psi = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("qemu-storage-daemon is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])[
            "--blockdev", $"driver=file,node-name=f0,filename={image}{blockdevExtra}",
            "--export", $"type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path={socket},writable=on",
            "--pidfile", pid])
            psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var q = new QsdProcess(p, socket, pid);
        p.OutputDataReceived += (_, e) => q.Append("out", e.Data);
        p.ErrorDataReceived += (_, e) => q.Append("err", e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            q.WaitReady();
        }
        catch
        {
            q.Dispose();
            throw;
        }
        return q;
    }

    private void Append(string stream, string? line)
    {
        if (line is null) return;
        lock (_log) _log.Append(stream).Append(": ").AppendLine(line);
    }

    private void WaitReady()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // drain the output
                throw new InvalidOperationException($"qemu-storage-daemon exited with {_process.ExitCode} before it was ready; its output:\n{Log}");
            }
            if (File.Exists(PidFile) && int.TryParse(SafeRead(PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0)
                return;
            // Polling interval, not a readiness guess: the loop ends when the (fresh directory's) pid file holds a pid.
            Thread.Sleep(10);
        }
        throw new TimeoutException($"qemu-storage-daemon wrote no pid file within {StartTimeout}; its output:\n{Log}");
    }

    private static string SafeRead(string path)
    {
        try { return File.ReadAllText(path); } catch (IOException) { return ""; }
    }

    /// <summary>SIGTERM and wait for the exit (qsd then has closed the image). Returns the exit code.</summary>
    public int Stop()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false }))
                kill?.WaitForExit();
            if (!_process.WaitForExit(30_000)) _process.Kill(entireProcessTree: true);
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try { Stop(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }
}

/// <summary>A test that needs qemu-storage-daemon; skipped with the reason when it is missing.</summary>
internal sealed class QsdFactAttribute : FactAttribute
{
    public QsdFactAttribute()
    {
        if (QsdProcess.SkipReason is string why) Skip = why;
    }
}
