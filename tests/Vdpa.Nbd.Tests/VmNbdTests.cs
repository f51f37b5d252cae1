using Uvdpa.Tests.Shared;
using Xunit.Abstractions;

namespace Uvdpa.Vdpa.Nbd.Tests;

/// <summary>
/// In ../shared/vm (a 6.12 kernel with nbd built in), in one boot: vdpad exposes a vdpasim_blk RAM disk and a
/// file-backed disk as /dev/nbdN (uvdpa family, <c>driver-opt nbd=1</c> / <c>nbd-index=N</c>); ext4, files, fsck,
/// checksums after remount; the image holds the data afterwards; deleting the devices and stopping vdpad leave no
/// configured nbd device (vm/nbd-session.sh). The VM is emulated: nothing here is timed.
/// </summary>
public sealed class VmNbdTests(ITestOutputHelper output)
{
    private const int VmTimeoutSeconds = 900;

    [VmFact]
    public async Task InTheVm_BlkDevicesExposedThroughNbd_CarryAnExt4FileSystem_AndLeaveNothingBehind()
    {
        // The guest sees the host's root read-only except /tmp, /run, /var/tmp, /root and /dev/shm (empty tmpfs
        // there): a build under one of those would be invisible, so the programs are copied to a visible path.
        string bin = "/var/lib/uvdpa-vmtest/nbd";
        Directory.CreateDirectory(bin);
        foreach (string f in Directory.EnumerateFiles(AppContext.BaseDirectory))
        {
            if (f.EndsWith(".dll", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal))
                File.Copy(f, Path.Combine(bin, Path.GetFileName(f)), overwrite: true);
        }
        Assert.True(File.Exists(Path.Combine(bin, "vdpad.dll")) && File.Exists(Path.Combine(bin, "vdpa.dll")), $"vdpad.dll / vdpa.dll missing beside {AppContext.BaseDirectory}");

        string session = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "vm", "nbd-session.sh"));
        string script = $"BIN='{bin}'\n{session}";
        VmResult r = await VmRunner.RunAsync(VmEnvironment.RunInVm!, script, VmTimeoutSeconds, "6.12", output.WriteLine);
        string report = r.ToString();
        output.WriteLine(report);
        Assert.True(r.Exit == 0 && r.Stdout.Contains("NBD-VM-SESSION-OK", StringComparison.Ordinal), report);
    }
}

/// <summary>Where ../shared/vm is (beside the repository, else /work/shared/vm) and whether QEMU is installed.</summary>
internal static class VmEnvironment
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string? RunInVm { get; } = new[]
    {
        Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "vm", "run-in-vm")),
        "/work/shared/vm/run-in-vm",
    }.FirstOrDefault(File.Exists);

    public static bool HasQemu => (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, "qemu-system-x86_64")));

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "uvdpa.slnx"))) return d.FullName;
        }
        return AppContext.BaseDirectory;
    }
}

/// <summary>Needs ../shared/vm and QEMU; skipped with the reason otherwise.</summary>
internal sealed class VmFactAttribute : FactAttribute
{
    public VmFactAttribute()
    {
        if (VmEnvironment.RunInVm is null)
            Skip = $"SKIPPED: no shared/vm/run-in-vm (looked in {Path.GetFullPath(Path.Combine(VmEnvironment.RepositoryRoot, "..", "shared", "vm"))} and /work/shared/vm)";
        else if (!VmEnvironment.HasQemu)
            Skip = "SKIPPED: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)";
    }
}
