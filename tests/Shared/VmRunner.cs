using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Uvdpa.Tests.Shared;

/// <summary>What one run-in-vm call returned, and how many boots it took.</summary>
internal sealed record VmResult(int Exit, string Stdout, string Stderr, int Boots)
{
    public override string ToString() =>
        $"run-in-vm exit {Exit} after {Boots} boot(s)\n--- guest stdout ---\n{Stdout}\n--- guest stderr ---\n{Stderr}";
}

/// <summary>
/// Runs a script in ../shared/vm (QEMU TCG). Under emulation the guest kernel occasionally panics in its timer code
/// while booting, before init runs anything (shared/vm/README.md; seen in CI as a panic in sched_clock_cpu at 1.9 s).
/// Such a boot is retried, at most <see cref="MaxBoots"/> boots in all, and only when the console shows a kernel
/// panic and the script never started: its first line prints <see cref="StartedMarker"/> on stderr. A panic or any
/// other failure after the script started is the test's result, never retried.
/// </summary>
internal static class VmRunner
{
    public const int MaxBoots = 3;

    public const string StartedMarker = "uvdpa-vm: the guest runs the test script";

    public static async Task<VmResult> RunAsync(string runInVm, string script, int vmTimeoutSeconds, string kernel,
        Action<string> log, IReadOnlyDictionary<string, string>? environment = null)
    {
        string wrapped = $"echo '{StartedMarker}' >&2\n{script}";
        var earlier = new StringBuilder();
        for (int boot = 1; ; boot++)
        {
            (int exit, string stdout, string stderr) = await RunOnceAsync(runInVm, wrapped, vmTimeoutSeconds, kernel, environment);
            if (!IsBootPanic(exit, stderr) || boot == MaxBoots)
            {
                string all = earlier.Length == 0 ? stderr : earlier + "--- this boot ---\n" + stderr;
                return new VmResult(exit, stdout, all, boot);
            }
            string note = $"boot {boot}: the guest kernel panicked before the script started; booting again";
            log(note + "\n" + stderr);
            earlier.Append(note).Append('\n').Append(stderr).Append('\n');
        }
    }

    /// <summary>True when run-in-vm reports the guest did not finish, a kernel panic, and no sign of the script.</summary>
    public static bool IsBootPanic(int exit, string stderr) =>
        exit == 255
        && !stderr.Contains(StartedMarker, StringComparison.Ordinal)
        && stderr.Contains("Kernel panic", StringComparison.Ordinal);

    private static async Task<(int Exit, string Stdout, string Stderr)> RunOnceAsync(string runInVm, string script,
        int vmTimeoutSeconds, string kernel, IReadOnlyDictionary<string, string>? environment)
    {
        var env = new Dictionary<string, string?>
        {
            ["VM_TIMEOUT"] = vmTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            ["VM_KERNEL"] = kernel,
        };
        if (environment is not null)
        {
            foreach (var (k, v) in environment) env[k] = v;
        }
        var psi = ChildProcessStart.Create(runInVm, [script], env);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        // run-in-vm stops QEMU itself at VM_TIMEOUT; this is the backstop if it hangs.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(vmTimeoutSeconds + 120));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
