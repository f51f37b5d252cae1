namespace Uvdpa.Interop.Tests;

/// <summary>
/// tests/Interop/netlink-redirect/netlink_redirect.c, compiled at test time into the output folder: the LD_PRELOAD
/// shim that turns an unmodified netlink client's NETLINK_GENERIC socket into a connection to vdpad.
/// </summary>
internal static class NetlinkShim
{
    private static readonly SemaphoreSlim s_lock = new(1, 1);
    private static string? s_built;

    public static string Source => Path.Combine(TestEnvironment.OutputDirectory, "netlink-redirect", "netlink_redirect.c");

    /// <summary>The C compiler, or null (the tests that need the shim are then skipped).</summary>
    public static string? Compiler { get; } = TestEnvironment.FindOnPath("cc") ?? TestEnvironment.FindOnPath("gcc") ?? TestEnvironment.FindOnPath("clang");

    /// <summary>Builds the shim once per test run; returns the .so path. A compile error fails with the compiler's output.</summary>
    public static async Task<string> BuildAsync()
    {
        await s_lock.WaitAsync();
        try
        {
            if (s_built is not null) return s_built;
            string compiler = Compiler ?? throw new InvalidOperationException("no C compiler (cc, gcc or clang) on PATH");
            string so = Path.Combine(TestEnvironment.OutputDirectory, "netlink-redirect", "netlink_redirect.so");
            ProcessResult r = await ProcessRunner.RunAsync(compiler,
                ["-shared", "-fPIC", "-O2", "-Wall", "-o", so, Source, "-ldl"], null, TimeSpan.FromMinutes(2));
            if (r.Exit != 0 || !File.Exists(so))
                throw new InvalidOperationException($"{compiler} failed to build {Source}:\n{r}");
            return s_built = so;
        }
        finally
        {
            s_lock.Release();
        }
    }

    /// <summary>The environment that redirects a client's generic netlink socket to <paramref name="socketPath"/>.</summary>
    public static Dictionary<string, string?> Environment(string shim, string socketPath) => new()
    {
        ["LD_PRELOAD"] = shim,
        ["UVDPA_SOCKET"] = socketPath,
    };
}

/// <summary>A fact that needs the installed iproute2 vdpa and a C compiler for the shim; skipped, saying why, otherwise.</summary>
internal sealed class Iproute2FactAttribute : FactAttribute
{
    public Iproute2FactAttribute()
    {
        if (!File.Exists(TestEnvironment.Iproute2Vdpa))
            Skip = $"SKIPPED: iproute2's vdpa is not installed at {TestEnvironment.Iproute2Vdpa} (apt-get install iproute2)";
        else if (NetlinkShim.Compiler is null)
            Skip = "SKIPPED: no C compiler (cc, gcc or clang) on PATH to build the netlink redirect shim (apt-get install gcc)";
    }
}
