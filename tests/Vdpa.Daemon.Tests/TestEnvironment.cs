using System.Diagnostics;
using System.Text;
using Uvdpa.Tests.Shared;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>Where things are: the repository, the built daemon, the test assembly (which doubles as the probe client).</summary>
internal static class TestEnvironment
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Debug or Release: whatever this test assembly was built as (the daemon is built alongside).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;

    public static string DaemonDll { get; } = Path.Combine(RepositoryRoot, "src", "Vdpa.Daemon", "bin", Configuration, "net10.0", "vdpad.dll");

    public static string Launcher { get; } = Path.Combine(RepositoryRoot, "bin", "vdpad");

    public static string TestAssembly { get; } = typeof(TestEnvironment).Assembly.Location;

    public static bool IsRoot => GetUid() == 0;

    private static uint GetUid()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal)) return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return uint.MaxValue;
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "uvdpa.slnx"))) return d.FullName;
        }
        throw new InvalidOperationException($"no uvdpa.slnx above {AppContext.BaseDirectory}");
    }
}

/// <summary>A child process with its output collected line by line (printed by tests on failure).</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChildProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Append("out: ").AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Append("err: ").AppendLine(e.Data); };
    }

    public int Id => _process.Id;

    public string Output { get { lock (_output) return _output.ToString(); } }

    public bool HasExited => _process.HasExited;

    public static ChildProcess Start(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = ChildProcessStart.Create(fileName, args, environment, "NOTIFY_SOCKET", "UVDPA_SOCKET");
        var p = new Process { StartInfo = psi };
        var child = new ChildProcess(p);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>); returns the exit code.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout)
    {
        using var c = Start(fileName, args, environment);
        int code = await c.WaitForExitAsync(timeout);
        return (code, c.Output);
    }

    /// <summary>Waits for exit; kills the process and fails after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{_process.StartInfo.FileName} did not exit within {timeout}; output:\n{Output}");
        }
        _process.WaitForExit(); // drain the redirected output
        return _process.ExitCode;
    }

    /// <summary>kill -SIGNAL pid (.NET has no managed way to send SIGTERM).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {Id} failed");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
