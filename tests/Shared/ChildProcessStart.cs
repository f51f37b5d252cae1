using System.Diagnostics;

namespace Uvdpa.Tests.Shared;

/// <summary>How the test projects start child processes: all three streams redirected, no shell, .NET quiet.</summary>
internal static class ChildProcessStart
{
    /// <summary>
    /// A start info for <paramref name="fileName"/> with <paramref name="args"/>; the variables in
    /// <paramref name="strip"/> are removed from the inherited environment, then <paramref name="environment"/> is
    /// applied (a null value removes the variable).
    /// </summary>
    public static ProcessStartInfo Create(string fileName, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment, params string[] strip)
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
        foreach (string name in strip) psi.Environment.Remove(name);
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        }
        return psi;
    }
}
