using System.Diagnostics;

namespace Uvdpa.Vdpa.Tap.Tests;

/// <summary>Runs ip(8), sysctl and python3 as child processes with a timeout.</summary>
internal static class Shell
{
    public static (int Exit, string Out, string Err) Run(TimeSpan timeout, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}; stdout: {stdout.Result} stderr: {stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Check(string file, params string[] args)
    {
        var (exit, o, e) = Run(TimeSpan.FromSeconds(30), file, args);
        if (exit != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {exit}: {e}{o}");
        return o;
    }
}
