using System.Text;
using Uvdpa.Tests.Shared;
using Uvdpa.Vdpa.Cli;
using Xunit.Abstractions;

namespace Uvdpa.Interop.Tests;

/// <summary>
/// Inside the 6.12 VM (shared/vm/run-in-vm), our Native AOT CLI with <c>--kernel</c> talks to the real kernel's vdpa
/// family: reference-session.sh run with it must print the 7.1 capture (only the -V line differs). One boot runs the
/// whole session. The VM is emulated: nothing here is timed.
/// </summary>
public sealed class VmSessionTests(ITestOutputHelper output)
{
    /// <summary>run-in-vm's own limit (seconds); the process gets a minute more.</summary>
    private const int VmTimeoutSeconds = 600;

    [VmFact]
    public async Task InsideTheVm_OurAotCliWithKernel_PrintsWhatIproute2_7_1_PrintsThere()
    {
        string built = await AotCli.EnsureBuiltAsync(output);
        // The guest sees the host's root read-only, except /tmp, /run, /var/tmp, /root and /dev/shm, which are empty
        // tmpfs there: a checkout under one of those is invisible. Copy the binary to a path the guest can see.
        string visible = "/var/lib/uvdpa-vmtest/vdpa";
        Directory.CreateDirectory(Path.GetDirectoryName(visible)!);
        File.Copy(built, visible, overwrite: true);
        File.SetUnixFileMode(visible, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string cli = visible;
        string session = await File.ReadAllTextAsync(TestEnvironment.Golden("reference-session.sh"));
        // The guest sees the host's files read-only at the same paths; /tmp is its own tmpfs.
        string script = $$"""
            set -u
            printf '#!/bin/sh\nexec %s --kernel "$@"\n' '{{cli}}' > /tmp/vdpa-uvdpa
            chmod +x /tmp/vdpa-uvdpa
            export VDPA=/tmp/vdpa-uvdpa
            {{session}}
            """;
        VmResult r = await VmRunner.RunAsync(TestEnvironment.RunInVm!, script, VmTimeoutSeconds, "6.12", output.WriteLine);

        string expected = (await File.ReadAllTextAsync(TestEnvironment.Golden(Transcript.Session71)))
            .Replace("vdpa utility, iproute2-7.1.0", "vdpa utility, " + CliApp.Version, StringComparison.Ordinal);
        string actual = r.Stdout;
        output.WriteLine($"run-in-vm exit {r.Exit} after {r.Boots} boot(s); guest stdout {actual.Length} chars, stderr {r.Stderr.Length} chars");
        if (r.Stderr.Length > 0) output.WriteLine("run-in-vm stderr:\n" + r.Stderr);
        if (actual == expected && r.Exit == 0)
        {
            output.WriteLine($"{Transcript.Parse(actual).Count} commands: the guest session equals the 7.1 capture (except the -V line)");
            return;
        }
        string diff = await Diff.UnifiedAsync(expected, actual, "iproute2-7.1-on-6.12", "uvdpa-cli-kernel-on-6.12");
        string report = new StringBuilder()
            .Append("run-in-vm exit ").Append(r.Exit).Append('\n')
            .Append("--- run-in-vm stderr ---\n").Append(r.Stderr).Append('\n')
            .Append("--- full diff (golden vs guest) ---\n").Append(diff).ToString();
        output.WriteLine(report);
        Assert.Fail(report);
    }
}

/// <summary>Needs shared/vm, QEMU and either the AOT build of the CLI or the toolchain to make it; skipped otherwise.</summary>
internal sealed class VmFactAttribute : FactAttribute
{
    public VmFactAttribute()
    {
        if (TestEnvironment.RunInVm is null)
            Skip = $"SKIPPED: no shared/vm/run-in-vm (looked in {Path.GetFullPath(Path.Combine(TestEnvironment.RepositoryRoot, "..", "shared", "vm"))} and /work/shared/vm)";
        else if (TestEnvironment.FindOnPath("qemu-system-x86_64") is null)
            Skip = "SKIPPED: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)";
        else if (AotCli.MissingToolchain() is string why)
            Skip = $"SKIPPED: {TestEnvironment.AotCli} is not built and the Native AOT toolchain is unavailable ({why})";
    }
}

/// <summary>The Native AOT build of our CLI at src/Vdpa.Cli/bin/aot/vdpa (what bin/vdpa prefers), built when missing or stale.</summary>
internal static class AotCli
{
    /// <summary>Why the AOT toolchain cannot work here, or null.</summary>
    public static string? MissingToolchain()
    {
        if (File.Exists(TestEnvironment.AotCli)) return null;
        if (TestEnvironment.FindOnPath("clang") is null && TestEnvironment.FindOnPath("gcc") is null) return "no clang or gcc: apt-get install clang";
        if (!File.Exists("/usr/include/zlib.h")) return "no zlib headers: apt-get install zlib1g-dev";
        return null;
    }

    public static async Task<string> EnsureBuiltAsync(ITestOutputHelper output)
    {
        string binary = TestEnvironment.AotCli;
        string? reason = !File.Exists(binary) ? "missing" : NewerSource(File.GetLastWriteTimeUtc(binary)) is string s ? $"older than {s}" : null;
        if (reason is null)
        {
            output.WriteLine($"using {binary} (no newer source in src/Vdpa.Cli, src/Vdpa.Netlink, src/Virtio.Platform.Linux)");
            return binary;
        }
        output.WriteLine($"{binary} is {reason}: publishing it with Native AOT");
        ProcessResult r = await ProcessRunner.RunAsync("dotnet",
            ["publish", Path.Combine(TestEnvironment.RepositoryRoot, "src", "Vdpa.Cli"), "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true",
             "-o", Path.GetDirectoryName(binary)!, "-nologo"],
            null, TimeSpan.FromMinutes(20));
        if (r.Exit != 0 || !File.Exists(binary)) Assert.Fail($"dotnet publish (Native AOT) of src/Vdpa.Cli failed:\n{r}");
        return binary;
    }

    /// <summary>A source file of the CLI or a project it depends on newer than <paramref name="builtUtc"/>, or null.</summary>
    private static string? NewerSource(DateTime builtUtc)
    {
        foreach (string project in (string[])["Vdpa.Cli", "Vdpa.Netlink", "Virtio.Platform.Linux"])
        {
            var dir = new DirectoryInfo(Path.Combine(TestEnvironment.RepositoryRoot, "src", project));
            foreach (FileInfo f in dir.EnumerateFiles("*", SearchOption.AllDirectories))
            {
                if (f.FullName.Contains("/bin/", StringComparison.Ordinal) || f.FullName.Contains("/obj/", StringComparison.Ordinal)) continue;
                if (f.Extension is ".cs" or ".csproj" && f.LastWriteTimeUtc > builtUtc) return f.FullName;
            }
        }
        return null;
    }
}
