using System.Diagnostics;
using System.Text;

namespace Uvdpa.Guest.Tests;

/// <summary>
/// One QEMU 7.2 guest under TCG: q35, one vCPU, guest RAM in a shared memfd (vhost-user maps it; QEMU needs
/// <c>-numa node,memdev</c> for the backend to be the guest's RAM), no default devices, serial console on stdout, the
/// given kernel, initramfs and devices; <c>-no-reboot</c> so the guest's <c>poweroff -f</c> (or a panic) ends the
/// process. <see cref="WaitForExitAsync"/> has a hard limit after which QEMU is killed.
/// </summary>
internal sealed class QemuGuest : IDisposable
{
    /// <summary>Guest RAM in MiB.</summary>
    public const int MemoryMiB = 512;

    private readonly Process _process;
    private readonly StringBuilder _console = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private QemuGuest(Process process, IReadOnlyList<string> arguments)
    {
        _process = process;
        Arguments = arguments;
    }

    /// <summary>QEMU's arguments (for reports and the notes).</summary>
    public IReadOnlyList<string> Arguments { get; }

    public string CommandLine => GuestEnvironment.Qemu + " " + string.Join(' ', Arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));

    public string Console { get { lock (_console) return _console.ToString(); } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Starts the guest with <paramref name="deviceArguments"/> (chardev/netdev/device options) and <paramref name="cpus"/> vCPUs.</summary>
    public static QemuGuest Start(GuestKernel kernel, string initrd, IEnumerable<string> deviceArguments, int cpus = 1)
    {
        List<string> args =
        [
            "-machine", "q35", "-accel", "tcg", "-smp", cpus.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", $"{MemoryMiB}M",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-object", $"memory-backend-memfd,id=mem,size={MemoryMiB}M,share=on", "-numa", "node,memdev=mem",
            .. deviceArguments,
            "-kernel", kernel.Image, "-initrd", initrd,
            // panic=-1: a kernel panic (e.g. /init exiting) reboots at once, which -no-reboot turns into an exit.
            "-append", "console=ttyS0 panic=-1 quiet",
        ];
        var psi = new ProcessStartInfo(GuestEnvironment.Qemu)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var guest = new QemuGuest(p, args);
        p.OutputDataReceived += (_, e) => guest.OnConsoleLine(e.Data);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (guest._stderr) guest._stderr.AppendLine(e.Data);
        };
        p.Exited += (_, _) => guest._exited.TrySetResult();
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return guest;
    }

    private void OnConsoleLine(string? line)
    {
        if (line is null) return;
        List<TaskCompletionSource<string>> hits = [];
        lock (_console)
        {
            _console.AppendLine(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(line)) continue;
                hits.Add(_waiters[i].Seen);
                _waiters.RemoveAt(i);
            }
        }
        foreach (var h in hits) h.TrySetResult(line);
    }

    /// <summary>Waits for a console line containing <paramref name="text"/> (already printed ones count); throws with the console on timeout or exit.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_console)
        {
            string? already = _console.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (already is not null) return already.TrimEnd('\r');
            _waiters.Add((l => l.Contains(text, StringComparison.Ordinal), seen));
        }
        Task done = await Task.WhenAny(seen.Task, _exited.Task, Task.Delay(timeout));
        if (done == seen.Task) return await seen.Task;
        // The process may have printed the line just before exiting: the output stream is drained after Exited.
        if (done == _exited.Task)
        {
            _process.WaitForExit();
            lock (_console)
            {
                string? late = _console.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
                if (late is not null) return late.TrimEnd('\r');
            }
        }
        throw new TimeoutException($"the guest did not print '{text}' ({(done == _exited.Task ? "QEMU exited" : $"waited {timeout}")})");
    }

    /// <summary>Types <paramref name="text"/> on the guest's serial console (QEMU's stdin).</summary>
    public void SendConsoleInput(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for QEMU to exit; kills it after <paramref name="timeout"/>. Returns false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            Kill();
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything needed to understand a failure: the command line, exit, stderr, the console.</summary>
    public string Report()
    {
        string exit = _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(running)";
        return $"--- QEMU command line ---\n{CommandLine}\n--- QEMU exit {exit}; stderr ---\n{Stderr}\n--- guest console ---\n{Console}";
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
