using System.Diagnostics;
using System.Text;

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
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment.Remove("UVDPA_SOCKET");
        psi.Environment.Remove("LD_PRELOAD");
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        }

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
