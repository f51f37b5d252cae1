using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Uvdpa.Dpdk.Tests;

/// <summary>
/// An interactive dpdk-testpmd (<c>-i</c>) driven through its stdin: commands are written as lines, what it prints
/// (stdout and stderr, as received) is kept whole for parsing and for failure reports. Disposing quits it
/// (<c>quit</c>, then SIGINT, then SIGKILL) and removes what it left under its --file-prefix.
/// </summary>
internal sealed class TestpmdProcess : IDisposable
{
    /// <summary>Generous: EAL start-up maps hundreds of MiB of hugepages on a loaded 2-core machine.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <summary>testpmd's interactive prompt (printed without a newline).</summary>
    public const string Prompt = "testpmd> ";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _stdout;
    private readonly Task _stderr;

    private TestpmdProcess(Process process)
    {
        _process = process;
        _stdout = Pump(process.StandardOutput);
        _stderr = Pump(process.StandardError);
    }

    /// <summary>The command line it was started with.</summary>
    public string CommandLine { get; private init; } = "";

    /// <summary>Everything printed so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>True once the process ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts testpmd with EAL arguments <paramref name="eal"/> and application arguments <paramref name="app"/>
    /// (<c>-i</c> is added) and waits for its first prompt, which comes after the ports started (for virtio_user: after
    /// the vhost-user negotiation).
    /// </summary>
    public static async Task<TestpmdProcess> StartAsync(IEnumerable<string> eal, IEnumerable<string> app)
    {
        // testpmd prints with stdio, which a pipe makes fully buffered, while its prompt is written straight to the
        // descriptor: stdbuf makes stdout line-buffered so each command's output precedes the next prompt.
        var psi = new ProcessStartInfo("stdbuf")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-oL");
        psi.ArgumentList.Add(DpdkEnvironment.Testpmd ?? throw new InvalidOperationException("dpdk-testpmd is not installed"));
        foreach (string a in eal) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--");
        psi.ArgumentList.Add("-i");
        foreach (string a in app) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("dpdk-testpmd did not start");
        var t = new TestpmdProcess(p) { CommandLine = "stdbuf " + string.Join(' ', psi.ArgumentList) };
        try
        {
            await t.WaitForAsync(o => o.Contains(Prompt, StringComparison.Ordinal), StartTimeout, "the first prompt");
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    private Task Pump(StreamReader reader) => Task.Run(async () =>
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory())) > 0)
        {
            lock (_output) _output.Append(buffer, 0, n);
        }
    });

    /// <summary>Writes one command line.</summary>
    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>
    /// Sends <paramref name="command"/> and returns what it printed up to the next prompt (testpmd runs commands one at
    /// a time, so the text between the echo point and the prompt is the command's output).
    /// </summary>
    public async Task<string> RunAsync(string command, TimeSpan timeout)
    {
        int start = Output.Length;
        await SendAsync(command);
        string all = await WaitForAsync(o => o.IndexOf(Prompt, start, StringComparison.Ordinal) >= 0, timeout, $"the prompt after '{command}'");
        return all[start..all.IndexOf(Prompt, start, StringComparison.Ordinal)];
    }

    /// <summary>Waits until the output satisfies <paramref name="condition"/>; throws with the whole output when testpmd exits or time runs out.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            string output = Output;
            if (condition(output)) return output;
            if (_process.HasExited)
            {
                await Task.WhenAll(_stdout, _stderr);
                output = Output;
                if (condition(output)) return output;
                throw new InvalidOperationException($"dpdk-testpmd exited with {_process.ExitCode} before {what}; {Describe()}");
            }
            if (deadline.Elapsed > timeout) throw new TimeoutException($"dpdk-testpmd did not print {what} within {timeout}; {Describe()}");
            // Polling interval for new output, not a readiness guess: the loop ends on the condition.
            await Task.Delay(50);
        }
    }

    /// <summary>Quits (<c>quit</c>; SIGINT after <paramref name="timeout"/>; SIGKILL after as long again) and returns the exit code.</summary>
    public async Task<int> QuitAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            try
            {
                await SendAsync("quit");
            }
            catch (IOException)
            {
                // stdin is gone: it is exiting already.
            }
        }
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Signal("INT");
                using var cts2 = new CancellationTokenSource(timeout);
                try
                {
                    await _process.WaitForExitAsync(cts2.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None);
                }
            }
        }
        await Task.WhenAll(_stdout, _stderr);
        return _process.ExitCode;
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
        kill?.WaitForExit();
    }

    /// <summary>The command line and everything testpmd printed.</summary>
    public string Describe() => $"command line: {CommandLine}\n--- testpmd output ---\n{Output}\n--- end of testpmd output ---";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) QuitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        DpdkEnvironment.CleanLeftovers();
    }
}
