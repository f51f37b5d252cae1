using System.Diagnostics;
using System.Text;
using Uvdpa.Tests.Shared;

namespace Uvdpa.Interop.Tests;

/// <summary>What a finished child process wrote and returned, byte for byte.</summary>
internal sealed record ProcessResult(byte[] Stdout, byte[] Stderr, int Exit)
{
    public string StdoutText => Encoding.UTF8.GetString(Stdout);

    public string StderrText => Encoding.UTF8.GetString(Stderr);

    public override string ToString() => $"exit {Exit}\n--- stdout ---\n{StdoutText}\n--- stderr ---\n{StderrText}";
}

/// <summary>Runs a child process to completion with stdout and stderr captured separately as bytes.</summary>
internal static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout)
    {
        var psi = ChildProcessStart.Create(fileName, args, environment, "UVDPA_SOCKET", "LD_PRELOAD");
        using var p = new Process { StartInfo = psi };
        p.Start();
        p.StandardInput.Close(); // like `cmd </dev/null`
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        Task copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task copyErr = p.StandardError.BaseStream.CopyToAsync(stderr);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            await p.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {timeout}; so far:\n" +
                $"--- stdout ---\n{Encoding.UTF8.GetString(stdout.ToArray())}\n--- stderr ---\n{Encoding.UTF8.GetString(stderr.ToArray())}");
        }
        await Task.WhenAll(copyOut, copyErr);
        return new ProcessResult(stdout.ToArray(), stderr.ToArray(), p.ExitCode);
    }
}
