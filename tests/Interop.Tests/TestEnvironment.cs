namespace Uvdpa.Interop.Tests;

/// <summary>Where things are: the repository, the built programs beside this assembly, the goldens, the peers.</summary>
internal static class TestEnvironment
{
    /// <summary>The installed iproute2 (Debian 12: 6.1.0), run unmodified.</summary>
    public const string Iproute2Vdpa = "/usr/sbin/vdpa";

    /// <summary>This assembly's folder: vdpad.dll, vdpa.dll, golden/, netlink-redirect/.</summary>
    public static string OutputDirectory { get; } = AppContext.BaseDirectory;

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The daemon built alongside this assembly (project reference).</summary>
    public static string DaemonDll { get; } = Path.Combine(OutputDirectory, "vdpad.dll");

    /// <summary>Our CLI built alongside this assembly (project reference), run with the JIT: <c>dotnet vdpa.dll</c>.</summary>
    public static string CliDll { get; } = Path.Combine(OutputDirectory, "vdpa.dll");

    /// <summary>Where README and bin/vdpa expect the Native AOT build of our CLI.</summary>
    public static string AotCli { get; } = Path.Combine(RepositoryRoot, "src", "Vdpa.Cli", "bin", "aot", "vdpa");

    public static string Golden(string fileName) => Path.Combine(OutputDirectory, "golden", fileName);

    /// <summary>The first executable named <paramref name="name"/> on $PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }

    /// <summary>shared/vm/run-in-vm beside the repository (../shared/vm), else /work/shared/vm, or null.</summary>
    public static string? RunInVm { get; } = new[]
    {
        Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "vm", "run-in-vm")),
        "/work/shared/vm/run-in-vm",
    }.FirstOrDefault(File.Exists);

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "uvdpa.slnx"))) return d.FullName;
        }
        throw new InvalidOperationException($"no uvdpa.slnx above {AppContext.BaseDirectory}");
    }
}
